/**
 * The rolling replacement (rolling.ts): one new member at a time, healthy before an old
 * one stops; a new member that fails is stopped at once, old members left keep serving,
 * and members already replaced go back to the previous image (unless `rollback: false`
 * or the run was interrupted). Each outcome is recorded in the deploy history. What it
 * starts is either serving or already stopped when it returns: no cleanup.
 */

import type { InstanceRecord } from '../../catalog/types.js';
import type { BuildUi } from '../../core/events.js';
import type { Step } from '../../core/steps.js';
import { CancelledError, KilnError, SystemError } from '../../lib/errors.js';
import { lastLines } from '../../qemu/console.js';
import {
  isFailedRollout,
  type Member,
  type RollingDriver,
  rollOutWithRollback,
} from '../rolling.js';
import { startInstance } from '../start-instance.js';
import { metaOf, whyNotRunning } from '../status.js';
import { stopInstance } from '../stop-instance.js';
import { waitHttp } from '../wait-http.js';
import type { DeployLocalState } from './state.js';

export const rollOut: Step<DeployLocalState> = {
  name: 'roll-out',
  async run(state, { ui, signal }) {
    const { catalog, opts, image, port, healthPath, slots } = state;
    const group = opts.group;
    const old: Member[] = state.members.map((s) => ({
      id: s.instance.id,
      port:
        s.instance.ports.find((p) => p.guest === port.guestPort)?.host ??
        s.instance.ports[0]?.host ??
        0,
      imageId: s.instance.imageId,
    }));
    const previousImage = old.at(-1)?.imageId;
    ui.say(
      `Deploying ${image.id} (${image.name}) to group ${group}: ${opts.count} member(s) on ports ${slots[0]}…${slots.at(-1)} → ${port.guestPort}, health ${healthPath}; ${old.length} running now`,
    );
    const driver = rollingDriver(state, ui, signal);

    try {
      const r = await rollOutWithRollback(
        image.id,
        old,
        opts.count,
        slots,
        driver,
        opts.rollback === false || signal.aborted ? undefined : previousImage,
      );
      state.stopped.push(...r.stopped.map((m) => m.id));
      const dep = catalog.deployments.record({
        backend: 'local',
        group,
        imageId: image.id,
        kind: 'deploy',
        status: 'succeeded',
      });
      ui.say(`Group ${group} runs ${image.id} on ports ${r.started.map((m) => m.port).join(', ')}`);
      state.result = {
        group,
        imageId: image.id,
        started: r.started.map((m) => ({ id: m.id, port: m.port })),
        stopped: state.stopped,
        deploymentId: dep.id,
        elapsedMs: 0,
      };
    } catch (failure) {
      if (!isFailedRollout(failure)) throw failure;
      const { error: err, untouched, rollback } = failure;
      const cause = err.reason;
      const cancelled = cause instanceof CancelledError || signal.aborted;
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
  },
};

/** What the rollout does to the world here: local instances of the group, health over HTTP. */
function rollingDriver(state: DeployLocalState, ui: BuildUi, signal: AbortSignal): RollingDriver {
  const { catalog, opts, port, healthPath } = state;
  const group = opts.group;
  const records = new Map<string, InstanceRecord>();
  return {
    async start(imageId, hostPort) {
      const rec = await startInstance({
        catalog,
        image: imageId,
        group,
        ports: [{ host: hostPort, guest: port.guestPort }],
        metadata: { deploy: { basePort: port.basePort, guestPort: port.guestPort, healthPath } },
        ...(opts.memoryMb !== undefined ? { memoryMb: opts.memoryMb } : {}),
        ...(opts.cpus !== undefined ? { cpus: opts.cpus } : {}),
        signal,
      });
      records.set(rec.id, rec);
      return { id: rec.id, port: hostPort, imageId };
    },
    async waitHealthy(m) {
      const rec = records.get(m.id)!;
      try {
        const r = await ui.wait(
          `waiting for ${m.id} on http://127.0.0.1:${m.port}${healthPath}`,
          () =>
            waitHttp({
              port: m.port,
              path: healthPath,
              timeoutMs: opts.timeoutMs,
              ...(opts.expectStatus !== undefined ? { expectStatus: opts.expectStatus } : {}),
              ...(opts.expectBody !== undefined ? { expectBody: opts.expectBody } : {}),
              signal,
              isAlive: () => whyNotRunning(rec),
            }),
        );
        ui.message(
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
    note: (text) => ui.message(text),
  };
}
