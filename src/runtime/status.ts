/**
 * Where an instance's files are, and whether it still runs. The catalog row says what
 * kiln started; the process table says what is true now: an instance whose QEMU is gone
 * (or whose pid was reused by another program) is `exited`, and the row is updated (on a
 * catalog open for writing) so that, for example, its image can be removed.
 */
import { join } from 'node:path';
import { idPrefixOf } from '../catalog/ids.js';
import type { CatalogApi, InstanceRecord } from '../catalog/types.js';
import { UserError } from '../lib/errors.js';
import { lastLines } from '../qemu/console.js';
import { qemuGone } from './qemu-process.js';

/** What the runtime keeps in an instance row's `metadata`. */
export interface LocalInstanceMeta {
  dir: string;
  overlay: string;
  serialLog: string;
  qmpSocket: string;
  pidFile: string;
  qemuLog: string;
  /** /proc start time and boot id of QEMU, so a reused pid is never taken for it. */
  startTime?: string;
  bootId?: string;
  memoryMb: number;
  cpus: number;
  accel: string;
  /** Why it exited, once reconciliation found it gone. */
  exitReason?: string;
  /**
   * How `kiln ssh` reaches the guest: the instance's own key (in its directory) and the
   * loopback port forwarded to the guest's 22. Absent for instances started before kiln
   * had `kiln ssh`.
   */
  ssh?: { user: string; keyFile: string; port: number };
  /** For members of a `kiln deploy local` group: how the group forwards ports. */
  deploy?: { basePort: number; guestPort: number; healthPath: string };
}

/** An instance with what is true of it now. */
export interface InstanceStatus {
  instance: InstanceRecord;
  /** `running`, `exited`, or the row's own state for other backends. */
  state: string;
  /** Why it is not running, when it is not. */
  reason?: string;
}

/** `<kiln home>/instances`: one directory per local instance. */
export function instancesDir(catalog: CatalogApi): string {
  return join(catalog.home, 'instances');
}

/** The runtime's metadata of a local instance. */
export function metaOf(instance: InstanceRecord): LocalInstanceMeta {
  return instance.metadata as unknown as LocalInstanceMeta;
}

/** The last `n` non-empty lines of an instance's serial console (none when it printed nothing). */
export function consoleTail(instance: InstanceRecord, n: number): Promise<string[]> {
  return lastLines(metaOf(instance).serialLog, n);
}

/** Why a local instance's QEMU is not running, or undefined while it is (reads /proc; no side effect). */
export function whyNotRunning(instance: InstanceRecord): string | undefined {
  const m = metaOf(instance);
  return qemuGone(
    instance.pid,
    {
      ...(m.startTime ? { startTime: m.startTime } : {}),
      ...(m.bootId ? { bootId: m.bootId } : {}),
    },
    m.dir ?? instance.id,
  );
}

/** The instance's state now; a `running` row whose QEMU is gone is recorded as `exited`. */
export function instanceStatus(catalog: CatalogApi, id: string): InstanceStatus {
  const instance = catalog.instances.get(id);
  if (!instance) throw notFound(id);
  return reconcileOne(catalog, instance);
}

/** Every instance (only the running ones unless `all`), reconciled with the process table. */
export function listInstanceStatuses(
  catalog: CatalogApi,
  opts: { all?: boolean; group?: string } = {},
): InstanceStatus[] {
  return catalog.instances
    .list()
    .filter((i) => i.backend === 'local' && (opts.group === undefined || i.group === opts.group))
    .map((i) => reconcileOne(catalog, i))
    .filter((s) => opts.all || s.state === 'running');
}

/**
 * Finds an instance as docker does: by id, name, or any unique id prefix (`i-0ff9` or bare
 * `0ff9`); an ambiguous reference is a UserError listing the candidates.
 */
export function resolveInstance(catalog: CatalogApi, ref: string): InstanceRecord {
  const all = catalog.instances.list();
  const exact = all.find((i) => i.id === ref);
  if (exact) return exact;
  const named = all.filter((i) => i.name === ref);
  if (named.length === 1) return named[0]!;
  const prefix = idPrefixOf(ref, ['i']);
  const prefixed = prefix ? all.filter((i) => i.id.startsWith(`i-${prefix.hex}`)) : [];
  if (named.length === 0 && prefixed.length === 1) return prefixed[0]!;
  const candidates = named.length > 1 ? named : prefixed;
  if (candidates.length > 1) {
    throw new UserError('AmbiguousInstance', `"${ref}" matches ${candidates.length} instances`, {
      details: candidates.map((i) => `${i.id}${i.name ? ` (${i.name})` : ''} ${i.state}`),
      hint: named.length > 1 ? 'use the id' : 'type more digits of the id',
    });
  }
  throw notFound(ref);
}

function reconcileOne(catalog: CatalogApi, instance: InstanceRecord): InstanceStatus {
  if (instance.backend !== 'local') return { instance, state: instance.state };
  if (instance.state !== 'running') {
    const reason = metaOf(instance).exitReason;
    return { instance, state: instance.state, ...(reason ? { reason } : {}) };
  }
  const reason = whyNotRunning(instance);
  if (reason === undefined) return { instance, state: 'running' };
  const metadata = { ...instance.metadata, exitReason: reason };
  // A read-only catalog (`kiln ps`, `kiln logs`) reports the state without recording it.
  if (!catalog.readonly) {
    try {
      catalog.instances.update(instance.id, { state: 'exited', metadata });
    } catch {
      // Stopped and removed meanwhile by another kiln: nothing to record.
    }
  }
  return { instance: { ...instance, state: 'exited', metadata }, state: 'exited', reason };
}

function notFound(ref: string): UserError {
  return new UserError('InstanceNotFound', `no instance matches "${ref}"`, {
    hint: 'run `kiln ps -a` to see the instances',
  });
}
