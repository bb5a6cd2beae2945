/**
 * `kiln run/ps/logs/stop` for real: QEMU under TCG booting an image whose service answers
 * HTTP, the instance outliving the `kiln run` process, a QEMU killed behind kiln's back
 * shown as exited, and failed or interrupted health waits leaving nothing behind.
 * One VM at a time.
 */
import { readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import {
  ensureBase,
  ensureHttpImage,
  GUEST_PORT,
  HOME,
  httpGet,
  kiln,
  kilnAsync,
  leftoversOf,
  qemuPidsMentioning,
  stopQuietly,
} from './runtime-helpers.js';

let httpImage: string;
let baseImage: string;
const started: string[] = [];

interface PsRow {
  id: string;
  state: string;
  reason?: string;
  pid: number;
  ports: Array<{ host: number; guest: number }>;
  console: string;
  image: string;
}

async function ps(all = false): Promise<PsRow[]> {
  const r = await kiln(['ps', '--json', ...(all ? ['-a'] : [])]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as PsRow[];
}

beforeAll(async () => {
  baseImage = await ensureBase();
  httpImage = await ensureHttpImage();
});

afterAll(() => stopQuietly(started));

describe('kiln run / ps / logs / stop', () => {
  it('boots an image that serves HTTP, keeps it running after kiln exits, and stop leaves nothing', async () => {
    const catalog = Catalog.open(HOME);
    const disk = catalog.images.get(httpImage)!.files[0]!;
    catalog.close();
    const diskBefore = statSync(disk);

    // A TCG boot on a loaded 2-core machine can take minutes: the test asserts no timing.
    const r = await kiln([
      'run',
      httpImage,
      '-p',
      String(GUEST_PORT),
      '--wait-http',
      '/healthz',
      '--timeout',
      '10m',
      '--quiet',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.trim();
    started.push(id);
    expect(id).toMatch(/^i-[0-9a-f]{17}$/);
    expect(r.stderr).toBe('');

    // `kiln run` has exited; the instance still runs and answers.
    const row = (await ps()).find((p) => p.id === id)!;
    expect(row.state).toBe('running');
    expect(row.image).toBe(httpImage);
    expect(qemuPidsMentioning(id)).toEqual([row.pid]);
    const port = row.ports.find((p) => p.guest === GUEST_PORT)!.host;
    expect((await httpGet(port, '/'))?.body).toBe('hello from kiln-test\n');
    // The catalog's disk was never written: an overlay took every write.
    const diskAfter = statSync(disk);
    expect([diskAfter.size, diskAfter.mtimeMs]).toEqual([diskBefore.size, diskBefore.mtimeMs]);

    const logs = await kiln(['logs', id]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toBe(readFileSync(row.console, 'utf8'));
    expect((await kiln(['logs', id, '-n', '3'])).code).toBe(0);

    // `logs -f` follows the console until the instance stops.
    const follow = kilnAsync(['logs', '-f', id]);
    const stop = await kiln(['stop', id]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout.trim()).toBe(id);
    expect((await follow.exit).code).toBe(0);
    expect(leftoversOf([id])).toEqual([]);
    expect(await httpGet(port, '/')).toBeUndefined();
    expect((await ps(true)).some((p) => p.id === id)).toBe(false);
  });

  it('prints where the instance answers, and shows an instance whose QEMU was killed as exited', async () => {
    const r = await kiln([
      'run',
      httpImage,
      '-p',
      String(GUEST_PORT),
      '--wait-port',
      String(GUEST_PORT),
      '--name',
      `rt-${process.pid}`,
      '--output',
      'json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    // --output json: one object on stdout; the human summary stays on stderr.
    const out = JSON.parse(r.stdout);
    const id = out.id as string;
    started.push(id);
    expect(out).toEqual({
      id: expect.stringMatching(/^i-[0-9a-f]{17}$/),
      image: httpImage,
      name: `rt-${process.pid}`,
      ports: [{ host: expect.any(Number), guest: GUEST_PORT }],
      health: { url: `http://127.0.0.1:${out.ports[0].host}/`, status: 200 },
    });
    expect(r.stderr).toMatch(
      new RegExp(
        `${id} running from ${httpImage}; http://127\\.0\\.0\\.1:\\d+/ answered 200 in [0-9.]+ s`,
      ),
    );

    const row = (await ps()).find((p) => p.id === id)!;
    process.kill(row.pid, 'SIGKILL');
    for (let i = 0; i < 50 && qemuPidsMentioning(id).length > 0; i++)
      await new Promise((res) => setTimeout(res, 100));

    expect((await ps()).some((p) => p.id === id)).toBe(false);
    const exited = (await ps(true)).find((p) => p.id === id)!;
    expect(exited.state).toBe('exited');
    expect(exited.reason).toMatch(/gone|exited/);
    const table = await kiln(['ps', '-a']);
    expect(table.stdout).toMatch(new RegExp(`${id}.*exited`));

    // Its name still resolves, and stop clears what the dead QEMU left.
    const stop = await kiln(['stop', `rt-${process.pid}`, '--output', 'json']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(JSON.parse(stop.stdout)).toEqual({ stopped: [id] });
    expect(leftoversOf([id])).toEqual([]);
  });

  it('stops the instance and leaves nothing when the health wait fails, naming what it saw', async () => {
    // The base image serves nothing on the port.
    const r = await kiln([
      'run',
      baseImage,
      '-p',
      String(GUEST_PORT),
      '--wait-http',
      '/',
      '--timeout',
      '20s',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/did not become healthy; it was stopped/);
    expect(r.stderr).toMatch(/did not answer with a 2xx status within 20 s/);
    expect(r.stderr).toMatch(/last seen/);
    const id = /(i-[0-9a-f]{17})/.exec(r.stderr)?.[1];
    expect(id).toBeDefined();
    expect(leftoversOf([id!])).toEqual([]);
  });

  it('fails at once when QEMU dies during the health wait, and on SIGINT leaves nothing', async () => {
    const k = kilnAsync([
      'run',
      baseImage,
      '-p',
      String(GUEST_PORT),
      '--wait-http',
      '/',
      '--timeout',
      '5m',
    ]);
    const id = await waitForId(k.stderr);
    started.push(id);
    const pid = qemuPidsMentioning(id)[0]!;
    process.kill(pid, 'SIGKILL');
    const done = await k.exit;
    expect(done.code).toBe(1);
    expect(done.stderr).toMatch(/can never answer: QEMU .*(gone|exited)/);
    // "can never answer" (not "did not answer … within"): it did not wait for the 5-minute timeout.
    expect(leftoversOf([id])).toEqual([]);

    const k2 = kilnAsync([
      'run',
      baseImage,
      '-p',
      String(GUEST_PORT),
      '--wait-http',
      '/',
      '--timeout',
      '5m',
    ]);
    const id2 = await waitForId(k2.stderr);
    started.push(id2);
    k2.child.kill('SIGINT');
    const done2 = await k2.exit;
    expect(done2.code).toBe(130);
    expect(done2.stderr).toMatch(/cancelled/);
    expect(leftoversOf([id2])).toEqual([]);
  });

  it('refuses bad options before any VM starts', async () => {
    for (const args of [
      ['run', httpImage, '-p', '70000:80'],
      ['run', httpImage, '-p', '0.0.0.0:8080:80'],
      ['run', httpImage, '--wait-http', '/'],
      ['run', httpImage, '-p', '8000', '--wait-port', '9'],
      ['run', 'no-such-image-anywhere'],
      ['run', httpImage, '--timeout', 'soon'],
      ['stop'],
    ]) {
      const r = await kiln(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(/^kiln: /);
      expect(r.stderr).not.toMatch(/at .*\.js/);
    }
    expect((await kiln(['logs', 'i-00000000000000000'])).stderr).toMatch(/no instance matches/);
  });
});

/** Waits until `kiln run`'s progress names the instance it started (it waits for health next). */
async function waitForId(stderr: () => string): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const m = /waiting for http/.test(stderr()) ? /Starting (i-[0-9a-f]{17})/.exec(stderr()) : null;
    if (m) return m[1]!;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`kiln run never started an instance:\n${stderr()}`);
}
