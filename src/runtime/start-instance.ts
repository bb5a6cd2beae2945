/**
 * Boots an instance of a catalogued image: a fresh qcow2 overlay on the image (the image
 * file is never written), QEMU detached so it outlives kiln, ports forwarded on
 * 127.0.0.1 only, and a catalog row. Everything is checked before any side effect; then
 * the start is a list of steps through core's runner (open-journal, create-disk,
 * start-qemu, record-instance), whose cleanups remove what a failed or interrupted start
 * made, in reverse. Until the row exists the run journal lists the process and the
 * directory, so a kiln killed mid-boot leaves work for `kiln gc`, not an orphaned VM.
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '../catalog/ids.js';
import type { CatalogApi, ImageRecord, InstanceRecord } from '../catalog/types.js';
import { BuildUi } from '../core/events.js';
import { Secrets } from '../core/secrets.js';
import { runSteps, type Step } from '../core/steps.js';
import { CancelledError, KilnError, SystemError, UserError } from '../lib/errors.js';
import { chooseAccelerator } from '../qemu/accel.js';
import { createDisk } from './start/create-disk.js';
import { createSshKey } from './start/create-ssh-key.js';
import { openJournal } from './start/open-journal.js';
import { recordInstance } from './start/record-instance.js';
import { startQemu } from './start/start-qemu.js';
import type { PortSpec, StartState } from './start/state.js';
import { instancesDir, type LocalInstanceMeta } from './status.js';

export type { PortSpec } from './start/state.js';

/** The steps of `kiln run`'s start, in order (each removes what it made in its cleanup). */
export const START_STEPS: readonly Step<StartState>[] = [
  openJournal,
  createDisk,
  createSshKey,
  startQemu,
  recordInstance,
];

export interface StartInstanceOptions {
  catalog: CatalogApi;
  /** An image reference: id, unique prefix, tag or name. */
  image: string;
  ports?: PortSpec[];
  name?: string;
  group?: string;
  /** Default: what the image was built with (see `defaultVmSize`). */
  memoryMb?: number;
  /** Default: what the image was built with (see `defaultVmSize`). */
  cpus?: number;
  signal?: AbortSignal;
  ui?: BuildUi;
  /** Extra metadata for the row (e.g. a deploy group's port plan). */
  metadata?: Record<string, unknown>;
  qemuBinary?: string;
}

/**
 * A VM's size when the image does not say: the sample's templates (and most builds) use
 * 2 vCPUs and 1 GiB. Under TCG a second vCPU boots the sample's release image to its
 * first HTTP answer ~30 % sooner (9.4–10.9 s against 13.1–13.6 s here), because udev,
 * sshd and Node.js run at the same time.
 */
export const DEFAULT_VM_SIZE = { cpus: 2, memoryMb: 1024 } as const;

/**
 * The size an instance of `image` gets unless told otherwise: the `cpus` and `memoryMb`
 * its catalog metadata records (the build's VM, when the builder recorded it), else
 * DEFAULT_VM_SIZE; vCPUs never more than this host's CPUs (more TCG threads than cores
 * only slow the guest down).
 */
export function defaultVmSize(
  image: Pick<ImageRecord, 'metadata'>,
  hostCpus: number = availableParallelism(),
): { cpus: number; memoryMb: number } {
  const md = (image.metadata ?? {}) as Record<string, unknown>;
  const whole = (v: unknown, min: number) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min ? v : undefined;
  const cpus = whole(md.cpus, 1) ?? DEFAULT_VM_SIZE.cpus;
  const memoryMb = whole(md.memoryMb, 64) ?? DEFAULT_VM_SIZE.memoryMb;
  return { cpus: Math.max(1, Math.min(cpus, hostCpus)), memoryMb };
}

/**
 * QEMU's minimal firmware for direct kernel boot (Debian's qemu-system-data ships it). It
 * reaches the kernel ~0.2 s sooner than SeaBIOS under TCG (1.1–1.7 s against 1.3–2.2 s to
 * the first kernel line, loaded machine) and, like SeaBIOS, passes the ACPI tables that
 * `kiln stop`'s powerdown needs. It cannot boot a disk's bootloader: used only when the
 * image boots its kernel directly.
 */
export const QBOOT_ROM = '/usr/share/qemu/qboot.rom';

/** The `-bios` to boot `image` with: qboot for a direct kernel boot when this machine has it, else QEMU's default. */
export function firmwareFor(
  image: Pick<ImageRecord, 'metadata'>,
  qboot: string | null = existsSync(QBOOT_ROM) ? QBOOT_ROM : null,
): string[][] {
  const md = (image.metadata ?? {}) as Record<string, unknown>;
  const direct = typeof md.kernel === 'string' && md.kernel !== '';
  return direct && qboot ? [['-bios', qboot]] : [];
}

/** Unix socket paths must fit in sun_path (108 bytes with the terminator). */
const MAX_SOCKET_PATH = 100;

/**
 * Starts the instance and records it as `running`. Everything is validated before any
 * side effect; if QEMU dies while starting, throws with its exit status and the
 * console's last lines and leaves nothing (no process, directory, row or journal entry).
 */
export async function startInstance(opts: StartInstanceOptions): Promise<InstanceRecord> {
  const { catalog } = opts;
  const { image, memoryMb, cpus, ports } = await checkRequest(opts);
  if (opts.signal?.aborted) throw new CancelledError('instance not started: cancelled');
  const accel = await chooseAccelerator('auto', opts.qemuBinary);

  const id = newId('i');
  const dir = join(instancesDir(catalog), id);
  let qmpSocket = join(dir, 'qmp.sock');
  // A long kiln home cannot hold a socket path: fall back to a short one in the temp dir.
  if (qmpSocket.length > MAX_SOCKET_PATH) qmpSocket = join(tmpdir(), `kiln-${id}.qmp`);
  const meta: LocalInstanceMeta = {
    dir,
    overlay: join(dir, 'disk.qcow2'),
    serialLog: join(dir, 'console.log'),
    qmpSocket,
    pidFile: join(dir, 'qemu.pid'),
    qemuLog: join(dir, 'qemu.log'),
    memoryMb,
    cpus,
    accel: accel.accel,
  };
  const state: StartState = {
    catalog,
    image,
    id,
    runId: `run-${id}`,
    meta,
    accel: accel.accel,
    firmware: firmwareFor(image),
    ports,
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    ...(opts.group !== undefined ? { group: opts.group } : {}),
    ...(opts.metadata !== undefined ? { metadata: opts.metadata } : {}),
    ...(opts.qemuBinary !== undefined ? { qemuBinary: opts.qemuBinary } : {}),
  };
  try {
    await runSteps(START_STEPS, state, {
      signal: opts.signal ?? new AbortController().signal,
      ui: opts.ui ?? new BuildUi({ emit: () => undefined, secrets: new Secrets() }, 'run'),
    });
  } catch (err) {
    if (err instanceof KilnError) throw err;
    throw new SystemError(
      'InstanceStartFailed',
      `could not start an instance of ${image.id}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return state.record!;
}

/** Everything `startInstance` checks before any side effect: the image, the VM's size, ports, the name. */
async function checkRequest(opts: StartInstanceOptions): Promise<{
  image: ImageRecord;
  memoryMb: number;
  cpus: number;
  ports: PortSpec[];
}> {
  const { catalog } = opts;
  const image = catalog.images.resolve(opts.image);
  if (image.status === 'missing') {
    throw new UserError(
      'ImageFileMissing',
      `image ${image.id} (${image.name}) has lost its disk file`,
      {
        hint: 'rebuild it, or remove it with `kiln images rm`',
      },
    );
  }
  if (image.format === 'ami' || image.id.startsWith('ami-')) {
    throw new UserError(
      'NotALocalImage',
      `${image.id} is an AMI: kiln run boots local (QEMU) images`,
      {
        hint: 'deploy AMIs with `kiln deploy aws`',
      },
    );
  }
  if (!image.files[0])
    throw new UserError('ImageHasNoDisk', `image ${image.id} has no disk file to boot`);
  const size = defaultVmSize(image);
  const memoryMb = opts.memoryMb ?? size.memoryMb;
  const cpus = opts.cpus ?? size.cpus;
  if (!Number.isInteger(memoryMb) || memoryMb < 64)
    throw new UserError(
      'InvalidOption',
      `memory ${memoryMb} MB is too small or not a whole number`,
      {
        hint: 'give at least 64 (MB)',
      },
    );
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64)
    throw new UserError('InvalidOption', `cpus ${cpus} must be a whole number from 1 to 64`);
  const ports = opts.ports ?? [];
  checkPorts(ports);
  if (opts.name !== undefined) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(opts.name))
      throw new UserError('InvalidName', `"${opts.name}" is not a valid instance name`, {
        hint: 'use letters, digits, `_`, `.` or `-` (up to 63), starting with a letter or digit',
      });
    const taken = catalog.instances.list().find((i) => i.name === opts.name);
    if (taken)
      throw new UserError(
        'NameInUse',
        `an instance named "${opts.name}" exists already (${taken.id})`,
        {
          hint: `stop it first (kiln stop ${taken.id}) or choose another --name`,
        },
      );
  }
  for (const p of ports) {
    if (p.host !== 0 && !(await portFree(p.host))) {
      throw new UserError('PortInUse', `port ${p.host} on 127.0.0.1 is already in use`, {
        where: `-p ${p.host}:${p.guest}`,
        hint: 'choose another host port, or 0 to pick a free one',
      });
    }
  }
  return { image, memoryMb, cpus, ports };
}

function checkPorts(ports: PortSpec[]): void {
  const hosts = new Set<number>();
  for (const p of ports) {
    if (!Number.isInteger(p.guest) || p.guest < 1 || p.guest > 65535)
      throw new UserError('InvalidPort', `guest port ${p.guest} is out of range`, {
        hint: 'a port is 1–65535',
      });
    if (!Number.isInteger(p.host) || p.host < 0 || p.host > 65535)
      throw new UserError('InvalidPort', `host port ${p.host} is out of range`, {
        hint: 'a port is 1–65535 (0 picks a free one)',
      });
    if (p.host !== 0 && hosts.has(p.host))
      throw new UserError('InvalidPort', `host port ${p.host} is forwarded twice`, {
        hint: 'each host port forwards to one guest port',
      });
    hosts.add(p.host);
  }
}

/** True when 127.0.0.1:port can be bound right now. */
async function portFree(port: number): Promise<boolean> {
  const srv = createServer();
  try {
    srv.listen(port, '127.0.0.1');
    await once(srv, 'listening');
    return true;
  } catch {
    return false;
  } finally {
    await new Promise((r) => srv.close(r));
  }
}
