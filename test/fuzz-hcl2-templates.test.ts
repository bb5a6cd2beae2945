/**
 * Bad HCL2 input at scale: seeded mutations of the HCL2 differential corpus and of the
 * sample's `.pkr.hcl` templates (its error cases aside: they fail already) go through the real loader (`loadTemplate`, in-process for
 * speed: parse, decode, variables, locals, data, sources, builds, plugin schemas). Every case
 * must end in success or one UserError that says where (`file:line:column`) — never another
 * exception, a hang, or a file written. KILN_FUZZ_SEED / KILN_FUZZ_CASES replay or widen a
 * run; the seed and the case number of a failure are in its message.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { formatError, UserError } from '../src/lib/errors.js';
import { registry } from '../src/plugins.js';
import { loadTemplate } from '../src/template/index.js';
import { prng } from './helpers/mutate.js';
import { mutateHcl } from './helpers/mutate-hcl.js';

const ROOT = resolve(import.meta.dirname, '..');
const SEED = Number(process.env.KILN_FUZZ_SEED ?? 20261207);
const CASES = Number(process.env.KILN_FUZZ_CASES ?? 10_000);
/** A case slower than this counts as a hang (generous: the machine is shared). */
const CASE_LIMIT_MS = 5_000;

const scratch = mkdtempSync(join(tmpdir(), 'kiln-fuzz-hcl2-'));
const home = join(scratch, 'home');
const cwd = join(scratch, 'cwd');
const work = join(scratch, 'work');
let startCwd: string;
let catalog: Catalog;

beforeAll(() => {
  mkdirSync(cwd);
  mkdirSync(work);
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

function hclFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.pkr.hcl'))
    .map((f) => join(dir, f));
}

function seeds(): Array<{ name: string; text: string }> {
  return [
    ...hclFiles(join(ROOT, 'test/corpus/hcl2')),
    ...hclFiles(join(ROOT, 'examples/hello-web/packer')),
  ]
    .filter((f) => !f.includes('/errors/'))
    .sort()
    .map((f) => ({ name: f.slice(ROOT.length + 1), text: readFileSync(f, 'utf8') }));
}

/** Why an outcome breaks the rule (undefined when it is fine). */
function verdict(err: unknown): string | undefined {
  if (err === undefined) return undefined;
  if (!(err instanceof UserError)) {
    const e = err as Error;
    return `not a UserError: ${e?.constructor?.name} ${e?.message}\n${e?.stack ?? ''}`;
  }
  const text = formatError(err);
  if (!/template\.pkr\.hcl:\d+:\d+/.test(text)) return `no location: ${text}`;
  return undefined;
}

describe('fuzz (HCL2)', () => {
  it(`templates: ${CASES} seeded mutations of .pkr.hcl files through loadTemplate end in success or one located UserError`, async () => {
    const r = prng(SEED);
    const files = seeds();
    expect(files.length).toBeGreaterThan(25);
    const failures: Array<{ caseNo: number; source: string; problem: string; input: string }> = [];
    const outcomes = { ok: 0, userError: 0 };
    const file = join(work, 'template.pkr.hcl');
    for (let i = 0; i < CASES; i++) {
      const src = files[i % files.length]!;
      const text = mutateHcl(r, src.text);
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
        (readdirSync(work).length !== 1
          ? `wrote ${readdirSync(work).join(', ')} beside it`
          : undefined);
      if (problem) {
        failures.push({ caseNo: i, source: src.name, problem, input: text.slice(0, 2000) });
        rmSync(cwd, { recursive: true, force: true });
        mkdirSync(cwd);
        for (const f of readdirSync(work))
          if (f !== 'template.pkr.hcl') rmSync(join(work, f), { recursive: true, force: true });
      }
      if (err === undefined) outcomes.ok++;
      else outcomes.userError++;
    }
    console.info(
      `fuzz hcl2 templates: seed ${SEED}, ${CASES} cases from ${files.length} seeds, ${outcomes.ok} loaded, ${outcomes.userError} rejected with a located error, ${failures.length} failures`,
    );
    expect(
      failures.slice(0, 5),
      `seed ${SEED}: ${JSON.stringify(failures.slice(0, 5), null, 2)}`,
    ).toEqual([]);
    // the mutations must reach past the syntax check, or this proves little
    expect(outcomes.ok).toBeGreaterThan(CASES / 50);
  });
});
