/** The bodies of `kiln ssh` (declared in `commands/ssh.ts`). */
import { spawn } from 'node:child_process';
import { Catalog } from '../../catalog/index.js';
import { waitFor } from '../../core/events.js';
import { CancelledError, UserError } from '../../lib/errors.js';
import {
  opensshArgs,
  resolveInstance,
  type SshTarget,
  sshTarget,
  waitInstanceSsh,
  whyNotRunning,
} from '../../runtime/index.js';
import { type CliContext, withContext } from '../context.js';
import { durationOption } from '../options.js';

/** Resolves the instance and waits until its sshd takes the instance's key. */
export async function readyTarget(
  ctx: CliContext,
  ref: string,
  timeoutMs: number,
): Promise<SshTarget> {
  let target: SshTarget;
  let alive: () => string | undefined;
  {
    using catalog = Catalog.openReadOnly();
    const instance = resolveInstance(catalog, ref);
    target = sshTarget(instance);
    alive = () => whyNotRunning(instance);
  }
  const ui = ctx.ui({ progressOnly: true });
  await waitFor(
    ui,
    `waiting for SSH on ${target.instanceId} (127.0.0.1:${target.port})`,
    () => waitInstanceSsh(target, { timeoutMs, signal: ctx.signal, isAlive: alive }),
    'ssh',
  );
  return target;
}

/**
 * Runs OpenSSH with kiln's stdio and resolves with its exit status (the remote command's,
 * or 255 for SSH's own failures; 128+N when a signal ended it). A signal kiln alone gets
 * (SIGTERM) is passed on; a terminal's Ctrl-C reaches both.
 */
export async function runOpenssh(
  ctx: CliContext,
  args: string[],
  stdin: 'inherit' | 'ignore',
): Promise<number> {
  const signal = ctx.signal;
  const child = spawn('ssh', args, { stdio: [stdin, 'inherit', 'inherit'] });
  const onAbort = () => child.kill('SIGTERM');
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'ENOENT'
            ? new UserError('MissingTool', 'ssh (OpenSSH client) is not installed', {
                hint: 'apt-get install openssh-client',
              })
            : err,
        ),
      );
      child.once('exit', (code, sig) => {
        if (code !== null) resolve(code);
        else if (signal.aborted) reject(new CancelledError('ssh ended by a signal'));
        else resolve(128 + signalNumber(sig));
      });
    });
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function signalNumber(sig: NodeJS.Signals | null): number {
  return sig === 'SIGINT' ? 2 : sig === 'SIGKILL' ? 9 : sig === 'SIGTERM' ? 15 : 1;
}

/** `kiln ssh INSTANCE [-- CMD]`: OpenSSH into the instance; the remote exit status is kiln’s. */
export const ssh = withContext(
  { name: 'kiln ssh', interruptIsEnd: true },
  async (ctx, ref: string, command: string[], opts: { tty?: boolean; timeout: string }) => {
    const timeoutMs = durationOption('--timeout', opts.timeout);
    const target = await readyTarget(ctx, ref, timeoutMs);
    const interactive = command.length === 0;
    // Without a command and without a terminal the guest's shell reads kiln's stdin.
    const tty = opts.tty === true || (interactive && process.stdin.isTTY === true);
    ctx.exitCode = await runOpenssh(ctx, opensshArgs(target, { tty, command }), 'inherit');
  },
);
