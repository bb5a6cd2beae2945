/**
 * RELIABILITY rows 10, 14, 15 and 16 through the compiled CLI: a user's mistake is
 * rejected with where, what and what to do — before any VM starts. "No VM" is proven, not
 * inferred: `qemu-system-x86_64` on PATH is a spy that logs every VM start before
 * handing over to the real one, and the nothing-left snapshot (catalog dump included)
 * must not change.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { homeWithBase, kiln, leftovers, ROOT, whatWasLeft } from './helpers/faults.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-rel-input-'));
const spyDir = join(dir, 'bin');
const spyLog = join(dir, 'qemu-starts.log');
let home: string;

beforeAll(async () => {
  home = (await homeWithBase(join(dir, 'home'))).home;
  mkdirSync(spyDir);
  const real = ['/usr/bin/qemu-system-x86_64', '/usr/local/bin/qemu-system-x86_64'].find((p) =>
    existsSync(p),
  );
  const spy = join(spyDir, 'qemu-system-x86_64');
  // Logs a start only when QEMU is asked to run a machine (not for -version or -accel help).
  writeFileSync(
    spy,
    `#!/bin/sh\ncase "$*" in *-drive*|*-qmp*|*-kernel*) echo "$$ $*" >> ${spyLog} ;; esac\nexec ${real} "$@"\n`,
  );
  chmodSync(spy, 0o755);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function build(file: string, extra: string[] = []) {
  return kiln(home, ['build', ...extra, file], {
    cwd: dir,
    env: { PATH: `${spyDir}:${process.env.PATH}` },
  });
}

function qemuStarts(): string[] {
  try {
    return readFileSync(spyLog, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

describe('bad input is rejected before any VM', () => {
  it('row 10: an uploaded file that does not exist is rejected before any VM starts', async () => {
    const before = leftovers(home);
    const file = write(
      'upload.json',
      JSON.stringify(
        {
          builders: [{ type: 'qemu', source_image: 'debian-12', ssh_username: 'root' }],
          provisioners: [
            { type: 'shell', inline: ['true'] },
            { type: 'file', source: 'files/nope.conf', destination: '/etc/nope.conf' },
          ],
        },
        null,
        2,
      ),
    );
    const r = await build(file);
    expect(r.code, r.output).toBe(1);
    expect(r.stderr).toMatch(
      /upload\.json:\d+:\d+: provisioners\[1\]\.source: .*files\/nope\.conf.*no such file/,
    );
    expect(r.output).not.toMatch(/Starting VM/);
    expect(qemuStarts()).toEqual([]);
    expect(whatWasLeft(before, leftovers(home, [r.tmp]))).toEqual([]);
  });

  it('row 14: a syntax error names file:line:column, shows the line and a caret, exits 1, starts no VM', async () => {
    const before = leftovers(home);
    const file = write(
      'syntax.json',
      '{\n  "builders": [\n    {\n      "type": "qemu",\n      "source_image": "debian-12"\n      "ssh_username": "root"\n    }\n  ]\n}\n',
    );
    const r = await build(file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('syntax.json:6:7: invalid JSON');
    const lines = r.stderr.split('\n');
    const at = lines.findIndex((l) => /^\s*6 \| {7}"ssh_username": "root"$/.test(l));
    expect(at, r.stderr).toBeGreaterThan(0);
    // The caret sits under column 7 of the quoted line.
    const caret = lines[at + 1]!;
    expect(caret.indexOf('^') - caret.indexOf('|')).toBe(
      lines[at]!.indexOf('"') - lines[at]!.indexOf('|'),
    );
    expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    expect(qemuStarts()).toEqual([]);
    expect(whatWasLeft(before, leftovers(home, [r.tmp]))).toEqual([]);
  });

  it('row 15: an unknown key, a wrong type and a missing variable each name the place, what was expected, and the fix', async () => {
    const before = leftovers(home);
    const unknown = await build(
      write(
        'unknown.json',
        '{\n  "builders": [\n    { "type": "qemu", "source_image": "debian-12", "ssh_usernme": "root" }\n  ]\n}\n',
      ),
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(
      /unknown\.json:3:\d+: builders\[0\]\.ssh_usernme: unknown key "ssh_usernme"; did you mean "ssh_username"\?/,
    );

    const wrong = await build(
      write(
        'wrong.json',
        '{\n  "builders": [\n    { "type": "qemu", "source_image": "debian-12", "ssh_username": "root", "memory": "lots" }\n  ]\n}\n',
      ),
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(
      /wrong\.json:3:\d+: builders\[0\]\.memory: expected a number, found string/,
    );

    const missing = await build(
      write(
        'missing.json',
        '{\n  "variables": { "source": null },\n  "builders": [\n    { "type": "qemu", "source_image": "{{user `source`}}", "ssh_username": "root" }\n  ]\n}\n',
      ),
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/missing\.json:2:\d+: variable "source" is required/);
    expect(missing.stderr).toMatch(/-var source=/);

    for (const r of [unknown, wrong, missing]) {
      expect(r.stderr).not.toMatch(/internal error|\n\s+at .+:\d+:\d+/);
      expect(whatWasLeft(before, leftovers(home, [r.tmp]))).toEqual([]);
    }
    expect(qemuStarts()).toEqual([]);
  });

  it('row 16: port 70000 in an environment is rejected before any step, build or VM', async () => {
    const before = leftovers(home);
    const sample = join(ROOT, 'examples/hello-web');
    const p = join(dir, 'pipeline');
    mkdirSync(p);
    for (const e of ['packer', 'environments', 'package', 'service'])
      symlinkSync(join(sample, e), join(p, e));
    const config = JSON.parse(readFileSync(join(sample, 'kiln.pipeline.json'), 'utf8'));
    // A marker step first: it must not run either.
    config.unit_tests = `touch ${join(dir, 'unit-tests-ran')}`;
    config.environments = {
      dev: { var_file: 'environments/dev.json' },
      broken: { vars: { http_port: '70000' } },
    };
    writeFileSync(join(p, 'kiln.pipeline.json'), JSON.stringify(config, null, 2));
    const r = await kiln(home, ['pipeline'], {
      cwd: p,
      env: { PATH: `${spyDir}:${process.env.PATH}` },
    });
    expect(r.code, r.output).toBe(1);
    expect(r.stderr).toMatch(
      /kiln\.pipeline\.json: smoke_test\.port for environment broken is "70000": not a port number/,
    );
    expect(r.stderr).toMatch(/hint: /);
    expect(() => readFileSync(join(dir, 'unit-tests-ran'))).toThrow();
    expect(qemuStarts()).toEqual([]);
    expect(whatWasLeft(before, leftovers(home, [r.tmp]))).toEqual([]);
  });
});
