/** The host as kiln needs it: an accelerator for QEMU, free disk and a private kiln home. */
import { accessSync, constants, statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { chooseAccelerator } from '../qemu/accel.js';
import type { DoctorCheck } from './check.js';

/** Below this a base image (about 0.5 GB) and a build's overlay and saved state do not fit. */
const DISK_FAIL_BYTES = 1024 ** 3;
/** Below this a few builds and releases fill the disk. */
const DISK_WARN_BYTES = 5 * 1024 ** 3;

/** What `auto` picks here: KVM, or TCG (slower) and why. */
export async function checkAccelerator(): Promise<DoctorCheck> {
  const choice = await chooseAccelerator('auto');
  if (choice.accel === 'kvm') return { name: 'accelerator', status: 'ok', detail: 'KVM' };
  return {
    name: 'accelerator',
    status: 'warn',
    detail: `TCG (software emulation, slower): ${choice.reason}`,
    fix: choice.reason.startsWith('/dev/kvm')
      ? 'none needed (kiln uses TCG); for KVM: sudo usermod -aG kvm $USER, then log in again'
      : 'none needed: kiln uses TCG on this host',
  };
}

/** Free space on the file system that holds (or will hold) the kiln home. */
export function checkDisk(home: string): DoctorCheck {
  const where = existingAncestor(home);
  const fs = statfsSync(where);
  const free = fs.bavail * fs.bsize;
  const detail = `${(free / 1024 ** 3).toFixed(1)} GiB free on the file system of ${home}`;
  if (free >= DISK_WARN_BYTES) return { name: 'disk', status: 'ok', detail };
  return {
    name: 'disk',
    status: free < DISK_FAIL_BYTES ? 'fail' : 'warn',
    detail: `${detail} (a base image needs about 0.5 GiB, each build more)`,
    fix: 'kiln images prune --keep 2 && kiln gc (or free space, or set KILN_HOME to a larger disk)',
  };
}

/** The kiln home: a directory the user owns, writable, and private (0700: images may hold secrets). */
export function checkHome(home: string, uid: number | undefined): DoctorCheck {
  const st = statSync(home, { throwIfNoEntry: false });
  if (!st)
    return { name: 'kiln home', status: 'ok', detail: `${home} (created 0700 on first use)` };
  if (!st.isDirectory())
    return {
      name: 'kiln home',
      status: 'fail',
      detail: `${home} is not a directory`,
      fix: `mv ${home} ${home}.bak (or set KILN_HOME to a directory)`,
    };
  if (uid !== undefined && uid !== 0 && st.uid !== uid)
    return {
      name: 'kiln home',
      status: 'fail',
      detail: `${home} belongs to uid ${st.uid}, not to you (uid ${uid})`,
      fix: `sudo chown -R ${uid} ${home}`,
    };
  try {
    accessSync(home, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch {
    return {
      name: 'kiln home',
      status: 'fail',
      detail: `${home} is not readable and writable by you`,
      fix: `chmod u+rwx ${home}`,
    };
  }
  const mode = st.mode & 0o777;
  if (mode & 0o077)
    return {
      name: 'kiln home',
      status: 'warn',
      detail: `${home} is mode ${mode.toString(8)}: others can read images, keys and logs`,
      fix: `chmod 700 ${home}`,
    };
  return { name: 'kiln home', status: 'ok', detail: `${home} (mode 700)` };
}

function existingAncestor(path: string): string {
  let p = path;
  while (statSync(p, { throwIfNoEntry: false }) === undefined && dirname(p) !== p) p = dirname(p);
  return p;
}
