#!/usr/bin/env node
// Runs the test suites in two lanes side by side, each lane one file at a time:
//   vm:   the integration-vm project (QEMU guests, the chroot builder, the shared base);
//   main: the checks (with --checks: lint, typecheck, layer check), then the unit and
//         integration projects (moto, registries, Packer diffs, fuzzing, CLI), then the
//         command given with --after-main, if any.
// A VM lane and a CPU lane fit a 2-core machine; two VM files at once do not. Both lanes keep
// the usual TMPDIR: a longer one pushes Ansible's SSH control socket (TMPDIR/kiln-test-tmp-…/
// kiln-ansible-…/cp/<hash>.<suffix>) past the 108 bytes of a Unix socket path. Lines are
// prefixed with the lane's name. A failed check stops both lanes at
// once; otherwise both run to the end, and the exit status is 1 if either failed.
// Other arguments are passed to both vitest runs (e.g. --reporter=verbose, or test files).
// dist/ must be built first (npm test does): nothing here rebuilds it while tests run.
//
// Usage: node scripts/test-lanes.mjs [--checks] [--after-main 'COMMAND'] [vitest options]
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const vitest = join(root, 'node_modules/vitest/vitest.mjs');
const argv = process.argv.slice(2);
const checks = argv.includes('--checks');
const afterAt = argv.indexOf('--after-main');
const afterMain = afterAt >= 0 ? argv[afterAt + 1] : undefined;
if (afterAt >= 0 && !afterMain) {
  process.stderr.write('test-lanes: --after-main needs a command, e.g. --after-main "echo done"\n');
  process.exit(1);
}
const extra = argv.filter(
  (a, i) => a !== '--checks' && (afterAt < 0 || (i !== afterAt && i !== afterAt + 1)),
);
const bin = (name) => join(root, 'node_modules/.bin', name);
const vitestRun = (...projects) => [
  process.execPath,
  vitest,
  'run',
  ...projects.flatMap((p) => ['--project', p]),
  // A file filter may leave a lane nothing to run; that lane then passes.
  '--passWithNoTests',
  ...extra,
];

const lanes = [
  { name: 'vm', steps: [{ argv: vitestRun('integration-vm') }] },
  {
    name: 'main',
    steps: [
      ...(checks
        ? [
            { argv: [bin('biome'), 'check', '.'], check: true },
            { argv: [bin('tsc'), '-p', 'tsconfig.test.json'], check: true },
            { argv: [process.execPath, join(root, 'scripts/check-layers.mjs')], check: true },
          ]
        : []),
      { argv: vitestRun('unit', 'integration') },
      ...(afterMain ? [{ argv: ['sh', '-c', afterMain], afterMain: true }] : []),
    ],
  },
];

const children = new Set();
let stopping = false;
function stopAll(sig) {
  stopping = true;
  // To the step's whole process group, as a Ctrl-C on a terminal would reach it.
  for (const c of children)
    try {
      process.kill(-c.pid, sig);
    } catch {}
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => stopAll(sig));

function runStep(lane, step) {
  const prefix = `[${lane.name}] `;
  const [file, ...args] = step.argv;
  process.stdout.write(`${prefix}$ ${step.argv.map((a) => a.replace(`${root}/`, '')).join(' ')}\n`);
  const child = spawn(file, args, {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: a Ctrl-C reaches each step once, through stopAll, not twice.
    detached: true,
  });
  children.add(child);
  createInterface({ input: child.stdout }).on('line', (l) =>
    process.stdout.write(prefix + l + '\n'),
  );
  createInterface({ input: child.stderr }).on('line', (l) =>
    process.stderr.write(prefix + l + '\n'),
  );
  return new Promise((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`${prefix}${file}: ${err.message}\n`);
    });
    child.on('close', (code) => {
      children.delete(child);
      resolve(code === 0);
    });
  });
}

async function runLane(lane) {
  const started = Date.now();
  let ok = true;
  for (const step of lane.steps) {
    if (stopping) break;
    // The command after the tests runs only when they passed.
    if (step.afterMain && !ok) break;
    const stepOk = await runStep(lane, step);
    ok &&= stepOk;
    if (!stepOk && step.check) {
      process.stderr.write(`[${lane.name}] a check failed: stopping both lanes\n`);
      stopAll('SIGINT');
    }
  }
  const secs = Math.round((Date.now() - started) / 1000);
  process.stdout.write(`[${lane.name}] lane ${ok ? 'passed' : 'FAILED'} in ${secs} s\n`);
  return ok;
}

const results = await Promise.all(lanes.map(runLane));
process.exitCode = stopping || results.includes(false) ? 1 : 0;
