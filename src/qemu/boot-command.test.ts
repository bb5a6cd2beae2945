import { describe, expect, it } from 'vitest';
import { UserError } from '../lib/errors.js';
import {
  type BootStep,
  checkBootCommand,
  formatProblem,
  type KeyStep,
  keyEvents,
  keyIntervalMs,
  parseBootCommand,
  SPECIAL_KEY_NAMES,
} from './boot-command.js';

// Each Packer special key and the QEMU key it must type, written out here independently of
// the module's table (Packer 1.6.6's list, then the names later SDKs added).
const EXPECTED: Record<string, string> = {
  bs: 'backspace',
  del: 'delete',
  enter: 'ret',
  return: 'ret',
  esc: 'esc',
  tab: 'tab',
  spacebar: 'spc',
  insert: 'insert',
  home: 'home',
  end: 'end',
  pageUp: 'pgup',
  pageDown: 'pgdn',
  up: 'up',
  down: 'down',
  left: 'left',
  right: 'right',
  f1: 'f1',
  f2: 'f2',
  f3: 'f3',
  f4: 'f4',
  f5: 'f5',
  f6: 'f6',
  f7: 'f7',
  f8: 'f8',
  f9: 'f9',
  f10: 'f10',
  f11: 'f11',
  f12: 'f12',
  leftAlt: 'alt',
  rightAlt: 'alt_r',
  leftCtrl: 'ctrl',
  rightCtrl: 'ctrl_r',
  leftShift: 'shift',
  rightShift: 'shift_r',
  leftSuper: 'meta_l',
  rightSuper: 'meta_r',
  menu: 'compose',
  leftCommand: 'alt',
  rightCommand: 'alt_r',
  leftOption: 'alt',
  rightOption: 'alt_r',
};

const keys = (steps: BootStep[]) =>
  steps.map((s) =>
    s.kind === 'wait' ? `wait:${s.ms}` : `${s.qcode}${s.shift ? '+shift' : ''}:${s.action}`,
  );

describe('parseBootCommand: special keys', () => {
  it('knows exactly the expected names', () => {
    expect([...SPECIAL_KEY_NAMES].sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [name, qcode] of Object.entries(EXPECTED)) {
    it(`<${name}>, <${name}On>, <${name}Off>, any case`, () => {
      expect(keys(parseBootCommand([`<${name}>`]))).toEqual([`${qcode}:press`]);
      expect(keys(parseBootCommand([`<${name}On>`, `<${name}Off>`]))).toEqual([
        `${qcode}:down`,
        `${qcode}:up`,
      ]);
      expect(keys(parseBootCommand([`<${name.toUpperCase()}>`]))).toEqual([`${qcode}:press`]);
      expect(keys(parseBootCommand([`<${name.toLowerCase()}on><${name}OFF>`]))).toEqual([
        `${qcode}:down`,
        `${qcode}:up`,
      ]);
    });
  }

  it('keeps each step’s source text and position (element, column)', () => {
    const steps = parseBootCommand(['ab', 'c<enter>d', '<f10>']);
    expect(steps.map((s) => [s.text, s.index, s.column])).toEqual([
      ['a', 0, 1],
      ['b', 0, 2],
      ['c', 1, 1],
      ['<enter>', 1, 2],
      ['d', 1, 9],
      ['<f10>', 2, 1],
    ]);
  });

  it('joins the strings as Packer does: a <…> may span two of them', () => {
    expect(keys(parseBootCommand(['x<ent', 'er>']))).toEqual(['x:press', 'ret:press']);
  });
});

describe('parseBootCommand: waits', () => {
  it.each([
    ['<wait>', 1000],
    ['<wait5>', 5000],
    ['<wait10>', 10_000],
    ['<wait0.5s>', 500],
    ['<wait250ms>', 250],
    ['<wait1m30s>', 90_000],
    ['<wait2h>', 7_200_000],
    ['<wait1500us>', 1.5],
  ])('%s waits %d ms', (text, ms) => {
    expect(parseBootCommand([text])).toEqual([{ kind: 'wait', ms, text, index: 0, column: 1 }]);
  });

  it('refuses a wait of zero or less, and what is no duration, with the position', () => {
    expect(
      checkBootCommand(['ab<wait0>', '<wait-1s>', '<wait5x>', '<wait 5>', '<wait1m-30s>']).map(
        formatProblem,
      ),
    ).toEqual([
      'boot_command[0]:3: <wait0>: a wait must be longer than zero',
      'boot_command[1]:1: <wait-1s>: a wait must be longer than zero',
      'boot_command[2]:1: <wait5x>: "5x" is not a wait time (write <wait>, <wait5> for seconds, or a duration such as <wait1m30s>, <wait500ms>)',
      'boot_command[3]:1: <wait 5>: " 5" is not a wait time (write <wait>, <wait5> for seconds, or a duration such as <wait1m30s>, <wait500ms>)',
      'boot_command[4]:1: <wait1m-30s>: "1m-30s" is not a wait time (write <wait>, <wait5> for seconds, or a duration such as <wait1m30s>, <wait500ms>)',
    ]);
  });
});

describe('parseBootCommand: characters', () => {
  it('types letters, digits and symbols on a US layout, shifted ones with shift', () => {
    expect(keys(parseBootCommand(['aZ9 -_=+[{]}\\|;:\'",<.>/?`~!@#$%^&*()']))).toEqual([
      'a:press',
      'z+shift:press',
      '9:press',
      'spc:press',
      'minus:press',
      'minus+shift:press',
      'equal:press',
      'equal+shift:press',
      'bracket_left:press',
      'bracket_left+shift:press',
      'bracket_right:press',
      'bracket_right+shift:press',
      'backslash:press',
      'backslash+shift:press',
      'semicolon:press',
      'semicolon+shift:press',
      'apostrophe:press',
      'apostrophe+shift:press',
      'comma:press',
      'comma+shift:press',
      'dot:press',
      'dot+shift:press',
      'slash:press',
      'slash+shift:press',
      'grave_accent:press',
      'grave_accent+shift:press',
      '1+shift:press',
      '2+shift:press',
      '3+shift:press',
      '4+shift:press',
      '5+shift:press',
      '6+shift:press',
      '7+shift:press',
      '8+shift:press',
      '9+shift:press',
      '0+shift:press',
    ]);
  });

  it('holds and releases one character with <cOn>/<cOff>, shift included', () => {
    expect(keys(parseBootCommand(['<cOn><cOff><AOn><AOff><%on>']))).toEqual([
      'c:down',
      'c:up',
      'a+shift:down',
      'a+shift:up',
      '5+shift:down',
    ]);
  });

  it('types a < or > that starts no key name', () => {
    expect(keys(parseBootCommand(['a<b c>', '<<enter>', '<>', 'x > y']))).toEqual([
      'a:press',
      'comma+shift:press',
      'b:press',
      'spc:press',
      'c:press',
      'dot+shift:press',
      'comma+shift:press',
      'ret:press',
      'comma+shift:press',
      'dot+shift:press',
      'x:press',
      'spc:press',
      'dot+shift:press',
      'spc:press',
      'y:press',
    ]);
  });

  it('types a Packer template’s usual line', () => {
    const steps = parseBootCommand([
      '<esc><wait>',
      'auto url=http://10.0.2.2:8123/preseed.cfg<enter>',
    ]);
    expect(
      steps
        .filter((s): s is KeyStep => s.kind === 'key')
        .map((s) => s.text)
        .join(''),
    ).toBe('<esc>auto url=http://10.0.2.2:8123/preseed.cfg<enter>');
    expect(steps[1]).toMatchObject({ kind: 'wait', ms: 1000 });
  });
});

describe('parseBootCommand: problems', () => {
  it('names an unknown special key with its position and the nearest key', () => {
    expect(
      checkBootCommand([
        '<esc>',
        'x<entr>',
        '<leftCtlOn>',
        '<pageup><pgdn>',
        '<WAIT5>',
        '<preseed>',
        '<ctrlOn>',
      ]).map(formatProblem),
    ).toEqual([
      'boot_command[1]:2: unknown special key <entr>; did you mean <enter>?',
      'boot_command[2]:1: unknown special key <leftCtlOn>; did you mean <leftCtrlOn>?',
      'boot_command[3]:9: unknown special key <pgdn>; did you mean <pageDown>?',
      'boot_command[4]:1: unknown special key <WAIT5>; did you mean <wait5>?',
      'boot_command[5]:1: unknown special key <preseed>',
      'boot_command[6]:1: unknown special key <ctrlOn>; did you mean <leftCtrlOn>?',
    ]);
  });

  it('refuses characters no US key types, control characters with what to write instead', () => {
    expect(checkBootCommand(['é', 'a\nb', '\t', '<éOn>', '\u0001']).map(formatProblem)).toEqual([
      'boot_command[0]:1: no key types "é" (U+00E9) on a US keyboard layout',
      'boot_command[1]:2: cannot type a newline; write <enter>',
      'boot_command[2]:1: cannot type a tab character; write <tab>',
      'boot_command[3]:1: <éOn>: no key types "é" (U+00E9) on a US keyboard layout',
      'boot_command[4]:1: no key types (U+0001) on a US keyboard layout',
    ]);
  });

  it('throws one UserError with every problem', () => {
    let err: unknown;
    try {
      parseBootCommand(['<entr>', '<wait0>']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    const u = err as UserError;
    expect(u.code).toBe('BadBootCommand');
    expect(u.where).toBe('boot_command[0]:1');
    expect(u.details).toEqual([
      'boot_command[0]:1: unknown special key <entr>; did you mean <enter>?',
      'boot_command[1]:1: <wait0>: a wait must be longer than zero',
    ]);
    expect(() => parseBootCommand(['<f13>'])).toThrow(
      'boot_command: unknown special key <f13>; did you mean <f1>?',
    );
  });

  it('accepts an empty boot command', () => {
    expect(parseBootCommand([])).toEqual([]);
    expect(parseBootCommand([''])).toEqual([]);
  });
});

describe('keyEvents', () => {
  const step = (qcode: string, shift: boolean, action: KeyStep['action']): KeyStep => ({
    kind: 'key',
    text: '',
    qcode,
    shift,
    action,
    index: 0,
    column: 1,
  });

  it('presses a shifted key inside shift down/up, as Packer does', () => {
    expect(keyEvents(step('a', true, 'press'))).toEqual([
      { qcode: 'shift', down: true },
      { qcode: 'a', down: true },
      { qcode: 'a', down: false },
      { qcode: 'shift', down: false },
    ]);
    expect(keyEvents(step('a', true, 'down'))).toEqual([
      { qcode: 'shift', down: true },
      { qcode: 'a', down: true },
    ]);
    expect(keyEvents(step('a', true, 'up'))).toEqual([
      { qcode: 'a', down: false },
      { qcode: 'shift', down: false },
    ]);
    expect(keyEvents(step('ret', false, 'press'))).toEqual([
      { qcode: 'ret', down: true },
      { qcode: 'ret', down: false },
    ]);
  });
});

describe('keyIntervalMs', () => {
  it('takes boot_key_interval above zero, else a valid PACKER_KEY_INTERVAL, else 100 ms', () => {
    expect(keyIntervalMs('10ms', { PACKER_KEY_INTERVAL: '50ms' })).toBe(10);
    expect(keyIntervalMs(undefined, { PACKER_KEY_INTERVAL: '50ms' })).toBe(50);
    expect(keyIntervalMs('0s', { PACKER_KEY_INTERVAL: '50ms' })).toBe(50);
    expect(keyIntervalMs(undefined, { PACKER_KEY_INTERVAL: 'soon' })).toBe(100);
    expect(keyIntervalMs(undefined, {})).toBe(100);
  });
});
