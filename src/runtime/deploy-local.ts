/**
 * `kiln deploy local`: a rolling replacement of a named group of local instances. Each
 * member has its own host port: a group of N uses BASEPORT … BASEPORT+N (N+1 ports, one
 * spare so that a new member can come up before an old one goes). The port plan is kept
 * in each member's metadata, so the next deploy of the group needs no `-p`. Every deploy
 * (and rollback) is recorded in the catalog's deploy history with backend `local`.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSameProcessAlive, processIdentity } from '../catalog/process-info.js';
import type { CatalogApi, InstanceRecord } from '../catalog/types.js';
import type { BuildUi } from '../core/events.js';
import { CancelledError, KilnError, SystemError, UserError } from '../lib/errors.js';
import { lastLines } from '../qemu/console.js';
import {
  isFailedRollout,
  type Member,
  type RollingDriver,
  rollOutWithRollback,
} from './rolling.js';
import { startInstance } from './start-instance.js';
import { instancesDir, listInstanceStatuses, metaOf, whyNotRunning } from './status.js';
import { stopInstance } from './stop-instance.js';
import { waitHttp } from './wait-http.js';

export interface DeployLocalOptions {
  catalog: CatalogApi;
  /** Image reference (id, prefix, tag or name). */
  image: string;
  group: string;
  /** How many members the group has afterwards. */
  count: number;
  /** Host ports from `basePort`, forwarding to `guestPort`; default: the group's current plan. */
  port?: { basePort: number; guestPort: number };
  /** Default: the group's current path, else `/`. */
  healthPath?: string;
  expectStatus?: number;
  expectBody?: string | RegExp;
  /** How long each new member has to answer its health check. */
  timeoutMs: number;
  /** Put the previous image back on members already replaced when a later one fails (default true). */
  rollback?: boolean;
  memoryMb?: number;
  cpus?: number;
  signal?: AbortSignal;
  ui?: BuildUi;
}

export interface DeployLocalResult {
  group: string;
  imageId: string;
  /** Members now serving IMAGE, with their host ports. */
  started: Array<{ id: string; port: number }>;
  /** Old members stopped (or exited ones cleared). */
  stopped: string[];
  deploymentId: number;
  elapsedMs: number;
}

const GROUP = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/**
 * Rolls the group onto the image, one member at a time. On a failed health check the new
 * member is stopped, the deploy ends, old members keep serving, members already replaced
 * go back to the previous image (unless `rollback: false`), and a SystemError naming the
 * image is thrown. Recorded in the deploy history either way.
 */
export async function deployLocal(opts: DeployLocalOptions): Promise<DeployLocalResult> {
  const { catalog, ui, group } = opts;
  const t0 = Date.now();
  if (!GROUP.test(group))
    throw new UserError('InvalidGroup', `"${group}" is not a valid group name`, {
      hint: 'use letters, digits, `_`, `.` or `-`, starting with a letter or digit',
    });
  if (!Number.isInteger(opts.count) || opts.count < 1 || opts.count > 32)
    throw new UserError(
      'InvalidOption',
      `--count ${opts.count} must be a whole number from 1 to 32`,
    );
  const image = catalog.images.resolve(opts.image);
  if (image.status === 'failed')
    ui?.error(
      `${image.id} is marked failed in the catalog (a smoke test failed); deploying it anyway`,
    );
  let members = listInstanceStatuses(catalog, { all: true, group });
  const plan = members.map((s) => metaOf(s.instance).deploy).find((d) => d !== undefined);
  const port =
    opts.port ?? (plan ? { basePort: plan.basePort, guestPort: plan.guestPort } : undefined);
  if (!port)
    throw new UserError('NoPortPlan', `group "${group}" has no port plan yet`, {
      hint: 'give -p BASEPORT:GUEST (members get BASEPORT, BASEPORT+1, …)',
    });
  if (
    !Number.isInteger(port.basePort) ||
    port.basePort < 1 ||
    port.basePort + opts.count > 65535 ||
    !Number.isInteger(port.guestPort) ||
    port.guestPort < 1 ||
    port.guestPort > 65535
  )
    throw new UserError(
      'InvalidPort',
      `-p ${port.basePort}:${port.guestPort} is out of range for ${opts.count} member(s)`,
      {
        hint: `a group of ${opts.count} uses ports BASEPORT … BASEPORT+${opts.count}, all within 1–65535`,
      },
    );
  const healthPath = opts.healthPath ?? plan?.healthPath ?? '/';
  if (!healthPath.startsWith('/'))
    throw new UserError('InvalidOption', `health path "${healthPath}" must start with /`);
  const slots = Array.from({ length: opts.count + 1 }, (_, i) => port.basePort + i);

  const release = lockGroup(catalog, group);
  const stopped: string[] = [];
  try {
    // Members that exited on their own serve nothing: clear them before planning.
    for (const s of members.filter((m) => m.state !== 'running')) {
      ui?.message(`${s.instance.id} had exited (${s.reason ?? 'unknown reason'}); clearing it`);
      await stopInstance(catalog, s.instance.id);
      stopped.push(s.instance.id);
    }
    members = members.filter((m) => m.state === 'running');
    const old: Member[] = members.map((s) => ({
      id: s.instance.id,
      port:
        s.instance.ports.find((p) => p.guest === port.guestPort)?.host ??
        s.instance.ports[0]?.host ??
        0,
      imageId: s.instance.imageId,
    }));
    const previousImage = old.at(-1)?.imageId;
    ui?.say(
      `Deploying ${image.id} (${image.name}) to group ${group}: ${opts.count} member(s) on ports ${slots[0]}…${slots.at(-1)} → ${port.guestPort}, health ${healthPath}; ${old.length} running now`,
    );
    const records = new Map<string, InstanceRecord>();
    const driver: RollingDriver = {
      async start(imageId, hostPort) {
        const rec = await startInstance({
          catalog,
          image: imageId,
          group,
          ports: [{ host: hostPort, guest: port.guestPort }],
          metadata: { deploy: { basePort: port.basePort, guestPort: port.guestPort, healthPath } },
          ...(opts.memoryMb !== undefined ? { memoryMb: opts.memoryMb } : {}),
          ...(opts.cpus !== undefined ? { cpus: opts.cpus } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
        records.set(rec.id, rec);
        return { id: rec.id, port: hostPort, imageId };
      },
      async waitHealthy(m) {
        const rec = records.get(m.id)!;
        try {
          const r = await waitHttp({
            port: m.port,
            path: healthPath,
            timeoutMs: opts.timeoutMs,
            ...(opts.expectStatus !== undefined ? { expectStatus: opts.expectStatus } : {}),
            ...(opts.expectBody !== undefined ? { expectBody: opts.expectBody } : {}),
            ...(opts.signal ? { signal: opts.signal } : {}),
            isAlive: () => whyNotRunning(rec),
          });
          ui?.message(
            `${m.id} answered ${r.status} on port ${m.port} after ${(r.elapsedMs / 1000).toFixed(1)} s`,
          );
        } catch (err) {
          if (err instanceof CancelledError) throw err;
          // Read the console now: stopping the member deletes it.
          const lines = await lastLines(metaOf(rec).serialLog, 15);
          const e = err as KilnError;
          throw new SystemError(e.code ?? 'HealthCheckFailed', e.message, {
            details: [
              ...(e.details ?? []),
              ...(lines.length > 0
                ? ['last console lines:', ...lines]
                : ['the console printed nothing']),
            ],
          });
        }
      },
      async stop(m, why) {
        await stopInstance(catalog, m.id, { timeoutMs: why === 'failed' ? 0 : 20_000 });
      },
      note: (text) => ui?.message(text),
    };

    try {
      const r = await rollOutWithRollback(
        image.id,
        old,
        opts.count,
        slots,
        driver,
        opts.rollback === false || opts.signal?.aborted ? undefined : previousImage,
      );
      stopped.push(...r.stopped.map((m) => m.id));
      const dep = catalog.deployments.record({
        backend: 'local',
        group,
        imageId: image.id,
        kind: 'deploy',
        status: 'succeeded',
      });
      ui?.say(
        `Group ${group} runs ${image.id} on ports ${r.started.map((m) => m.port).join(', ')}`,
      );
      return {
        group,
        imageId: image.id,
        started: r.started.map((m) => ({ id: m.id, port: m.port })),
        stopped,
        deploymentId: dep.id,
        elapsedMs: Date.now() - t0,
      };
    } catch (failure) {
      if (!isFailedRollout(failure)) throw failure;
      const { error: err, untouched, rollback } = failure;
      const cause = err.reason;
      const cancelled = cause instanceof CancelledError || opts.signal?.aborted === true;
      const reason = cause instanceof Error ? cause.message : String(cause);
      catalog.deployments.record({
        backend: 'local',
        group,
        imageId: image.id,
        kind: 'deploy',
        status: cancelled ? 'cancelled' : 'failed',
        reason,
      });
      if (cancelled) throw new CancelledError(`deploy of ${image.id} to ${group} cancelled`);
      let rollbackNote = '';
      if (rollback) {
        catalog.deployments.record({
          backend: 'local',
          group,
          imageId: rollback.imageId,
          kind: 'rollback',
          status: rollback.ok ? 'succeeded' : 'failed',
          reason: rollback.ok ? reason : (rollback.reason ?? reason),
        });
        rollbackNote = rollback.ok
          ? `; ${rollback.members.length} replaced member(s) rolled back to ${rollback.imageId}`
          : `; the rollback to ${rollback.imageId} failed too: ${rollback.reason}`;
      }
      const details = cause instanceof KilnError ? [cause.message, ...cause.details] : [reason];
      throw new SystemError(
        'DeployFailed',
        `deploy of ${image.id} to group ${group} failed${err.failed ? `: ${err.failed.id} on port ${err.failed.port} was not healthy` : ''}; ${untouched.length} old member(s) keep serving${rollbackNote}`,
        { details, hint: 'fix the image and deploy again; `kiln ps` shows the group' },
      );
    }
  } finally {
    release();
  }
}

/** One deploy per group at a time: a lock file naming the process (a dead holder's lock is taken over). */
function lockGroup(catalog: CatalogApi, group: string): () => void {
  const dir = instancesDir(catalog);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `.deploy-${group}.lock`);
  const mine = JSON.stringify({ pid: process.pid, ...processIdentity(process.pid) });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, mine, { flag: 'wx', mode: 0o600 });
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder: { pid?: number; startTime?: string; bootId?: string } = {};
      try {
        holder = JSON.parse(readFileSync(file, 'utf8')) as typeof holder;
      } catch {
        // Half-written by a process that died: take it over.
      }
      if (holder.pid && isSameProcessAlive(holder.pid, holder)) {
        throw new UserError(
          'DeployInProgress',
          `another kiln (pid ${holder.pid}) is deploying group "${group}"`,
          {
            hint: 'wait for it to finish',
          },
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new SystemError('DeployLockFailed', `could not lock group "${group}" (${file})`);
}
