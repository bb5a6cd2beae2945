// Runs the compiled service as a real process (as systemd would) against temp configs.
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const serviceDir = resolve(__dirname, '..');
const tsc = resolve(serviceDir, '../../../node_modules/typescript/bin/tsc');
let work: string;
let serverJs: string;
const running = new Set<ChildProcessWithoutNullStreams>();

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'hello-web-test-'));
  // Test what ships: the tsc output of service/tsconfig.json (CommonJS; a temp dir has no
  // package.json saying "type": "module", just like /usr/lib/hello-web).
  execFileSync(process.execPath, [tsc, '-p', serviceDir, '--outDir', join(work, 'js')]);
  serverJs = join(work, 'js', 'server.js');
}, 60_000);

afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Started {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once stdout holds a line matching re. */
  waitFor: (re: RegExp) => Promise<void>;
}

let configCount = 0;
function writeConfig(text: string): string {
  const path = join(work, `c${configCount++}.env`);
  writeFileSync(path, text);
  return path;
}

function start(configPath: string): Started {
  const child = spawn(process.execPath, [serverJs], {
    env: { PATH: process.env.PATH ?? '', HELLO_WEB_CONFIG: configPath },
  });
  running.add(child);
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters) w();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on('exit', (code, signal) => {
      running.delete(child);
      for (const w of waiters) w();
      res({ code, signal });
    }),
  );
  const waitFor = (re: RegExp) =>
    new Promise<void>((res, rej) => {
      const check = () => {
        if (re.test(out)) res();
        else if (child.exitCode !== null) rej(new Error(`exited first; stderr: ${err}`));
      };
      waiters.push(check);
      check();
    });
  return { child, stdout: () => out, stderr: () => err, exited, waitFor };
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((res) => srv.close(res));
  return port;
}

async function get(port: number, path: string, method = 'GET') {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

describe('hello-web service', () => {
  it('answers /, /healthz and 404 on the configured port, logging one start line', async () => {
    const port = await freePort();
    const s = start(writeConfig(`# set by the release step\nHELLO_WEB_PORT=${port}\n`));
    await s.waitFor(/listening/);

    expect(await get(port, '/')).toEqual({
      status: 200,
      body: `Hello world on port ${port}\n`,
      type: 'text/plain; charset=utf-8',
    });
    expect(await get(port, '/?from=test')).toMatchObject({ status: 200 });
    expect(await get(port, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await get(port, '/', 'HEAD')).toMatchObject({ status: 200, body: '' });
    expect(await get(port, '/nope')).toMatchObject({ status: 404 });
    expect(await get(port, '/healthz/x')).toMatchObject({ status: 404 });
    expect(await get(port, '/', 'POST')).toMatchObject({ status: 404 });

    expect(s.stdout().split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(new RegExp(`^hello-web: listening on port ${port} \\(from config;`)),
    ]);
    s.child.kill('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
    expect(s.stderr()).toBe('');
  });

  it('uses port 9999 when HELLO_WEB_PORT is blank', async (ctx) => {
    const probe = net.createServer();
    const free = await new Promise<boolean>((res) => {
      probe.once('error', () => res(false));
      probe.listen(9999, () => res(true));
    });
    if (free) await new Promise((res) => probe.close(res));
    else ctx.skip(); // something on this machine holds 9999: the default cannot be observed here

    const s = start(writeConfig('HELLO_WEB_PORT=\n'));
    await s.waitFor(/listening/);
    expect(s.stdout()).toContain('listening on port 9999 (default, HELLO_WEB_PORT is blank');
    expect(await get(9999, '/')).toMatchObject({ body: 'Hello world on port 9999\n' });
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
  });

  it.each(['70000', '0', 'eighty'])('exits 2 with a clear error for port %j', async (value) => {
    const path = writeConfig(`HELLO_WEB_PORT=${value}\n`);
    const s = start(path);
    expect(await s.exited).toEqual({ code: 2, signal: null });
    expect(s.stderr()).toBe(
      `hello-web: error: ${path}:1: HELLO_WEB_PORT must be an integer from 1 to 65535, ` +
        `got "${value}" (leave it blank for the default 9999)\n`,
    );
    expect(s.stdout()).toBe('');
  });

  it('exits 2 when the config file is missing', async () => {
    const s = start(join(work, 'absent.env'));
    expect(await s.exited).toEqual({ code: 2, signal: null });
    expect(s.stderr()).toContain(`cannot read config ${join(work, 'absent.env')}`);
  });

  it('exits 1 naming the port when it cannot listen', async () => {
    const holder = net.createServer();
    await new Promise<void>((res) => holder.listen(0, res));
    const { port } = holder.address() as net.AddressInfo;
    try {
      const s = start(writeConfig(`HELLO_WEB_PORT=${port}\n`));
      expect((await s.exited).code).toBe(1);
      expect(s.stderr()).toContain(`cannot listen on port ${port}`);
    } finally {
      await new Promise((res) => holder.close(res));
    }
  });

  it('on SIGTERM closes idle keep-alive connections and exits 0', async () => {
    const port = await freePort();
    const s = start(writeConfig(`HELLO_WEB_PORT=${port}\n`));
    await s.waitFor(/listening/);
    const agent = new http.Agent({ keepAlive: true });
    const closed = new Promise<void>((res) => {
      http.get({ port, host: '127.0.0.1', path: '/', agent }, (r) => {
        r.resume();
        r.socket.once('close', () => res());
      });
    });
    // Let the answer be read so the socket sits idle in the agent's pool.
    await new Promise((res) => setTimeout(res, 100));
    s.child.kill('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
    await closed;
    agent.destroy();
    expect(s.stdout()).toMatch(/SIGTERM received, stopping.*\nhello-web: stopped\n$/);
  });

  it('on SIGTERM finishes a request in flight, then exits 0', async () => {
    const port = await freePort();
    const s = start(writeConfig(`HELLO_WEB_PORT=${port}\n`));
    await s.waitFor(/listening/);
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((res) => socket.once('connect', res));
    let answer = '';
    socket.on('data', (d) => {
      answer += d.toString();
    });
    const socketClosed = new Promise((res) => socket.once('close', res));
    // Half a request: the server has begun parsing it when the signal arrives.
    socket.write('GET / HTTP/1.1\r\nHost: test\r\n');
    await new Promise((res) => setTimeout(res, 100));
    s.child.kill('SIGTERM');
    await s.waitFor(/stopping/);
    expect(s.child.exitCode).toBeNull();
    socket.write('\r\n');
    await socketClosed;
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer).toMatch(/\r\nConnection: close\r\n/i);
    expect(answer.endsWith(`\r\n\r\nHello world on port ${port}\n`)).toBe(true);
    expect(await s.exited).toEqual({ code: 0, signal: null });
  });
});
