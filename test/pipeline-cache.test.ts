/**
 * The pipeline's action cache through `kiln pipeline`, without a VM: a pipeline whose build
 * and release use the `file` builder, and whose unit_tests, integration_tests and package
 * commands declare their inputs and log each run to a file outside them. A step whose
 * inputs hash to a run that passed is skipped and shown as such (table, --output json,
 * -machine-readable); a changed input file, command or named variable reruns that step
 * only; a failing run is never cached; the package's artifact is verified, restored when
 * lost and the step rerun when the file changed; --no-cache runs everything. The cases run
 * in order and build on each other.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { kiln } from './helpers/kiln.js';

let work: string;
let app: string;
let home: string;

interface Row {
  type: string;
  step: string;
  environment?: string;
  image?: string;
  outcome: string;
  message?: string;
}

const UNIT = 'echo unit >> ../runs.log; cat src/lib.txt';

function pipelineFile(unit = UNIT): void {
  const config = {
    unit_tests: { command: unit, inputs: ['src'] },
    integration_tests: {
      command: ['echo integration >> ../runs.log', '[ "$(cat ../flag)" = pass ]'],
      inputs: ['it', 'src/lib.txt'],
      env: ['APP_MODE'],
    },
    package: {
      command:
        'echo package >> ../runs.log; mkdir -p dist; cat src/lib.txt src/lib.txt > dist/app.deb',
      artifact: 'dist/app.deb',
      inputs: ['src'],
    },
    build: { template: 'build.json' },
    release: { template: 'release.json' },
    environments: { dev: { vars: { env: 'dev' } } },
  };
  writeFileSync(join(app, 'kiln.pipeline.json'), `${JSON.stringify(config, null, 2)}\n`);
}

async function pipeline(args: string[] = [], env: Record<string, string | undefined> = {}) {
  rmSync(join(work, 'runs.log'), { force: true });
  const r = await kiln(['pipeline', ...args], {
    cwd: app,
    home,
    env: { APP_MODE: undefined, ...env },
  });
  let ran: string[] = [];
  try {
    ran = readFileSync(join(work, 'runs.log'), 'utf8').trim().split('\n');
  } catch {}
  return { ...r, ran };
}

async function jsonRun(args: string[] = [], env: Record<string, string | undefined> = {}) {
  const r = await pipeline(['--output', 'json', ...args], env);
  const objs = r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Row);
  const rows = objs.filter((o) => o.type === 'step');
  const outcome = (step: string) => {
    const row = rows.find((x) => x.step === step);
    if (!row) throw new Error(`no ${step} row in ${r.stdout}\n${r.stderr.slice(-2000)}`);
    return row.outcome;
  };
  return { ...r, rows, outcome };
}

const outcomes = (r: Awaited<ReturnType<typeof jsonRun>>) =>
  ['unit_tests', 'integration_tests', 'package'].map(r.outcome);

const actionCount = () => {
  using c = Catalog.openReadOnly(home);
  return c.actions.list().length;
};

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'kiln-pipeline-cache-'));
  app = join(work, 'app');
  home = join(work, 'home');
  mkdirSync(join(app, 'src'), { recursive: true });
  mkdirSync(join(app, 'it'));
  writeFileSync(join(app, 'src/lib.txt'), 'v1\n');
  writeFileSync(join(app, 'src/util.txt'), 'util\n');
  writeFileSync(join(app, 'it/check.txt'), 'check 1\n');
  writeFileSync(join(work, 'flag'), 'pass');
  writeFileSync(
    join(app, 'build.json'),
    JSON.stringify({
      builders: [
        { type: 'file', source: join(app, 'dist/app.deb'), target: join(work, 'out/build.img') },
      ],
    }),
  );
  writeFileSync(
    join(app, 'release.json'),
    JSON.stringify({
      variables: { source_image: '', env: '' },
      builders: [
        {
          type: 'file',
          content: 'from {{user `source_image`}} for {{user `env`}}',
          target: join(work, 'out/release-{{user `env`}}.img'),
        },
      ],
    }),
  );
  pipelineFile();
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('kiln pipeline: the action cache', () => {
  it('a first run runs every command step and records each pass', async () => {
    const r = await jsonRun();
    expect(r.code, r.stderr).toBe(0);
    expect(outcomes(r)).toEqual(['passed', 'passed', 'passed']);
    expect(r.outcome('build')).toBe('built');
    expect(r.outcome('release')).toBe('built');
    expect(r.ran).toEqual(['unit', 'integration', 'package']);
    expect(actionCount()).toBe(3);
  });

  it('a run with nothing changed skips them, and says so in the table, JSON and machine-readable output', async () => {
    const j = await jsonRun();
    expect(j.code, j.stderr).toBe(0);
    expect(outcomes(j)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(j.ran).toEqual([]);
    const pkg = j.rows.find((x) => x.step === 'package')!;
    expect(pkg.message).toMatch(
      /^inputs unchanged \(\d+ files, key [0-9a-f]{12}\) since the run that passed at .*; dist\/app\.deb verified$/,
    );
    expect(pkg.image).toBe(join(app, 'dist/app.deb'));
    // The build still finds the package's artifact.
    expect(j.outcome('build')).toBe('built');
    expect(j.stderr).toMatch(/unit_tests: skipped: inputs unchanged/);

    const table = await pipeline();
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^unit_tests\s+-\s+-\s+skipped \(inputs unchanged/m);
    expect(table.stdout).toMatch(/^package\s+-\s+\S+app\.deb\s+skipped \(inputs unchanged/m);

    const machine = await pipeline(['-machine-readable']);
    expect(machine.code, machine.stderr).toBe(0);
    const records = machine.stdout.trim().split('\n');
    expect(records.find((l) => l.includes(',unit_tests,pipeline-step,'))).toMatch(
      /^\d+,unit_tests,pipeline-step,,skipped,,\d+,inputs unchanged/,
    );
    expect(records.find((l) => l.includes(',release,pipeline-step,'))).toMatch(
      /^\d+,release,pipeline-step,dev,built,img-[0-9a-f]{17},\d+,$/,
    );
    expect(records.at(-1)).toMatch(/^\d+,,pipeline-summary,ok$/);
    expect([table.ran, machine.ran]).toEqual([[], []]);
  });

  it('a changed input file reruns the steps that declare it, and only those', async () => {
    writeFileSync(join(app, 'it/check.txt'), 'check 2\n');
    let r = await jsonRun();
    expect(outcomes(r)).toEqual(['skipped', 'passed', 'skipped']);
    writeFileSync(join(app, 'src/util.txt'), 'util 2\n');
    r = await jsonRun();
    expect(outcomes(r)).toEqual(['passed', 'skipped', 'passed']);
    expect(r.ran).toEqual(['unit', 'package']);
  });

  it('a changed command reruns its step', async () => {
    pipelineFile(`${UNIT} # v2`);
    const r = await jsonRun();
    expect(outcomes(r)).toEqual(['passed', 'skipped', 'skipped']);
    expect((await jsonRun()).ran).toEqual([]);
  });

  it('the value of a variable the step names is part of its key', async () => {
    let r = await jsonRun([], { APP_MODE: 'ci' });
    expect(outcomes(r)).toEqual(['skipped', 'passed', 'skipped']);
    r = await jsonRun([], { APP_MODE: 'ci' });
    expect(outcomes(r)).toEqual(['skipped', 'skipped', 'skipped']);
    // Back to unset: that pass is remembered too.
    expect((await jsonRun()).ran).toEqual([]);
  });

  it('a failing run is never cached', async () => {
    writeFileSync(join(work, 'flag'), 'fail');
    writeFileSync(join(app, 'it/check.txt'), 'check 3\n');
    const before = actionCount();
    const failed = await jsonRun();
    expect(failed.code).toBe(1);
    expect(failed.outcome('integration_tests')).toBe('failed');
    expect(actionCount()).toBe(before);
    // Same inputs again: it runs (and fails) again rather than being skipped.
    expect((await jsonRun()).outcome('integration_tests')).toBe('failed');
    writeFileSync(join(work, 'flag'), 'pass');
    const passed = await jsonRun();
    expect(passed.code, passed.stderr).toBe(0);
    expect(passed.outcome('integration_tests')).toBe('passed');
    expect(actionCount()).toBe(before + 1);
  });

  it('a skipped package step leaves its artifact: restored when it is gone, rerun when it changed', async () => {
    const deb = join(app, 'dist/app.deb');
    const made = readFileSync(deb, 'utf8');
    rmSync(join(app, 'dist'), { recursive: true });
    let r = await jsonRun();
    expect(r.code, r.stderr).toBe(0);
    expect(r.outcome('package')).toBe('skipped');
    expect(r.rows.find((x) => x.step === 'package')!.message).toMatch(
      /dist\/app\.deb restored from kiln’s copy$/,
    );
    expect(readFileSync(deb, 'utf8')).toBe(made);
    expect(r.outcome('build')).toBe('built');

    writeFileSync(deb, 'tampered');
    r = await jsonRun();
    expect(r.outcome('package')).toBe('passed');
    expect(r.ran).toEqual(['package']);
    expect(r.stderr).toMatch(
      /dist\/app\.deb differs from the file that run made: running the step again/,
    );
    expect(readFileSync(deb, 'utf8')).toBe(made);
  });

  it('--no-cache runs every step (and a later run skips them again)', async () => {
    const r = await jsonRun(['--no-cache']);
    expect(r.code, r.stderr).toBe(0);
    expect(outcomes(r)).toEqual(['passed', 'passed', 'passed']);
    expect(r.ran).toEqual(['unit', 'integration', 'package']);
    expect(outcomes(await jsonRun())).toEqual(['skipped', 'skipped', 'skipped']);
  });
});
