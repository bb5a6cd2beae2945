/**
 * Side by side with the real Packer 1.6.6: every template in test/corpus/templates/ (run as
 * its index.json says: -var/-var-file/-only/-except flags, extra environment) goes through
 * `packer validate` and the compiled `kiln validate` (run `npm run build` first). They must
 * agree on accept/reject; for a rejected template kiln must name the right
 * `file:line:column` (or variable) and print no stack trace. A case may record a deliberate
 * difference (`"kiln": "invalid"` with a note); those are printed at the end. `kiln inspect`
 * must print exactly what `packer inspect` prints, and for the cases marked `content` the
 * file builder's interpolated content must equal the file `packer build` writes.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src/lib/exec.js';
import { kiln, run as runCommand } from './helpers/kiln.js';

const ROOT = resolve(import.meta.dirname, '..');
const CORPUS = join(ROOT, 'test/corpus/templates');

interface Case {
  file: string;
  expect: 'valid' | 'invalid';
  /** kiln's outcome when it differs from Packer on purpose (see note). */
  kiln?: 'valid' | 'invalid';
  args?: string[];
  env?: Record<string, string>;
  /** `:line:column` kiln must name after the file name. */
  where?: string;
  /** Text kiln's output must contain. */
  match?: string;
  note?: string;
  /**
   * Compare the file builder's interpolated `content` with what `packer build` writes:
   * exactly, with UUIDs blanked, or with every digit blanked (times differ between runs).
   */
  content?: 'exact' | 'uuid' | 'digits';
}

const { cases } = JSON.parse(readFileSync(join(CORPUS, 'index.json'), 'utf8')) as { cases: Case[] };
const differences: string[] = [];

async function validate(tool: 'packer' | 'kiln', c: Case) {
  const args = ['validate', ...(c.args ?? []), c.file];
  const r =
    tool === 'packer'
      ? await runCommand('packer', args, {
          cwd: CORPUS,
          env: { ...c.env, CHECKPOINT_DISABLE: '1' },
        })
      : await kiln(args, { cwd: CORPUS, env: { ...c.env } });
  return {
    outcome: r.code === 0 ? 'valid' : 'invalid',
    out: `${r.stdout}\n${r.stderr}`,
    code: r.code,
  };
}

beforeAll(async () => {
  expect(existsSync(join(ROOT, 'dist/cli/main.js')), 'run `npm run build` first').toBe(true);
  const v = await run('packer', ['version'], { reject: false });
  expect(v.stdout, 'packer 1.6.6 must be installed').toMatch(/Packer v1\.6\.6/);
});

afterAll(() => {
  if (differences.length > 0) {
    console.log(
      `kiln and packer differ on ${differences.length} template(s):\n  ${differences.join('\n  ')}`,
    );
  }
});

describe('kiln validate agrees with packer validate', () => {
  it('has a corpus of at least 35 templates', () => {
    expect(cases.length).toBeGreaterThanOrEqual(35);
  });

  for (const c of cases) {
    it(`${c.file} ${(c.args ?? []).join(' ')} → ${c.expect}`, async () => {
      const packer = await validate('packer', c);
      expect(packer.outcome, `packer says:\n${packer.out}`).toBe(c.expect);
      const kiln = await validate('kiln', c);
      if (kiln.outcome !== c.expect) {
        differences.push(
          `${c.file}: packer ${c.expect}, kiln ${kiln.outcome}${c.note ? ` (${c.note})` : ''}`,
        );
      }
      expect(kiln.outcome, `kiln says:\n${kiln.out}`).toBe(c.kiln ?? c.expect);
      if (kiln.outcome === 'valid') {
        expect(kiln.out).toMatch(/Template validated successfully\.|Syntax-only check passed\./);
        return;
      }
      expect(kiln.code).toBe(1);
      expect(kiln.out).not.toMatch(/^\s+at .*\.js:\d+/m);
      expect(kiln.out).not.toMatch(/This is a bug in kiln/);
      if (c.where) expect(kiln.out).toContain(`${c.file}${c.where}`);
      if (c.match) expect(kiln.out).toContain(c.match);
    });
  }
});

describe('kiln inspect prints what packer inspect prints', () => {
  for (const c of cases) {
    it(c.file, async () => {
      const p = await runCommand('packer', ['inspect', c.file], { cwd: CORPUS });
      const k = await kiln(['inspect', c.file], { cwd: CORPUS });
      const raw = readFileSync(join(CORPUS, c.file), 'utf8');
      let requiredVars = 0;
      try {
        requiredVars = Object.values(JSON.parse(raw).variables ?? {}).filter(
          (v) => v === null,
        ).length;
      } catch {}
      expect(k.code === 0, `packer: ${p.stdout}${p.stderr}\nkiln: ${k.stdout}${k.stderr}`).toBe(
        p.code === 0,
      );
      // Packer lists several required variables in Go's random map order: compare only when that cannot vary.
      if (p.code === 0 && requiredVars <= 1) expect(k.stdout).toBe(p.stdout);
    });
  }
});

// Loads a template with the compiled template layer in `cwd` (so `pwd` matches) and prints
// the file builder's interpolated content.
const KILN_CONTENT = `
const { loadTemplate } = await import(${JSON.stringify(join(ROOT, 'dist/template/index.js'))});
const { registry } = await import(${JSON.stringify(join(ROOT, 'dist/plugins.js'))});
const { Catalog } = await import(${JSON.stringify(join(ROOT, 'dist/catalog/index.js'))});
const [file, varsJson, varFilesJson] = process.argv.slice(1);
// No catalog there: read-only, it reads as an empty one and creates nothing.
const catalog = Catalog.openReadOnly('/nonexistent');
const t = await loadTemplate(file, { registry, catalog, vars: JSON.parse(varsJson), varFiles: JSON.parse(varFilesJson) });
process.stdout.write(t.builds.find((b) => b.type === 'file').builder.config.content);
`;

function splitArgs(args: string[]): { vars: Array<[string, string]>; varFiles: string[] } {
  const vars: Array<[string, string]> = [];
  const varFiles: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-var') {
      const kv = args[++i]!;
      vars.push([kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]);
    } else if (args[i] === '-var-file') varFiles.push(args[++i]!);
  }
  return { vars, varFiles };
}

function normalize(text: string, mode: Case['content']): string {
  if (mode === 'uuid')
    return text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'UUID');
  if (mode === 'digits') return text.replace(/[0-9]/g, '0');
  return text;
}

describe('interpolated values equal what packer build produces', () => {
  for (const c of cases.filter((x) => x.content)) {
    it(c.file, async () => {
      const work = mkdtempSync(join(tmpdir(), 'kiln-template-diff-'));
      try {
        cpSync(CORPUS, work, { recursive: true });
        const env = { ...c.env, CHECKPOINT_DISABLE: '1' };
        const p = await run('packer', ['build', ...(c.args ?? []), c.file], {
          cwd: work,
          env,
          reject: false,
        });
        expect(p.exitCode, `${p.stdout}\n${p.stderr}`).toBe(0);
        const packerContent = readFileSync(join(work, 'out/file.txt'), 'utf8');
        const { vars, varFiles } = splitArgs(c.args ?? []);
        const k = await run(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            KILN_CONTENT,
            c.file,
            JSON.stringify(vars),
            JSON.stringify(varFiles),
          ],
          { cwd: work, env, reject: false },
        );
        expect(k.exitCode, k.stderr).toBe(0);
        expect(normalize(k.stdout, c.content)).toBe(normalize(packerContent, c.content));
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    });
  }
});
