/**
 * Issue 16, item 2: `kiln ssh` and `kiln logs` on one real instance (QEMU under TCG):
 * a command's output and exit status pass through; without a command, on a terminal
 * (util-linux `script`), an interactive shell; the instance's key reaches the guest as a
 * systemd credential — in the instance's overlay, never in the image's file; `kiln logs`
 * shows the console (units starting), `--journal UNIT` the guest's journal of the unit,
 * and `logs -f` follows for several seconds without Node's MaxListenersExceededWarning.
 * One VM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { KILN, run } from './helpers/kiln.js';
import {
  ensureHttpImage,
  GUEST_PORT,
  HOME,
  kiln,
  kilnAsync,
  leftoversOf,
  stopQuietly,
} from './runtime-helpers.js';

let id: string;
const started: string[] = [];

beforeAll(async () => {
  const image = await ensureHttpImage();
  const r = await kiln(['run', image, '-p', String(GUEST_PORT), '--wait-http', '/healthz', '-q']);
  expect(r.code, r.stderr).toBe(0);
  id = r.stdout.trim();
  started.push(id);
});

afterAll(() => stopQuietly(started));

function meta(): { ssh: { keyFile: string; port: number }; overlay: string } {
  const catalog = Catalog.open(HOME);
  try {
    return catalog.instances.get(id)!.metadata as never;
  } finally {
    catalog.close();
  }
}

describe('kiln ssh / kiln logs on a running instance', () => {
  it('runs a command, passing its output and exit status through', async () => {
    const r = await kiln(['ssh', id, '--', 'systemctl', 'is-active', 'kiln-test-http']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('active\n');
    const failed = await kiln(['ssh', id.slice(0, 8), '--', 'echo out; echo err >&2; exit 7']);
    expect(failed.code).toBe(7);
    expect(failed.stdout).toBe('out\n');
    expect(failed.stderr).toContain('err\n');
    expect(failed.stderr).not.toMatch(/Warning|known hosts/i);
  });

  it('opens an interactive shell on a terminal', async () => {
    const r = await run(
      'script',
      ['-q', '-e', '-c', `${process.execPath} ${KILN} ssh ${id}`, '/dev/null'],
      {
        env: { KILN_HOME: HOME, TERM: 'xterm' },
        input: 'tty -s && echo "on-a-tty-$((6*7))"; exit 3\n',
        timeoutMs: 120_000,
      },
    );
    expect(r.output).toContain('on-a-tty-42');
    expect(r.code, r.output).toBe(3);
  });

  it('authorizes the instance key in the overlay only, never in the image', async () => {
    const m = meta();
    const pub = (await run('ssh-keygen', ['-y', '-f', m.ssh.keyFile])).stdout.split(' ')[1]!;
    expect(pub.length).toBeGreaterThan(40);
    const catalog = Catalog.open(HOME);
    const instance = catalog.instances.get(id)!;
    const files = catalog.images.get(instance.imageId)!.files;
    catalog.close();
    const found = async (file: string) =>
      (await run('grep', ['-c', '-F', '-a', pub, file])).stdout.trim() !== '0';
    expect(await found(m.overlay)).toBe(true);
    for (const f of files) expect(await found(f), f).toBe(false);
  });

  it('shows the console, the journal of a unit, and follows without a listener leak', async () => {
    const logs = await kiln(['logs', id]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(/kiln-test-http/);
    const journal = await kiln(['logs', id, '--journal', 'kiln-test-http']);
    expect(journal.code, journal.stderr).toBe(0);
    expect(journal.stdout).toMatch(/GET \/healthz/);
    expect((await kiln(['logs', id, '--journal', 'a;b'])).stderr).toMatch(/not a systemd unit/);

    for (const args of [
      ['logs', '-f', id],
      ['logs', '-f', '--journal', 'kiln-test-http', id],
    ]) {
      const follow = kilnAsync(args);
      await follow.waitFor(/\S/, 120_000);
      // The warning came after ~4 s of following: give it twice that.
      await new Promise((resolve) => setTimeout(resolve, 8000));
      follow.child.kill('SIGINT');
      const r = await follow.exit;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/MaxListeners|memory leak/);
    }
  });

  it('refuses an instance it cannot reach, saying why', async () => {
    expect((await kiln(['ssh', 'i-00000000000000000', '--', 'true'])).stderr).toMatch(
      /no instance matches/,
    );
    const stop = await kiln(['stop', id]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(leftoversOf([id])).toEqual([]);
    const r = await kiln(['ssh', id, '--', 'true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no instance matches|not running/);
  });
});
