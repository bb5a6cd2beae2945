/** The bodies of `kiln logs` (declared in `commands/logs.ts`). */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { Catalog } from '../../catalog/index.js';
import { pause } from '../../lib/sleep.js';
import {
  consoleTail,
  type InstanceStatus,
  instanceStatus,
  journalCommand,
  metaOf,
  opensshArgs,
  resolveInstance,
  whyNotRunning,
} from '../../runtime/index.js';
import { type CliContext, withContext } from '../context.js';
import { durationOption, intOption } from '../options.js';
import { readyTarget, runOpenssh } from './ssh.js';

/** Appends what the file holds past `offset` to stdout; returns the new offset. */
function copyFrom(ctx: CliContext, file: string, offset: number): number {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return offset;
  }
  try {
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const got = readSync(fd, buf, 0, buf.length, offset);
      if (got <= 0) return offset;
      ctx.out(buf.subarray(0, got));
      offset += got;
    }
  } finally {
    closeSync(fd);
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** `kiln logs`: the instance's console (or a unit's journal over SSH), optionally followed. */
export const logs = withContext(
  { name: 'kiln logs', interruptIsEnd: true },
  async (
    ctx,
    ref: string,
    opts: { follow?: boolean; tail?: string; journal?: string; timeout: string },
  ) => {
    const n = intOption('-n', opts.tail);
    if (opts.journal !== undefined) {
      const command = journalCommand(opts.journal, {
        ...(n !== undefined ? { lines: n } : {}),
        follow: opts.follow === true,
      });
      const target = await readyTarget(ctx, ref, durationOption('--timeout', opts.timeout));
      const code = await runOpenssh(ctx, opensshArgs(target, { tty: false, command }), 'ignore');
      // journalctl -f ends by Ctrl-C, which ends ssh too: that is the normal end.
      if (!(opts.follow && ctx.cancelled)) ctx.exitCode = code;
      return;
    }
    let status: InstanceStatus;
    {
      using catalog = Catalog.openReadOnly();
      status = instanceStatus(catalog, resolveInstance(catalog, ref).id);
    }
    const file = metaOf(status.instance).serialLog;
    let offset = 0;
    if (n !== undefined) {
      const lines = await consoleTail(status.instance, n);
      if (lines.length > 0) ctx.out(`${lines.join('\n')}\n`);
      offset = sizeOf(file);
    } else {
      offset = copyFrom(ctx, file, 0);
    }
    if (offset === 0 && !opts.follow)
      ctx.err(
        `kiln logs: the console of ${status.instance.id} is empty so far; \`kiln logs ${status.instance.id} --journal UNIT\` shows a unit's journal\n`,
      );
    if (!opts.follow) return;
    while (!ctx.signal.aborted) {
      offset = copyFrom(ctx, file, offset);
      if (whyNotRunning(status.instance) !== undefined) {
        copyFrom(ctx, file, offset);
        return;
      }
      await pause(250, ctx.signal);
    }
  },
);
