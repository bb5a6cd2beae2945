/**
 * `boot_command`: Packer's key syntax parsed into steps, and a typer that sends them to
 * QEMU as key events through QMP (`input-send-event`, one event per command), waiting
 * `boot_key_interval` after each event as Packer's VNC driver does.
 *
 * The syntax is Packer's (packer-plugin-sdk `bootcommand/boot_command.pigeon`): the
 * `boot_command` strings are joined with nothing between them, then read as
 * `<wait>`/`<wait5>`/`<wait10>`/`<wait1m30s>`, `<special>` with an optional `On`/`Off`
 * suffix (case-insensitive), `<cOn>`/`<cOff>` for one character, and plain characters.
 * Where Packer falls back to typing an unrecognised `<name>` letter by letter, kiln
 * reports it with its position and the nearest key: a misspelt `<enterr>` typed into a
 * boot prompt is never what a template meant. Characters are typed on a US layout, the
 * shifted ones with left shift held, as Packer does.
 */
import { parseGoDurationNs } from '../lib/duration.js';
import { CancelledError, UserError } from '../lib/errors.js';
import { sleep } from '../lib/sleep.js';
import { nearest } from '../lib/suggest.js';

/** Sends one QMP command and resolves with its answer (e.g. `QmpClient.execute`). */
export type QmpSend = (command: string, args?: Record<string, unknown>) => Promise<unknown>;

/** What a key step does: press and release, hold down (`On`), or release (`Off`). */
export type KeyAction = 'press' | 'down' | 'up';

/** Where a step or a problem is in `boot_command`: the element and the 1-based column in it. */
export interface BootCommandPosition {
  index: number;
  column: number;
}

/** One key (special or character) to press, hold or release. */
export interface KeyStep extends BootCommandPosition {
  kind: 'key';
  /** The source text: `<enter>`, `<leftCtrlOn>`, `A`. */
  text: string;
  /** QEMU's name of the key (QKeyCode): `ret`, `ctrl`, `a`. */
  qcode: string;
  /** Left shift is held around the key (an upper-case letter or a shifted symbol). */
  shift: boolean;
  action: KeyAction;
}

/** A pause (`<wait>`, `<wait10>`, `<wait1m30s>`). */
export interface WaitStep extends BootCommandPosition {
  kind: 'wait';
  text: string;
  ms: number;
}

/** One step of a parsed boot command. */
export type BootStep = KeyStep | WaitStep;

/** A problem in a boot command, with where it is. */
export interface BootCommandProblem extends BootCommandPosition {
  message: string;
}

/** A key event as QEMU receives it. */
export interface KeyEvent {
  qcode: string;
  down: boolean;
}

// Packer's special keys (spelled as its docs spell them) and the QEMU key each one is.
// Packer sends X keysyms over VNC and QEMU's en-us keymap turns them into these keys:
// Meta_L/Meta_R (leftOption/rightOption) are Alt there, Menu is the PC "application" key
// (QKeyCode `compose`, scancode e0 5d).
const SPECIAL_KEYS: ReadonlyArray<readonly [string, string]> = [
  ['bs', 'backspace'],
  ['del', 'delete'],
  ['enter', 'ret'],
  ['return', 'ret'],
  ['esc', 'esc'],
  ['tab', 'tab'],
  ['spacebar', 'spc'],
  ['insert', 'insert'],
  ['home', 'home'],
  ['end', 'end'],
  ['pageUp', 'pgup'],
  ['pageDown', 'pgdn'],
  ['up', 'up'],
  ['down', 'down'],
  ['left', 'left'],
  ['right', 'right'],
  ...Array.from({ length: 12 }, (_, i) => [`f${i + 1}`, `f${i + 1}`] as const),
  ['menu', 'compose'],
  ['leftAlt', 'alt'],
  ['rightAlt', 'alt_r'],
  ['leftCtrl', 'ctrl'],
  ['rightCtrl', 'ctrl_r'],
  ['leftShift', 'shift'],
  ['rightShift', 'shift_r'],
  ['leftSuper', 'meta_l'],
  ['rightSuper', 'meta_r'],
  ['leftCommand', 'alt'],
  ['rightCommand', 'alt_r'],
  ['leftOption', 'alt'],
  ['rightOption', 'alt_r'],
];

/** Packer's special key names, as its documentation spells them (`enter`, `pageUp`, `leftCtrl`…). */
export const SPECIAL_KEY_NAMES: readonly string[] = SPECIAL_KEYS.map(([name]) => name);

const SPECIAL_BY_LOWER = new Map(SPECIAL_KEYS.map(([name, qcode]) => [name.toLowerCase(), qcode]));

// The US layout: each printable ASCII character and its key; the second string holds the
// characters typed with shift, in the same order as the unshifted ones in the first.
const UNSHIFTED = "`1234567890-=[]\\;',./";
const SHIFTED = '~!@#$%^&*()_+{}|:"<>?';
const SYMBOL_QCODES = [
  'grave_accent',
  '1',
  '2',
  '3',
  '4',
  '5',
  '6',
  '7',
  '8',
  '9',
  '0',
  'minus',
  'equal',
  'bracket_left',
  'bracket_right',
  'backslash',
  'semicolon',
  'apostrophe',
  'comma',
  'dot',
  'slash',
];

/** The key and shift state that type `ch` on a US keyboard, or undefined when no key does. */
export function charKey(ch: string): { qcode: string; shift: boolean } | undefined {
  if (ch === ' ') return { qcode: 'spc', shift: false };
  if (/^[a-z]$/.test(ch)) return { qcode: ch, shift: false };
  if (/^[A-Z]$/.test(ch)) return { qcode: ch.toLowerCase(), shift: true };
  let i = UNSHIFTED.indexOf(ch);
  if (ch.length === 1 && i >= 0) return { qcode: SYMBOL_QCODES[i]!, shift: false };
  i = SHIFTED.indexOf(ch);
  if (ch.length === 1 && i >= 0) return { qcode: SYMBOL_QCODES[i]!, shift: true };
  return undefined;
}

// What follows `<wait`: nothing (1 s), whole seconds, or a Go duration (`1m30s`, `500ms`).
const WAIT_SECONDS = /^[0-9]+$/;
const WAIT_DURATION = /^-?(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|μs|ms|s|m|h))+$/;
// Names other tools use for Packer's keys, so that "did you mean" finds them.
const ALIASES: Record<string, string> = {
  backspace: 'bs',
  delete: 'del',
  escape: 'esc',
  ret: 'enter',
  space: 'spacebar',
  spc: 'spacebar',
  pgup: 'pageUp',
  pgdn: 'pageDown',
  ins: 'insert',
  alt: 'leftAlt',
  ctrl: 'leftCtrl',
  control: 'leftCtrl',
  shift: 'leftShift',
  super: 'leftSuper',
  win: 'leftSuper',
};
// An unknown `<name>` is reported only when it looks like a key name; any other `<` is a
// character to type (`echo a <b`, `<<EOF`).
const TAG_LIKE = /^[A-Za-z][A-Za-z0-9]{0,23}$/;

const CONTROL_NAMES: Record<string, string> = {
  '\n': 'a newline; write <enter>',
  '\r': 'a carriage return; write <enter>',
  '\t': 'a tab character; write <tab>',
};

/** Every problem of a boot command, each with its position (empty when it parses). */
export function checkBootCommand(command: readonly string[]): BootCommandProblem[] {
  return scan(command).problems;
}

/** Parses a boot command into steps; throws one UserError listing every problem with its position. */
export function parseBootCommand(command: readonly string[]): BootStep[] {
  const { steps, problems } = scan(command);
  if (problems.length > 0) {
    const first = problems[0]!;
    throw new UserError(
      'BadBootCommand',
      problems.length === 1
        ? `boot_command: ${first.message}`
        : `boot_command has ${problems.length} problems`,
      {
        where: `boot_command[${first.index}]:${first.column}`,
        details: problems.length === 1 ? [] : problems.map(formatProblem),
        hint: 'special keys are written <enter>, <esc>, <f1>, <leftCtrlOn>…; waits <wait>, <wait5>, <wait1m30s>',
      },
    );
  }
  return steps;
}

/** A problem as one line: `boot_command[1]:7: unknown special key <entr>; did you mean <enter>?`. */
export function formatProblem(p: BootCommandProblem): string {
  return `boot_command[${p.index}]:${p.column}: ${p.message}`;
}

function scan(command: readonly string[]): { steps: BootStep[]; problems: BootCommandProblem[] } {
  // Packer joins the strings with nothing between them, so a `<…>` may span two of them;
  // positions are mapped back to the element and column a user sees.
  const chars: Array<{ ch: string; index: number; column: number }> = [];
  command.forEach((part, index) => {
    let column = 1;
    for (const ch of part) chars.push({ ch, index, column: column++ });
  });
  const steps: BootStep[] = [];
  const problems: BootCommandProblem[] = [];
  let i = 0;
  while (i < chars.length) {
    const at = chars[i]!;
    const pos = { index: at.index, column: at.column };
    if (at.ch === '<') {
      let end = i + 1;
      while (end < chars.length && chars[end]!.ch !== '>' && chars[end]!.ch !== '<') end++;
      if (end < chars.length && chars[end]!.ch === '>') {
        const body = chars
          .slice(i + 1, end)
          .map((c) => c.ch)
          .join('');
        const r = readTag(body);
        if (r !== undefined) {
          if ('problem' in r) problems.push({ ...pos, message: r.problem });
          else steps.push({ ...r.step, ...pos, text: `<${body}>` } as BootStep);
          i = end + 1;
          continue;
        }
      }
    }
    const key = charKey(at.ch);
    if (key) steps.push({ kind: 'key', text: at.ch, ...key, action: 'press', ...pos });
    else problems.push({ ...pos, message: noKeyMessage(at.ch) });
    i++;
  }
  return { steps, problems };
}

type TagResult =
  | {
      step:
        | Omit<KeyStep, 'index' | 'column' | 'text'>
        | Omit<WaitStep, 'index' | 'column' | 'text'>;
    }
  | { problem: string }
  | undefined;

// Reads the text between `<` and `>`: a step, a problem, or undefined when it is no tag
// at all and its `<` is typed as a character.
function readTag(body: string): TagResult {
  if (body.startsWith('wait')) return readWait(body);
  const special = SPECIAL_BY_LOWER.get(body.toLowerCase());
  if (special) return { step: { kind: 'key', qcode: special, shift: false, action: 'press' } };
  const toggle = /^(.+?)(on|off)$/i.exec(body);
  if (toggle) {
    const action: KeyAction = toggle[2]!.toLowerCase() === 'on' ? 'down' : 'up';
    const name = toggle[1]!;
    const qcode = SPECIAL_BY_LOWER.get(name.toLowerCase());
    if (qcode) return { step: { kind: 'key', qcode, shift: false, action } };
    if ([...name].length === 1) {
      const key = charKey(name);
      if (key) return { step: { kind: 'key', ...key, action } };
      return { problem: `<${body}>: ${noKeyMessage(name)}` };
    }
  }
  if (!TAG_LIKE.test(body)) return undefined;
  return { problem: `unknown special key <${body}>${suggest(body)}` };
}

function readWait(body: string): TagResult {
  const rest = body.slice('wait'.length);
  let ns: number | undefined;
  if (rest === '') ns = 1e9;
  else if (WAIT_SECONDS.test(rest)) ns = Number(rest) * 1e9;
  else if (WAIT_DURATION.test(rest)) ns = goDurationNs(rest);
  if (ns === undefined) {
    return {
      problem: `<${body}>: "${rest}" is not a wait time (write <wait>, <wait5> for seconds, or a duration such as <wait1m30s>, <wait500ms>)`,
    };
  }
  if (ns <= 0) return { problem: `<${body}>: a wait must be longer than zero` };
  return { step: { kind: 'wait', ms: ns / 1e6 } };
}

function goDurationNs(text: string): number | undefined {
  try {
    return parseGoDurationNs(text);
  } catch {
    return undefined; // beyond Go's range
  }
}

function suggest(body: string): string {
  const alias = ALIASES[body.toLowerCase()];
  if (alias) return `; did you mean <${alias}>?`;
  const toggle = /^(.+?)(on|off)$/i.exec(body);
  if (toggle) {
    const near = ALIASES[toggle[1]!.toLowerCase()] ?? nearest(toggle[1]!, SPECIAL_KEY_NAMES);
    if (near) return `; did you mean <${near}${toggle[2]!.toLowerCase() === 'on' ? 'On' : 'Off'}>?`;
  }
  const near = nearest(body, [...SPECIAL_KEY_NAMES, 'wait', 'wait5', 'wait10']);
  return near ? `; did you mean <${near}>?` : '';
}

function noKeyMessage(ch: string): string {
  const control = CONTROL_NAMES[ch];
  if (control) return `cannot type ${control}`;
  const code = ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  const shown = /\p{Cc}/u.test(ch) ? '' : `"${ch}" `;
  return `no key types ${shown}(U+${code}) on a US keyboard layout`;
}

/** The key events of one key step: shift around a shifted character, down, up, or both. */
export function keyEvents(step: KeyStep): KeyEvent[] {
  const key = (down: boolean): KeyEvent => ({ qcode: step.qcode, down });
  const shift = (down: boolean): KeyEvent[] => (step.shift ? [{ qcode: 'shift', down }] : []);
  switch (step.action) {
    case 'down':
      return [...shift(true), key(true)];
    case 'up':
      return [key(false), ...shift(false)];
    case 'press':
      return [...shift(true), key(true), key(false), ...shift(false)];
  }
}

/** Options of typeBootCommand. */
export interface TypeOptions {
  /** Sends a QMP command (the QMP client of the running VM). */
  send: QmpSend;
  /** Pause after each key event (Packer: boot_key_interval, else PACKER_KEY_INTERVAL, else 100 ms). */
  keyIntervalMs: number;
  signal?: AbortSignal;
  /** Called before each step (progress, logs). */
  onStep?: (step: BootStep) => void;
}

/**
 * Types the steps into the VM: each key event is one `input-send-event`, followed by the key
 * interval; waits pause; keys still held by an `On` at the end are released, as Packer's are.
 * Stops with a CancelledError as soon as the signal aborts (held keys then stay held: the VM
 * is being stopped anyway).
 */
export async function typeBootCommand(
  steps: readonly BootStep[],
  opts: TypeOptions,
): Promise<void> {
  const held = new Set<string>();
  const sendKey = async (e: KeyEvent) => {
    throwIfCancelled(opts.signal);
    await opts.send('input-send-event', {
      events: [{ type: 'key', data: { down: e.down, key: { type: 'qcode', data: e.qcode } } }],
    });
    if (e.down) held.add(e.qcode);
    else held.delete(e.qcode);
    await pause(opts.keyIntervalMs, opts.signal);
  };
  for (const step of steps) {
    throwIfCancelled(opts.signal);
    opts.onStep?.(step);
    if (step.kind === 'wait') await pause(step.ms, opts.signal);
    else for (const e of keyEvents(step)) await sendKey(e);
  }
  // Packer types over VNC, and QEMU lifts every key still held when that VNC client
  // disconnects after the last step, in its key code order; QMP keeps no such session, so
  // kiln lifts them itself, in the same order.
  const order = (q: string) =>
    (QKEY_ORDER.indexOf(q) + QKEY_ORDER.length + 1) % (QKEY_ORDER.length + 1);
  for (const qcode of [...held].sort((a, b) => order(a) - order(b))) {
    await sendKey({ qcode, down: false });
  }
}

// QEMU's QKeyCode enumeration order (qapi/ui.json) of the keys kiln types: the order in which
// QEMU's VNC server lifts held keys (qkbd_state_lift_all_keys).
const QKEY_ORDER = [
  ...['shift', 'shift_r', 'alt', 'alt_r', 'ctrl', 'ctrl_r', 'menu', 'esc'],
  ...['1', '2', '3', '4', '5', '6', '7', '8', '9', '0', 'minus', 'equal', 'backspace', 'tab'],
  ...['q', 'w', 'e', 'r', 't', 'y', 'u', 'i', 'o', 'p', 'bracket_left', 'bracket_right', 'ret'],
  ...['a', 's', 'd', 'f', 'g', 'h', 'j', 'k', 'l', 'semicolon', 'apostrophe', 'grave_accent'],
  ...['backslash', 'z', 'x', 'c', 'v', 'b', 'n', 'm', 'comma', 'dot', 'slash', 'asterisk', 'spc'],
  ...['caps_lock', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'f8', 'f9', 'f10'],
  ...['num_lock', 'scroll_lock', 'kp_divide', 'kp_multiply', 'kp_subtract', 'kp_add', 'kp_enter'],
  ...['kp_decimal', 'sysrq', 'kp_0', 'kp_1', 'kp_2', 'kp_3', 'kp_4', 'kp_5', 'kp_6', 'kp_7'],
  ...['kp_8', 'kp_9', 'less', 'f11', 'f12', 'print', 'home', 'pgup', 'pgdn', 'end', 'left', 'up'],
  ...['down', 'right', 'insert', 'delete', 'stop', 'again', 'props', 'undo', 'front', 'copy'],
  ...['open', 'paste', 'find', 'cut', 'lf', 'help', 'meta_l', 'meta_r', 'compose'],
];

/**
 * The pause between key events as Packer picks it: `boot_key_interval` when set and above
 * zero, else `PACKER_KEY_INTERVAL` from the environment when it is a valid duration, else 100 ms.
 */
export function keyIntervalMs(
  bootKeyInterval: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): number {
  const parse = (s: string | undefined): number | undefined => {
    const ns = s === undefined ? undefined : goDurationNs(s);
    return ns === undefined ? undefined : ns / 1e6;
  };
  const configured = parse(bootKeyInterval);
  if (configured !== undefined && configured > 0) return configured;
  return parse(env.PACKER_KEY_INTERVAL) ?? 100;
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError('typing the boot command was cancelled');
}

async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  throwIfCancelled(signal);
  if (ms <= 0) return;
  try {
    await sleep(ms, signal);
  } catch (err) {
    throwIfCancelled(signal); // the same error, saying what was cancelled
    throw err;
  }
}
