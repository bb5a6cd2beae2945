import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CancelledError, SystemError } from '../lib/errors.js';
import { waitHttp } from './wait-http.js';

let server: Server | undefined;

async function serve(
  handler: (n: number, path: string) => { status: number; body: string } | 'hang' | 'reset',
): Promise<number> {
  let n = 0;
  server = createServer((req, res) => {
    n++;
    const r = handler(n, req.url ?? '');
    if (r === 'hang') return;
    if (r === 'reset') {
      req.socket.destroy();
      return;
    }
    res.writeHead(r.status);
    res.end(r.body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
});

describe('waitHttp', () => {
  it('keeps probing through resets and errors until the expected answer', async () => {
    const port = await serve((n) =>
      n < 3
        ? 'reset'
        : n < 5
          ? { status: 503, body: 'starting' }
          : { status: 200, body: 'Hello world on port 8080' },
    );
    const r = await waitHttp({
      port,
      path: '/healthz',
      timeoutMs: 10_000,
      intervalMs: 20,
      expectBody: /Hello world/,
    });
    expect(r.status).toBe(200);
    expect(r.body).toBe('Hello world on port 8080');
  });

  it('fails after the timeout saying what it last saw', async () => {
    const port = await serve(() => ({ status: 500, body: 'database down' }));
    const err = await waitHttp({ port, timeoutMs: 600, intervalMs: 50 }).catch((e) => e);
    expect(err).toBeInstanceOf(SystemError);
    expect(err.code).toBe('HealthCheckTimeout');
    expect(err.details.join('\n')).toMatch(/status 500: database down/);
  });

  it('gives a hung request only its short timeout', async () => {
    const port = await serve((n) => (n === 1 ? 'hang' : { status: 204, body: '' }));
    const r = await waitHttp({ port, timeoutMs: 10_000, requestTimeoutMs: 300, intervalMs: 10 });
    expect(r.status).toBe(204);
  });

  it('checks the exact status and the body when asked', async () => {
    const port = await serve(() => ({ status: 200, body: 'Hello world on port 9999' }));
    const err = await waitHttp({
      port,
      timeoutMs: 400,
      intervalMs: 50,
      expectBody: 'port 8080',
    }).catch((e) => e);
    expect(err.details.join('\n')).toMatch(/body did not match: Hello world on port 9999/);
    const err2 = await waitHttp({ port, timeoutMs: 400, intervalMs: 50, expectStatus: 301 }).catch(
      (e) => e,
    );
    expect(err2.message).toMatch(/status 301/);
  });

  it('stops at once when the server can never answer, and on abort', async () => {
    const port = await serve(() => 'reset');
    const dead = await waitHttp({
      port,
      timeoutMs: 60_000,
      isAlive: () => 'QEMU exited (exit status 1)',
    }).catch((e) => e);
    expect(dead.code).toBe('HealthCheckFailed');
    expect(dead.message).toMatch(/QEMU exited \(exit status 1\)/);
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 100);
    const cancelled = await waitHttp({ port, timeoutMs: 60_000, signal: ctl.signal }).catch(
      (e) => e,
    );
    expect(cancelled).toBeInstanceOf(CancelledError);
  });
});
