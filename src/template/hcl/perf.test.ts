// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are HCL source, where ${} is HCL syntax
import { describe, expect, it } from 'vitest';
import type { Body, Expr } from './ast.js';
import { type EvalContext, evaluate } from './evaluate.js';
import { parseConfig } from './parser.js';
import { asString, type FunctionDef, object, str, T, type Value } from './value.js';

/** A template of `lines` lines mixing every common construct, as a big Packer file would. */
function generateTemplate(lines: number): string {
  const out: string[] = [];
  let i = 0;
  while (out.length < lines) {
    out.push(
      `variable "v${i}" {`,
      '  type    = string',
      `  default = "value-${i}"`,
      '}',
      'locals {',
      `  l${i}_list = [for n in ["a", "b", "c"] : upper("\${n}-\${var.v${i}}") if n != "b"]`,
      `  l${i}_map  = { for k, v in { x = 1, y = 2 } : k => v * ${i} + 1 }`,
      `  l${i}_cond = length_of_name > 3 ? "long" : "short"`,
      `  l${i}_heredoc = <<-EOT`,
      `    line one \${var.v${i}}`,
      '    %{~ for t in ["p", "q"] ~}',
      '    - ${t}',
      '    %{~ endfor ~}',
      '  EOT',
      '}',
      `source "null" "s${i}" {`,
      '  communicator = "none"',
      `  tags = { Name = "img-${i}", Index = ${i}, Ok = true }`,
      '}',
      'build {',
      `  sources = ["source.null.s${i}"]`,
      '  provisioner "shell-local" {',
      `    inline = ["echo \${var.v${i}}", "echo done"]`,
      '  }',
      '}',
      '',
    );
    i++;
  }
  return out.join('\n');
}

const upper: FunctionDef = {
  params: [{ name: 's', type: T.string }],
  returnType: T.string,
  impl: ([s]) => str(asString(s!).toUpperCase()),
};

/** Every attribute's expression but `type`, which Packer reads as a type, not a value. */
function exprs(body: Body): Expr[] {
  return [
    ...body.attributes.filter((a) => a.name !== 'type').map((a) => a.expr),
    ...body.blocks.flatMap((b) => exprs(b.body)),
  ];
}

describe('performance', () => {
  it('parses and evaluates a generated 2,000-line file (target < 100 ms)', () => {
    const src = generateTemplate(2000);
    const vars: Record<string, Value> = {};
    for (let i = 0; i < 200; i++) vars[`v${i}`] = str(`value-${i}`);
    const ctx: EvalContext = {
      variables: { var: object(vars), length_of_name: str('7') },
      functions: { upper },
    };
    const run = () => {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const parsed = parseConfig(src, 'big.pkr.hcl');
      const t1 = performance.now();
      let errors = parsed.diagnostics.length;
      let values = 0;
      for (const e of exprs(parsed.value.body)) {
        const r = evaluate(e, ctx);
        errors += r.diagnostics.length;
        values++;
      }
      const cpu = process.cpuUsage(cpu0);
      return {
        parse: t1 - t0,
        total: performance.now() - t0,
        cpu: (cpu.user + cpu.system) / 1000,
        errors,
        values,
      };
    };
    const cold = run();
    const warm = [run(), run(), run()].sort((a, b) => a.total - b.total)[1]!;
    console.log(
      `perf: 2000 lines (${src.length} chars, ${cold.values} expressions): cold ${cold.total.toFixed(1)} ms (parse ${cold.parse.toFixed(1)}, cpu ${cold.cpu.toFixed(1)}), warm ${warm.total.toFixed(1)} ms (parse ${warm.parse.toFixed(1)}, cpu ${warm.cpu.toFixed(1)})`,
    );
    expect(src.split('\n').length).toBeGreaterThanOrEqual(2000);
    expect(cold.errors).toBe(0);
    expect(cold.values).toBeGreaterThan(500);
  });
});
