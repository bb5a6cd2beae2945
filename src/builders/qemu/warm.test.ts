import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  adoptScript,
  findWarm,
  sameSpec,
  shQuote,
  type WarmSpec,
  warmEnabled,
  writeWarm,
} from './warm.js';

const spec: WarmSpec = {
  qemuBinary: 'qemu-system-x86_64',
  accel: 'tcg',
  machineType: 'pc',
  memoryMb: 1024,
  cpus: 2,
  diskInterface: 'virtio',
  netDevice: 'virtio-net',
  virtualSize: 4 * 2 ** 30,
  kernel: '/k',
  initrd: '/i',
  cmdline: 'root=/dev/vda',
  sshPort: 22,
  qemuArgs: [['-device', 'virtio-rng-pci']],
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-warm-unit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function makeWarm(s: WarmSpec = spec) {
  for (const f of ['layer', 'state', 'key']) writeFileSync(join(dir, f), `${f} bytes`);
  await writeWarm(
    join(dir, 'img', 'warm'),
    { layer: join(dir, 'layer'), state: join(dir, 'state'), privateKeyFile: join(dir, 'key') },
    { spec: s, user: 'root', publicKey: 'ssh-ed25519 AAAAwarm kiln', credentials: {} },
  );
}

describe('warm states', () => {
  it('compares specs by value, whatever the key order', () => {
    const reordered = Object.fromEntries(Object.entries(spec).reverse()) as unknown as WarmSpec;
    expect(sameSpec(spec, reordered)).toBe(true);
    expect(sameSpec(spec, { ...spec, memoryMb: 2048 })).toBe(false);
    expect(sameSpec(spec, { ...spec, qemuArgs: [] })).toBe(false);
    expect(sameSpec(spec, { ...spec, cmdline: undefined })).toBe(false);
  });

  it('finds a state only for the same VM settings, user and layer bytes', async () => {
    mkdirSync(join(dir, 'img'));
    expect(await findWarm(join(dir, 'img'), spec, 'root')).toMatch(/no saved VM state/);
    await makeWarm();
    const found = await findWarm(join(dir, 'img'), spec, 'root');
    expect(typeof found).toBe('object');
    expect(await findWarm(join(dir, 'img'), { ...spec, cpus: 1 }, 'root')).toMatch(
      /other VM settings/,
    );
    expect(await findWarm(join(dir, 'img'), spec, 'admin')).toMatch(/accepts root, not admin/);
    writeFileSync(join(dir, 'img', 'warm', 'layer.qcow2'), 'changed');
    expect(await findWarm(join(dir, 'img'), spec, 'root')).toMatch(
      /does not match its recorded sha256/,
    );
  });

  it('ignores a state marked broken', async () => {
    await makeWarm();
    writeFileSync(join(dir, 'img', 'warm', 'broken'), 'x');
    expect(await findWarm(join(dir, 'img'), spec, 'root')).toMatch(/failed to restore/);
  });

  it('quotes paths for the shell QEMU runs migration commands with', async () => {
    const odd = "/tmp/it's here";
    const r = await execa('sh', ['-c', `printf %s ${shQuote(odd)}`]);
    expect(r.stdout).toBe(odd);
  });

  it('KILN_WARM=0 (or false/no/off) turns warm starts off', () => {
    expect(warmEnabled({})).toBe(true);
    for (const v of ['0', 'false', 'NO', 'off']) expect(warmEnabled({ KILN_WARM: v })).toBe(false);
  });

  it('the adopt script is valid shell and swaps only the saved key', async () => {
    const script = adoptScript('root', 'AAAAwarm', 'ssh-ed25519 AAAAnew kiln', 'ab'.repeat(32));
    await execa('sh', ['-n'], { input: script });
    expect(script).toContain("'ssh-ed25519 AAAAnew kiln'");
    expect(script).toContain('0x5207');
  });
});
