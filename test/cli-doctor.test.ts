/**
 * `kiln doctor` (issue 16, item 4) and what a broken install looks like to every other
 * command: tools with their versions, the accelerator, the catalog and its native module,
 * disk and the kiln home, each failure with its fix; exit 1 when a check fails.
 */
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KILN, ROOT, run, kiln as runKiln } from './helpers/kiln.js';
import { type SmallCatalog, smallCatalog } from './helpers/small-catalog.js';

interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

const TOOLS = [
  'qemu-system-x86_64',
  'qemu-img',
  'ansible-playbook',
  'mmdebstrap',
  'mkfs.ext4',
  'ssh',
  'ssh-keygen',
];

let c: SmallCatalog;
let scratch: string;

beforeEach(() => {
  c = smallCatalog();
  scratch = mkdtempSync(join(tmpdir(), 'kiln-doctor-'));
});
afterEach(() => {
  rmSync(c.root, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

/** A PATH of one directory holding these tools (symlinks to the real ones) and `sh`. */
function pathWith(tools: string[]): string {
  const bin = join(scratch, 'bin');
  mkdirSync(bin);
  for (const tool of ['sh', ...tools]) {
    const real = ['/usr/bin', '/usr/sbin', '/bin', '/sbin']
      .map((d) => join(d, tool))
      .find((p) => existsSync(p));
    if (!real) throw new Error(`${tool} is not installed here`);
    symlinkSync(real, join(bin, tool));
  }
  return bin;
}

const checksOf = (stdout: string) =>
  (JSON.parse(stdout) as { ok: boolean; checks: Check[] }).checks;

describe('kiln doctor', () => {
  it('shows each tool version, the accelerator, the SQLite module and the catalog', async () => {
    const r = await runKiln(['doctor', '--output', 'json'], { home: c.home });
    const { ok, checks } = JSON.parse(r.stdout) as { ok: boolean; checks: Check[] };
    const byName = new Map(checks.map((k) => [k.name, k]));
    expect(byName.get('qemu-system-x86_64')).toMatchObject({ status: 'ok' });
    expect(byName.get('qemu-system-x86_64')!.detail).toMatch(/^QEMU emulator version \d/);
    expect(byName.get('ansible-playbook')!.detail).toMatch(/ansible-playbook \[core 2\./);
    expect(byName.get('ssh')!.detail).toMatch(/^OpenSSH_/);
    expect(byName.get('sqlite module')!.detail).toMatch(/SQLite 3\.\d+/);
    expect(byName.get('catalog')).toMatchObject({
      status: 'ok',
      detail: '3 image(s), 0 instance(s)',
    });
    expect(byName.get('accelerator')!.detail).toMatch(/^(KVM|TCG)/);
    expect(byName.get('kiln home')).toMatchObject({ status: 'ok', detail: `${c.home} (mode 700)` });
    expect(byName.get('disk')!.detail).toMatch(/GiB free/);
    // The exit status follows the checks: 1 exactly when one failed.
    expect(ok).toBe(checks.every((k) => k.status !== 'fail'));
    expect(r.code).toBe(ok ? 0 : 1);
  });

  it('fails on a missing required tool, naming the package that fixes it; a missing optional tool warns', async () => {
    const path = pathWith(TOOLS.filter((t) => t !== 'qemu-img' && t !== 'mmdebstrap'));
    const r = await runKiln(['doctor'], { home: c.home, env: { PATH: path } });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^FAIL\s+qemu-img\s+not found on PATH \(every local build and `kiln run` needs it\)$/m,
    );
    expect(r.stdout).toContain('      fix: sudo apt-get install -y qemu-utils');
    expect(r.stdout).toMatch(/^warn\s+mmdebstrap\s+not found on PATH \(`kiln base` needs it\)$/m);
    expect(r.stdout).toContain('      fix: sudo apt-get install -y mmdebstrap');
    expect(r.stdout).toMatch(/^ok\s+qemu-system-x86_64\s+QEMU emulator version/m);
    expect(r.stderr).toMatch(/check\(s\) failed/);

    const json = await runKiln(['doctor', '--output', 'json'], {
      home: c.home,
      env: { PATH: path },
    });
    expect(json.code).toBe(1);
    expect(checksOf(json.stdout).find((k) => k.name === 'qemu-img')).toEqual({
      name: 'qemu-img',
      status: 'fail',
      detail: 'not found on PATH (every local build and `kiln run` needs it)',
      fix: 'sudo apt-get install -y qemu-utils',
    });
  });

  it('warns about a kiln home others can read, with the chmod that fixes it', async () => {
    chmodSync(c.home, 0o755);
    const r = await runKiln(['doctor', '--output', 'json'], { home: c.home });
    expect(checksOf(r.stdout).find((k) => k.name === 'kiln home')).toEqual({
      name: 'kiln home',
      status: 'warn',
      detail: `${c.home} is mode 755: others can read images, keys and logs`,
      fix: `chmod 700 ${c.home}`,
    });
  });
});

describe('a broken install', () => {
  /** A copy of kiln whose node_modules lacks better-sqlite3's binding (as while `npm ci` runs), or the whole package. */
  function brokenCopy(what: 'binding' | 'package'): string {
    const copy = join(scratch, `kiln-${what}`);
    mkdirSync(join(copy, 'node_modules'), { recursive: true });
    cpSync(join(ROOT, 'dist'), join(copy, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'bin'), join(copy, 'bin'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(copy, 'package.json'));
    const modules = join(ROOT, 'node_modules');
    for (const name of readdirSync(modules)) {
      if (name === 'better-sqlite3') continue;
      symlinkSync(join(modules, name), join(copy, 'node_modules', name));
    }
    if (what === 'binding') {
      const pkg = join(copy, 'node_modules', 'better-sqlite3');
      mkdirSync(pkg);
      cpSync(join(modules, 'better-sqlite3', 'package.json'), join(pkg, 'package.json'));
      cpSync(join(modules, 'better-sqlite3', 'lib'), join(pkg, 'lib'), { recursive: true });
    }
    return join(copy, 'bin', 'kiln.js');
  }

  for (const what of ['binding', 'package'] as const) {
    it(`says so and points to kiln doctor instead of calling it a bug (missing ${what})`, async () => {
      const bin = brokenCopy(what);
      expect(bin).not.toBe(KILN);
      const ls = await run(process.execPath, [bin, 'images', 'ls'], { home: c.home });
      expect(ls.code).toBe(1);
      expect(ls.stderr).toContain('the SQLite module (better-sqlite3) does not load');
      expect(ls.stderr).toContain('not a bug in kiln');
      expect(ls.stderr).toContain('kiln doctor');
      expect(ls.stderr).not.toContain('This is a bug in kiln');
      expect(ls.stderr.split('\n').length).toBeLessThan(5);

      const doctor = await run(process.execPath, [bin, 'doctor'], { home: c.home });
      expect(doctor.code).toBe(1);
      expect(doctor.stdout).toMatch(
        /^FAIL\s+sqlite module\s+the SQLite module \(better-sqlite3\) does not load/m,
      );
      expect(doctor.stdout).toContain('npm rebuild better-sqlite3');
      expect(doctor.stdout).toMatch(/^ok\s+qemu-img/m);
    });
  }
});
