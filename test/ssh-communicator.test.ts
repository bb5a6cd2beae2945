/**
 * The SSH communicator against a real OpenSSH server on 127.0.0.1.
 */
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyDir, type KeyDir } from '../src/communicator/keys.js';
import { type SshCommunicator, waitForSsh } from '../src/communicator/ssh.js';
import { CancelledError, KilnError, SystemError, UserError } from '../src/lib/errors.js';
import { run } from '../src/lib/exec.js';
import { freePort, startSshd, type TestSshd } from './helpers/sshd.js';

let sshd: TestSshd;
let key: KeyDir;
let comm: SshCommunicator;
let work: string;

beforeAll(async () => {
  key = await createKeyDir(undefined, 'run-test');
  sshd = await startSshd({ authorizedKeys: [key.publicKey] });
  work = await mkdtemp(join(tmpdir(), 'kiln-commtest-'));
  comm = await waitForSsh({
    host: sshd.host,
    port: sshd.port,
    user: 'root',
    privateKeyFile: key.privateKeyFile,
    timeoutMs: 20_000,
  });
});

afterAll(async () => {
  await comm?.close();
  await sshd?.stop();
  await key?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('keys', () => {
  it('makes a 0700 dir with a 0600 ed25519 key and an OpenSSH public key line', async () => {
    expect((await stat(key.dir)).mode & 0o777).toBe(0o700);
    expect((await stat(key.privateKeyFile)).mode & 0o777).toBe(0o600);
    expect(key.publicKey).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+ kiln-run-test$/);
    const other = await createKeyDir();
    expect(other.publicKey).not.toBe(key.publicKey);
    await other.dispose();
    await expect(stat(other.dir)).rejects.toThrow();
  });
});

describe('connect', () => {
  it('writes a known_hosts file that OpenSSH accepts with StrictHostKeyChecking=yes', async () => {
    const kh = comm.connection.knownHostsFile!;
    expect(kh.startsWith(key.dir)).toBe(true);
    const text = await readFile(kh, 'utf8');
    expect(text.trim()).toBe(`[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}`);
    const r = await run('ssh', [
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${kh}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-i',
      key.privateKeyFile,
      '-p',
      String(sshd.port),
      'root@127.0.0.1',
      'echo via-openssh',
    ]);
    expect(r.stdout).toBe('via-openssh');
  });

  it('never writes known_hosts beside a key outside a kiln key dir, and removes its own on close', async () => {
    const userSsh = join(work, 'user-dot-ssh');
    await mkdir(userSsh);
    const userKey = join(userSsh, 'id_ed25519');
    await writeFile(userKey, await readFile(key.privateKeyFile), { mode: 0o600 });
    const c = await waitForSsh({
      host: sshd.host,
      port: sshd.port,
      user: 'root',
      privateKeyFile: userKey,
      timeoutMs: 20_000,
    });
    const kh = c.connection.knownHostsFile!;
    expect(kh.startsWith(userSsh)).toBe(false);
    expect(await readFile(kh, 'utf8')).toContain(sshd.hostPublicKey);
    await c.close();
    expect(await readdir(userSsh)).toEqual(['id_ed25519']);
    await expect(stat(kh)).rejects.toThrow();
  });

  it('rejects an unusable private key as a user error before connecting', async () => {
    const bad = join(work, 'not-a-key');
    await writeFile(bad, 'hello\n', { mode: 0o600 });
    const err = await waitForSsh({
      host: sshd.host,
      port: sshd.port,
      user: 'root',
      privateKeyFile: bad,
      timeoutMs: 5000,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.code).toBe('SshKeyInvalid');
  });

  it('keeps one SSH connection for many commands', async () => {
    const before = (sshd.log().match(/Accepted publickey/g) ?? []).length;
    for (let i = 0; i < 5; i++) await comm.exec({ command: 'true' });
    await Promise.all([1, 2, 3].map(() => comm.exec({ command: 'true' })));
    const after = (sshd.log().match(/Accepted publickey/g) ?? []).length;
    expect(after).toBe(before);
  });

  it('fails with an authentication error, not a timeout, when the key is rejected', async () => {
    const stranger = await createKeyDir();
    try {
      const err = await waitForSsh({
        host: sshd.host,
        port: sshd.port,
        user: 'root',
        privateKeyFile: stranger.privateKeyFile,
        timeoutMs: 60_000,
        retryDelayMs: 50,
      }).catch((e) => e);
      expect(err).toBeInstanceOf(UserError);
      expect(err.code).toBe('SshAuthFailed');
      expect(err.message).toMatch(/rejected 3 times/);
    } finally {
      await stranger.dispose();
    }
  });

  it('times out on a port where nothing listens, saying the connection was refused', async () => {
    const port = await freePort();
    const statuses: string[] = [];
    const err = await waitForSsh({
      host: '127.0.0.1',
      port,
      user: 'root',
      privateKeyFile: key.privateKeyFile,
      timeoutMs: 1500,
      onStatus: (s) => statuses.push(s),
    }).catch((e) => e);
    expect(err).toBeInstanceOf(SystemError);
    expect(err.code).toBe('SshTimeout');
    expect(err.message).toMatch(/connection refused/);
    expect(statuses[0]).toMatch(/connection refused/);
  });

  it('times out on a port that accepts but never speaks SSH, saying no banner came', async () => {
    const held: import('node:net').Socket[] = [];
    const server: Server = createServer((s) => held.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const err = await waitForSsh({
        host: '127.0.0.1',
        port,
        user: 'root',
        privateKeyFile: key.privateKeyFile,
        timeoutMs: 2500,
        probeTimeoutMs: 300,
      }).catch((e) => e);
      expect(err.code).toBe('SshTimeout');
      expect(err.message).toMatch(/no SSH banner/);
      // Short probes: several attempts fit in the budget instead of one long stall.
      expect(held.length).toBeGreaterThan(2);
    } finally {
      for (const s of held) s.destroy();
      server.close();
    }
  });

  it('fails at once with the reason when the machine is reported dead', async () => {
    const port = await freePort();
    let dead: string | undefined;
    setTimeout(() => {
      dead = 'qemu exited with status 1';
    }, 300);
    const err = await waitForSsh({
      host: '127.0.0.1',
      port,
      user: 'root',
      privateKeyFile: key.privateKeyFile,
      timeoutMs: 600_000,
      isAlive: () => dead,
    }).catch((e) => e);
    expect(err.code).toBe('MachineStopped');
    expect(err.message).toMatch(/qemu exited with status 1/);
  });

  it('stops waiting when cancelled', async () => {
    const port = await freePort();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const err = await waitForSsh({
      host: '127.0.0.1',
      port,
      user: 'root',
      privateKeyFile: key.privateKeyFile,
      timeoutMs: 600_000,
      signal: ac.signal,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(CancelledError);
  });
});

describe('exec', () => {
  it('streams stdout and stderr lines and returns the exit status', async () => {
    const out: string[] = [];
    const errs: string[] = [];
    const r = await comm.exec({
      command: 'echo one; echo two >&2; printf "three\\nfour"; exit 3',
      onStdout: (l) => out.push(l),
      onStderr: (l) => errs.push(l),
    });
    expect(r.exitCode).toBe(3);
    expect(out).toEqual(['one', 'three', 'four']);
    expect(errs).toEqual(['two']);
  });

  it('feeds stdin', async () => {
    const out: string[] = [];
    const r = await comm.exec({
      command: 'tr a-z A-Z',
      stdin: 'secret value\n',
      onStdout: (l) => out.push(l),
    });
    expect(r.exitCode).toBe(0);
    expect(out).toEqual(['SECRET VALUE']);
  });

  it('is cancelled by its AbortSignal and the remote command ends', async () => {
    const ac = new AbortController();
    const marker = `kiln-abort-${process.pid}`;
    setTimeout(() => ac.abort(), 300);
    const err = await comm
      .exec({ command: `exec sleep 37 # ${marker}`, signal: ac.signal })
      .catch((e) => e);
    expect(err).toBeInstanceOf(CancelledError);
    // The server ends the session's process when the channel closes.
    let left = '';
    for (let i = 0; i < 20; i++) {
      left = (await run('sh', ['-c', 'pgrep -f "sleep 3[7]" || true'])).stdout;
      if (!left) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(left).toBe('');
  });

  it('throws on a lost connection, resolves as disconnected when told to expect it, and reconnects', async () => {
    const other = await waitForSsh({
      host: sshd.host,
      port: sshd.port,
      user: 'root',
      privateKeyFile: key.privateKeyFile,
      timeoutMs: 20_000,
    });
    try {
      // Killing the session's sshd process drops the whole connection.
      const lost = await other.exec({ command: 'kill -9 $PPID; sleep 5' }).catch((e) => e);
      expect(lost).toBeInstanceOf(KilnError);
      expect(lost.code).toBe('SshDisconnected');
      const r = await other.exec({ command: 'kill -9 $PPID; sleep 5', expectDisconnect: true });
      expect(r.disconnected).toBe(true);
      const out: string[] = [];
      expect(
        (await other.exec({ command: 'echo back', onStdout: (l) => out.push(l) })).exitCode,
      ).toBe(0);
      expect(out).toEqual(['back']);
    } finally {
      await other.close();
    }
  });
});

describe('transfers', () => {
  it('uploads a file keeping its mode, uploads a Buffer, and downloads', async () => {
    const local = join(work, 'tool.sh');
    await writeFile(local, '#!/bin/sh\necho hi\n', { mode: 0o750 });
    const remoteDir = join(work, 'remote1');
    await mkdir(remoteDir);
    await comm.upload(local, `${remoteDir}/tool.sh`);
    expect((await stat(`${remoteDir}/tool.sh`)).mode & 0o777).toBe(0o750);
    await comm.upload(Buffer.from('from buffer'), `${remoteDir}/b.txt`, { mode: 0o600 });
    expect(await readFile(`${remoteDir}/b.txt`, 'utf8')).toBe('from buffer');
    expect((await stat(`${remoteDir}/b.txt`)).mode & 0o777).toBe(0o600);
    await comm.download(`${remoteDir}/b.txt`, join(work, 'back.txt'));
    expect(await readFile(join(work, 'back.txt'), 'utf8')).toBe('from buffer');
  });

  it('reports an upload into a missing directory with a hint', async () => {
    const err = await comm.upload(Buffer.from('x'), join(work, 'nope', 'x.txt')).catch((e) => e);
    expect(err.code).toBe('TransferFailed');
    expect(err.hint).toMatch(/must exist/);
  });

  it('uploads and downloads directories with the trailing-slash rule', async () => {
    const src = join(work, 'tree');
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'a.txt'), 'A');
    await writeFile(join(src, 'sub', 'b.txt'), 'B', { mode: 0o640 });
    await symlink('a.txt', join(src, 'link'));
    const dest = join(work, 'dest');
    await mkdir(dest);
    await comm.uploadDir(src, dest); // → dest/tree/…
    await comm.uploadDir(`${src}/`, join(dest, 'flat')); // → dest/flat/…
    expect(await readFile(join(dest, 'tree', 'sub', 'b.txt'), 'utf8')).toBe('B');
    expect((await stat(join(dest, 'tree', 'sub', 'b.txt'))).mode & 0o777).toBe(0o640);
    expect(await readlink(join(dest, 'tree', 'link'))).toBe('a.txt');
    expect((await readdir(join(dest, 'flat'))).sort()).toEqual(['a.txt', 'link', 'sub']);

    const down = join(work, 'down');
    await comm.downloadDir(join(dest, 'tree'), down); // → down/tree/…
    await comm.downloadDir(`${join(dest, 'tree')}/`, join(work, 'down2')); // → down2/…
    expect(await readFile(join(down, 'tree', 'sub', 'b.txt'), 'utf8')).toBe('B');
    expect(await readFile(join(work, 'down2', 'a.txt'), 'utf8')).toBe('A');
  });

  it('works without an sftp subsystem', async () => {
    const bare = await startSshd({ authorizedKeys: [key.publicKey], sftp: false });
    const k2 = join(work, 'k2');
    await mkdir(k2);
    const c = await waitForSsh({
      host: bare.host,
      port: bare.port,
      user: 'root',
      privateKeyFile: key.privateKeyFile,
      timeoutMs: 20_000,
      knownHostsFile: join(k2, 'known_hosts'),
    });
    try {
      const dir = join(work, 'nosftp');
      await mkdir(dir);
      await c.upload(Buffer.from('no sftp'), `${dir}/x.txt`, { mode: 0o604 });
      expect(await readFile(`${dir}/x.txt`, 'utf8')).toBe('no sftp');
      expect((await stat(`${dir}/x.txt`)).mode & 0o777).toBe(0o604);
      await c.download(`${dir}/x.txt`, join(work, 'x-back.txt'));
      expect(await readFile(join(work, 'x-back.txt'), 'utf8')).toBe('no sftp');
    } finally {
      await c.close();
      await bare.stop();
    }
  });
});
