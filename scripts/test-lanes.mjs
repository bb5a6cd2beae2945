#!/usr/bin/env node
// Runs the test suites in two lanes side by side, each lane one file at a time:
//   vm:   the integration-vm project (QEMU guests, the chroot builder, the shared base);
//   main: the unit and integration projects (moto, registries, Packer diffs, fuzzing, CLI).
// A VM lane and a CPU lane fit a 2-core machine; two VM files at once do not. Each lane has a
// TMPDIR of its own, so a test that looks for what kiln left in the temp directory sees only
// its own lane. Lines are prefixed with the lane's name; the exit status is 1 if either lane
// failed. Arguments are passed to both vitest runs (e.g. --reporter=verbose).
//
// Usage: node scripts/test-lanes.mjs [vitest options]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const vitest = join(root, 'node_modules/vitest/vitest.mjs');
const extra = process.argv.slice(2);
const base = tmpdir();
// The shared base image lives where the tests would look without a lane TMPDIR.
const testHome = process.env.KILN_TEST_HOME ?? join(base, 'kiln-test-home');

const lanes = [
  { name: 'vm', projects: ['integration-vm'] },
  { name: 'main', projects: ['unit', 'integration'] },
];

const children = new Set();
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    stopping = true;
    for (const c of children) c.kill(sig);
  });
}

function runLane(lane) {
  const tmp = mkdtempSync(join(base, `kiln-lane-${lane.name}-`));
  const projects = lane.projects.flatMap((p) => ['--project', p]);
  // A file filter may leave one lane nothing to run; that lane then passes.
  const args = [vitest, 'run', ...projects, '--passWithNoTests', ...extra];
  const started = Date.now();
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, TMPDIR: tmp, KILN_TEST_HOME: testHome, FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const prefix = `[${lane.name}] `;
  createInterface({ input: child.stdout }).on('line', (l) =>
    process.stdout.write(prefix + l + '\n'),
  );
  createInterface({ input: child.stderr }).on('line', (l) =>
    process.stderr.write(prefix + l + '\n'),
  );
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      children.delete(child);
      const secs = Math.round((Date.now() - started) / 1000);
      // Keep the lane's temp directory when it failed: it may hold what a test left behind.
      if (code === 0) rmSync(tmp, { recursive: true, force: true });
      else process.stderr.write(`${prefix}kept ${tmp} for inspection\n`);
      process.stdout.write(`${prefix}lane finished in ${secs} s: ${signal ?? `exit ${code}`}\n`);
      resolve(code === 0);
    });
  });
}

const results = await Promise.all(lanes.map(runLane));
process.exitCode = stopping || results.includes(false) ? 1 : 0;
