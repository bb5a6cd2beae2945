import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Body, type Expr, formatRange } from './ast.js';
import { evaluate } from './evaluate.js';
import { functions } from './functions/index.js';
import { parseConfig } from './parser.js';
import { DYNAMIC } from './value.js';

// Packer's own HCL2 fixtures (hashicorp/packer v1.9.4, hcl2template/testdata, MPL-2.0 — the
// last release under that licence; see testdata/packer-v1.9.4/LICENSE). Syntax only here:
// every file must parse, except those written to be syntactically wrong, which must fail
// with a located diagnostic.
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testdata', 'packer-v1.9.4');

/** Files with a syntax error on purpose (checked against `packer fmt -check` and `packer validate`). */
const SYNTAX_ERRORS: Record<string, { summary: string; line: number }> = {
  // required_plugins sets `amazon` twice: HCL's "Attribute redefined"
  'init/duplicate_required_plugins/packer.pkr.hcl': { summary: 'Attribute redefined', line: 8 },
};

/** Every attribute's expression but `type` (a type, not a value). */
function exprs(body: Body): Expr[] {
  return [
    ...body.attributes.filter((a) => a.name !== 'type').map((a) => a.expr),
    ...body.blocks.flatMap((b) => exprs(b.body)),
  ];
}

// what Packer puts in scope, all unknown here: this test is about the evaluator not failing
const scope = Object.fromEntries(
  ['var', 'local', 'source', 'build', 'path', 'packer', 'data', 'each', 'self'].map((n) => [
    n,
    DYNAMIC,
  ]),
);

function hclFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return hclFiles(p);
    return e.name.endsWith('.hcl') ? [path.relative(root, p)] : [];
  });
}

describe("Packer's hcl2template fixtures", () => {
  const files = hclFiles(root).sort();

  it('are all there', () => {
    expect(files.length).toBe(74);
    expect(files.filter((f) => f.endsWith('.pkr.hcl')).length).toBe(71);
  });

  for (const rel of files) {
    it(`parses ${rel}`, () => {
      const { value, diagnostics } = parseConfig(readFileSync(path.join(root, rel), 'utf8'), rel);
      const want = SYNTAX_ERRORS[rel];
      if (!want) {
        expect(
          diagnostics.map((d) => `${formatRange(d.subject)}: ${d.summary}: ${d.detail}`),
        ).toEqual([]);
        expect(value.body.attributes.length + value.body.blocks.length).toBeGreaterThanOrEqual(
          readFileSync(path.join(root, rel), 'utf8').trim() === '' ? 0 : 1,
        );
        // every expression evaluates: to a value, or to diagnostics that say where
        for (const e of exprs(value.body)) {
          const r = evaluate(e, { variables: scope, functions });
          for (const d of r.diagnostics) expect(d.subject.filename).toBe(rel);
        }
        return;
      }
      expect(diagnostics.length).toBeGreaterThan(0);
      const d = diagnostics[0]!;
      expect(d.summary).toBe(want.summary);
      expect(d.subject.filename).toBe(rel);
      expect(d.subject.start.line).toBe(want.line);
    });
  }
});
