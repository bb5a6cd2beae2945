/**
 * What the installer-path test files share: the installer-like media made from the
 * debian-12 test base (helpers/installer-iso.ts), templates that install from it, `kiln
 * build` with a TMPDIR of its own in the suite's kiln home, and the "nothing left" probes
 * (QEMU processes of the home, a listening port, images, the ISO cache).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../../src/catalog/index.js';
import { ensureBase, SHARED_HOME } from '../qemu-helpers.js';
import { type InstallerMedia, makeInstallerMedia } from './installer-iso.js';
import { type Running, startKiln } from './kiln.js';

/** A suite's scratch directory, kiln home and media, with helpers bound to them. */
export interface InstallerSuite {
  dir: string;
  home: string;
  media: InstallerMedia;
  /** Writes a one-builder qemu template (TCG, root over SSH) and returns its path. */
  template(name: string, builder: Record<string, unknown>, provisioners?: unknown[]): string;
  /** The builder keys that install from the media (boot_command with a backspace, answer file over HTTP). */
  installer(extra?: Record<string, unknown>): Record<string, unknown>;
  /** `kiln build -machine-readable …` in the suite's home, with a TMPDIR of its own. */
  kilnBuild(args: string[]): Running & { tmp: string };
  /** Pids of the QEMU processes started for the suite's home. */
  qemuOfHome(): number[];
  /** The ids of the images in the suite's home. */
  imageIds(): string[];
  /** The files in the home's ISO download cache. */
  isoCache(): string[];
}

/** Makes the media from the debian-12 base (made once in the shared test home) in a fresh directory. */
export async function makeInstallerSuite(prefix: string): Promise<InstallerSuite> {
  await ensureBase();
  const catalog = Catalog.openReadOnly(SHARED_HOME);
  const base = catalog.images.resolve('debian-12');
  catalog.close();
  const md = base.metadata as Record<string, string>;
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const home = join(dir, 'home');
  const media = await makeInstallerMedia(dir, {
    disk: base.files[0]!,
    kernel: md.kernel!,
    initrd: md.initrd!,
    cmdline: md.cmdline!,
  });
  return {
    dir,
    home,
    media,
    template(name, builder, provisioners = []) {
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
    },
    installer(extra = {}) {
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
    },
    kilnBuild(args) {
      return startKiln(['build', '-machine-readable', ...args], {
        home,
        cwd: dir,
        ownTmp: true,
        env: { NO_COLOR: '1' },
      }) as Running & { tmp: string };
    },
    qemuOfHome() {
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
    },
    imageIds() {
      const c = Catalog.open(home);
      try {
        return c.images
          .list()
          .map((i) => i.id)
          .sort();
      } finally {
        c.close();
      }
    },
    isoCache() {
      const cache = join(home, 'cache', 'iso');
      return existsSync(cache) ? readdirSync(cache).sort() : [];
    },
  };
}

/** Whether something accepts connections on 127.0.0.1:port. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
