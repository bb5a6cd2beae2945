/**
 * Stops an instance: the ACPI power button over QMP (the guest shuts down cleanly),
 * then QMP `quit`, then SIGKILL — each only while the pid is still the recorded QEMU.
 * Then its overlay and directory are deleted and its catalog row removed: a stopped
 * local instance has nothing worth keeping (its disk was a throwaway overlay), so
 * `kiln ps -a` lists only running and exited ones.
 */
import { rmSync } from 'node:fs';
import type { CatalogApi } from '../catalog/types.js';
import type { BuildUi } from '../core/events.js';
import { SystemError } from '../lib/errors.js';
import { QmpClient } from '../qemu/qmp.js';
import { waitGone } from './qemu-process.js';
import { instanceStatus, type LocalInstanceMeta, metaOf, whyNotRunning } from './status.js';

export interface StopInstanceOptions {
  /** How long the guest gets to power off after the ACPI button (default 20 s; 0 skips it). */
  timeoutMs?: number;
  ui?: BuildUi;
}

/** Stops the instance (gracefully, then by force), deletes its files and forgets it; a UserError when unknown. */
export async function stopInstance(
  catalog: CatalogApi,
  id: string,
  opts: StopInstanceOptions = {},
): Promise<void> {
  const { instance, state } = instanceStatus(catalog, id);
  const meta = metaOf(instance);
  const gone = () => whyNotRunning(instance) !== undefined;
  if (state === 'running') {
    const timeoutMs = opts.timeoutMs ?? 20_000;
    let stopped = false;
    if (timeoutMs > 0) {
      opts.ui?.message(`${id}: ACPI power-down (up to ${Math.round(timeoutMs / 1000)} s)`);
      // The ACPI button needs logind (and D-Bus) in the guest, which minimal images lack;
      // Ctrl-Alt-Del is handled by systemd itself (a clean reboot, which -no-reboot turns
      // into QEMU exiting). Either one ends QEMU after the guest stopped its services.
      if (await qmpCommand(meta, 'system_powerdown', 'ctrl-alt-del'))
        stopped = await waitGone(gone, timeoutMs, 200);
    }
    if (!stopped) {
      if (timeoutMs > 0) opts.ui?.message(`${id}: the guest did not power off; stopping QEMU`);
      await qmpCommand(meta, 'quit');
      stopped = await waitGone(gone, 3000);
    }
    if (!stopped && instance.pid !== null && !gone()) {
      try {
        process.kill(instance.pid, 'SIGKILL');
      } catch {
        // Gone between the check and the kill.
      }
      stopped = await waitGone(gone, 5000);
    }
    if (!stopped) {
      throw new SystemError(
        'InstanceNotStopped',
        `QEMU of ${id} (pid ${instance.pid}) does not stop`,
        {
          hint: 'kill it by hand, then run `kiln stop` again',
        },
      );
    }
  }
  removeFiles(meta);
  catalog.instances.remove(id);
}

/** Sends one QMP command on a fresh connection; false when QEMU could not be reached. */
async function qmpCommand(
  meta: LocalInstanceMeta,
  command: string,
  then?: 'ctrl-alt-del',
): Promise<boolean> {
  let qmp: QmpClient | undefined;
  try {
    qmp = await QmpClient.connect(meta.qmpSocket, { timeoutMs: 3000 });
    // `quit` may close the socket before its answer arrives: that is success too.
    await qmp.execute(command).catch((e: unknown) => {
      if (command !== 'quit') throw e;
    });
    if (then === 'ctrl-alt-del') {
      const keys = ['ctrl', 'alt', 'delete'].map((k) => ({ type: 'qcode', data: k }));
      await qmp.execute('send-key', { keys }).catch(() => undefined);
    }
    return true;
  } catch {
    return false;
  } finally {
    qmp?.close();
  }
}

function removeFiles(meta: LocalInstanceMeta): void {
  for (const f of [meta.qmpSocket, meta.dir]) if (f) rmSync(f, { recursive: true, force: true });
}
