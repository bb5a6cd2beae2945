/**
 * Health checks over HTTP on 127.0.0.1. QEMU's user-mode network accepts a forwarded
 * port at once, before the guest listens, so a connect proves nothing: only an HTTP
 * answer counts. Each request gets a short timeout (a hung probe must not eat the
 * budget) and the error says what the last probe saw.
 */
import { request } from 'node:http';
import { CancelledError, SystemError } from '../lib/errors.js';
import { pause } from '../lib/sleep.js';

export interface WaitHttpOptions {
  port: number;
  /** Default `/`. */
  path?: string;
  timeoutMs: number;
  /** Exact status wanted; default any 2xx. */
  expectStatus?: number;
  /** Text the body must contain, or a pattern it must match. */
  expectBody?: string | RegExp;
  signal?: AbortSignal;
  /** Returns why the server can never answer (its VM exited), or undefined while it may. */
  isAlive?: () => string | undefined;
  /** Per-request timeout (default 1 s). */
  requestTimeoutMs?: number;
  /** Pause between probes (default 200 ms). */
  intervalMs?: number;
}

export interface HttpAnswer {
  status: number;
  body: string;
  elapsedMs: number;
}

/** Polls `http://127.0.0.1:port/path` until it answers as expected; throws a SystemError with the last thing it saw. */
export async function waitHttp(opts: WaitHttpOptions): Promise<HttpAnswer> {
  const path = opts.path ?? '/';
  const url = `http://127.0.0.1:${opts.port}${path}`;
  const start = Date.now();
  const deadline = start + opts.timeoutMs;
  let last = 'no answer yet';
  let probes = 0;
  for (;;) {
    if (opts.signal?.aborted) throw new CancelledError(`waiting for ${url} cancelled`);
    const dead = opts.isAlive?.();
    if (dead) {
      throw new SystemError('HealthCheckFailed', `${url} can never answer: ${dead}`, {
        details: [`last seen: ${last}`],
      });
    }
    probes++;
    const r = await probe(
      opts.port,
      path,
      Math.min(opts.requestTimeoutMs ?? 1000, Math.max(100, deadline - Date.now())),
    );
    if ('status' in r) {
      const statusOk =
        opts.expectStatus === undefined
          ? r.status >= 200 && r.status < 300
          : r.status === opts.expectStatus;
      const bodyOk =
        opts.expectBody === undefined
          ? true
          : typeof opts.expectBody === 'string'
            ? r.body.includes(opts.expectBody)
            : opts.expectBody.test(r.body);
      if (statusOk && bodyOk)
        return { status: r.status, body: r.body, elapsedMs: Date.now() - start };
      last = `status ${r.status}${bodyOk ? '' : ', body did not match'}: ${clip(r.body)}`;
    } else {
      last = r.error;
    }
    if (Date.now() >= deadline) {
      const want = [
        opts.expectStatus === undefined ? 'a 2xx status' : `status ${opts.expectStatus}`,
        ...(opts.expectBody === undefined ? [] : [`a body matching ${String(opts.expectBody)}`]),
      ].join(' and ');
      throw new SystemError(
        'HealthCheckTimeout',
        `${url} did not answer with ${want} within ${(opts.timeoutMs / 1000).toFixed(0)} s`,
        { details: [`last seen (probe ${probes}): ${last}`] },
      );
    }
    // The loop's first line says what an abort cancelled.
    await pause(Math.min(opts.intervalMs ?? 200, Math.max(0, deadline - Date.now())), opts.signal);
  }
}

type ProbeResult = { status: number; body: string } | { error: string };

function probe(port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        // A health endpoint answers briefly; keep only the start of anything large.
        if (body.length < 64 * 1024) body += c;
      });
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
      res.on('error', (e) => done({ error: describeNetError(e) }));
    });
    const timer = setTimeout(() => done({ error: `no answer within ${timeoutMs} ms` }), timeoutMs);
    req.on('error', (e) => done({ error: describeNetError(e) }));
    req.end();
  });
}

function describeNetError(e: Error): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ECONNRESET' || e.message === 'socket hang up')
    return 'connection reset (nothing listening in the guest yet)';
  if (code === 'ECONNREFUSED') return 'connection refused (nothing forwards this port)';
  return code ? `${code}: ${e.message}` : e.message;
}

function clip(s: string): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > 120 ? `${one.slice(0, 120)}…` : one || '(empty body)';
}
