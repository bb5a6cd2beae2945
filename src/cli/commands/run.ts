/**
 * `kiln run IMAGE`, `kiln ps`, `kiln stop ID…`, `kiln logs ID`: local instances of
 * catalogued images. Results (instance ids, `ps` rows, the console) go to stdout;
 * progress and the "answered 200 in 9.8 s" line go to stderr.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { Catalog } from '../../catalog/index.js';
import { CancelledError, type KilnError, SystemError, UserError } from '../../core/errors.js';
import { BuildUi, type Ui } from '../../core/events.js';
import { Secrets } from '../../core/secrets.js';
import { lastLines } from '../../qemu/console.js';
import {
  type InstanceStatus,
  instanceStatus,
  listInstanceStatuses,
  metaOf,
  resolveInstance,
  startInstance,
  stopInstance,
  waitHttp,
  whyNotRunning,
} from '../../runtime/index.js';
import { parsePortSpec } from '../../runtime/port-spec.js';
import { parseGoDurationMs } from '../../template/duration.js';
import { createUi } from '../../ui/index.js';

interface RunOpts {
  publish: string[];
  name?: string;
  memory?: string;
  cpus?: string;
  waitHttp?: string;
  waitPort?: string;
  timeout: string;
  quiet?: boolean;
}

/** Registers `kiln run`, `kiln ps`, `kiln stop` and `kiln logs`. */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description(
      'boot an instance of an image from a fresh overlay; it keeps running after kiln exits',
    )
    .argument('<image>', 'image id, prefix, tag or name')
    .option(
      '-p, --publish <host:guest>',
      'forward 127.0.0.1:HOST to the guest port (GUEST alone: a free host port); repeatable',
      collect,
      [],
    )
    .option('--name <name>', 'a name for the instance (unique)')
    .option('--memory <mb>', "guest memory in MB (default: the image's build VM, else 1024)")
    .option(
      '--cpus <n>',
      "virtual CPUs (default: the image's build VM, else 2; at most the host's)",
    )
    .option('--wait-http <path>', 'wait until this path answers 2xx on the forwarded port')
    .option('--wait-port <guest>', 'which forwarded guest port to check (default: the first -p)')
    .option('--timeout <duration>', 'how long to wait for health (Go duration)', '2m')
    .option('-q, --quiet', 'print only the instance id')
    .action(async (imageRef: string, opts: RunOpts) => {
      const ports = opts.publish.map((p) => parsePortSpec(p));
      const memoryMb = intOption('--memory', opts.memory);
      const cpus = intOption('--cpus', opts.cpus);
      const timeoutMs = durationOption('--timeout', opts.timeout);
      const waitPort = intOption('--wait-port', opts.waitPort);
      const waitPath = opts.waitHttp ?? (waitPort !== undefined ? '/' : undefined);
      if (waitPath !== undefined && !waitPath.startsWith('/'))
        throw new UserError(
          'InvalidOption',
          `--wait-http "${waitPath}" must be a path starting with /`,
        );
      if (waitPath !== undefined && ports.length === 0)
        throw new UserError('InvalidOption', '--wait-http needs a forwarded port', {
          hint: 'add -p HOST:GUEST',
        });
      if (waitPort !== undefined && !ports.some((p) => p.guest === waitPort))
        throw new UserError(
          'InvalidOption',
          `--wait-port ${waitPort} is not a forwarded guest port`,
          {
            hint: `add -p HOST:${waitPort}`,
          },
        );

      const ui = cliUi(opts.quiet === true);
      const bui = new BuildUi(ui, 'run');
      await withInterrupts(async (signal) => {
        const catalog = Catalog.open();
        try {
          const t0 = Date.now();
          const rec = await startInstance({
            catalog,
            image: imageRef,
            ports,
            ...(opts.name !== undefined ? { name: opts.name } : {}),
            ...(memoryMb !== undefined ? { memoryMb } : {}),
            ...(cpus !== undefined ? { cpus } : {}),
            signal,
            ui: bui,
          });
          const where = rec.ports.map((p) => `127.0.0.1:${p.host} → ${p.guest}`).join(', ');
          let summary = `${rec.id} running from ${rec.imageId}${where ? `; ${where}` : ''}`;
          if (waitPath !== undefined) {
            const fwd = rec.ports.find((p) => p.guest === (waitPort ?? ports[0]!.guest))!;
            const url = `http://127.0.0.1:${fwd.host}${waitPath}`;
            bui.message(`waiting for ${url} (up to ${opts.timeout})`);
            try {
              const r = await waitHttp({
                port: fwd.host,
                path: waitPath,
                timeoutMs,
                signal,
                isAlive: () => whyNotRunning(rec),
              });
              summary = `${rec.id} running from ${rec.imageId}; ${url} answered ${r.status} in ${((Date.now() - t0) / 1000).toFixed(1)} s`;
            } catch (err) {
              // Nothing is left of an instance that did not become healthy: read its console first.
              const lines = await lastLines(metaOf(rec).serialLog, 15);
              await stopInstance(catalog, rec.id, { timeoutMs: 0 }).catch(() => undefined);
              if (err instanceof CancelledError)
                throw new CancelledError(`kiln run cancelled; ${rec.id} stopped`);
              const e = err as KilnError;
              throw new SystemError(
                e.code ?? 'HealthCheckFailed',
                `${rec.id} from ${rec.imageId} did not become healthy; it was stopped`,
                {
                  details: [
                    e.message,
                    ...(e.details ?? []),
                    ...(lines.length > 0
                      ? ['last console lines:', ...lines]
                      : ['the console printed nothing']),
                  ],
                  hint: 'check that the service is enabled at boot and listens on the guest port',
                },
              );
            }
          }
          if (opts.quiet !== true) process.stderr.write(`${summary}\n`);
          process.stdout.write(`${rec.id}\n`);
        } finally {
          catalog.close();
        }
      });
    });

  program
    .command('ps')
    .description('list local instances (running ones; -a adds those that exited)')
    .option('-a, --all', 'include instances whose QEMU exited')
    .option('--json', 'one JSON array on stdout')
    .action((opts: { all?: boolean; json?: boolean }) => {
      const catalog = Catalog.open();
      try {
        const rows = listInstanceStatuses(catalog, { all: opts.all === true });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(rows.map(toJson), null, 2)}\n`);
          return;
        }
        const table = [
          ['ID', 'NAME', 'IMAGE', 'STATE', 'PORTS', 'GROUP', 'UP'],
          ...rows.map((s) => [
            s.instance.id,
            s.instance.name ?? '',
            s.instance.imageId,
            s.state === 'running' ? 'running' : `${s.state}${s.reason ? ` (${s.reason})` : ''}`,
            s.instance.ports.map((p) => `127.0.0.1:${p.host}->${p.guest}`).join(','),
            s.instance.group ?? '',
            age(s.instance.createdAt),
          ]),
        ];
        process.stdout.write(formatTable(table));
      } finally {
        catalog.close();
      }
    });

  program
    .command('stop')
    .description('stop instances (ACPI/Ctrl-Alt-Del, then by force) and delete their overlays')
    .argument('[ids...]', 'instance ids, unique prefixes or names')
    .option('--all', 'stop every local instance')
    .option('--timeout <duration>', 'how long the guest gets to shut down cleanly', '20s')
    .action(async (ids: string[], opts: { all?: boolean; timeout: string }) => {
      const timeoutMs = durationOption('--timeout', opts.timeout);
      if (!opts.all && ids.length === 0)
        throw new UserError('InvalidOption', 'name the instances to stop, or pass --all', {
          hint: 'kiln ps lists them',
        });
      if (opts.all && ids.length > 0)
        throw new UserError('InvalidOption', '--all takes no instance ids');
      const catalog = Catalog.open();
      try {
        const refs = opts.all
          ? listInstanceStatuses(catalog, { all: true }).map((s) => s.instance.id)
          : ids;
        const failed: string[] = [];
        // One unknown or stubborn instance does not keep the others running.
        for (const ref of refs) {
          try {
            const inst = resolveInstance(catalog, ref);
            await stopInstance(catalog, inst.id, { timeoutMs });
            process.stdout.write(`${inst.id}\n`);
          } catch (err) {
            failed.push(`${ref}: ${err instanceof Error ? err.message : String(err)}`);
          }
        }
        if (failed.length > 0)
          throw new SystemError('StopFailed', `${failed.length} instance(s) did not stop`, {
            details: failed,
          });
      } finally {
        catalog.close();
      }
    });

  program
    .command('logs')
    .description("print an instance's serial console")
    .argument('<id>', 'instance id, unique prefix or name')
    .option('-f, --follow', 'keep printing until the instance stops (or Ctrl-C)')
    .option('-n, --tail <lines>', 'only the last N lines')
    .action(async (ref: string, opts: { follow?: boolean; tail?: string }) => {
      const n = intOption('-n', opts.tail);
      const catalog = Catalog.open();
      let status: InstanceStatus;
      try {
        status = instanceStatus(catalog, resolveInstance(catalog, ref).id);
      } finally {
        catalog.close();
      }
      const file = metaOf(status.instance).serialLog;
      let offset = 0;
      if (n !== undefined) {
        const lines = await lastLines(file, n);
        if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
        offset = sizeOf(file);
      } else {
        offset = copyFrom(file, 0);
      }
      if (!opts.follow) return;
      await withInterrupts(async (signal) => {
        while (!signal.aborted) {
          offset = copyFrom(file, offset);
          if (whyNotRunning(status.instance) !== undefined) {
            copyFrom(file, offset);
            return;
          }
          await new Promise<void>((r) => {
            const t = setTimeout(r, 250);
            signal.addEventListener(
              'abort',
              () => {
                clearTimeout(t);
                r();
              },
              { once: true },
            );
          });
        }
      }, true);
    });
}

function toJson(s: InstanceStatus) {
  const m = metaOf(s.instance);
  return {
    id: s.instance.id,
    name: s.instance.name,
    image: s.instance.imageId,
    state: s.state,
    ...(s.reason ? { reason: s.reason } : {}),
    pid: s.instance.pid,
    ports: s.instance.ports,
    group: s.instance.group,
    createdAt: s.instance.createdAt,
    console: m.serialLog,
    memoryMb: m.memoryMb,
    cpus: m.cpus,
  };
}

/** Appends what the file holds past `offset` to stdout; returns the new offset. */
function copyFrom(file: string, offset: number): number {
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
      process.stdout.write(buf.subarray(0, got));
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

function age(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A whole number option (or undefined when absent); a UserError otherwise. */
export function intOption(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v))
    throw new UserError('InvalidOption', `${flag}: "${v}" is not a whole number`);
  return Number(v);
}

/** A Go duration option in milliseconds; a UserError otherwise. */
export function durationOption(flag: string, v: string): number {
  try {
    const ms = parseGoDurationMs(v);
    if (ms <= 0) throw new Error('not positive');
    return ms;
  } catch {
    throw new UserError('InvalidOption', `${flag}: "${v}" is not a duration`, {
      hint: 'write it like 90s, 2m or 1m30s',
    });
  }
}

/** Progress to stderr; with `quiet`, only errors. */
export function cliUi(quiet: boolean): Ui {
  const ui = createUi({
    mode: 'human',
    secrets: new Secrets(),
    stdout: process.stderr,
    stderr: process.stderr,
    env: process.env,
  });
  if (!quiet) return ui;
  return {
    secrets: ui.secrets,
    emit: (e) => (e.type === 'ui' && e.level === 'error' ? ui.emit(e) : undefined),
  };
}

/**
 * Runs `fn` with an AbortSignal that SIGINT/SIGTERM abort; a second signal exits at once
 * (130). With `quietExit`, an interrupt is a normal end (for `logs -f`).
 */
export async function withInterrupts(
  fn: (signal: AbortSignal) => Promise<void>,
  quietExit = false,
): Promise<void> {
  const ctl = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (ctl.signal.aborted) process.exit(130);
    ctl.abort(new CancelledError(`cancelled by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await fn(ctl.signal);
  } catch (err) {
    if (quietExit && ctl.signal.aborted) return;
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
