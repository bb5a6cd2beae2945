/**
 * The qemu builder's installer path for real, under QEMU (TCG): an installer-like ISO the
 * test makes (helpers/installer-iso.ts) is booted as a CD-ROM onto an empty disk; kiln
 * waits boot_wait, types boot_command into isolinux's `boot:` prompt through QMP (with a
 * backspace and the HTTP server's address in it), the installer fetches its answer file
 * and the root file system from kiln's HTTP server, writes them to the disk, installs
 * extlinux and reboots; kiln waits for SSH across that reboot, provisions (reading a file
 * from the cd_content CD), and registers a lineage-root image — which a second build
 * then boots from its own bootloader. Interrupts: test/qemu-installer-interrupts.test.ts.
 */
import { readdirSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { type InstallerSuite, makeInstallerSuite } from './helpers/installer-build.js';
import { artifactId, readImageFiles } from './qemu-helpers.js';

let suite: InstallerSuite;

beforeAll(async () => {
  suite = await makeInstallerSuite('kiln-installer-test-');
});

afterAll(() => {
  if (suite) rmSync(suite.dir, { recursive: true, force: true });
});

describe('qemu builder: installing from an ISO', () => {
  it('types the boot command, serves the answer file, waits for SSH across the reboot, and registers an image that boots', async () => {
    const tpl = suite.template(
      'install',
      // A second CD (cd_content, labelled) that the installed system reads while provisioning.
      suite.installer({ cd_content: { 'kiln/note.txt': 'from-the-cd' }, cd_label: 'KILNCD' }),
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
    const k = suite.kilnBuild([tpl]);
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

    const catalog = Catalog.openReadOnly(suite.home);
    const image = catalog.images.get(id)!;
    catalog.close();
    expect(image.parentId ?? undefined).toBeUndefined();
    expect(image.name).toBe('kiln-test-installed');
    expect(image.metadata).toMatchObject({
      sourceIso: suite.media.iso,
      isoChecksum: `sha256:${suite.media.isoSha256}`,
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
    const again = suite.kilnBuild([tpl]);
    const a = await again.exit;
    expect(a.code, a.output).toBe(0);
    expect(artifactId(a.stdout)).toBe(id);
    expect(a.output).not.toMatch(/Starting VM/);
    rmSync(again.tmp, { recursive: true, force: true });

    // The image boots on its own (SeaBIOS → extlinux on its disk) for a build on top of it.
    const childTpl = suite.template('child', { source_image: id, vm_name: 'kiln-test-child' }, [
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
    const c = suite.kilnBuild([childTpl]);
    const child = await c.exit;
    expect(child.code, child.output).toBe(0);
    expect(child.output).toMatch(/child-ok/);
    const childId = artifactId(child.stdout)!;
    const cat2 = Catalog.openReadOnly(suite.home);
    expect(cat2.images.get(childId)!.parentId).toBe(id);
    cat2.close();
    expect(suite.qemuOfHome()).toEqual([]);
    rmSync(k.tmp, { recursive: true, force: true });
    rmSync(c.tmp, { recursive: true, force: true });
  });
});
