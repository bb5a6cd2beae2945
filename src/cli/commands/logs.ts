/** `kiln logs ID [-f] [-n N]`: an instance's serial console on stdout. */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { Catalog } from '../../catalog/index.js';
import { pause } from '../../lib/sleep.js';
import {
  consoleTail,
  type InstanceStatus,
  instanceStatus,
  metaOf,
  resolveInstance,
  whyNotRunning,
} from '../../runtime/index.js';
import { type CliContext, withContext } from '../context.js';
import { intOption } from '../options.js';

/** Registers `kiln logs`. */
export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description("print an instance's serial console")
    .argument('<id>', 'instance id, unique prefix or name')
    .option('-f, --follow', 'keep printing until the instance stops (or Ctrl-C)')
    .option('-n, --tail <lines>', 'only the last N lines')
    .action(
      // Ctrl-C is how `logs -f` ends.
      withContext(
        { name: 'kiln logs', interruptIsEnd: true },
        async (ctx, ref: string, opts: { follow?: boolean; tail?: string }) => {
          const n = intOption('-n', opts.tail);
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
      ),
    );
}

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
