import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { unsafeToRemove } from './fs-util.js';
import { collectGarbage } from './gc.js';
import { Catalog } from './index.js';
import { isSameProcessAlive, processCmdline } from './process-info.js';

let root: string;
let catalog: Catalog;
const children: ChildProcess[] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kiln-journal-'));
  catalog = Catalog.open(join(root, 'home'));
});

afterEach(() => {
  catalog.close();
  for (const c of children.splice(0)) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(String(r.stdout).trim());
}

function sleeper(): ChildProcess {
  const c = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

describe('orphanedRuns', () => {
  it('finds runs whose process is gone, not live ones', () => {
    catalog.journal.begin('live', process.pid, 'this test');
    catalog.journal.begin('dead', deadPid(), 'a finished process');
    catalog.journal.record({ runId: 'dead', kind: 'file', ref: join(root, 'f') });
    const orphans = catalog.journal.orphaned();
    expect(orphans.map((o) => o.runId)).toEqual(['dead']);
    expect(orphans[0]!.resources).toEqual([
      { runId: 'dead', kind: 'file', ref: join(root, 'f'), metadata: {} },
    ]);
  });

  it('is not fooled by a reused pid (the start time differs)', () => {
    catalog.journal.begin('reused', process.pid, 'pid now belongs to another process');
    expect(catalog.journal.orphaned()).toEqual([]);
    catalog.database.prepare(`UPDATE runs SET start_time = '1' WHERE id = 'reused'`).run();
    expect(catalog.journal.orphaned().map((o) => o.runId)).toEqual(['reused']);
  });

  it('needs beginRun before recordResource, and forgets on endRun', () => {
    expect(() => catalog.journal.record({ runId: 'nope', kind: 'file', ref: '/tmp/x' })).toThrow(
      /begin first/,
    );
    catalog.journal.begin('r', deadPid(), 'x');
    catalog.journal.record({ runId: 'r', kind: 'file', ref: '/tmp/a' });
    catalog.journal.forget('r', '/tmp/a');
    expect(catalog.journal.orphaned()[0]!.resources).toEqual([]);
    catalog.journal.end('r');
    expect(catalog.journal.orphaned()).toEqual([]);
  });
});

describe('collectGarbage', () => {
  it('kills the recorded process, removes files and dirs, then forgets the run', async () => {
    const proc = sleeper();
    const file = join(root, 'overlay.qcow2');
    const dir = join(root, 'tmpdir');
    catalog.journal.begin('crashed', deadPid(), 'kiln build (crashed)');
    catalog.journal.record({ runId: 'crashed', kind: 'file', ref: file });
    writeFileSync(file, 'x');
    catalog.journal.record({ runId: 'crashed', kind: 'dir', ref: dir });
    mkdirSync(join(dir, 'sub'), { recursive: true });
    catalog.journal.record({ runId: 'crashed', kind: 'process', ref: String(proc.pid) });
    expect(
      catalog.journal.orphaned()[0]!.resources.find((r) => r.kind === 'process')!.metadata,
    ).toMatchObject({
      cmdline: 'sleep 300',
    });

    const dry = await collectGarbage(catalog, { dryRun: true });
    expect(dry.actions.map((a) => a.outcome).sort()).toEqual([
      'would-kill',
      'would-remove',
      'would-remove',
    ]);
    expect(isSameProcessAlive(proc.pid!)).toBe(true);
    expect(existsSync(file)).toBe(true);

    const exit = new Promise((resolve) => proc.once('exit', resolve));
    const report = await collectGarbage(catalog);
    expect(report.actions.map((a) => `${a.kind}:${a.outcome}`)).toEqual([
      'process:killed',
      'file:removed',
      'dir:removed',
    ]);
    expect(report.runs).toEqual([
      {
        runId: 'crashed',
        pid: expect.any(Number),
        description: 'kiln build (crashed)',
        cleared: true,
      },
    ]);
    await exit;
    expect(existsSync(file)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(catalog.journal.orphaned()).toEqual([]);
  });

  it('does not kill a pid that now runs another command', async () => {
    const proc = sleeper();
    catalog.journal.begin('old', deadPid(), 'x');
    catalog.journal.record({
      runId: 'old',
      kind: 'process',
      ref: String(proc.pid),
      metadata: { cmdline: 'qemu-system-x86_64 -name old' },
    });
    const report = await collectGarbage(catalog);
    expect(report.actions[0]).toMatchObject({ outcome: 'skipped' });
    expect(processCmdline(proc.pid!)).toBe('sleep 300');
    expect(isSameProcessAlive(proc.pid!)).toBe(true);
  });

  it('leaves resources of other kinds (AWS) and keeps their run; refuses unsafe paths', async () => {
    catalog.journal.begin('aws', deadPid(), 'x');
    catalog.journal.record({ runId: 'aws', kind: 'instance', ref: 'i-0123456789abcdef0' });
    catalog.journal.record({ runId: 'aws', kind: 'dir', ref: '/' });
    const report = await collectGarbage(catalog);
    expect(report.actions.map((a) => a.outcome).sort()).toEqual(['left', 'skipped']);
    expect(report.runs[0]!.cleared).toBe(false);
    expect(catalog.journal.orphaned()[0]!.resources.map((r) => r.kind)).toEqual(['instance']);
    expect(unsafeToRemove('/tmp')).toBeDefined();
    expect(unsafeToRemove('relative/x')).toBeDefined();
    expect(unsafeToRemove(catalog.home, [catalog.home])).toBeDefined();
    expect(
      unsafeToRemove(join(catalog.imagesDir, 'x'), [catalog.home, catalog.imagesDir]),
    ).toBeUndefined();
  });

  it('never deletes what a registered image uses, even if the run died before forgetting it', async () => {
    catalog.journal.begin('built', deadPid(), 'kiln build (died right after registering)');
    const ownDir = join(catalog.imagesDir, 'img-new');
    const outDir = join(root, 'output-qemu');
    for (const d of [ownDir, outDir])
      catalog.journal.record({ runId: 'built', kind: 'dir', ref: d });
    mkdirSync(ownDir);
    mkdirSync(outDir);
    const disk = join(ownDir, 'disk.qcow2');
    const kernel = join(outDir, 'vmlinuz');
    for (const f of [disk, kernel]) {
      catalog.journal.record({ runId: 'built', kind: 'file', ref: f });
      writeFileSync(f, 'image');
    }
    const image = catalog.images.register({ name: 'new', builder: 'qemu', files: [disk, kernel] });
    // Registration took over the image's files and its own directory from the run ...
    expect(catalog.journal.orphaned()[0]!.resources.map((r) => r.ref)).toEqual([outDir]);
    // ... and gc keeps a journalled directory that still holds an image file.
    const report = await collectGarbage(catalog);
    expect(report.actions).toEqual([
      {
        runId: 'built',
        kind: 'dir',
        ref: outDir,
        outcome: 'skipped',
        detail: `kept: in use by ${image.id}`,
      },
    ]);
    expect(existsSync(disk) && existsSync(kernel)).toBe(true);
    expect(catalog.journal.orphaned()).toEqual([]);
  });

  it('removes stray image entries', async () => {
    const stray = join(catalog.imagesDir, 'img-half-written');
    mkdirSync(stray);
    writeFileSync(join(stray, 'disk.qcow2'), 'partial');
    expect((await collectGarbage(catalog, { dryRun: true })).actions).toEqual([
      { kind: 'stray', ref: stray, outcome: 'would-remove' },
    ]);
    expect((await collectGarbage(catalog)).actions).toEqual([
      { kind: 'stray', ref: stray, outcome: 'removed' },
    ]);
    expect(existsSync(stray)).toBe(false);
  });
});
