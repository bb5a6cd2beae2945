import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { BuildUi, MemoryUi } from '../core/events.js';
import { runSteps, type Step } from '../core/steps.js';
import { CancelledError } from '../lib/errors.js';
import { CliContext, type CliHost, type GlobalFlags } from './context.js';

/** A process stand-in: streams that record what is written, signals on demand, exit that throws. */
function fakeHost() {
  const signals = new EventEmitter();
  const stream = () => {
    const s = new EventEmitter() as EventEmitter & { text: string; write(c: string): boolean };
    s.text = '';
    s.write = (c: string) => {
      s.text += String(c);
      return true;
    };
    return s;
  };
  const stdout = stream();
  const stderr = stream();
  const exits: number[] = [];
  const host: CliHost = {
    stdout,
    stderr,
    env: { NO_COLOR: '1' },
    onSignal(handler) {
      signals.on('signal', handler);
      return () => signals.off('signal', handler);
    },
    exit(code) {
      exits.push(code);
      throw new Error(`exit ${code}`);
    },
  };
  const send = (sig: NodeJS.Signals) => signals.emit('signal', sig);
  return { host, stdout, stderr, exits, send, listeners: () => signals.listenerCount('signal') };
}

const ctxOf = (flags: GlobalFlags, h = fakeHost(), name = 'kiln test') =>
  new CliContext(flags, { name }, h.host);

describe('CliContext signals', () => {
  it('first signal aborts with a CancelledError and says so; the second exits 130 naming the pending cleanups', async () => {
    const h = fakeHost();
    const ctx = ctxOf({}, h, 'kiln deploy aws');
    const report = ctx.pendingCleanups('deploy to web-asg');
    report(['cancel instance refresh r-1', "set launch template lt-1's default version back to 3"]);
    const signal = ctx.signal;
    h.send('SIGINT');
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(CancelledError);
    expect(ctx.cleanupSignal.aborted).toBe(false);
    expect(h.stderr.text).toBe(
      'kiln: SIGINT: stopping kiln deploy aws and cleaning up (again to exit now)\n',
    );
    expect(() => h.send('SIGTERM')).toThrow('exit 130');
    expect(h.exits).toEqual([130]);
    expect(ctx.cleanupSignal.aborted).toBe(true);
    expect(h.stderr.text).toContain(
      [
        'kiln: received a second SIGTERM: exiting now without finishing cleanup.',
        'kiln: left behind:',
        "  deploy to web-asg: not cleaned up: cancel instance refresh r-1, set launch template lt-1's default version back to 3",
        'kiln: run `kiln gc` to remove what this run left.',
      ].join('\n'),
    );
  });

  it('names what the step runner still has to clean up, as it goes', async () => {
    const h = fakeHost();
    const ctx = ctxOf({}, h);
    const seen: string[][] = [];
    const steps: Step<object>[] = ['a', 'b', 'c'].map((name) => ({
      name,
      run: async () => {},
      cleanup: async () => {
        seen.push(ctx.leftovers());
      },
    }));
    const report = ctx.pendingCleanups('base debian-12');
    await runSteps(
      steps,
      {},
      { signal: ctx.signal, ui: new BuildUi(new MemoryUi(ctx.secrets), 'base') },
      { onCleanupPending: report },
    );
    expect(seen).toEqual([
      ['base debian-12: not cleaned up: c, b, a'],
      ['base debian-12: not cleaned up: b, a'],
      ['base debian-12: not cleaned up: a'],
    ]);
    expect(ctx.leftovers()).toEqual([]);
  });

  it('a command that reports nothing does not claim nothing was left', () => {
    const h = fakeHost();
    const ctx = ctxOf({}, h, 'kiln run');
    void ctx.signal;
    h.send('SIGINT');
    expect(() => h.send('SIGINT')).toThrow('exit 130');
    expect(h.stderr.text).toContain('kiln: what kiln run was making may be left behind');
    expect(h.stderr.text).not.toContain('nothing was left behind');
  });

  it('redacts secrets in what the second signal prints', () => {
    const h = fakeHost();
    const ctx = ctxOf({}, h);
    ctx.secrets.add('hunter2-secret');
    ctx.pendingCleanups('build')(['remove /tmp/hunter2-secret']);
    void ctx.signal;
    h.send('SIGINT');
    expect(() => h.send('SIGINT')).toThrow('exit 130');
    expect(h.stderr.text).not.toContain('hunter2-secret');
  });

  it('takes the signals only once a command asks for its AbortSignal, and gives them back on close', () => {
    const h = fakeHost();
    const ctx = ctxOf({}, h);
    expect(h.listeners()).toBe(0);
    void ctx.signal;
    expect(h.listeners()).toBe(1);
    ctx.close();
    expect(h.listeners()).toBe(0);
  });

  it('a custom note replaces the default first-signal line', () => {
    const h = fakeHost();
    const ctx = ctxOf({}, h);
    const notes: string[] = [];
    ctx.onInterrupt((sig) => notes.push(sig));
    void ctx.signal;
    h.send('SIGTERM');
    expect(notes).toEqual(['SIGTERM']);
    expect(h.stderr.text).toBe('');
  });
});

describe('CliContext output', () => {
  it('picks the Ui from the global flags', () => {
    const cases: Array<[GlobalFlags, 'stdout' | 'stderr', RegExp]> = [
      [{}, 'stderr', /^==> b: hello\n$/],
      [{ machineReadable: true }, 'stdout', /^\d+,,ui,say,==> b: hello\n$/],
      [{ output: 'json' }, 'stdout', /^\{.*"text":"hello".*\}\n$/],
    ];
    for (const [flags, stream, expected] of cases) {
      const h = fakeHost();
      ctxOf(flags, h).ui().emit({ type: 'ui', level: 'say', build: 'b', text: 'hello' });
      expect(h[stream].text).toMatch(expected);
      expect(h[stream === 'stdout' ? 'stderr' : 'stdout'].text).toBe('');
    }
  });

  it('refuses an unknown --output', () => {
    expect(() => ctxOf({ output: 'xml' }).mode).toThrow('unknown output format "xml"');
  });

  it('keeps progress off stdout when stdout is the result, and -q keeps only errors', () => {
    const h = fakeHost();
    const ctx = ctxOf({ machineReadable: true }, h);
    const ui = ctx.ui({ progressOnly: true, quiet: true });
    ui.emit({ type: 'ui', level: 'say', build: 'run', text: 'booting' });
    ui.emit({ type: 'ui', level: 'error', build: 'run', text: 'no answer' });
    expect(h.stdout.text).toBe('');
    expect(h.stderr.text).toBe('==> run: no answer\n');
  });

  it('a closed stdout (EPIPE) cancels the command quietly, unless it must finish', () => {
    const h = fakeHost();
    const ctx = ctxOf({}, h);
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    h.stdout.emit('error', epipe);
    expect(ctx.cancelled).toBe(true);
    expect(ctx.stdoutClosed).toBe(true);
    ctx.out('more\n');
    expect(h.stdout.text).toBe('');

    const h2 = fakeHost();
    const build = new CliContext({}, { name: 'kiln build', survivesClosedStdout: true }, h2.host);
    h2.stdout.emit('error', epipe);
    h2.stderr.emit('error', epipe);
    expect(build.cancelled).toBe(false);
  });

  it('other write errors are not swallowed', () => {
    const h = fakeHost();
    ctxOf({}, h);
    expect(() => h.stdout.emit('error', Object.assign(new Error('EIO'), { code: 'EIO' }))).toThrow(
      'EIO',
    );
  });
});
