/**
 * HTTP to one registry with Node's own http/https: keep-alive agents, TLS with the system
 * CAs (Node's bundled roots plus the system bundle) and an optional CA file, plain HTTP only
 * to loopback or with the insecure flag, redirects followed for reads (blob GETs are often
 * sent to object storage), and one clear error when the registry cannot be reached.
 * Bodies are streams: a response is handed over unread, a request body is a factory so a
 * request can be sent again (after an auth challenge) without holding the bytes.
 */
import { existsSync, readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { CancelledError, SystemError, UserError } from '../lib/errors.js';
import { isLoopbackHost } from './reference.js';

/** How to reach a registry. */
export interface TransportOptions {
  /** Allow plain HTTP to any host and skip TLS verification (Docker's "insecure registry"). */
  insecure?: boolean;
  /** A PEM file of CA certificates trusted in addition to the system's. */
  caFile?: string;
  /** Force the scheme instead of trying HTTPS first (plain HTTP still needs loopback or `insecure`). */
  scheme?: 'https' | 'http';
  /** Per-request timeout for connecting and for each quiet period of a response (ms; default 30 s). */
  timeoutMs?: number;
}

/** One request; `body` is a factory so the request can be repeated. */
export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: () => Readable | Buffer;
  signal?: AbortSignal;
  /** Follow 3xx redirects (reads only). */
  followRedirects?: boolean;
}

/** A response whose body has not been read; call `text()`, `json()` or consume `body`, or `discard()`. */
export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  url: URL;
  body: IncomingMessage;
  header(name: string): string | undefined;
  /** The whole body (capped: only for manifests, configs and error documents). */
  bytes(limit?: number): Promise<Buffer>;
  text(limit?: number): Promise<string>;
  discard(): void;
}

const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'];
let systemCas: string[] | undefined;

/** Node's bundled roots, the system's CA bundle (and $SSL_CERT_FILE) when present, read once. */
function systemCertificates(): string[] {
  if (systemCas) return systemCas;
  const out = [...rootCertificates];
  for (const f of [process.env.SSL_CERT_FILE, ...SYSTEM_BUNDLES]) {
    if (f && existsSync(f)) {
      try {
        out.push(readFileSync(f, 'utf8'));
        break;
      } catch {
        // An unreadable bundle leaves Node's roots.
      }
    }
  }
  systemCas = out;
  return out;
}

/** The HTTP(S) connection to one registry host. */
export class Transport {
  readonly registry: string;
  readonly plainHttpAllowed: boolean;
  private readonly insecure: boolean;
  private scheme: 'https' | 'http' | undefined;
  private readonly httpsAgent: https.Agent;
  private readonly httpAgent: http.Agent;
  private readonly timeoutMs: number;

  constructor(registry: string, host: string, opts: TransportOptions = {}) {
    this.registry = registry;
    this.insecure = opts.insecure === true;
    this.plainHttpAllowed = this.insecure || isLoopbackHost(host);
    if (opts.scheme === 'http' && !this.plainHttpAllowed)
      throw new UserError('PlainHttpRefused', `plain HTTP to ${registry} is not allowed`, {
        hint: 'plain HTTP is only used for loopback registries, or with --insecure (KILN_REGISTRY_INSECURE=1)',
      });
    this.scheme = opts.scheme;
    let ca: string[] | undefined;
    if (opts.caFile) {
      try {
        ca = [...systemCertificates(), readFileSync(opts.caFile, 'utf8')];
      } catch (err) {
        throw new UserError('CaFileUnreadable', `cannot read the CA file ${opts.caFile}`, {
          cause: err,
          hint: 'give a PEM file of CA certificates',
        });
      }
    }
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets: 8,
      ...(ca ? { ca } : {}),
      rejectUnauthorized: opts.insecure !== true,
    });
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** The base URL (`https://host:port`), probing HTTPS then (where allowed) HTTP on first use. */
  async base(signal?: AbortSignal): Promise<string> {
    if (!this.scheme) this.scheme = await this.probe(signal);
    return `${this.scheme}://${this.registry}`;
  }

  private async probe(signal?: AbortSignal): Promise<'https' | 'http'> {
    try {
      const res = await this.send(
        { method: 'GET', url: new URL(`https://${this.registry}/v2/`), signal },
        'https',
      );
      res.discard();
      return 'https';
    } catch (err) {
      // Only a server that answered in plain text is retried over HTTP: a certificate error
      // is a TLS server that must not be downgraded.
      if (isPlainHttpAnswer(err)) {
        if (this.plainHttpAllowed) return 'http';
        throw new UserError(
          'PlainHttpRefused',
          `${this.registry} answers in plain HTTP, and plain HTTP to ${this.registry} is not allowed`,
          {
            cause: err,
            hint: 'plain HTTP is only used for loopback registries: use --insecure (or KILN_REGISTRY_INSECURE=1) for a registry you trust on this network',
          },
        );
      }
      throw err;
    }
  }

  /** Sends one request (following redirects for reads); rejects with a clear error when unreachable. */
  async request(req: HttpRequest): Promise<HttpResponse> {
    let url = req.url;
    for (let hop = 0; ; hop++) {
      const res = await this.send({ ...req, url });
      const location = res.header('location');
      if (!req.followRedirects || ![301, 302, 303, 307, 308].includes(res.status) || !location)
        return res;
      res.discard();
      if (hop >= 5)
        throw new SystemError(
          'RegistryError',
          `${this.registry}: too many redirects for ${req.url.pathname}`,
        );
      const next = new URL(location, url);
      // Credentials are for the registry, never for the storage a redirect points to.
      const headers = { ...req.headers };
      if (next.host !== url.host) delete headers.Authorization;
      req = { ...req, headers };
      url = next;
    }
  }

  private send(req: HttpRequest, forceScheme?: 'https' | 'http'): Promise<HttpResponse> {
    const { signal } = req;
    if (signal?.aborted) return Promise.reject(new CancelledError('registry request cancelled'));
    const url = req.url;
    const isHttps = (forceScheme ?? url.protocol.replace(':', '')) === 'https';
    if (!isHttps && !this.insecure && !isLoopbackHost(url.hostname))
      return Promise.reject(
        new UserError('PlainHttpRefused', `plain HTTP to ${url.host} is not allowed`, {
          hint: 'plain HTTP is only used for loopback registries, or with the insecure option',
        }),
      );
    const mod = isHttps ? https : http;
    return new Promise<HttpResponse>((resolve, reject) => {
      const r = mod.request(url, {
        method: req.method,
        headers: { 'User-Agent': 'kiln', ...req.headers },
        agent: isHttps ? this.httpsAgent : this.httpAgent,
        timeout: this.timeoutMs,
        signal,
      });
      let settled = false;
      const fail = (err: unknown): void => {
        if (settled) return;
        settled = true;
        reject(this.describe(err, req));
      };
      r.on('error', fail);
      r.on('timeout', () => r.destroy(new TimeoutError(this.timeoutMs)));
      r.on('response', (res) => {
        if (settled) return;
        settled = true;
        resolve(wrapResponse(res, url));
      });
      const body = req.body?.();
      if (body === undefined) r.end();
      else if (Buffer.isBuffer(body)) r.end(body);
      else {
        body.on('error', (err) => r.destroy(err));
        body.pipe(r);
      }
    });
  }

  private describe(err: unknown, req: HttpRequest): Error {
    if (req.signal?.aborted) return new CancelledError('registry request cancelled');
    const e = err as NodeJS.ErrnoException;
    const where = `${req.method} ${req.url.href}`;
    if (e instanceof TimeoutError)
      return new SystemError(
        'RegistryUnreachable',
        `${this.registry} did not answer within ${e.ms / 1000} s`,
        {
          where,
          cause: err,
          hint: 'check that the registry is up and reachable from this machine',
        },
      );
    if (
      e.code &&
      /^(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ECONNRESET|EPIPE)$/.test(e.code)
    )
      return new SystemError(
        'RegistryUnreachable',
        `cannot reach the registry ${this.registry} (${e.code})`,
        {
          where,
          cause: err,
          hint: 'check the host and port, and that the registry is running',
        },
      );
    if (e.code && /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS|HOSTNAME/.test(e.code))
      return new UserError(
        'RegistryTls',
        `the TLS certificate of ${this.registry} is not trusted: ${e.message}`,
        {
          where,
          cause: err,
          hint: 'give the CA that signed it (--ca-file, or KILN_REGISTRY_CA_FILE), or use --insecure for a test registry',
        },
      );
    return new SystemError(
      'RegistryUnreachable',
      `cannot talk to the registry ${this.registry}: ${e.message}`,
      {
        where,
        cause: err,
      },
    );
  }

  /** Closes idle keep-alive sockets. */
  close(): void {
    this.httpsAgent.destroy();
    this.httpAgent.destroy();
  }
}

class TimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/** Whether a failed TLS handshake means the server speaks plain HTTP on that port. */
function isPlainHttpAnswer(err: unknown): boolean {
  let e: unknown = err;
  while (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (
      code === 'EPROTO' ||
      code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
      /wrong version number|packet length too long|http request/i.test(e.message)
    )
      return true;
    e = e.cause;
  }
  return false;
}

function wrapResponse(res: IncomingMessage, url: URL): HttpResponse {
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    url,
    body: res,
    header(name) {
      const v = res.headers[name.toLowerCase()];
      return Array.isArray(v) ? v.join(', ') : v;
    },
    async bytes(limit = 4 << 20) {
      const chunks: Buffer[] = [];
      let n = 0;
      for await (const c of res) {
        n += (c as Buffer).length;
        if (n > limit) {
          res.destroy();
          throw new SystemError(
            'RegistryError',
            `${url.host} sent more than ${limit} bytes for ${url.pathname}`,
          );
        }
        chunks.push(c as Buffer);
      }
      return Buffer.concat(chunks);
    },
    async text(limit = 4 << 20) {
      return (await this.bytes(limit)).toString('utf8');
    },
    discard() {
      res.resume();
    },
  };
}
