/**
 * RELIABILITY #4: a kiln process that is killed with SIGKILL mid-run leaves a file and a
 * child process behind; the run journal lets `orphanedRuns()` find them and `kiln gc`
 * remove both. Runs the compiled library and CLI from dist/ (npm run build first).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { isSameProcessAlive } from '../src/catalog/process-info.js';
import { kiln } from './helpers/kiln.js';

const REPO = resolve(import.meta.dirname, '..');
const DIST = join(REPO, 'dist/catalog/index.js');

const CHILD = `
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
const [, , distUrl, home, file] = process.argv;
const { Catalog } = await import(distUrl);
const catalog = Catalog.open(home);
catalog.journal.begin('run-crash', process.pid, 'kiln build (crash test)');
catalog.journal.record({ runId: 'run-crash', kind: 'file', ref: file });
writeFileSync(file, 'overlay');
// Detached: it outlives its parent the way a QEMU child of a killed kiln does.
const vm = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
vm.unref();
catalog.journal.record({ runId: 'run-crash', kind: 'process', ref: String(vm.pid) });
process.stdout.write('ready ' + vm.pid + '\\n');
setInterval(() => {}, 1000);
`;

let root: string;
let leftoverPid: number | undefined;

beforeAll(() => {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run \`npm run build\` first`);
  root = mkdtempSync(join(tmpdir(), 'kiln-journal-'));
});

afterAll(() => {
  // Should gc have failed, do not leave the sleeper behind.
  if (leftoverPid && isSameProcessAlive(leftoverPid)) process.kill(leftoverPid, 'SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

describe('run journal after SIGKILL', () => {
  it('finds the orphaned run, and kiln gc removes its process and file', async () => {
    const home = join(root, 'home');
    const file = join(root, 'overlay.qcow2');
    const script = join(root, 'child.mjs');
    writeFileSync(script, CHILD);
    const child = spawn(process.execPath, [script, pathToFileURL(DIST).href, home, file], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((done) => child.on('exit', done));
    const vmPid = await new Promise<number>((done, fail) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        const m = /ready (\d+)/.exec(out);
        if (m) done(Number(m[1]));
      });
      child.on('exit', (code) => fail(new Error(`child exited early (${code})`)));
    });
    leftoverPid = vmPid;

    const live = Catalog.open(home);
    try {
      expect(live.journal.orphaned()).toEqual([]);
    } finally {
      live.close();
    }

    child.kill('SIGKILL');
    await exited;
    expect(isSameProcessAlive(vmPid)).toBe(true);
    expect(existsSync(file)).toBe(true);

    const catalog = Catalog.open(home);
    try {
      const orphans = catalog.journal.orphaned();
      expect(orphans.map((o) => o.runId)).toEqual(['run-crash']);
      expect(orphans[0]!.resources.map((r) => `${r.kind}:${r.ref}`).sort()).toEqual([
        `file:${file}`,
        `process:${vmPid}`,
      ]);
    } finally {
      catalog.close();
    }

    const dry = await kiln(['gc', '--dry-run'], { home });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`would kill process ${vmPid}`);
    expect(isSameProcessAlive(vmPid)).toBe(true);

    const gc = await kiln(['gc'], { home });
    expect(gc.code, gc.stderr).toBe(0);
    expect(gc.stdout).toContain(`killed process ${vmPid} (sleep 600)`);
    expect(gc.stdout).toContain(`removed file ${file}`);
    expect(gc.stdout).toContain('run run-crash');
    expect(isSameProcessAlive(vmPid)).toBe(false);
    expect(existsSync(file)).toBe(false);

    const after = Catalog.open(home);
    try {
      expect(after.journal.orphaned()).toEqual([]);
    } finally {
      after.close();
    }
  });
});
