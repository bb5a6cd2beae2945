/**
 * Bad input at scale: seeded mutations of the template corpus and of the sample's
 * pipeline file go through the real loaders (in-process, for speed) and a few hundred
 * through the CLI. Every case must end in success or one UserError that says where —
 * never another exception, a hang, or a file written. Set KILN_FUZZ_SEED / KILN_FUZZ_CASES
 * to replay or widen a run; the seed and the case number of a failure are in its message.
 */
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { formatError, UserError } from '../src/lib/errors.js';
import { loadPipeline } from '../src/pipeline/pipeline-file.js';
import { registry } from '../src/plugins.js';
import { loadTemplate } from '../src/template/index.js';
import { kiln } from './helpers/kiln.js';
import { mutate, prng } from './helpers/mutate.js';

const ROOT = resolve(import.meta.dirname, '..');
const CORPUS = join(ROOT, 'test/corpus/templates');
const SEED = Number(process.env.KILN_FUZZ_SEED ?? 20261125);
const CASES = Number(process.env.KILN_FUZZ_CASES ?? 10_000);
const PIPELINE_CASES = Math.max(1000, Math.floor(CASES / 5));
const CLI_CASES = 200;
/** A case slower than this counts as a hang (generous: the machine is shared). */
const CASE_LIMIT_MS = 5_000;

const scratch = mkdtempSync(join(tmpdir(), 'kiln-fuzz-'));
const home = join(scratch, 'home');
const cwd = join(scratch, 'cwd');
const work = join(scratch, 'work');
let startCwd: string;
let catalog: Catalog;

beforeAll(() => {
  mkdirSync(cwd);
  mkdirSync(work);
  // A catalog with the debian-12 name free, read as `kiln validate` reads it.
  Catalog.open(home).close();
  catalog = Catalog.openReadOnly(home);
  startCwd = process.cwd();
  process.chdir(cwd);
});

afterAll(() => {
  catalog.close();
  process.chdir(startCwd);
  rmSync(scratch, { recursive: true, force: true });
});

/** Seeds beside the corpus: the builders and provisioners the corpus (null-builder templates) does not reach. */
const EXTRA_SEEDS: Record<string, unknown> = {
  'qemu-provisioners.json': {
    variables: { port: '8080', secret: 'x', source: 'img-00000000000000000' },
    'sensitive-variables': ['secret'],
    builders: [
      {
        type: 'qemu',
        source_image: '{{user `source`}}',
        ssh_username: 'root',
        ssh_timeout: '5m',
        memory: 1024,
        cpus: 2,
        disk_size: '4G',
        vm_name: 'fuzz',
      },
    ],
    provisioners: [
      {
        type: 'shell',
        inline: ['echo {{user `port`}}'],
        environment_vars: ['S={{user `secret`}}'],
      },
      { type: 'file', content: 'x', destination: '/tmp/x' },
      {
        type: 'ansible',
        playbook_file: 'play.yml',
        extra_arguments: ['--extra-vars', 'p={{user `port`}}'],
      },
      { type: 'shell-local', inline: ['true'], only: ['qemu'] },
    ],
    'post-processors': [[{ type: 'manifest' }, { type: 'checksum', checksum_types: ['sha256'] }]],
  },
  'amazon.json': {
    builders: [
      {
        type: 'amazon-ebs',
        region: 'us-east-1',
        source_ami: 'ami-12345678',
        instance_type: 't3.micro',
        ssh_username: 'admin',
        ami_name: 'fuzz-{{timestamp}}',
        tags: { Name: 'fuzz' },
      },
    ],
  },
};

function corpus(): Array<{ name: string; text: string }> {
  return [
    ...readdirSync(CORPUS)
      .filter((f) => f.endsWith('.json') && f !== 'index.json')
      .sort()
      .map((name) => ({ name, text: readFileSync(join(CORPUS, name), 'utf8') })),
    ...Object.entries(EXTRA_SEEDS).map(([name, t]) => ({ name, text: JSON.stringify(t, null, 2) })),
  ];
}

function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

/** Why an outcome breaks the rule (undefined when it is fine). */
function verdict(err: unknown): string | undefined {
  if (err === undefined) return undefined;
  if (!(err instanceof UserError)) {
    const e = err as Error;
    return `not a UserError: ${e?.constructor?.name} ${e?.message}\n${e?.stack ?? ''}`;
  }
  const text = formatError(err);
  const located = err.where !== undefined || /:\d+:\d+/.test(text);
  if (!located) return `no location: ${text}`;
  return undefined;
}

interface Failure {
  caseNo: number;
  source: string;
  problem: string;
  input: string;
}

describe('fuzz', () => {
  it(`templates: ${CASES} seeded mutations through loadTemplate end in success or one located UserError`, async () => {
    const r = prng(SEED);
    const files = corpus();
    const homeBefore = listing(home);
    const failures: Failure[] = [];
    const outcomes = { ok: 0, userError: 0 };
    const codes = new Map<string, number>();
    const file = join(work, 'template.json');
    for (let i = 0; i < CASES; i++) {
      const src = files[i % files.length]!;
      const text = mutate(r, src.text);
      writeFileSync(file, text);
      const start = performance.now();
      let err: unknown;
      try {
        await loadTemplate(file, { registry, catalog, env: { HOME: '/root' } });
      } catch (e) {
        err = e;
      }
      const ms = performance.now() - start;
      const problem =
        verdict(err) ??
        (ms > CASE_LIMIT_MS ? `took ${Math.round(ms)} ms` : undefined) ??
        (readdirSync(cwd).length > 0
          ? `wrote ${readdirSync(cwd).join(', ')} in the cwd`
          : undefined) ??
        (listing(work).length !== 1
          ? `wrote ${listing(work).join(', ')} beside the template`
          : undefined);
      if (problem) {
        failures.push({ caseNo: i, source: src.name, problem, input: text.slice(0, 2000) });
        rmSync(cwd, { recursive: true, force: true });
        mkdirSync(cwd);
        for (const f of readdirSync(work))
          if (f !== 'template.json') rmSync(join(work, f), { recursive: true, force: true });
      }
      if (err === undefined) outcomes.ok++;
      else {
        outcomes.userError++;
        const code = (err as { code?: string }).code ?? '?';
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }
    const homeAfter = listing(home);
    console.info(
      `fuzz templates: seed ${SEED}, ${CASES} cases, ${outcomes.ok} valid, ${outcomes.userError} rejected, ${failures.length} failures; errors by code: ${[...codes].map(([c, n]) => `${c} ${n}`).join(', ')}`,
    );
    expect(failures.slice(0, 5), JSON.stringify(failures.slice(0, 5), null, 2)).toEqual([]);
    expect(homeAfter.filter((f) => !/^catalog\.db(-wal|-shm)?$/.test(f))).toEqual(
      homeBefore.filter((f) => !/^catalog\.db(-wal|-shm)?$/.test(f)),
    );
    // The mutations must reach past the syntax check, or this proves little.
    expect(outcomes.ok).toBeGreaterThan(CASES / 50);
  });

  it(`pipeline: ${PIPELINE_CASES} seeded mutations of examples/hello-web/kiln.pipeline.json end in success or one located UserError`, () => {
    const sample = join(ROOT, 'examples/hello-web');
    const dir = join(scratch, 'pipeline');
    mkdirSync(dir);
    // The paths the pipeline names resolve as in the sample, so valid mutations load.
    for (const entry of ['packer', 'environments', 'package', 'service'])
      symlinkSync(join(sample, entry), join(dir, entry));
    mkdirSync(join(dir, 'dist'));
    const text0 = readFileSync(join(sample, 'kiln.pipeline.json'), 'utf8');
    const file = join(dir, 'kiln.pipeline.json');
    const r = prng(SEED + 1);
    const failures: Failure[] = [];
    let ok = 0;
    for (let i = 0; i < PIPELINE_CASES; i++) {
      const text = mutate(r, text0);
      writeFileSync(file, text);
      const start = performance.now();
      let err: unknown;
      try {
        loadPipeline(file);
        ok++;
      } catch (e) {
        err = e;
      }
      const ms = performance.now() - start;
      const problem =
        verdict(err) ??
        (ms > CASE_LIMIT_MS ? `took ${Math.round(ms)} ms` : undefined) ??
        (readdirSync(cwd).length > 0
          ? `wrote ${readdirSync(cwd).join(', ')} in the cwd`
          : undefined);
      if (problem)
        failures.push({
          caseNo: i,
          source: 'kiln.pipeline.json',
          problem,
          input: text.slice(0, 2000),
        });
    }
    console.info(
      `fuzz pipeline: seed ${SEED + 1}, ${PIPELINE_CASES} cases, ${ok} valid, ${failures.length} failures`,
    );
    expect(failures.slice(0, 5), JSON.stringify(failures.slice(0, 5), null, 2)).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual([
      'dist',
      'environments',
      'kiln.pipeline.json',
      'package',
      'packer',
      'service',
    ]);
    expect(ok).toBeGreaterThan(PIPELINE_CASES / 20);
  });

  it(`CLI: ${CLI_CASES} mutated templates through kiln validate exit 0 or 1 with one message, no stack trace, no write`, async () => {
    const r = prng(SEED + 2);
    const files = corpus();
    const dir = join(scratch, 'cli');
    mkdirSync(dir);
    const failures: Failure[] = [];
    const runOne = (i: number): Promise<void> => {
      const caseDir = join(dir, String(i));
      mkdirSync(caseDir);
      const src = files[i % files.length]!;
      const text = mutate(r, src.text);
      writeFileSync(join(caseDir, 'template.json'), text);
      return kiln(['validate', 'template.json'], {
        cwd: caseDir,
        home,
        env: { NO_COLOR: '1', KILN_DEBUG: '' },
        timeoutMs: 30_000,
        killSignal: 'SIGKILL',
      }).then(({ code, signal, output: out }) => {
        const left = readdirSync(caseDir).filter((f) => f !== 'template.json');
        const problem =
          signal !== null
            ? `killed by ${signal} (hang)`
            : code !== 0 && code !== 1
              ? `exit ${code}`
              : /internal error|\n\s+at .+:\d+:\d+\)?\n/.test(out)
                ? 'internal error or stack trace'
                : code === 1 && !/:\d+:\d+|error/i.test(out)
                  ? 'failed without saying where'
                  : left.length > 0
                    ? `wrote ${left.join(', ')}`
                    : undefined;
        if (problem)
          failures.push({
            caseNo: i,
            source: src.name,
            problem,
            input: `${text.slice(0, 1000)}\n--- output:\n${out.slice(0, 2000)}`,
          });
        rmSync(caseDir, { recursive: true, force: true });
      });
    };
    // Two at a time: the machine has two cores shared with others.
    let next = 0;
    const worker = async () => {
      while (next < CLI_CASES) await runOne(next++);
    };
    await Promise.all([worker(), worker()]);
    console.info(`fuzz CLI: seed ${SEED + 2}, ${CLI_CASES} cases, ${failures.length} failures`);
    expect(failures.slice(0, 5), JSON.stringify(failures.slice(0, 5), null, 2)).toEqual([]);
  });
});
