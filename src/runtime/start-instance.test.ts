/**
 * The size of a `kiln run` VM: what the image records, else the default, capped at the
 * host's CPUs; and that startInstance hands it to QEMU (a script standing in for QEMU
 * records its arguments, then dies at start).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/index.js';
import { DEFAULT_VM_SIZE, defaultVmSize, firmwareFor, startInstance } from './start-instance.js';

describe('defaultVmSize', () => {
  it('takes cpus and memoryMb from the image metadata', () => {
    expect(defaultVmSize({ metadata: { cpus: 1, memoryMb: 512 } }, 8)).toEqual({
      cpus: 1,
      memoryMb: 512,
    });
  });

  it('falls back to 2 vCPUs and 1024 MB when the image does not say (or says nonsense)', () => {
    expect(DEFAULT_VM_SIZE).toEqual({ cpus: 2, memoryMb: 1024 });
    expect(defaultVmSize({ metadata: {} }, 8)).toEqual({ cpus: 2, memoryMb: 1024 });
    expect(defaultVmSize({ metadata: { cpus: '4', memoryMb: 1.5 } }, 8)).toEqual({
      cpus: 2,
      memoryMb: 1024,
    });
  });

  it("never gives more vCPUs than the host's CPUs", () => {
    expect(defaultVmSize({ metadata: { cpus: 8 } }, 2).cpus).toBe(2);
    expect(defaultVmSize({ metadata: {} }, 1).cpus).toBe(1);
  });
});

describe('startInstance VM size', () => {
  let root: string;
  let catalog: Catalog;
  let argsFile: string;
  let qemu: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'kiln-size-'));
    catalog = Catalog.open(join(root, 'home'));
    argsFile = join(root, 'args');
    qemu = join(root, 'fake-qemu');
    writeFileSync(qemu, `#!/bin/sh\necho "$@" > '${argsFile}'\nexit 1\n`);
    chmodSync(qemu, 0o755);
  });

  afterEach(() => {
    catalog.close();
    rmSync(root, { recursive: true, force: true });
  });

  function image(metadata: Record<string, unknown>): string {
    const dir = join(catalog.imagesDir, `img-${Object.keys(metadata).length}`);
    mkdirSync(dir, { recursive: true });
    const disk = join(dir, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
    return catalog.images.register({
      name: 'x',
      builder: 'test',
      files: [disk],
      format: 'qcow2',
      metadata,
    }).id;
  }

  async function qemuArgsFor(opts: { image: string; cpus?: number; memoryMb?: number }) {
    await expect(startInstance({ catalog, qemuBinary: qemu, ...opts })).rejects.toThrow(
      /exited while starting/,
    );
    return readFileSync(argsFile, 'utf8');
  }

  it("boots with the image's recorded size, and --cpus/--memory override it", async () => {
    const id = image({ cpus: 1, memoryMb: 768 });
    expect(await qemuArgsFor({ image: id })).toMatch(/-smp 1 -m 768M/);
    expect(await qemuArgsFor({ image: id, cpus: 2, memoryMb: 2048 })).toMatch(/-smp 2 -m 2048M/);
  });

  it('boots with 2 vCPUs (at most the host has) and 1024 MB when the image records nothing', async () => {
    const id = image({});
    const cpus = defaultVmSize({ metadata: {} }).cpus;
    expect(await qemuArgsFor({ image: id })).toMatch(new RegExp(`-smp ${cpus} -m 1024M`));
  });
});

describe('firmwareFor', () => {
  it('boots a direct-kernel image with qboot when the machine has it, anything else with QEMU’s default', () => {
    const direct = { metadata: { kernel: '/images/x/vmlinuz', initrd: '/images/x/initrd.img' } };
    expect(firmwareFor(direct, '/usr/share/qemu/qboot.rom')).toEqual([
      ['-bios', '/usr/share/qemu/qboot.rom'],
    ]);
    expect(firmwareFor(direct, null)).toEqual([]);
    // An imported image with its own bootloader needs SeaBIOS.
    expect(firmwareFor({ metadata: {} }, '/usr/share/qemu/qboot.rom')).toEqual([]);
  });
});
