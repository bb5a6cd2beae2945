// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are HCL source, where ${} is HCL syntax
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Body, type Diagnostic, type Expr, hasErrors } from './ast.js';
import { type EvalContext, evaluate, TRY_FUNCTION } from './evaluate.js';
import { parseConfig } from './parser.js';
import { asString, type FunctionDef, list, num, object, str, T } from './value.js';

/** Templates exercising every syntax form, the seeds of the mutations. */
const SEEDS = [
  `variable "region" {
  type    = string
  default = "eu-west-1"
}

locals {
  names  = ["a", "b", "c"]
  upper  = [for n in local.names : upper(n) if n != "b"]
  by_key = { for i, n in local.names : n => i... }
  first  = local.names[0]
  legacy = local.names.1
  tags   = { Name = "img-\${var.region}", "Team" : "infra", (var.region) = true }
  math   = -1 + 2 * 3 / 4 % 5 - (6 - 7)
  logic  = !false && (1 < 2 || 3 >= 4) == true ? "yes" : "no"
}`,
  `source "null" "example" {
  communicator = "none"
}

build {
  name    = "demo"
  sources = ["source.null.example"]

  provisioner "shell-local" {
    inline = [
      "echo \${var.region}",
      "echo %{ if var.region == "x" }X%{ else }Y%{ endif }",
    ]
    pause_before = "1s"
  }

  post-processor "manifest" { output = "m.json" }
}`,
  `locals {
  doc = <<-EOT
    Region: \${var.region}
    %{~ for n in local.names ~}
    - \${n}
    %{~ endfor ~}
  EOT
  raw = <<EOF
plain $\${not} %%{not}
EOF
  splat = local.objs[*].id
  attrs = local.objs.*.id
  objs  = [{ id = 1 }, { id = 2 }]
  call  = concat(["a"], local.names...)
  esc   = "tab\\there \\"quoted\\" \\u00e9"
  // comment
  # comment
  /* comment */
}`,
];

const PIECES = [
  '{',
  '}',
  '[',
  ']',
  '(',
  ')',
  '"',
  '${',
  '%{',
  '~',
  '=',
  '==',
  '=>',
  '...',
  ':',
  '?',
  ',',
  '.',
  '*',
  '\n',
  ' ',
  '<<EOT\n',
  '<<-EOT\n',
  'EOT\n',
  'for',
  'in',
  'if',
  'endif',
  'endfor',
  'else',
  'null',
  'true',
  '-',
  '!',
  '&&',
  '#',
  '//',
  '/*',
  '*/',
  '\\',
  '\\u',
  'x',
  '0',
  '1.5e3',
  '\t',
  '\r\n',
  'é',
  '😀',
  '$',
  '%',
  "'",
  '\u0000',
];

/** A small deterministic PRNG (mulberry32), so every run mutates the same way. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(src: string, r: () => number): string {
  let s = src;
  const n = 1 + Math.floor(r() * 4);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(r() * (s.length + 1));
    const op = r();
    if (op < 0.35) {
      const piece = PIECES[Math.floor(r() * PIECES.length)]!;
      s = s.slice(0, at) + piece + s.slice(at);
    } else if (op < 0.7) {
      s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 6));
    } else if (op < 0.85) {
      // duplicate a slice somewhere else
      const from = Math.floor(r() * s.length);
      s = s.slice(0, at) + s.slice(from, from + Math.floor(r() * 20)) + s.slice(at);
    } else {
      s =
        s.slice(0, at) + s.slice(at).replace(/\S/, String.fromCharCode(32 + Math.floor(r() * 95)));
    }
  }
  return s;
}

const upper: FunctionDef = {
  params: [{ name: 'str', type: T.string }],
  returnType: T.string,
  impl: ([s]) => str(asString(s!).toUpperCase()),
};
const concat: FunctionDef = {
  params: [],
  varParam: { name: 'seqs', type: T.dynamic },
  returnType: T.dynamic,
  impl: (args) => args[0]!,
};

const ctx: EvalContext = {
  variables: {
    var: object({ region: str('eu-west-1') }),
    local: object({
      names: list([str('a'), str('b')]),
      objs: list([object({ id: num(1) })]),
    }),
  },
  functions: { upper, concat, try: TRY_FUNCTION },
};

function everyExpr(body: Body): Expr[] {
  return [...body.attributes.map((a) => a.expr), ...body.blocks.flatMap((b) => everyExpr(b.body))];
}

/** The UTF-8 offset of a line and column, computed independently of the scanner's SourceMap. */
function byteOf(lines: string[], line: number, column: number): number {
  const before = lines.slice(0, line - 1).join('\n');
  const head = [...(lines[line - 1] ?? '')].slice(0, column - 1).join('');
  return Buffer.byteLength(line > 1 ? `${before}\n${head}` : head, 'utf8');
}

function located(d: Diagnostic, src: string): boolean {
  const { start, end } = d.subject;
  const lines = src.split('\n');
  return (
    d.summary.length > 0 &&
    d.subject.filename === 'fuzz.pkr.hcl' &&
    start.line >= 1 &&
    start.column >= 1 &&
    start.line <= lines.length &&
    end.line >= start.line &&
    start.byte <= end.byte &&
    end.byte <= Buffer.byteLength(src, 'utf8') &&
    byteOf(lines, start.line, start.column) === start.byte &&
    byteOf(lines, end.line, end.column) === end.byte
  );
}

describe('fuzz: mutated templates end in a value or located diagnostics', () => {
  it('10,000 seeded mutations: no throw, no hang, every diagnostic located', () => {
    const r = rng(20240612);
    let parsedClean = 0;
    let withErrors = 0;
    let syntaxErrors = 0;
    let slowest = 0;
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) {
      const src = mutate(SEEDS[i % SEEDS.length]!, r);
      let diags: Diagnostic[];
      const t0 = performance.now();
      try {
        const parsed = parseConfig(src, 'fuzz.pkr.hcl');
        if (parsed.diagnostics.length > 0) syntaxErrors++;
        diags = [...parsed.diagnostics];
        for (const e of everyExpr(parsed.value.body)) {
          const res = evaluate(e, ctx);
          expect(res.value.type).toBeDefined();
          diags.push(...res.diagnostics);
        }
      } catch (err) {
        throw new Error(`mutation ${i} threw ${(err as Error).stack}\n--- source ---\n${src}`);
      }
      slowest = Math.max(slowest, performance.now() - t0);
      for (const d of diags) {
        if (!located(d, src)) {
          throw new Error(`mutation ${i}: unlocated ${JSON.stringify(d)}\n--- source ---\n${src}`);
        }
      }
      if (hasErrors(diags)) withErrors++;
      else parsedClean++;
    }
    const ms = performance.now() - started;
    console.log(
      `fuzz: 10000 mutations in ${ms.toFixed(0)} ms (slowest ${slowest.toFixed(1)} ms): ${syntaxErrors} with syntax errors, ${withErrors} with any error, ${parsedClean} clean`,
    );
    // a hang shows as one mutation taking long, well before the test's timeout
    expect(slowest).toBeLessThan(2000);
    expect(withErrors).toBeGreaterThan(1000);
    expect(parsedClean).toBeGreaterThan(100);
  }, 120_000);
});

describe("syntax verdicts agree with Packer 1.6.6's parser", () => {
  // 400 mutations (seed 777) run once through `packer fmt -check` and `packer validate`:
  // whether Packer accepted each, and its first diagnostic as "line:summary".
  const recorded: { i: number; accept: boolean; first?: string }[] = JSON.parse(
    readFileSync(
      path.join(
        path.dirname(fileURLToPath(import.meta.url)),
        'testdata',
        'packer-1.6.6-mutations.json',
      ),
      'utf8',
    ),
  );

  it('accepts and rejects the same 400 mutated files, and mostly points at the same line', () => {
    const r = rng(777);
    let sameLine = 0;
    let sameSummary = 0;
    let rejected = 0;
    for (const want of recorded) {
      const src = mutate(SEEDS[want.i % SEEDS.length]!, r);
      const { diagnostics } = parseConfig(src, 'm.pkr.hcl');
      expect(diagnostics.length === 0, `mutation ${want.i}:\n${src}`).toBe(want.accept);
      if (want.accept) continue;
      rejected++;
      const first = `${diagnostics[0]!.subject.start.line}:${diagnostics[0]!.summary}`;
      if (first.split(':')[0] === want.first!.split(':')[0]) sameLine++;
      if (first === want.first) sameSummary++;
    }
    console.log(
      `packer 1.6.6 syntax: ${recorded.length} files agree on accept/reject (${rejected} rejected); first error on the same line ${sameLine}/${rejected}, same line and summary ${sameSummary}/${rejected}`,
    );
    // most of the rest is an unterminated quoted string: kiln ends it at its line, HCL runs on
    expect(sameLine).toBeGreaterThanOrEqual(290);
    expect(sameSummary).toBeGreaterThanOrEqual(240);
  });
});
