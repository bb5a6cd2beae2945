/**
 * Side by side with the real Packer 1.6.6 on HCL2 templates: every case of
 * test/corpus/hcl2/index.json (a `.pkr.hcl` file or a folder, with its -var/-var-file/-only/
 * -except flags and environment) goes through `packer validate` and the compiled `kiln
 * validate` (run `npm run build` first). They must agree on accept/reject, unless the case
 * records a deliberate difference (`kiln` with a note, listed in docs/packer-differences.md);
 * a rejected template must be named with its `file:line:column` and no stack trace.
 * `kiln inspect` must print what `packer inspect` prints, and the cases marked `build` must
 * give the same `build -machine-readable` lines (timestamps, durations and temporary script
 * paths blanked) and the same files.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KILN, ROOT, run } from './helpers/kiln.js';

const CORPUS = join(ROOT, 'test/corpus/hcl2');

interface Case {
  file: string;
  expect: 'valid' | 'invalid';
  kiln?: 'valid' | 'invalid';
  args?: string[];
  env?: Record<string, string>;
  where?: string;
  match?: string;
  note?: string;
  build?: boolean;
  /** Flags for `build` alone (e.g. `-parallel-builds=1`, so that two builds print in order). */
  buildArgs?: string[];
  files?: string[];
  /** Values Packer prints and kiln redacts (sensitive variables): blanked in Packer's output. */
  redact?: string[];
}

const { cases } = JSON.parse(readFileSync(join(CORPUS, 'index.json'), 'utf8')) as { cases: Case[] };
const scratch = mkdtempSync(join(tmpdir(), 'kiln-hcl2-diff-'));
const differences: string[] = [];

/** Runs packer or kiln asynchronously (a synchronous child would starve vitest's worker RPC). */
async function runTool(
  who: 'packer' | 'kiln',
  argv: string[],
  cwd: string,
  extraEnv: Record<string, string> = {},
) {
  const env = {
    CHECKPOINT_DISABLE: '1',
    PACKER_CACHE_DIR: join(cwd, '.packer_cache'),
    KILN_HOME: join(cwd, '.kiln'),
    NO_COLOR: '1',
    ...extraEnv,
  };
  const r =
    who === 'packer'
      ? await run('packer', argv, { cwd, env, timeoutMs: 120_000 })
      : await run(process.execPath, [KILN, ...argv], { cwd, env, timeoutMs: 120_000 });
  return {
    code: r.code ?? -1,
    stdout: r.stdout,
    stderr: r.stderr,
    out: `${r.stdout}\n${r.stderr}`,
  };
}

const DURATION =
  /\d+ (?:years?|weeks?|days?|hours?|minutes?|seconds?|milliseconds?|microseconds?)(?: \d+ (?:years?|weeks?|days?|hours?|minutes?|seconds?|milliseconds?|microseconds?))?/g;

/** The machine-readable lines with what differs between any two runs blanked. */
function normalized(stdout: string, dir: string): string[] {
  return sortArtifacts(
    stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) =>
        l
          .replace(/^\d+,/, '')
          .replaceAll(dir, '<DIR>')
          .replace(/\/tmp\/packer-shell\d+/g, '<SCRIPT>')
          .replace(DURATION, '<DURATION>'),
      ),
  );
}

/**
 * Packer 1.6.6 lists the artifacts of several builds in Go's map order (random), kiln in the
 * order the builds finished: compare the per-build blocks after "Builds finished" by name.
 */
function sortArtifacts(lines: string[]): string[] {
  const at = lines.findIndex((l) => l.includes('Builds finished. The artifacts'));
  if (at < 0) return lines;
  const blocks: string[][] = [];
  for (const line of lines.slice(at + 1)) {
    if (/^[^,]+,artifact-count,/.test(line) || blocks.length === 0) blocks.push([]);
    blocks.at(-1)!.push(line);
  }
  blocks.sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
  return [...lines.slice(0, at + 1), ...blocks.flat()];
}

function readOut(dir: string, file: string): string {
  const p = join(dir, file);
  if (!existsSync(p)) return '<missing>';
  return readFileSync(p, 'utf8')
    .replace(/"build_time": \d+/g, '"build_time": <T>')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<UUID>');
}

beforeAll(() => {
  expect(existsSync(join(ROOT, 'dist/cli/main.js')), 'run `npm run build` first').toBe(true);
  const v = spawnSync('packer', ['version'], { encoding: 'utf8' });
  expect(v.stdout, 'packer 1.6.6 must be installed').toMatch(/Packer v1\.6\.6/);
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  if (differences.length > 0)
    console.log(
      `kiln and packer differ on ${differences.length} case(s):\n  ${differences.join('\n  ')}`,
    );
});

const label = (c: Case) =>
  `${c.file} ${(c.args ?? []).join(' ')}${c.env ? ` ${Object.keys(c.env).join(',')}` : ''}`;

describe('kiln validate agrees with packer validate (HCL2)', () => {
  it(`has a corpus of at least 60 cases (${cases.length}: ${cases.filter((c) => c.expect === 'invalid').length} rejected, ${cases.filter((c) => c.build).length} built)`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  for (const c of cases) {
    it(`${label(c)} → ${c.expect}`, async () => {
      const argv = ['validate', ...(c.args ?? []), c.file];
      const packer = await runTool('packer', argv, CORPUS, c.env);
      expect(packer.code === 0 ? 'valid' : 'invalid', `packer says:\n${packer.out}`).toBe(c.expect);
      const kiln = await runTool('kiln', argv, CORPUS, c.env);
      const outcome = kiln.code === 0 ? 'valid' : 'invalid';
      if (outcome !== c.expect)
        differences.push(
          `${label(c)}: packer ${c.expect}, kiln ${outcome}${c.note ? ` (${c.note})` : ''}`,
        );
      expect(outcome, `kiln says:\n${kiln.out}`).toBe(c.kiln ?? c.expect);
      if (outcome === 'valid') {
        expect(kiln.stdout).toContain('Template validated successfully.');
        return;
      }
      expect(kiln.code).toBe(1);
      expect(kiln.out).not.toMatch(/^\s+at .*\.js:\d+/m);
      expect(kiln.out).not.toMatch(/This is a bug in kiln|internal error/);
      if (c.where) expect(kiln.out).toContain(`${c.file}${c.where}`);
      if (c.match) expect(kiln.out).toContain(c.match);
    });
  }
});

describe('kiln inspect prints what packer inspect prints (HCL2)', () => {
  const files = [
    ...new Set(
      cases.filter((c) => c.expect === 'valid' && c.kiln !== 'invalid').map((c) => c.file),
    ),
  ];
  for (const file of files) {
    it(file, async () => {
      const p = await runTool('packer', ['inspect', file], CORPUS);
      const k = await runTool('kiln', ['inspect', file], CORPUS);
      expect(k.code, `packer: ${p.out}\nkiln: ${k.out}`).toBe(p.code);
      expect(k.stdout).toBe(p.stdout);
    });
  }
});

describe('kiln build -machine-readable matches packer build (HCL2)', () => {
  for (const [i, c] of cases.entries()) {
    if (!c.build) continue;
    it(label(c), async () => {
      const dirs = { packer: join(scratch, `${i}-packer`), kiln: join(scratch, `${i}-kiln`) };
      const build = (who: 'packer' | 'kiln') => {
        cpSync(CORPUS, dirs[who], { recursive: true });
        return runTool(
          who,
          ['build', '-machine-readable', ...(c.buildArgs ?? []), ...(c.args ?? []), c.file],
          dirs[who],
          c.env,
        );
      };
      const packer = await build('packer');
      const kiln = await build('kiln');
      expect(kiln.code, `kiln:\n${kiln.out}\npacker:\n${packer.out}`).toBe(packer.code);
      let packerOut = packer.stdout;
      for (const secret of c.redact ?? []) packerOut = packerOut.replaceAll(secret, '<sensitive>');
      expect(normalized(kiln.stdout, dirs.kiln)).toEqual(normalized(packerOut, dirs.packer));
      for (const f of c.files ?? []) expect(readOut(dirs.kiln, f), f).toBe(readOut(dirs.packer, f));
    });
  }
});
