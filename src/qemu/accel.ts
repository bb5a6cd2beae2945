/**
 * Choosing QEMU's accelerator. `auto` must never pick an accelerator that hangs the
 * guest: on hosts that offer KVM through a nested paravirtual scheme (`kvm_pvm`), a
 * stock Debian kernel hangs right after "Booting paravirtualized kernel on KVM" and
 * `-cpu host` aborts with "failed to set MSR". Those hosts get TCG.
 */
import { constants, existsSync } from 'node:fs';
import { access } from 'node:fs/promises';

export type Accelerator = 'tcg' | 'kvm' | 'xen' | 'hax' | 'hvf' | 'whpx';

export interface AccelChoice {
  accel: Accelerator;
  /** Why this one: shown to the user as a message. */
  reason: string;
}

/** What the host looks like, for a testable decision. */
export interface HostFacts {
  kvmDevice: boolean;
  kvmPvm: boolean;
  /** Undefined when not probed. */
  cpuHostWorks?: boolean;
}

/** Decides the accelerator for `auto` from host facts (pure). */
export function decideAccelerator(facts: HostFacts): AccelChoice {
  if (!facts.kvmDevice) return { accel: 'tcg', reason: '/dev/kvm is not usable' };
  if (facts.kvmPvm)
    return { accel: 'tcg', reason: 'KVM is offered through kvm_pvm (nested), where guests hang' };
  if (facts.cpuHostWorks === false)
    return { accel: 'tcg', reason: 'QEMU cannot start a KVM guest with -cpu host here' };
  return { accel: 'kvm', reason: 'KVM is available' };
}

let cached: Promise<AccelChoice> | undefined;

/** Resolves `auto` for this host (probed once per process); any other setting is returned as is. */
export function chooseAccelerator(
  setting: string,
  qemuBinary = 'qemu-system-x86_64',
): Promise<AccelChoice> {
  if (setting === 'none')
    return Promise.resolve({ accel: 'tcg', reason: 'accelerator "none" means TCG' });
  if (setting !== 'auto')
    return Promise.resolve({ accel: setting as Accelerator, reason: 'set in the template' });
  cached ??= probeHost(qemuBinary).then(decideAccelerator);
  return cached;
}

async function probeHost(qemuBinary: string): Promise<HostFacts> {
  const kvmDevice = await access('/dev/kvm', constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  );
  const kvmPvm = existsSync('/sys/module/kvm_pvm');
  if (!kvmDevice || kvmPvm) return { kvmDevice, kvmPvm };
  return { kvmDevice, kvmPvm, cpuHostWorks: await probeCpuHost(qemuBinary) };
}

/** Starts a paused KVM guest with `-cpu host` for a moment: an MSR failure makes QEMU exit at once. */
async function probeCpuHost(qemuBinary: string): Promise<boolean> {
  // Loaded here, not with the module: loading QEMU's helpers must not cost execa.
  const { execa } = await import('execa');
  const child = execa(
    qemuBinary,
    [
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-machine',
      'pc,accel=kvm',
      '-cpu',
      'host',
      '-m',
      '64',
      '-S',
    ],
    { reject: false, timeout: 1500, stdin: 'ignore' },
  );
  const r = await child;
  // Still running when the timeout killed it means QEMU accepted the configuration.
  return r.timedOut === true;
}
