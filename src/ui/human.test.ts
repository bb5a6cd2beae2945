import { describe, expect, it } from 'vitest';
import { Secrets } from '../core/secrets.js';
import { HumanUi, shouldColor } from './human.js';
import { createUi } from './index.js';

function human(opts: { color?: boolean; progress?: boolean; secrets?: Secrets } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const u = new HumanUi({
    out: (c) => out.push(c),
    err: (c) => err.push(c),
    secrets: opts.secrets ?? new Secrets(),
    color: opts.color,
    progress: opts.progress,
  });
  return { u, out, err };
}

describe('HumanUi', () => {
  it('prints Packer lines to stderr and the artifacts to stdout', () => {
    const { u, out, err } = human();
    u.emit({ type: 'ui', level: 'say', build: 'null', text: 'Running local shell script: /tmp/x' });
    u.emit({ type: 'ui', level: 'message', build: 'null', text: 'hello' });
    u.emit({ type: 'ui', level: 'error', build: 'null', text: 'oops' });
    u.emit({
      type: 'ui',
      level: 'say',
      text: '\n==> Builds finished. The artifacts of successful builds are:',
    });
    u.emit({ type: 'artifact-count', build: 'null', count: 1 });
    u.emit({
      type: 'artifact',
      build: 'null',
      index: 0,
      artifact: {
        builderId: 'fnoeding.null',
        id: 'Null',
        string: 'Did not export anything. This is the null builder',
        files: [],
      },
    });
    u.emit({ type: 'build-error', build: 'other', message: 'bad' });
    expect(err.join('')).toBe(
      '==> null: Running local shell script: /tmp/x\n    null: hello\n==> null: oops\n\n==> Builds finished. The artifacts of successful builds are:\n--> other: bad\n',
    );
    expect(out.join('')).toBe('--> null: Did not export anything. This is the null builder\n');
  });

  it('colours each build and errors only when asked', () => {
    const plain = human({ color: false });
    plain.u.emit({ type: 'ui', level: 'say', build: 'a', text: 'x' });
    expect(plain.err.join('')).not.toContain('\x1b[');
    const coloured = human({ color: true });
    coloured.u.announceBuilds(['a', 'b']);
    coloured.u.emit({ type: 'ui', level: 'say', build: 'a', text: 'x' });
    coloured.u.emit({ type: 'ui', level: 'message', build: 'b', text: 'y' });
    coloured.u.emit({ type: 'ui', level: 'error', build: 'b', text: 'z' });
    const text = coloured.err.join('');
    expect(text).toContain('\x1b[1;32ma: output will be in this color.\x1b[0m');
    expect(text).toContain('\x1b[1;32m==> a: x\x1b[0m');
    expect(text).toContain('\x1b[0;36m    b: y\x1b[0m');
    expect(text).toContain('\x1b[1;31m==> b: z\x1b[0m');
  });

  it('decides colour from the TTY, NO_COLOR and -color', () => {
    expect(shouldColor({ isTTY: true }, {})).toBe(true);
    expect(shouldColor({ isTTY: false }, {})).toBe(false);
    expect(shouldColor({}, {})).toBe(false);
    expect(shouldColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(shouldColor({ isTTY: true }, {}, false)).toBe(false);
  });

  it('draws progress only on a terminal, and clears it before the next line', () => {
    const off = human({ progress: false });
    off.u.emit({ type: 'progress', build: 'a', label: 'copy', current: 5, total: 10 });
    expect(off.err).toEqual([]);
    const on = human({ progress: true });
    on.u.emit({ type: 'progress', build: 'a', label: 'copy', current: 5, total: 10 });
    on.u.emit({ type: 'ui', level: 'say', build: 'a', text: 'done' });
    expect(on.err[0]).toContain('50%');
    expect(on.err[1]).toBe('\r\x1b[K');
    expect(on.err[2]).toBe('==> a: done\n');
  });

  it('redacts secrets in every line, shell-quoted and JSON-escaped too', () => {
    const secrets = new Secrets();
    secrets.add(`it's "secret"`);
    const { u, out, err } = human({ secrets });
    u.emit({ type: 'ui', level: 'message', build: 'a', text: `echo 'it'\\''s "secret"'` });
    u.emit({
      type: 'ui',
      level: 'message',
      build: 'a',
      text: JSON.stringify({ v: `it's "secret"` }),
    });
    u.emit({
      type: 'artifact',
      build: 'a',
      index: 0,
      artifact: { builderId: 'x', id: 'y', string: `it's "secret"`, files: [] },
    });
    const all = err.join('') + out.join('');
    expect(all).not.toContain('secret');
    expect(all.match(/<sensitive>/g)?.length).toBe(3);
  });

  it('createUi gives no colour and no progress when stderr is not a TTY', () => {
    const chunks: string[] = [];
    const stream = { write: (c: string) => chunks.push(c), isTTY: false };
    const u = createUi({
      mode: 'human',
      secrets: new Secrets(),
      stdout: stream,
      stderr: stream,
      env: {},
    });
    u.emit({ type: 'progress', build: 'a', label: 'copy', current: 1, total: 2 });
    u.emit({ type: 'ui', level: 'say', build: 'a', text: 'x' });
    expect(chunks).toEqual(['==> a: x\n']);
  });
});
