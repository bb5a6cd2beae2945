/**
 * A real OCI registry for tests: Debian's `docker-registry` (the CNCF distribution
 * registry) started with `serve CONFIG` on a free loopback port, with its storage in a temp
 * dir the test can read and damage. Three set-ups: plain HTTP without auth; htpasswd (Basic)
 * auth over TLS with a self-signed CA made by openssl; and token (Bearer) auth, where a
 * small token service issues JWTs the registry verifies against a certificate it trusts.
 * The registry is required, never optional: missing, the tests fail with how to install it.
 */
import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CancelledError } from '../../src/lib/errors.js';
import { haveCommand, run } from '../../src/lib/exec.js';
import { freePort } from './sshd.js';

export const REGISTRY_INSTALL_HINT =
  'docker-registry is required for the registry tests: apt-get install docker-registry (scripts/setup.sh does)';

/** The user and password the authenticated registries accept. */
export const TEST_USER = 'kiln';
export const TEST_PASSWORD = 'kiln-secret';
// bcrypt of TEST_PASSWORD (cost 4: the registry checks it on every request). Made once with
// Python's crypt.crypt(pw, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)); a fixture, so the
// tests need no htpasswd tool.
const TEST_BCRYPT = '$2b$04$1wSx14VHBA.byF975bdh4uYgOYfnQZLAt5lmR2ovVBSAx8WcSjwV.';

export interface TestRegistry {
  /** `127.0.0.1:PORT` */
  registry: string;
  port: number;
  /** The registry's storage root (`docker/registry/v2/...` below it). */
  storage: string;
  dir: string;
  /** For TLS registries: the CA certificate (PEM file) that signed the server's certificate. */
  caFile?: string;
  /** For token auth: token requests seen, by scope string. */
  tokenRequests: string[];
  log(): string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  auth?: 'none' | 'htpasswd' | 'token';
  tls?: boolean;
  /** Token lifetime the token service announces (seconds; default 300). */
  tokenLifetime?: number;
}

/** Throws with the install hint when docker-registry is not on PATH. */
export async function requireRegistry(): Promise<void> {
  if (!(await haveCommand('docker-registry'))) throw new Error(REGISTRY_INSTALL_HINT);
}

/** Starts a registry and resolves once it answers `/v2/`. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  await requireRegistry();
  const dir = await mkdtemp(join(tmpdir(), 'kiln-test-registry-'));
  const storage = join(dir, 'storage');
  const port = await freePort();
  const registry = `127.0.0.1:${port}`;
  const lines = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    // A fixed secret: the upload state token must survive nothing longer than the test.
    `  secret: ${randomUUID()}`,
  ];
  let caFile: string | undefined;
  if (opts.tls) {
    caFile = await makeCertificates(dir);
    lines.push(
      '  tls:',
      `    certificate: ${join(dir, 'server.pem')}`,
      `    key: ${join(dir, 'server.key')}`,
    );
  }
  const tokenRequests: string[] = [];
  let tokenServer: Server | undefined;
  if (opts.auth === 'htpasswd') {
    await writeFile(join(dir, 'htpasswd'), `${TEST_USER}:${TEST_BCRYPT}\n`);
    lines.push(
      'auth:',
      '  htpasswd:',
      '    realm: kiln-test',
      `    path: ${join(dir, 'htpasswd')}`,
    );
  } else if (opts.auth === 'token') {
    const ts = await startTokenService(dir, opts.tokenLifetime ?? 300, tokenRequests);
    tokenServer = ts.server;
    lines.push(
      'auth:',
      '  token:',
      `    realm: http://127.0.0.1:${ts.port}/token`,
      '    service: kiln-test',
      '    issuer: kiln-test-issuer',
      `    rootcertbundle: ${ts.certFile}`,
    );
  }
  const config = join(dir, 'config.yml');
  await writeFile(config, `${lines.join('\n')}\n`);
  const stopper = new AbortController();
  let log = '';
  let exited = false;
  const proc = run('docker-registry', ['serve', config], {
    signal: stopper.signal,
    killGraceMs: 2000,
    reject: false,
    onStderr: (l) => {
      log += `${l}\n`;
    },
    onStdout: (l) => {
      log += `${l}\n`;
    },
  })
    .then((r) => {
      exited = true;
      return r;
    })
    .catch((err) => {
      if (!(err instanceof CancelledError)) throw err;
      return undefined;
    });
  const stop = async () => {
    stopper.abort();
    await proc.catch(() => {});
    await new Promise<void>((r) => (tokenServer ? tokenServer.close(() => r()) : r()));
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`docker-registry exited early: ${log}`);
    }
    if (await answers(port, opts.tls === true)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not answer on ${registry} within 20 s: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { registry, port, storage, dir, caFile, tokenRequests, log: () => log, stop };
}

/** Whether something accepts TCP connections on the port (the registry listens). */
async function answers(port: number, _tls: boolean): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A CA and a server certificate for 127.0.0.1/localhost signed by it; returns the CA's PEM file. */
async function makeCertificates(dir: string): Promise<string> {
  const o = (args: string[]) => run('openssl', args, { cwd: dir });
  await o([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=kiln test CA',
  ]);
  await o([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=127.0.0.1',
  ]);
  await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await o([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  ]);
  return join(dir, 'ca.pem');
}

/**
 * The token service of Docker's token auth: checks Basic credentials, grants the scopes
 * asked for, and signs a JWT (RS256) carrying its certificate in `x5c`, which the registry
 * verifies against `rootcertbundle`.
 */
async function startTokenService(
  dir: string,
  lifetime: number,
  seen: string[],
): Promise<{ server: Server; port: number; certFile: string }> {
  await run(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'token.key',
      '-out',
      'token.pem',
      '-days',
      '2',
      '-subj',
      '/CN=kiln test token issuer',
    ],
    { cwd: dir },
  );
  const key = createPrivateKey(await readFile(join(dir, 'token.key')));
  const certPem = await readFile(join(dir, 'token.pem'), 'utf8');
  const der = certPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const scopes = url.searchParams.getAll('scope');
    seen.push(scopes.join(' '));
    const auth = req.headers.authorization ?? '';
    const expected = `Basic ${Buffer.from(`${TEST_USER}:${TEST_PASSWORD}`).toString('base64')}`;
    if (auth !== expected) {
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.map((s) => {
      const [type, ...rest] = s.split(':');
      const actions = rest.pop() ?? '';
      return { type, name: rest.join(':'), actions: actions.split(',') };
    });
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [der] }));
    const claims = b64url(
      JSON.stringify({
        iss: 'kiln-test-issuer',
        sub: TEST_USER,
        aud: 'kiln-test',
        exp: now + lifetime,
        nbf: now - 10,
        iat: now,
        jti: randomUUID(),
        access,
      }),
    );
    const signature = b64url(sign('sha256', Buffer.from(`${header}.${claims}`), key));
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(
      JSON.stringify({
        token: `${header}.${claims}.${signature}`,
        expires_in: lifetime,
        issued_at: new Date().toISOString(),
      }),
    );
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    }),
  );
  return { server, port, certFile: join(dir, 'token.pem') };
}

/** Where the registry keeps a blob's bytes (to damage it in a test). */
export function blobDataPath(storage: string, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return join(storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}
