/**
 * Records the running instance in the catalog (with QEMU's /proc identity, so a reused
 * pid is never taken for it) and lets go of QEMU: from here on the row owns the process
 * and the files, and no cleanup removes them.
 */
import { processIdentity } from '../../catalog/process-info.js';
import type { Step } from '../../core/steps.js';
import type { StartState } from './state.js';

export const recordInstance: Step<StartState> = {
  name: 'record-instance',
  async run(state, { ui }) {
    const { meta } = state;
    const vm = state.vm!;
    const identity = processIdentity(vm.pid);
    if (identity.startTime) meta.startTime = identity.startTime;
    if (identity.bootId) meta.bootId = identity.bootId;
    state.record = state.catalog.instances.add({
      id: state.id,
      imageId: state.image.id,
      ...(state.name !== undefined ? { name: state.name } : {}),
      ...(state.group !== undefined ? { group: state.group } : {}),
      backend: 'local',
      pid: vm.pid,
      // The SSH forward (the last one) is kiln's own: `kiln ssh` finds it in the metadata.
      ports: (meta.ssh ? vm.forwards.slice(0, -1) : vm.forwards).map((f) => ({
        host: f.hostPort,
        guest: f.guestPort,
      })),
      files: [meta.overlay, meta.serialLog, meta.qemuLog, meta.pidFile, meta.qmpSocket, meta.dir],
      metadata: { ...(state.metadata ?? {}), ...meta },
    });
    vm.release();
    ui.message(
      `QEMU pid ${vm.pid}; ${vm.forwards.map((f) => `127.0.0.1:${f.hostPort} → ${f.guestPort}`).join(', ') || 'no ports forwarded'}`,
    );
  },
};
