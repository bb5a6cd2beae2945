/**
 * The QEMU driver against real QEMU, without booting a guest: QMP negotiation, commands
 * and events, a VM that cannot start (its reason reported, no process left), and kill.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { SystemError } from '../src/lib/errors.js';
import { startVm } from '../src/qemu/launch.js';
import { QmpClient } from '../src/qemu/qmp.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-qemu-driver-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('QMP', () => {
  it('negotiates, answers commands, reports errors and the SHUTDOWN event of quit', async () => {
    const sock = join(dir, 'a.sock');
    const qemu = execa(
      'qemu-system-x86_64',
      [
        '-machine',
        'none',
        '-accel',
        'tcg',
        '-nodefaults',
        '-display',
        'none',
        '-qmp',
        `unix:${sock},server=on,wait=off`,
      ],
      { reject: false },
    );
    try {
      const qmp = await QmpClient.connect(sock, { isAlive: () => qemu.exitCode === null });
      expect(qmp.version).toMatch(/^\d+\.\d+\.\d+$/);
      const status = await qmp.execute<{ status: string; running: boolean }>('query-status');
      expect(typeof status.running).toBe('boolean');
      await expect(qmp.execute('no-such-command')).rejects.toThrow(/CommandNotFound/);
      const shutdown = qmp.waitEvent('SHUTDOWN');
      await qmp.execute('quit');
      expect((await shutdown)?.event).toBe('SHUTDOWN');
      const r = await qemu;
      expect(r.exitCode).toBe(0);
    } finally {
      qemu.kill('SIGKILL');
    }
  });
});

describe('startVm', () => {
  const base = {
    name: 't',
    accel: 'tcg' as const,
    memoryMb: 128,
    cpus: 1,
    netDevice: 'virtio-net',
    forwardGuestPorts: [22],
  };

  it('reports why QEMU could not start (its stderr), and leaves no process', async () => {
    const err = await startVm({
      ...base,
      disk: { file: join(dir, 'missing.qcow2'), format: 'qcow2', interface: 'virtio' },
      qmpSocket: join(dir, 'b.sock'),
      serialLog: join(dir, 'b.log'),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SystemError);
    const e = err as SystemError;
    expect(e.message).toMatch(/QEMU exited at start \(exit status 1\)/);
    expect(e.details.join('\n')).toMatch(/missing\.qcow2/);
  });

  it('starts a VM with a loopback SSH forward, and kill() stops it', async () => {
    const disk = join(dir, 'empty.qcow2');
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
    let spawned = 0;
    const vm = await startVm({
      ...base,
      disk: { file: disk, format: 'qcow2', interface: 'virtio' },
      qmpSocket: join(dir, 'c.sock'),
      serialLog: join(dir, 'c.log'),
      onSpawn: (pid) => {
        spawned = pid;
      },
    });
    expect(spawned).toBe(vm.pid);
    expect(vm.ports[22]).toBeGreaterThan(0);
    expect(vm.args.join(' ')).toContain(`hostfwd=tcp:127.0.0.1:${vm.ports[22]}-:22`);
    expect(vm.exit).toBeUndefined();
    const status = await vm.qmp.execute<{ running: boolean }>('query-status');
    expect(status.running).toBe(true);
    const exit = await vm.kill();
    expect(exit).toBeDefined();
    expect(() => process.kill(vm.pid, 0)).toThrow();
  });
});
