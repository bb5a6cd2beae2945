/**
 * RELIABILITY rows that need a real VM (QEMU under TCG, the shared debian-12 base used by
 * reference): SIGINT during boot (1), a second SIGINT during cleanup (3), kill -9 of kiln
 * and the next build's start (4), QEMU killed during boot (5), no sshd answering (6), a
 * provisioner exiting 3 (8), a failing Ansible task (9), a crash between writing the image
 * and recording it (12). Each ends with the same nothing-left snapshot: no QEMU of the
 * home, no work dir or stray, no file in the run's TMPDIR, no journal run, every catalog
 * table unchanged. Row 2 (SIGINT at the SSH wait, provisioning and shutdown) is in
 * qemu-build.test.ts.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import {
  homeWithBase,
  type KilnRun,
  kiln,
  type Leftovers,
  leftovers,
  qemuPidsOf,
  qemuTemplate,
  startKiln,
  whatWasLeft,
} from './helpers/faults.js';

let dir: string;
let home: string;
const runs: KilnRun[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-rel-qemu-'));
  home = (await homeWithBase(join(dir, 'home'))).home;
});

afterAll(async () => {
  for (const r of runs) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  // Whatever a failed test left: gc by the journal, then the directory.
  await kiln(home, ['gc']);
  for (const pid of qemuPidsOf(home)) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function build(args: string[], env?: Record<string, string>): KilnRun {
  const k = startKiln(home, ['build', '--no-cache', ...args], {
    cwd: dir,
    ...(env ? { env } : {}),
  });
  runs.push(k);
  return k;
}

function expectNothingLeft(before: Leftovers, ...tmps: string[]): void {
  expect(whatWasLeft(before, leftovers(home, tmps))).toEqual([]);
}

describe('reliability with a real VM', () => {
  it('row 1: SIGINT while the VM boots (QMP socket up) exits non-zero within 30 s and leaves nothing', async () => {
    const before = leftovers(home);
    const tpl = qemuTemplate(dir, 'sigint-boot', {});
    const k = build([tpl], { KILN_WARM: '0' });
    const qmp = (await k.waitFor(/QEMU pid \d+, QMP (\S+),/))[1]!;
    expect(existsSync(qmp)).toBe(true);
    const sentAt = Date.now();
    k.child.kill('SIGINT');
    const bound = setTimeout(() => k.child.kill('SIGKILL'), 60_000);
    const { code } = await k.exit;
    clearTimeout(bound);
    expect(Date.now() - sentAt).toBeLessThan(30_000);
    expect(code, k.output()).not.toBe(0);
    expect(k.output()).toContain('Cleanly cancelled builds after being interrupted.');
    expectNothingLeft(before, k.tmp);
  });

  it('row 3: a second SIGINT 200 ms into the cleanup exits 130 naming what it left; kiln gc then removes it', async () => {
    const before = leftovers(home);
    const tpl = qemuTemplate(dir, 'second-sigint', {}, [
      { type: 'shell', inline: ['echo kiln-provisioning-started', 'sleep 300'] },
    ]);
    const k = build([tpl]);
    const qemuPid = Number((await k.waitFor(/QEMU pid (\d+)/))[1]);
    await k.waitFor(/kiln-provisioning-started/);
    // A hung QEMU (stopped) makes the cleanup last: kiln's own is otherwise done in < 200 ms.
    process.kill(qemuPid, 'SIGSTOP');
    k.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 200));
    k.child.kill('SIGINT');
    const { code } = await k.exit;
    expect(code, k.output()).toBe(130);
    expect(k.stderr()).toContain('exiting now without finishing cleanup');
    expect(k.stderr()).toMatch(/left behind:\n.*not cleaned up: .*run-vm/);
    expect(k.stderr()).toContain('kiln gc');
    // What the forced exit left is real, and in the journal.
    const left = whatWasLeft(before, leftovers(home, [k.tmp]));
    expect(
      left.some((l) => /QEMU pid|work dir/.test(l)),
      left.join('\n'),
    ).toBe(true);
    const gc = await kiln(home, ['gc']);
    expect(gc.code, gc.output).toBe(0);
    expect(gc.stdout).toMatch(/killed process \d+ \(qemu-system-x86_64/);
    expectNothingLeft(before, k.tmp, gc.tmp);
  });

  it("row 4: kill -9 of kiln mid-build; the next build's start removes the orphaned QEMU and files by the journal", async () => {
    const before = leftovers(home);
    const tpl = qemuTemplate(dir, 'kill-9', {});
    const k = build([tpl]);
    await k.waitFor(/Waiting for SSH/);
    k.child.kill('SIGKILL');
    await k.exit;
    const orphaned = leftovers(home, [k.tmp]);
    expect(orphaned.qemuPids.length).toBe(1);
    expect(orphaned.orphanedRuns.length).toBe(1);
    expect(orphaned.workDirs.length).toBe(1);
    // No half row: the catalog's tables (journal aside) are as before.
    expect(orphaned.catalog).toEqual(before.catalog);
    // The next build — any build — starts by cleaning up after the dead run.
    const next = await kiln(home, ['build', writeNullTemplate()]);
    expect(next.code, next.output).toBe(0);
    expect(next.output).toMatch(
      /Cleaning up after a kiln run that died: killed process \d+ \(qemu-system-x86_64/,
    );
    expect(next.output).toMatch(/Cleaning up after a kiln run that died: removed dir .*\.tmp-img-/);
    expectNothingLeft(before, k.tmp, next.tmp);
  });

  it('row 5: QEMU killed during boot fails the build within 5 s, naming the exit status and the console', async () => {
    const before = leftovers(home);
    const tpl = qemuTemplate(dir, 'qemu-dies', { ssh_timeout: '20m' });
    // A boot, not a restore of a saved state (docs/warm-starts.md): the row is about booting.
    const k = build([tpl], { KILN_WARM: '0' });
    const m = await k.waitFor(/QEMU pid (\d+)/);
    await k.waitFor(/Waiting for SSH/);
    // Let the kernel print something first, so there are console lines to name.
    await new Promise((r) => setTimeout(r, 3000));
    const killedAt = Date.now();
    process.kill(Number(m[1]), 'SIGKILL');
    await k.waitFor(/QEMU exited during the build \(killed by SIGKILL\)/, 5_000);
    const failedAfter = Date.now() - killedAt;
    const { code } = await k.exit;
    expect(code).toBe(1);
    expect(failedAfter).toBeLessThan(5_000);
    expect(k.output()).toMatch(/last console lines:|the console printed nothing/);
    expectNothingLeft(before, k.tmp);
  });

  it('row 6: a guest where no sshd answers fails after ssh_timeout (+10 % at most) saying what it last saw; cleanup runs', async () => {
    const before = leftovers(home);
    // The forward points at a guest port nothing listens on: the guest boots, SSH never answers.
    const tpl = qemuTemplate(dir, 'no-sshd', { ssh_port: 2222, ssh_timeout: '40s' });
    const k = build([tpl]);
    await k.waitFor(/Waiting for SSH to become available/);
    const waitStart = Date.now();
    await k.waitFor(/timed out|timeout/i, 120_000);
    const waited = Date.now() - waitStart;
    const { code } = await k.exit;
    expect(code, k.output()).toBe(1);
    expect(waited).toBeGreaterThanOrEqual(40_000 * 0.95);
    expect(waited).toBeLessThanOrEqual(40_000 * 1.1);
    // It says what it last saw (the guest closing the connection, or no banner).
    expect(k.stderr()).toMatch(/last (saw|seen|status|attempt)|banner|closed|refused/i);
    expectNothingLeft(before, k.tmp);
  });

  it('row 8: a shell provisioner exiting 3 fails naming the provisioner and the code; nothing registered, nothing left', async () => {
    const before = leftovers(home);
    const tpl = qemuTemplate(dir, 'exit-3', {}, [
      { type: 'shell', inline: ['true'] },
      { type: 'shell', inline: ['echo about to fail', 'exit 3'] },
    ]);
    const k = build([tpl]);
    const { code } = await k.exit;
    expect(code, k.output()).toBe(1);
    expect(k.stderr()).toMatch(
      /--> qemu: provisioner 2 \(shell\): Script exited with non-zero exit status: 3\b/,
    );
    expect(k.output()).toMatch(/no artifacts were created/);
    expect(k.output()).not.toMatch(/Image registered/);
    expectNothingLeft(before, k.tmp);
  });

  it('row 9: a failing Ansible task names the task and host; nothing registered; inventory and key files gone', async () => {
    const before = leftovers(home);
    writeFileSync(
      join(dir, 'failing.yml'),
      [
        '- hosts: all',
        '  gather_facts: false',
        '  tasks:',
        '    - name: a task that works',
        '      ansible.builtin.command: "true"',
        '    - name: kiln-test this task fails',
        '      ansible.builtin.command: "false"',
        '',
      ].join('\n'),
    );
    const tpl = qemuTemplate(dir, 'ansible-fails', {}, [
      {
        type: 'ansible',
        playbook_file: join(dir, 'failing.yml'),
        user: 'root',
        use_proxy: false,
        extra_arguments: ['-e', 'ansible_python_interpreter=/usr/bin/python3'],
      },
    ]);
    const k = build([tpl]);
    // Ansible's files are in this run's TMPDIR while it runs: the leftover check covers them.
    const { code } = await k.exit;
    expect(code, k.output()).toBe(1);
    expect(k.stderr()).toMatch(
      /--> qemu: provisioner 1 \(ansible\): .*Ansible task "kiln-test this task fails" failed on host "[^"]+"/,
    );
    expect(k.output()).not.toMatch(/Image registered/);
    expectNothingLeft(before, k.tmp);
  });

  it('row 12: a crash between writing the image and recording it: the next start reconciles, the catalog never points to a missing file', async () => {
    const before = leftovers(home);
    const tpl = qemuTemplate(dir, 'crash-at-register', {}, [
      { type: 'shell', inline: ['echo made-by-crash-test > /etc/kiln-crash-test'] },
    ]);
    const k = build([tpl], { KILN_TEST_CRASH_AT: 'after-image-write' });
    const { signal } = await k.exit;
    expect(signal, k.output()).toBe('SIGKILL');
    expect(k.output()).not.toMatch(/Image registered/);
    // The image's directory is in place, unrecorded: the journal still holds it.
    const crashed = leftovers(home, [k.tmp]);
    expect(crashed.catalog).toEqual(before.catalog);
    expect(crashed.orphanedRuns.length).toBe(1);
    const catalog = Catalog.open(home);
    const dangling = catalog.journal
      .orphaned()[0]!
      .resources.filter((r) => /\/images\/img-[0-9a-f]{17}$/.test(r.ref));
    // The catalog never points to a missing file.
    for (const img of catalog.images.list())
      for (const f of img.files) expect(existsSync(f), f).toBe(true);
    catalog.close();
    expect(dangling.length, JSON.stringify(crashed)).toBe(1);
    // The next start removes the unrecorded image directory (it is the dead run's).
    const next = await kiln(home, ['build', writeNullTemplate()]);
    expect(next.code, next.output).toBe(0);
    expect(next.output).toContain(`removed dir ${dangling[0]!.ref}`);
    expectNothingLeft(before, k.tmp, next.tmp);
  });
});

function writeNullTemplate(): string {
  const file = join(dir, 'null.json');
  writeFileSync(file, JSON.stringify({ builders: [{ type: 'null', communicator: 'none' }] }));
  return file;
}
