/**
 * The library against Packer 1.6.6 itself: testdata/packer-1.6.6.json holds, for each call,
 * what `packer console` printed for `jsonencode(call)` (Packer's own JSON of the result) or the
 * error's summary and detail. Recorded on this machine with Debian's packer 1.6.6; the file
 * fixtures under /tmp/h7gen are rebuilt here in a temporary folder.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HclDiagnosticError } from '../value.js';
import { callWith, type Literal, testTable } from './test-helpers.js';
import recorded from './testdata/packer-1.6.6.json' with { type: 'json' };
import { jsonMarshal } from './values.js';

interface Case {
  fn: string;
  args: Literal[];
  json?: string;
  error?: { summary: string; detail: string };
}

/**
 * Where kiln follows today's Packer (go-cty of 2024+) instead of 1.6.6, or where numbers differ
 * because cty computes with 512-bit floats and kiln with doubles. Key: function and arguments.
 */
const DIFFERENCES: Record<string, string> = {
  // go-cty's arithmetic on 512-bit floats leaves 0.70000…006; kiln's doubles, tidied, give 0.7.
  'range(0,1,0.1)': 'precision',
  // A NaN makes go-cty panic; Packer prints the panic with a Go stack trace.
  'log(-1,2)': 'error text',
  // 1.6.6's `index` was go-cty's element-by-key; today's Packer finds the value's position.
  'index(["a","b","c"],"b")': 'today',
  'index(["a","b","c"],"d")': 'today',
  'index([],1)': 'today',
  'index([1,2],"2")': 'today',
  // today's go-cty refuses a zero step (1.6.6 looped to its 1024-value limit)
  'range(1,2,0)': 'today',
  // today's go-cty lets contains() look for null, and jsonencode() encode it
  'contains([null,1],null)': 'today',
  'jsondecode("null")': 'today',
  'jsonencode(null)': 'today',
  // today's merge() of nothing is an empty object (1.6.6 gave null)
  'merge()': 'today',
  // today's go-cty refuses duplicate JSON properties (1.6.6 kept the last)
  'jsondecode("{\\"a\\":1,\\"a\\":2}")': 'today',
  // today's go-cty parses RFC 3339 strictly: two-digit hours, offsets below 24 hours
  'formatdate("YYYY","2018-01-02T1:00:00Z")': 'today',
  'formatdate("YYYY","2018-01-02T00:00:00+25:00")': 'today',
  // the conversion message is the value model's (src/template/hcl/value.ts), reported to its owner
  'upper([])': 'value.ts',
  'format("%s",[1])': 'value.ts',
  // a top-level null: go-cty-yaml 1.0.3+ (today's Packer) returns null, 1.6.6 an unknown value
  'yamldecode("~")': 'today',
  'yamldecode("---")': 'today',
  // Packer's error is jsonencode's (cty writes no infinity as JSON); yamldecode gives ±infinity
  // (yaml.test.ts), which this harness, calling jsonMarshal itself, cannot print
  'yamldecode("a: .inf\\nb: -.Inf")': 'jsonencode error',
  // YAML syntax errors are worded by the `yaml` package, not libyaml (both reject the text)
  'yamldecode("a: b: c")': 'yaml syntax error',
  'yamldecode(": 1")': 'yaml syntax error',
  'yamldecode("a: [1")': 'yaml syntax error',
  'yamldecode("a: \\"unterminated")': 'yaml syntax error',
  'yamldecode("\\ta: 1")': 'yaml syntax error',
};

/**
 * go-cty-yaml places an error by libyaml's event mark, whose line counts from 0 (and leaves the
 * place out on the first line); kiln always names it, counting lines from 1 as editors do.
 */
const yamlPlace = (detail: string) =>
  detail.replace(/failed: on line \d+, column \d+: /, 'failed: ');

const ROOT = mkdtempSync(path.join(tmpdir(), 'kiln-hcl-fn-'));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

function buildFixtures(): void {
  chmodSync(ROOT, 0o755);
  writeFileSync(path.join(ROOT, 'hello.txt'), 'hello\nworld é\n');
  writeFileSync(path.join(ROOT, 'bin.dat'), Buffer.from([0xff, 0xfe]));
  for (const d of ['tree/sub/deep', 'tree/a']) mkdirSync(path.join(ROOT, d), { recursive: true });
  for (const f of [
    'tree/x.txt',
    'tree/y.md',
    'tree/sub/a.txt',
    'tree/sub/b.txt',
    'tree/sub/deep/c.txt',
    'tree/a/z',
  ]) {
    writeFileSync(path.join(ROOT, f), '');
  }
  symlinkSync('x.txt', path.join(ROOT, 'tree/link.txt'));
}
buildFixtures();

const relocate = <T>(x: T): T => JSON.parse(JSON.stringify(x).replaceAll('/tmp/h7gen', ROOT));

const key = (c: Case) => `${c.fn}(${c.args.map((a) => JSON.stringify(a)).join(',')})`;

describe('Packer 1.6.6 agreement (packer console, recorded)', () => {
  it('lists only recorded calls as differences', () => {
    const keys = new Set((recorded as Case[]).map(key));
    expect(Object.keys(DIFFERENCES).filter((k) => !keys.has(k))).toEqual([]);
  });

  const table = testTable(ROOT);
  const cases = (recorded as Case[]).filter((c) => !(key(c) in DIFFERENCES));
  it.each(cases.map((c) => [key(c), relocate(c)] as const))('%s', (_k, c) => {
    if (c.error) {
      let err: unknown;
      try {
        callWith(table, c.fn, ...c.args);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HclDiagnosticError);
      const d = err as HclDiagnosticError;
      if (c.fn === 'yamldecode')
        expect({ summary: d.summary, detail: yamlPlace(d.detail) }).toEqual({
          ...c.error,
          detail: yamlPlace(c.error.detail),
        });
      else expect({ summary: d.summary, detail: d.detail }).toEqual(c.error);
    } else {
      expect(jsonMarshal(callWith(table, c.fn, ...c.args))).toBe(c.json);
    }
  });
});
