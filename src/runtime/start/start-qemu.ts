/**
 * QEMU for the instance, detached so it outlives kiln, through the one launcher: ports on
 * 127.0.0.1 only (picked ones tried again when taken meanwhile), each pid journalled as
 * soon as it exists. QEMU dying while it starts fails at once with its exit status, its
 * own words and the console's last lines. Cleanup stops QEMU unless the instance was
 * recorded.
 */

import type { Step } from '../../core/steps.js';
import { SystemError } from '../../lib/errors.js';
import { lastLines } from '../../qemu/console.js';
import { sshCredentials } from '../../qemu/credentials.js';
import { describeExit, QemuStartError, startVm } from '../../qemu/launch.js';
import type { StartState } from './state.js';

/** kiln run waits longer for QMP than a build: several instances may be starting at once. */
const QMP_TIMEOUT_MS = 30_000;

export const startQemu: Step<StartState> = {
  name: 'start-qemu',
  async run(state, { signal }) {
    const { catalog, runId, meta, image } = state;
    const md = image.metadata as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
    try {
      state.vm = await startVm({
        name: `kiln-${state.id}`,
        accel: state.accel,
        memoryMb: meta.memoryMb,
        cpus: meta.cpus,
        disk: { file: meta.overlay, format: 'qcow2', interface: 'virtio' },
        kernel: str(md.kernel),
        initrd: str(md.initrd),
        cmdline: withBootStatus(str(md.cmdline)),
        netDevice: 'virtio-net-pci',
        forwards: state.ports.map((p) => ({ hostPort: p.host, guestPort: p.guest })),
        // `kiln ssh`: the guest's sshd on a free loopback port (the last forward), and the
        // instance's key as a systemd credential, as a build passes its own.
        ...(meta.ssh ? { forwardGuestPorts: [22] } : {}),
        ...(meta.ssh && state.sshPublicKey
          ? { credentials: sshCredentials(meta.ssh.user, state.sshPublicKey) }
          : {}),
        qmpSocket: meta.qmpSocket,
        serialLog: meta.serialLog,
        // -no-reboot: a guest reboot ends QEMU, which is how `stopInstance`'s Ctrl-Alt-Del ends it.
        qemuArgs: [['-pidfile', meta.pidFile], ['-no-reboot'], ...state.firmware],
        ...(state.qemuBinary ? { qemuBinary: state.qemuBinary } : {}),
        detachedLog: meta.qemuLog,
        qmpTimeoutMs: QMP_TIMEOUT_MS,
        signal,
        onSpawn: (pid) => catalog.journal.record({ runId, kind: 'process', ref: String(pid) }),
        onGone: (pid) => catalog.journal.forget(runId, String(pid)),
      });
      if (meta.ssh) meta.ssh.port = state.vm.forwards.at(-1)!.hostPort;
    } catch (err) {
      if (!(err instanceof QemuStartError)) throw err;
      const consoleLines = await lastLines(meta.serialLog, 15);
      throw new SystemError(
        'QemuStartFailed',
        `QEMU for ${state.id} exited while starting (${describeExit(err.exit)})`,
        {
          details: [
            ...err.qemuLines.map((l) => `qemu: ${l}`),
            ...(consoleLines.length > 0
              ? ['last console lines:', ...consoleLines]
              : ['the console printed nothing']),
          ],
          hint: err.qemuLines.some((l) => /host ?forward/i.test(l))
            ? 'a host port is in use: choose another -p'
            : undefined,
          cause: err,
        },
      );
    }
  },
  async cleanup(state) {
    if (state.record || !state.vm) return;
    await state.vm.kill();
  },
};

/**
 * An instance's kernel command line with systemd's boot status on: images boot `quiet`,
 * which leaves the serial console — what `kiln logs` shows — empty once the kernel is up.
 * With it the console lists each unit as it starts or fails (`[  OK  ] Started
 * hello-web.service`), a few KB per boot.
 */
export function withBootStatus(cmdline: string | undefined): string | undefined {
  if (cmdline === undefined || /\bsystemd\.show_status=/.test(cmdline)) return cmdline;
  return `${cmdline} systemd.show_status=1`;
}
