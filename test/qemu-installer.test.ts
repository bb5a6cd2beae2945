/**
 * The qemu builder's installer path for real, under QEMU (TCG): an installer-like ISO the
 * test makes (helpers/installer-iso.ts) is booted as a CD-ROM onto an empty disk; kiln
 * waits boot_wait, types boot_command into isolinux's `boot:` prompt through QMP (with a
 * backspace and the HTTP server's address in it), the installer fetches its answer file
 * and the root file system from kiln's HTTP server, writes them to the disk, installs
 * extlinux and reboots; kiln waits for SSH across that reboot, provisions (reading a file
 * from the cd_content CD), and registers a lineage-root image — which a second build
 * then boots from its own bootloader.
 * Interrupts during the ISO download, boot_wait and typing leave no partial download, no
 * QEMU, no HTTP server and no temporary CD image.
 */
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { type InstallerMedia, makeInstallerMedia } from './helpers/installer-iso.js';
import { type Running, startKiln } from './helpers/kiln.js';
import { artifactId, ensureBase, readImageFiles, SHARED_HOME } from './qemu-helpers.js';

let dir: string;
let home: string;
let media: InstallerMedia;

beforeAll(async () => {
  await ensureBase();
  const catalog = Catalog.openReadOnly(SHARED_HOME);
  const base = catalog.images.resolve('debian-12');
  catalog.close();
  const md = base.metadata as Record<string, string>;
  dir = mkdtempSync(join(tmpdir(), 'kiln-installer-test-'));
  home = join(dir, 'home');
  media = await makeInstallerMedia(dir, {
    disk: base.files[0]!,
    kernel: md.kernel!,
    initrd: md.initrd!,
    cmdline: md.cmdline!,
  });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function template(name: string, builder: Record<string, unknown>, provisioners: unknown[] = []) {
  const file = join(dir, `${name}.json`);
  const tpl = {
    builders: [
      {
        type: 'qemu',
        accelerator: 'tcg',
        memory: 1024,
        cpus: 2,
        ssh_username: 'root',
        ...builder,
      },
    ],
    provisioners,
  };
  writeFileSync(file, JSON.stringify(tpl, null, 2));
  return file;
}

function installer(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iso_url: media.iso,
    iso_checksum: `sha256:${media.isoSha256}`,
    vm_name: 'kiln-test-installed',
    disk_size: '2G',
    http_directory: media.httpDir,
    boot_wait: '2s',
    boot_key_interval: '10ms',
    // `installx<bs>`: the prompt must see the backspace, or isolinux finds no such label.
    boot_command: [
      '<wait>installx<bs><spacebar>',
      'url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/answer.sh name={{ .Name }}<enter>',
    ],
    ssh_timeout: '8m',
    ...extra,
  };
}

function kilnBuild(args: string[]): Running & { tmp: string } {
  return startKiln(['build', '-machine-readable', ...args], {
    home,
    cwd: dir,
    ownTmp: true,
    env: { NO_COLOR: '1' },
  }) as Running & { tmp: string };
}

/** QEMU processes started for this test's kiln home. */
function qemuOfHome(): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.startsWith('qemu-system') && cmd.includes(home)) pids.push(Number(d));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** The ids of the images in this test's kiln home. */
function imageIds(): string[] {
  const catalog = Catalog.open(home);
  try {
    return catalog.images
      .list()
      .map((i) => i.id)
      .sort();
  } finally {
    catalog.close();
  }
}

/** Whether something accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('qemu builder: installing from an ISO', () => {
  it('types the boot command, serves the answer file, waits for SSH across the reboot, and registers an image that boots', async () => {
    const tpl = template(
      'install',
      // A second CD (cd_content, labelled) that the installed system reads while provisioning.
      installer({ cd_content: { 'kiln/note.txt': 'from-the-cd' }, cd_label: 'KILNCD' }),
      [
        {
          type: 'shell',
          inline: [
            'set -e',
            'echo installed-and-provisioned > /etc/kiln-test-file',
            'modprobe -a ata_piix sr_mod iso9660',
            'mkdir -p /mnt/cd',
            'for i in $(seq 100); do for d in /dev/sr*; do [ "$(blkid -o value -s LABEL "$d" 2>/dev/null)" = KILNCD ] && cd=$d; done; [ -n "$cd" ] && break; sleep 0.1; done',
            'mount -o ro "$cd" /mnt/cd',
            'cp /mnt/cd/kiln/note.txt /etc/kiln-cd',
            'umount /mnt/cd',
          ],
        },
      ],
    );
    const k = kilnBuild([tpl]);
    const r = await k.exit;
    expect(r.code, r.output).toBe(0);
    // The guest asked kiln's server for the answer file and the root file system, then rebooted.
    expect(r.output).toMatch(/http: GET \/answer\.sh → 200/);
    expect(r.output).toMatch(/http: GET \/rootfs\.tar → 200/);
    expect(r.output).toMatch(/the guest rebooted/);
    expect(r.output).toMatch(/CD made: /);
    expect(readdirSync(k.tmp)).toEqual([]);
    const id = artifactId(r.stdout)!;
    expect(id).toMatch(/^img-/);

    const catalog = Catalog.openReadOnly(home);
    const image = catalog.images.get(id)!;
    catalog.close();
    expect(image.parentId ?? undefined).toBeUndefined();
    expect(image.name).toBe('kiln-test-installed');
    expect(image.metadata).toMatchObject({
      sourceIso: media.iso,
      isoChecksum: `sha256:${media.isoSha256}`,
    });
    expect((image.metadata as Record<string, unknown>).kernel).toBeUndefined();
    const files = readImageFiles(image.files[0]!, [
      '/etc/kiln-installed',
      '/etc/kiln-test-file',
      '/etc/kiln-cd',
      '/root/.ssh/authorized_keys',
    ]);
    // The command line isolinux booted the installer with: the typed keys, rendered.
    expect(files['/etc/kiln-installed']).toMatch(
      /rdinit=\/installer .*url=http:\/\/10\.0\.2\.2:\d+\/answer\.sh name=kiln-test-installed/,
    );
    expect(files['/etc/kiln-test-file']).toBe('installed-and-provisioned\n');
    expect(files['/etc/kiln-cd']).toBe('from-the-cd');
    expect(files['/root/.ssh/authorized_keys']).toBeUndefined();

    // The same inputs: the image is reused, nothing boots.
    const again = kilnBuild([tpl]);
    const a = await again.exit;
    expect(a.code, a.output).toBe(0);
    expect(artifactId(a.stdout)).toBe(id);
    expect(a.output).not.toMatch(/Starting VM/);
    rmSync(again.tmp, { recursive: true, force: true });

    // The image boots on its own (SeaBIOS → extlinux on its disk) for a build on top of it.
    const childTpl = template('child', { source_image: id, vm_name: 'kiln-test-child' }, [
      {
        type: 'shell',
        inline: [
          'set -e',
          'test "$(cat /etc/kiln-test-file)" = installed-and-provisioned',
          'grep -q url= /etc/kiln-installed',
          'echo child-ok',
        ],
      },
    ]);
    const c = kilnBuild([childTpl]);
    const child = await c.exit;
    expect(child.code, child.output).toBe(0);
    expect(child.output).toMatch(/child-ok/);
    const childId = artifactId(child.stdout)!;
    const cat2 = Catalog.openReadOnly(home);
    expect(cat2.images.get(childId)!.parentId).toBe(id);
    cat2.close();
    expect(qemuOfHome()).toEqual([]);
    rmSync(k.tmp, { recursive: true, force: true });
    rmSync(c.tmp, { recursive: true, force: true });
  });

  it.each([
    ['boot_wait', { boot_wait: '10m' }, /Waiting 10m for boot/],
    ['typing', { boot_wait: '1s', boot_key_interval: '3s' }, /Typing the boot command/],
  ])(
    'SIGINT during %s leaves no QEMU, no HTTP server and no temporary CD',
    async (_what, extra, marker) => {
      const tpl = template(
        `interrupt-${_what}`,
        installer({ ...extra, cd_content: { 'meta-data': 'x' } }),
      );
      const imagesBefore = imageIds();
      const k = kilnBuild([tpl]);
      const port = Number((await k.waitFor(/Starting HTTP server on port (\d+)/))[1]);
      await k.waitFor(/CD made: /);
      await k.waitFor(marker);
      expect(await listening(port)).toBe(true);
      expect(qemuOfHome()).toHaveLength(1);
      k.child.kill('SIGINT');
      const r = await k.exit;
      expect(r.code, r.output).not.toBe(0);
      expect(qemuOfHome()).toEqual([]);
      expect(await listening(port)).toBe(false);
      // The key dir, the QMP/console run dir and the CD's dir were all in kiln's own TMPDIR.
      expect(readdirSync(k.tmp)).toEqual([]);
      expect(imageIds()).toEqual(imagesBefore);
      const catalog = Catalog.openReadOnly(home);
      try {
        expect(catalog.journal.orphaned()).toEqual([]);
        expect(readdirSync(catalog.imagesDir).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
      } finally {
        catalog.close();
      }
      rmSync(k.tmp, { recursive: true, force: true });
    },
  );

  it('SIGINT during the ISO download leaves no partial file in the cache and starts no VM', async () => {
    const size = statSync(media.iso).size;
    // Sends the first megabyte of the ISO, then stalls: the download is cut mid-way.
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(size) });
      res.write(readFileSync(media.iso).subarray(0, 1 << 20));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const tpl = template(
        'interrupt-download',
        installer({ iso_url: `http://127.0.0.1:${port}/installer.iso` }),
      );
      const cache = join(home, 'cache', 'iso');
      const parts = () => (existsSync(cache) ? readdirSync(cache) : []);
      const k = kilnBuild([tpl]);
      const end = Date.now() + 120_000;
      while (!parts().some((f) => f.endsWith('.part'))) {
        if (Date.now() > end || k.child.exitCode !== null) throw new Error(k.output());
        await new Promise((r) => setTimeout(r, 50));
      }
      k.child.kill('SIGINT');
      const r = await k.exit;
      expect(r.code, r.output).not.toBe(0);
      expect(r.output).not.toMatch(/Starting VM/);
      expect(parts()).toEqual([]);
      expect(qemuOfHome()).toEqual([]);
      expect(readdirSync(k.tmp)).toEqual([]);
      rmSync(k.tmp, { recursive: true, force: true });
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
