/**
 * A run's lease on what it creates in AWS: every resource carries `kiln:expires` (renewed
 * while the run lives) and `kiln:owner` (the process). A run is dead once its lease has
 * passed on all its resources, or — on the machine that made it — as soon as its process
 * is gone. Only a dead run's resources are ever swept; a live run on another machine keeps
 * its resources for as long as it renews its lease.
 */
import { hostname } from 'node:os';
import type { Tag } from '@aws-sdk/client-ec2';
import { currentBootId, isSameProcessAlive, processIdentity } from '../catalog/process-info.js';
import { EXPIRES_TAG, type Lease, OWNER_TAG } from './tags.js';

/** How long a lease lasts without renewal: a run that stops renewing is dead after this. */
export const LEASE_MS = 10 * 60_000;
/** How often a running build renews its lease (well inside LEASE_MS, so a slow call never lets it lapse). */
export const RENEW_MS = 2 * 60_000;

/** The owner tag of process `pid`: `host/boot-id/pid/start-time` (a reused pid or a reboot is not the same owner). */
export function ownerOf(pid: number): string {
  const id = processIdentity(pid);
  return [hostname(), id.bootId ?? '-', String(pid), id.startTime ?? '-'].join('/');
}

/** A fresh lease for process `pid`, from `now`. */
export function leaseFor(pid: number, now = new Date()): Lease {
  return { expires: new Date(now.getTime() + LEASE_MS), owner: ownerOf(pid) };
}

/** Whether a run is alive, judged from the tags of every resource it has in AWS. */
export type Liveness =
  | { state: 'alive'; why: string }
  | { state: 'dead'; why: string }
  /** Made by a kiln without leases: only its age can tell (`kiln gc aws --older-than`). */
  | { state: 'no-lease' };

/** Decides whether the run whose resources carry `tagSets` is alive at `now`. */
export function runLiveness(tagSets: Array<Tag[] | undefined>, now = new Date()): Liveness {
  const get = (tags: Tag[] | undefined, key: string) => tags?.find((t) => t.Key === key)?.Value;
  const owner = tagSets.map((t) => get(t, OWNER_TAG)).find(Boolean);
  const expiries = tagSets
    .map((t) => Date.parse(get(t, EXPIRES_TAG) ?? ''))
    .filter((t) => !Number.isNaN(t));
  if (owner) {
    const [host, boot, pid, start] = owner.split('/');
    if (host === hostname() && boot && boot !== '-' && boot === currentBootId()) {
      const alive = isSameProcessAlive(
        Number(pid),
        start && start !== '-' ? { startTime: start } : {},
      );
      return alive
        ? { state: 'alive', why: `its process ${pid} on this machine is running` }
        : { state: 'dead', why: `its process ${pid} on this machine is gone` };
    }
  }
  if (expiries.length === 0) return { state: 'no-lease' };
  const latest = Math.max(...expiries);
  const at = new Date(latest).toISOString();
  return latest < now.getTime()
    ? { state: 'dead', why: `its lease expired at ${at}` }
    : { state: 'alive', why: `its lease runs until ${at}` };
}
