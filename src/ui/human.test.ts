import { describe, expect, it, vi } from 'vitest';
import { Secrets } from '../core/secrets.js';
import { formatElapsed, HumanUi, type Spinner, shouldColor } from './human.js';
import { closeUi, createUi } from './index.js';

function human(
  opts: {
    color?: boolean;
    progress?: 'spinner' | 'lines' | 'off';
    spinner?: (text: string) => Spinner;
    secrets?: Secrets;
  } = {},
) {
  const out: string[] = [];
  const err: string[] = [];
  const u = new HumanUi({
    out: (c) => out.push(c),
    err: (c) => err.push(c),
    secrets: opts.secrets ?? new Secrets(),
    color: opts.color,
    progress: opts.progress,
    ...(opts.spinner ? { spinner: opts.spinner } : {}),
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

  it('shows waits and transfers as a spinner on a terminal: what is awaited and for how long', () => {
    vi.useFakeTimers();
    try {
      const spins: { text: string; stopped: boolean }[] = [];
      const { u, err } = human({
        progress: 'spinner',
        spinner: (text) => {
          const s = {
            text,
            stopped: false,
            stop() {
              s.stopped = true;
            },
          };
          spins.push(s);
          return s;
        },
      });
      u.emit({ type: 'wait', id: 1, build: 'a', label: 'waiting for SSH', phase: 'start' });
      vi.advanceTimersByTime(500);
      expect(spins).toEqual([]); // a short wait never shows
      vi.advanceTimersByTime(2000);
      expect(spins[0]!.text).toBe('a: waiting for SSH (2s)');
      u.emit({ type: 'progress', build: 'b', label: 'push x', current: 45, total: 100 });
      vi.advanceTimersByTime(1500);
      expect(spins[0]!.text).toBe('a: waiting for SSH (4s)  ·  b: push x 45% (1s)');
      u.emit({
        type: 'progress',
        build: 'b',
        label: 'push x',
        current: 100,
        total: 100,
        done: true,
      });
      u.emit({ type: 'wait', id: 1, build: 'a', label: 'waiting for SSH', phase: 'end' });
      expect(spins[0]!.stopped).toBe(true);
      expect(spins).toHaveLength(1);
      expect(err).toEqual([]); // the spinner draws; nothing else is written
    } finally {
      vi.useRealTimers();
    }
  });

  it('says what is still awaited in a plain line after a few seconds of silence elsewhere', () => {
    vi.useFakeTimers();
    try {
      const { u, err } = human({ progress: 'lines' });
      u.emit({ type: 'wait', id: 7, build: 'run', label: 'waiting for http://x/', phase: 'start' });
      vi.advanceTimersByTime(4000);
      expect(err).toEqual([]);
      vi.advanceTimersByTime(1000);
      expect(err).toEqual(['    run: waiting for http://x/ (5s)\n']);
      u.emit({ type: 'ui', level: 'message', build: 'run', text: 'probe' });
      vi.advanceTimersByTime(4000);
      expect(err).toHaveLength(2); // output meanwhile: no heartbeat yet
      vi.advanceTimersByTime(1000);
      expect(err[2]).toBe('    run: waiting for http://x/ (10s)\n');
      u.emit({ type: 'wait', id: 7, build: 'run', label: 'waiting for http://x/', phase: 'end' });
      vi.advanceTimersByTime(20_000);
      expect(err).toHaveLength(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it('shows no progress when told not to', () => {
    vi.useFakeTimers();
    try {
      const { u, err } = human({ progress: 'off' });
      u.emit({ type: 'wait', id: 1, label: 'x', phase: 'start' });
      u.emit({ type: 'progress', build: 'a', label: 'copy', current: 5, total: 10 });
      vi.advanceTimersByTime(60_000);
      expect(err).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('formats elapsed time', () => {
    expect(formatElapsed(900)).toBe('0s');
    expect(formatElapsed(59_999)).toBe('59s');
    expect(formatElapsed(65_000)).toBe('1m05s');
    expect(formatElapsed(3_720_000)).toBe('1h02m');
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

  it('createUi gives no colour and no spinner when stderr is not a TTY', () => {
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
    closeUi(u);
  });
});
