/**
 * The chroot communicator with the real chroot(8) (as root), rooted at this host's `/` so
 * no image is needed: exec streams lines and exit codes and gets a fresh environment,
 * stdin arrives, transfers keep modes and follow the rsync rule for directories, a
 * cancelled command's process group is gone, `command_wrapper` wraps the host command,
 * and systemd's "Running in chroot, ignoring" for a start fails the command clearly.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChrootCommunicator } from '../src/communicator/chroot-communicator.js';
import { CancelledError, UserError } from '../src/lib/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-chroot-comm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const comm = new ChrootCommunicator({ root: '/' });

async function exec(command: string, stdin?: string) {
  const out: string[] = [];
  const err: string[] = [];
  const r = await comm.exec({
    command,
    ...(stdin !== undefined ? { stdin } : {}),
    onStdout: (l) => out.push(l),
    onStderr: (l) => err.push(l),
  });
  return { ...r, out, err };
}

describe('ChrootCommunicator', () => {
  it('runs commands with /bin/sh inside the root, streaming lines, exit codes and stdin', async () => {
    expect(comm.connection).toEqual({ type: 'chroot', root: '/', user: 'root' });
    const r = await exec('echo one; echo two >&2; read x; echo "got $x"; exit 3', 'input\n');
    expect(r).toMatchObject({ exitCode: 3, out: ['one', 'got input'], err: ['two'] });
    const env = await exec('echo "$HOME $USER $PATH"; printenv KILN_HOME || echo unset');
    expect(env.out).toEqual([
      '/root root /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'unset',
    ]);
  });

  it('uploads files and buffers with their modes, and directories by the rsync rule', async () => {
    const src = join(dir, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'run.sh'), '#!/bin/sh\necho hi\n');
    chmodSync(join(src, 'run.sh'), 0o750);
    writeFileSync(join(src, 'sub', 'data'), 'data\n');
    symlinkSync('sub/data', join(src, 'link'));
    const dst = join(dir, 'dst');
    mkdirSync(dst, { mode: 0o1777 });
    chmodSync(dst, 0o1777);

    await comm.upload(join(src, 'run.sh'), join(dst, 'run.sh'));
    expect(statSync(join(dst, 'run.sh')).mode & 0o7777).toBe(0o750);
    await comm.upload(Buffer.from('secret'), join(dst, 'buf'), { mode: 0o600 });
    expect(readFileSync(join(dst, 'buf'), 'utf8')).toBe('secret');
    expect(statSync(join(dst, 'buf')).mode & 0o7777).toBe(0o600);

    await comm.uploadDir(`${src}/`, dst);
    expect(readFileSync(join(dst, 'sub', 'data'), 'utf8')).toBe('data\n');
    expect(readFileSync(join(dst, 'link'), 'utf8')).toBe('data\n');
    // Contents into an existing directory: its own mode is left alone (think /tmp).
    expect(statSync(dst).mode & 0o7777).toBe(0o1777);
    await comm.uploadDir(src, dst);
    expect(existsSync(join(dst, 'src', 'sub', 'data'))).toBe(true);

    const back = join(dir, 'back');
    await comm.download(join(dst, 'run.sh'), join(dir, 'run-back.sh'));
    expect(readFileSync(join(dir, 'run-back.sh'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
    await comm.downloadDir(join(dst, 'sub'), back);
    expect(readFileSync(join(back, 'sub', 'data'), 'utf8')).toBe('data\n');
    await comm.downloadDir(`${join(dst, 'sub')}/`, join(dir, 'flat'));
    expect(readFileSync(join(dir, 'flat', 'data'), 'utf8')).toBe('data\n');

    await expect(comm.upload(Buffer.from('x'), join(dir, 'no', 'such', 'file'))).rejects.toThrow(
      /upload to .* failed: .*(No such file or directory|Directory nonexistent)/,
    );
  });

  it('stops a cancelled command and everything it started', async () => {
    const marker = `${process.pid}.${Date.now() % 1000}`;
    const ac = new AbortController();
    const p = comm.exec({
      command: `sleep 3${marker} & sleep 4${marker}; wait`,
      signal: ac.signal,
    });
    const running = () =>
      spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' }).stdout.trim() !== '';
    for (let i = 0; i < 100 && !running(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(running()).toBe(true);
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(CancelledError);
    for (let i = 0; i < 100 && running(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(running()).toBe(false);
  });

  it('runs host commands through command_wrapper', async () => {
    const log = join(dir, 'wrapped.log');
    const wrapped = new ChrootCommunicator({
      root: '/',
      wrap: (command) => `echo wrapped >> ${log}; ${command}`,
    });
    const out: string[] = [];
    await wrapped.exec({ command: 'echo "a b"', onStdout: (l) => out.push(l) });
    expect(out).toEqual(['a b']);
    expect(readFileSync(log, 'utf8')).toBe('wrapped\n');
  });

  it('fails a command that asked systemd to start a unit (ignored in a chroot), but not one that enabled it', async () => {
    const err = await exec(`echo "Running in chroot, ignoring command 'start'" >&2`).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(
      /asked systemd for "start", which needs a running system: in a chroot nothing runs/,
    );
    expect((err as UserError).hint).toMatch(/systemctl enable/);
    const ok = await exec(`echo "Running in chroot, ignoring command 'daemon-reload'" >&2`);
    expect(ok.exitCode).toBe(0);
  });
});
