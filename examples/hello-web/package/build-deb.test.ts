// Builds the real .deb (tsc + dpkg-deb) into temp dirs and inspects it with dpkg-deb.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const script = resolve(__dirname, 'build-deb.sh');
const version = JSON.parse(readFileSync(resolve(__dirname, '../package.json'), 'utf8')).version;
const epoch = '1700000000';
let work: string;
let deb: string;

function build(outDir: string, env: Record<string, string> = {}) {
  return spawnSync('sh', [script, outDir], {
    encoding: 'utf8',
    env: { ...process.env, SOURCE_DATE_EPOCH: epoch, ...env },
  });
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const dpkgDeb = (...args: string[]) => execFileSync('dpkg-deb', args, { encoding: 'utf8' });

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'hello-web-deb-test-'));
  const first = build(join(work, 'a'));
  expect(first.stderr).toContain('build-deb: wrote');
  expect(first.status).toBe(0);
  deb = first.stdout.trim();
}, 60_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('build-deb.sh', () => {
  it('names the package hello-web_<version>_all.deb and prints its path', () => {
    expect(deb).toBe(join(work, 'a', `hello-web_${version}_all.deb`));
    expect(readdirSync(join(work, 'a'))).toEqual([`hello-web_${version}_all.deb`]);
  });

  it('writes a proper control file', () => {
    const field = (name: string) => dpkgDeb('-f', deb, name).trim();
    expect(field('Package')).toBe('hello-web');
    expect(field('Version')).toBe(version);
    expect(field('Architecture')).toBe('all');
    expect(field('Depends')).toBe('nodejs (>= 18)');
    expect(field('Maintainer')).toMatch(/^.+ <.+@.+>$/);
    expect(field('Description')).toMatch(/^\S.*\n .+/);
    expect(Number(field('Installed-Size'))).toBeGreaterThan(0);
  });

  it('ships code, unit, blank config and doc as root-owned files with the right modes', () => {
    const entries = dpkgDeb('-c', deb)
      .trim()
      .split('\n')
      .map((line) => {
        const [mode, owner, , , , path] = line.split(/\s+/);
        return `${mode} ${owner} ${path}`;
      });
    expect(entries).toEqual([
      'drwxr-xr-x root/root ./',
      'drwxr-xr-x root/root ./etc/',
      'drwxr-xr-x root/root ./etc/hello-web/',
      '-rw-r--r-- root/root ./etc/hello-web/hello-web.env',
      'drwxr-xr-x root/root ./lib/',
      'drwxr-xr-x root/root ./lib/systemd/',
      'drwxr-xr-x root/root ./lib/systemd/system/',
      '-rw-r--r-- root/root ./lib/systemd/system/hello-web.service',
      'drwxr-xr-x root/root ./usr/',
      'drwxr-xr-x root/root ./usr/lib/',
      'drwxr-xr-x root/root ./usr/lib/hello-web/',
      '-rw-r--r-- root/root ./usr/lib/hello-web/app.js',
      '-rw-r--r-- root/root ./usr/lib/hello-web/config.js',
      '-rw-r--r-- root/root ./usr/lib/hello-web/server.js',
      'drwxr-xr-x root/root ./usr/share/',
      'drwxr-xr-x root/root ./usr/share/doc/',
      'drwxr-xr-x root/root ./usr/share/doc/hello-web/',
      '-rw-r--r-- root/root ./usr/share/doc/hello-web/copyright',
    ]);
  });

  it('marks the config a conffile and has executable maintainer scripts that never enable', () => {
    expect(dpkgDeb('-I', deb, 'conffiles')).toBe('/etc/hello-web/hello-web.env\n');
    const info = dpkgDeb('-I', deb);
    for (const script of ['postinst', 'prerm', 'postrm']) {
      expect(info).toMatch(new RegExp(`\\d+ bytes, +\\d+ lines +\\* +${script} +#!/bin/sh`));
      const code = dpkgDeb('-I', deb, script)
        .split('\n')
        .filter((line) => !line.trim().startsWith('#'));
      expect(code.join('\n')).not.toMatch(/\benable\b|deb-systemd-helper/);
    }
    expect(dpkgDeb('-I', deb, 'postinst')).toContain('[ -d /run/systemd/system ]');
  });

  it('extracts to a tree whose config is blank and whose unit is as designed', () => {
    const root = join(work, 'root');
    dpkgDeb('-x', deb, root);
    const config = readFileSync(join(root, 'etc/hello-web/hello-web.env'), 'utf8');
    expect(config.split('\n').filter((l) => !l.startsWith('#'))).toEqual(['HELLO_WEB_PORT=', '']);
    const unit = readFileSync(join(root, 'lib/systemd/system/hello-web.service'), 'utf8');
    for (const line of [
      'ExecStart=/usr/bin/node /usr/lib/hello-web/server.js',
      'DynamicUser=yes',
      'Restart=on-failure',
      'WantedBy=multi-user.target',
    ]) {
      expect(unit.split('\n')).toContain(line);
    }
    expect(unit).toMatch(/^After=.*\bnetwork\.target\b/m);
    expect(unit).not.toMatch(/^(User=|EnvironmentFile=)/m);
    // The shipped code is CommonJS that runs from a directory with no package.json.
    // (A missing config exits 2 with our message; a module-format mix-up would crash first.)
    const run = spawnSync(process.execPath, [join(root, 'usr/lib/hello-web/server.js')], {
      env: { HELLO_WEB_CONFIG: join(root, 'missing.env') },
      encoding: 'utf8',
    });
    expect(run.stderr).toMatch(/^hello-web: error: cannot read config /);
    expect(run.status).toBe(2);
  });

  it('gives a byte-identical .deb when built again from the same inputs', () => {
    const again = build(join(work, 'b'));
    expect(again.status).toBe(0);
    expect(sha256(again.stdout.trim())).toBe(sha256(deb));
  }, 60_000);

  it('rejects a bad VERSION before writing anything', () => {
    const bad = build(join(work, 'c'), { VERSION: '1.0 beta' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('VERSION "1.0 beta" is not a Debian version');
    expect(existsSync(join(work, 'c'))).toBe(false);
  });
});
