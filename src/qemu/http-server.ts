/**
 * The build's HTTP server for `http_directory` or `http_content` (a map of URL path →
 * content), as Packer's StepHTTPServer: it listens on `http_bind_address` at a free port
 * picked at random in `http_port_min`…`http_port_max` (the maximum excluded unless both
 * are equal, as Packer's ListenRangeConfig), and the guest reaches it at the host address
 * of QEMU's user network (`{{ .HTTPIP }}`, 10.0.2.2). It serves GET and HEAD like Go's
 * http.FileServer (index.html, a directory listing, a redirect to the slash form of a
 * directory) and refuses any path with a `..` segment, encoded or not, so nothing outside
 * the directory is served; symbolic links inside it are followed, as Go does.
 * `close()` (or `await using`) stops it and drops open connections at once.
 */
import { createReadStream } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { extname, join, posix } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CancelledError, SystemError, UserError } from '../lib/errors.js';
import { nearest } from '../lib/suggest.js';

/** The host as a guest on QEMU's user-mode network (slirp) sees it. */
export const USER_NET_HOST_IP = '10.0.2.2';

/** Packer's defaults for the port range and the bind address. */
export const HTTP_DEFAULTS = { portMin: 8000, portMax: 9000, bindAddress: '0.0.0.0' } as const;

/** What to serve and where to listen. */
export interface HttpServerOptions {
  /** `http_directory`: serve this directory's files. */
  directory?: string;
  /** `http_content`: serve these contents, keyed by URL path (`/preseed.cfg`). */
  content?: Readonly<Record<string, string>>;
  /** `http_bind_address` (default 0.0.0.0; 127.0.0.1 is enough for QEMU's user network). */
  bindAddress?: string;
  /** `http_port_min` (default 8000). */
  portMin?: number;
  /** `http_port_max` (default 9000). */
  portMax?: number;
  signal?: AbortSignal;
  /** Called after each request is answered (logs, progress: "the guest fetched preseed.cfg"). */
  onRequest?: (request: ServedRequest) => void;
}

/** One answered request. */
export interface ServedRequest {
  method: string;
  /** The path as requested (before decoding). */
  path: string;
  status: number;
  /** Body bytes sent (0 for HEAD). */
  bytes: number;
}

/** A running build HTTP server; `close()` or `await using` stops it. */
export interface BuildHttpServer extends AsyncDisposable {
  /** The port it listens on (`{{ .HTTPPort }}`). */
  readonly port: number;
  /** The address it is bound to. */
  readonly bindAddress: string;
  /** Stops listening and closes every open connection; safe to call more than once. */
  close(): Promise<void>;
}

/**
 * The address a guest uses to reach the host (`{{ .HTTPIP }}`): QEMU's user-network host
 * 10.0.2.2, or with `net_bridge` the first IPv4 address of that bridge, as Packer does.
 */
export function guestHostAddress(netBridge?: string): string {
  if (!netBridge) return USER_NET_HOST_IP;
  const addrs = networkInterfaces()[netBridge];
  if (!addrs) {
    throw new UserError('NoSuchBridge', `net_bridge "${netBridge}": no such network interface`, {
      hint: 'name an existing bridge (ip link show type bridge), or leave net_bridge unset for user networking',
    });
  }
  const v4 = addrs.find((a) => a.family === 'IPv4');
  if (!v4) {
    throw new UserError('NoBridgeAddress', `net_bridge "${netBridge}" has no IPv4 address`, {
      hint: 'give the bridge an IPv4 address the guest can reach',
    });
  }
  return v4.address;
}

/**
 * Starts the server at a free port of the range. Refuses both or neither of directory and
 * content, a missing directory, and a range whose minimum exceeds its maximum; fails with
 * a SystemError when every port of the range is taken.
 */
export async function startHttpServer(opts: HttpServerOptions): Promise<BuildHttpServer> {
  const portMin = opts.portMin ?? HTTP_DEFAULTS.portMin;
  const portMax = opts.portMax ?? HTTP_DEFAULTS.portMax;
  const bindAddress = opts.bindAddress ?? HTTP_DEFAULTS.bindAddress;
  if ((opts.directory === undefined) === (opts.content === undefined)) {
    throw new UserError(
      'HttpSource',
      opts.directory === undefined
        ? 'the HTTP server needs http_directory or http_content'
        : 'http_content cannot be used together with http_directory',
      { hint: 'keep one of them' },
    );
  }
  if (!Number.isInteger(portMin) || !Number.isInteger(portMax) || portMin < 1 || portMax > 65535) {
    throw new UserError(
      'HttpPortRange',
      `http_port_min ${portMin} and http_port_max ${portMax} must be ports (1-65535)`,
    );
  }
  if (portMin > portMax) {
    throw new UserError('HttpPortRange', 'http_port_min must be less than http_port_max', {
      details: [`http_port_min ${portMin} > http_port_max ${portMax}`],
    });
  }
  let handler: (req: IncomingMessage, res: ServerResponse) => Promise<number>;
  if (opts.directory !== undefined) {
    const root = await directoryRoot(opts.directory);
    handler = (req, res) => serveDirectory(root, req, res);
  } else {
    const content = new Map(
      Object.entries(opts.content!).map(([k, v]) => [
        posix.normalize(`/${k.replace(/^\/+/, '')}`),
        v,
      ]),
    );
    handler = async (req, res) => serveContent(content, req, res);
  }
  const makeServer = () =>
    createServer((req, res) => {
      handler(req, res).then(
        (bytes) =>
          opts.onRequest?.({
            method: req.method ?? '',
            path: req.url ?? '',
            status: res.statusCode,
            bytes,
          }),
        (err: unknown) => {
          // A file that cannot be read answers 500; a client gone mid-answer needs nothing.
          if (!res.headersSent) send(res, req, 500, `${(err as Error).message}\n`);
          else res.destroy();
          opts.onRequest?.({
            method: req.method ?? '',
            path: req.url ?? '',
            status: 500,
            bytes: 0,
          });
        },
      );
    });
  const { server, port } = await listenInRange(
    makeServer,
    bindAddress,
    portMin,
    portMax,
    opts.signal,
  );
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };
  return { port, bindAddress, close, [Symbol.asyncDispose]: close };
}

async function directoryRoot(dir: string): Promise<string> {
  try {
    const real = await realpath(dir);
    if ((await stat(real)).isDirectory()) return real;
  } catch {
    // reported below
  }
  throw new UserError('HttpDirectoryMissing', `http_directory "${dir}" is not a directory`, {
    hint: 'give the directory of files the guest fetches (a path relative to the template is relative to where kiln runs)',
  });
}

// Packer picks a random port of [min, max) and retries until one is free; this tries each
// port of the range once, in random order, so a range with no free port fails instead of
// spinning.
async function listenInRange(
  makeServer: () => Server,
  host: string,
  min: number,
  max: number,
  signal: AbortSignal | undefined,
): Promise<{ server: Server; port: number }> {
  const ports = min === max ? [min] : Array.from({ length: max - min }, (_, i) => min + i);
  for (let i = ports.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [ports[i], ports[j]] = [ports[j]!, ports[i]!];
  }
  let lastErr: unknown;
  for (const port of ports) {
    if (signal?.aborted) throw new CancelledError('starting the HTTP server was cancelled');
    // A fresh server per attempt: one that failed to listen is not reused.
    const server = makeServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return { server, port: (server.address() as AddressInfo).port };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' && code !== 'EACCES') {
        throw new SystemError(
          'HttpListenFailed',
          `cannot listen on ${host}:${port}: ${(err as Error).message}`,
          {
            cause: err,
            hint:
              code === 'EADDRNOTAVAIL'
                ? 'http_bind_address must be an address of this machine'
                : undefined,
          },
        );
      }
      lastErr = err;
    }
  }
  throw new SystemError(
    'HttpPortUnavailable',
    `no free port for the HTTP server on ${host} in ${min}-${min === max ? max : max - 1}`,
    { cause: lastErr, hint: 'widen http_port_min/http_port_max, or free a port in the range' },
  );
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.cfg': 'text/plain; charset=utf-8',
  '.ks': 'text/plain; charset=utf-8',
  '.sh': 'text/x-sh; charset=utf-8',
  '.json': 'application/json',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
  '.xml': 'text/xml; charset=utf-8',
  '.iso': 'application/octet-stream',
  '.img': 'application/octet-stream',
  '.gz': 'application/gzip',
  '.tar': 'application/x-tar',
  '.deb': 'application/vnd.debian.binary-package',
};
const TEXT = 'text/plain; charset=utf-8';

function send(
  res: ServerResponse,
  req: IncomingMessage,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): number {
  const buf = Buffer.from(body);
  res.writeHead(status, { 'Content-Type': TEXT, 'Content-Length': String(buf.length), ...headers });
  res.end(req.method === 'HEAD' ? undefined : buf);
  return req.method === 'HEAD' ? 0 : buf.length;
}

// The request's path decoded into segments, or an error status: 400 for a bad encoding, a
// NUL or a `..` segment, 405 for a method other than GET and HEAD.
function requestPath(
  req: IncomingMessage,
): { segments: string[]; slash: boolean } | { status: number; text: string } {
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return { status: 405, text: 'method not allowed' };
  const raw = (req.url ?? '/').split('?')[0]!;
  if (!raw.startsWith('/')) return { status: 400, text: 'invalid URL path' };
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return { status: 400, text: 'invalid URL encoding' };
  }
  if (decoded.includes('\0')) return { status: 400, text: 'invalid URL path' };
  const segments = decoded.split(/[/\\]/).filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return { status: 400, text: 'invalid URL path: ".." is refused' };
  return { segments, slash: decoded.endsWith('/') };
}

async function serveDirectory(
  root: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<number> {
  const p = requestPath(req);
  if ('status' in p) return send(res, req, p.status, `${p.text}\n`);
  const file = join(root, ...p.segments);
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(file);
  } catch {
    return send(res, req, 404, '404 page not found\n');
  }
  if (st.isDirectory()) {
    const urlPath = (req.url ?? '/').split('?')[0]!;
    if (!p.slash) return send(res, req, 301, '', { Location: `${urlPath}/` });
    const index = join(file, 'index.html');
    const ist = await stat(index).catch(() => undefined);
    if (ist?.isFile()) return sendFile(res, req, index, ist.size, ist.mtime);
    const names = (await readdir(file, { withFileTypes: true }))
      .map((d) => (d.isDirectory() ? `${d.name}/` : d.name))
      .sort();
    const links = names.map((n) => `<a href="${encodeURI(n)}">${escapeHtml(n)}</a>\n`).join('');
    return send(res, req, 200, `<pre>\n${links}</pre>\n`, {
      'Content-Type': 'text/html; charset=utf-8',
    });
  }
  if (!st.isFile()) return send(res, req, 404, '404 page not found\n');
  return sendFile(res, req, file, st.size, st.mtime);
}

async function sendFile(
  res: ServerResponse,
  req: IncomingMessage,
  file: string,
  size: number,
  mtime: Date,
): Promise<number> {
  res.writeHead(200, {
    'Content-Type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': String(size),
    'Last-Modified': mtime.toUTCString(),
  });
  if (req.method === 'HEAD') {
    res.end();
    return 0;
  }
  let handed = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      handed += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await pipeline(createReadStream(file), count, res);
  } catch (err) {
    // A client that has every byte may hang up before the file stream has ended (busybox
    // wget in an installer does): the file was sent, not a server error.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_STREAM_PREMATURE_CLOSE' && handed === size) return size;
    throw err;
  }
  return size;
}

function serveContent(
  content: Map<string, string>,
  req: IncomingMessage,
  res: ServerResponse,
): number {
  const p = requestPath(req);
  if ('status' in p) return send(res, req, p.status, `${p.text}\n`);
  const path = `/${p.segments.join('/')}`;
  const body = content.get(path);
  if (body === undefined) {
    const near = nearest(path, [...content.keys()].sort());
    return send(res, req, 404, `${path} not found.${near ? ` Did you mean "${near}"?` : ''}\n`);
  }
  return send(res, req, 200, body, {
    'Content-Type': CONTENT_TYPES[extname(path).toLowerCase()] ?? TEXT,
  });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
