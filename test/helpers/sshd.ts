/**
 * A real OpenSSH server for tests: 127.0.0.1 on a free port, its own host key, its own
 * AuthorizedKeysFile and config in a temp dir, run in the foreground (`sshd -D -e`), so
 * neither the package's sshd service nor the machine's config is involved. Needs root
 * (to log in as root) and the openssh-server package.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CancelledError } from '../../src/lib/errors.js';
import { run } from '../../src/lib/exec.js';

export const SSHD = '/usr/sbin/sshd';

export interface TestSshd {
  host: string;
  port: number;
  user: string;
  dir: string;
  authorizedKeysFile: string;
  /** `ssh-ed25519 AAAA…` of the server's host key. */
  hostPublicKey: string;
  /** Everything sshd wrote to stderr so far. */
  log(): string;
  stop(): Promise<void>;
}

export interface SshdOptions {
  authorizedKeys?: string[];
  /** Serve the sftp subsystem (default true). */
  sftp?: boolean;
  /** Listen on this port (default: a free one). */
  port?: number;
}

/** Finds a TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** True when sshd can be started here (installed, and we are root). */
export function sshdAvailable(): boolean {
  return existsSync(SSHD) && process.getuid?.() === 0;
}

/** Starts sshd and resolves once it listens. */
export async function startSshd(opts: SshdOptions = {}): Promise<TestSshd> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-test-sshd-'));
  // sshd insists on its privilege separation directory.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test-host', '-f', hostKey]);
  const hostPublicKey = (await readFile(`${hostKey}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ');
  const authorizedKeysFile = join(dir, 'authorized_keys');
  await writeFile(authorizedKeysFile, (opts.authorizedKeys ?? []).map((k) => `${k}\n`).join(''), {
    mode: 0o600,
  });
  const port = opts.port ?? (await freePort());
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${authorizedKeysFile}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'UseDNS no',
    'LogLevel VERBOSE',
    'MaxSessions 20',
    ...(opts.sftp === false ? [] : ['Subsystem sftp /usr/lib/openssh/sftp-server']),
  ];
  const configFile = join(dir, 'sshd_config');
  await writeFile(configFile, `${config.join('\n')}\n`);

  const stopper = new AbortController();
  let log = '';
  let listening: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    listening = resolve;
  });
  const proc = run(SSHD, ['-D', '-e', '-f', configFile], {
    signal: stopper.signal,
    killGraceMs: 2000,
    reject: false,
    onStderr: (line) => {
      log += `${line}\n`;
      if (line.includes('Server listening')) listening();
    },
  }).catch((err) => {
    if (!(err instanceof CancelledError)) throw err;
    return undefined;
  });
  const exited = proc.then((r) => {
    throw new Error(`sshd exited early (status ${r?.exitCode}): ${log}`);
  });
  await Promise.race([ready, exited, timeout(10_000, () => `sshd did not start: ${log}`)]);
  exited.catch(() => {});

  return {
    host: '127.0.0.1',
    port,
    user: 'root',
    dir,
    authorizedKeysFile,
    hostPublicKey,
    log: () => log,
    async stop() {
      // Session processes keep sshd's stderr pipe open; end them first (by their parent,
      // the listener we started), or the listener's exit is never seen as complete.
      const pid = (await readFile(join(dir, 'sshd.pid'), 'utf8').catch(() => '')).trim();
      if (/^\d+$/.test(pid))
        await run('pkill', ['-TERM', '-P', pid], { reject: false }).catch(() => undefined);
      stopper.abort();
      await proc.catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function timeout(ms: number, what: () => string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(what())), ms).unref());
}
