// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are HCL source, where ${} is HCL syntax
import { describe, expect, it } from 'vitest';
import { type Diagnostic, type Expr, formatRange, traversals } from './ast.js';
import { parseConfig, parseExpression, parseTemplate } from './parser.js';

function expr(src: string): Expr {
  const r = parseExpression(src, 't.hcl');
  expect(r.diagnostics.map(show)).toEqual([]);
  return r.value;
}

function show(d: Diagnostic): string {
  return `${formatRange(d.subject)}: ${d.summary}`;
}

/** A compact S-expression of an expression tree, to assert on structure. */
function sx(e: Expr): string {
  switch (e.kind) {
    case 'literal':
      return typeof e.value.raw === 'string' ? JSON.stringify(e.value.raw) : String(e.value.raw);
    case 'variable':
      return e.name;
    case 'getAttr':
      return `${sx(e.source)}.${e.name}`;
    case 'index':
      return `${sx(e.source)}[${sx(e.key)}]`;
    case 'splat':
      return `(splat ${sx(e.source)} ${sx(e.each)})`;
    case 'anon':
      return '@';
    case 'tuple':
      return `[${e.elements.map(sx).join(' ')}]`;
    case 'object':
      return `{${e.items.map((i) => `${sx(i.key)}=${sx(i.value)}`).join(' ')}}`;
    case 'call':
      return `${e.name}(${e.args.map(sx).join(' ')}${e.expandFinal ? '...' : ''})`;
    case 'conditional':
      return `(? ${sx(e.condition)} ${sx(e.trueResult)} ${sx(e.falseResult)})`;
    case 'binary':
      return `(${e.op} ${sx(e.left)} ${sx(e.right)})`;
    case 'unary':
      return `(${e.op} ${sx(e.operand)})`;
    case 'parens':
      return `(${sx(e.expr)})`;
    case 'for':
      return `(for ${e.keyVar ?? '_'} ${e.valVar} ${sx(e.collection)} ${e.keyExpr ? `${sx(e.keyExpr)} ` : ''}${sx(e.valExpr)}${e.group ? '...' : ''}${e.condition ? ` if ${sx(e.condition)}` : ''})`;
    case 'template':
      return `(tpl ${e.parts.map(sx).join(' ')})`;
    case 'templateWrap':
      return `(wrap ${sx(e.wrapped)})`;
    case 'templateJoin':
      return `(join ${sx(e.tuple)})`;
    case 'invalid':
      return '!';
  }
}

describe('expressions', () => {
  it('operator precedence and associativity', () => {
    expect(sx(expr('a || b && c == d < e + f * g'))).toBe(
      '(|| a (&& b (== c (< d (+ e (* f g))))))',
    );
    expect(sx(expr('a - b - c'))).toBe('(- (- a b) c)');
    expect(sx(expr('x / y * z'))).toBe('(* (/ x y) z)');
    expect(sx(expr('-a.b + !c'))).toBe('(+ (- a.b) (! c))');
    expect(sx(expr('-46 + 5'))).toBe('(+ (- 46) 5)');
  });
  it('conditionals nest to the right', () => {
    expect(sx(expr('a ? b : c ? d : e'))).toBe('(? a b (? c d e))');
    expect(sx(expr('a == 1 ? "x" : "y"'))).toBe('(? (== a 1) (tpl "x") (tpl "y"))');
  });
  it('literals', () => {
    expect(sx(expr('[1.5e2, true, false, null]'))).toBe('[150 true false null]');
  });
  it('traversals, legacy index and splats', () => {
    expect(sx(expr('a.b[0]["c"].d'))).toBe('a.b[0][(tpl "c")].d');
    expect(sx(expr('a.0.b'))).toBe('a[0].b');
    expect(sx(expr('a.*.b.c[0]'))).toBe('(splat a @.b.c)[0]');
    expect(sx(expr('a[*].b[0].c'))).toBe('(splat a @.b[0].c)');
    expect(sx(expr('a[*]'))).toBe('(splat a @)');
  });
  it('function calls, with expansion and newlines', () => {
    expect(sx(expr('f()'))).toBe('f()');
    expect(sx(expr('f(a,\n b,\n)'))).toBe('f(a b)');
    expect(sx(expr('f(a, b...)'))).toBe('f(a b...)');
  });
  it('tuples and objects', () => {
    expect(sx(expr('[1, 2,]'))).toBe('[1 2]');
    expect(sx(expr('[\n  1,\n  2\n]'))).toBe('[1 2]');
    expect(sx(expr('{a = 1, "b" = 2\n c: 3\n (d) = 4}'))).toBe('{"a"=1 (tpl "b")=2 "c"=3 (d)=4}');
    expect(sx(expr('{true = 1}'))).toBe('{"true"=1}');
  });
  it('for expressions', () => {
    expect(sx(expr('[for x in xs: x * 2]'))).toBe('(for _ x xs (* x 2))');
    expect(sx(expr('[for i, x in xs: x if i > 0]'))).toBe('(for i x xs x if (> i 0))');
    expect(sx(expr('{for k, v in m: v => k...}'))).toBe('(for k v m v k...)');
    expect(sx(expr('{\n for k, v in m :\n k => v\n if v\n}'))).toBe('(for k v m k v if v)');
  });
  it('parentheses allow newlines', () => {
    expect(sx(expr('(a\n+\nb)'))).toBe('((+ a b))');
  });
});

describe('templates', () => {
  it('literal strings and escapes', () => {
    const e = expr('"a\\n\\t\\"\\\\\\u00e9\\U0001F600"');
    expect(e.kind === 'template' && e.parts[0]?.kind === 'literal' && e.parts[0].value.raw).toBe(
      'a\n\t"\\é😀',
    );
  });
  it('escaped template sigils', () => {
    expect(sx(expr('"$${a} %%{b}"'))).toBe('(tpl "${a} %{b}")');
  });
  it('a lone interpolation is unwrapped; anything more is a template', () => {
    expect(sx(expr('"${a}"'))).toBe('(wrap a)');
    expect(sx(expr('"x${a}"'))).toBe('(tpl "x" a)');
    expect(sx(expr('"${a}${b}"'))).toBe('(tpl a b)');
  });
  it('if and for directives', () => {
    expect(sx(expr('"%{if a}x%{else}y%{endif}"'))).toBe('(tpl (? a (tpl "x") (tpl "y")))');
    expect(sx(expr('"%{for k, v in m}${k}%{endfor}"'))).toBe('(tpl (join (for k v m (tpl k))))');
  });
  it('strip markers remove adjacent spaces from literals only', () => {
    expect(sx(expr('"a ${~b~} c"'))).toBe('(tpl "a" b "c")');
    expect(sx(expr('"%{ if a ~}  x  %{~ endif }"'))).toBe('(tpl (? a (tpl "x") (tpl )))');
  });
  it('heredocs keep their final newline', () => {
    expect(sx(expr('<<EOT\nhello\n  ${a}\nEOT\n'))).toBe('(tpl "hello\\n" "  " a "\\n")');
  });
  it('<<- removes the common indentation, ignoring blank lines', () => {
    expect(sx(expr('<<-EOT\n    a\n\n      b\n    EOT\n'))).toBe('(tpl "a\\n" "\\n" "  b\\n")');
  });
  it('a heredoc line starting with an interpolation has no indentation', () => {
    expect(sx(expr('<<-EOT\n    a\n${b}\nEOT\n'))).toBe('(tpl "    a\\n" b "\\n")');
  });
  it('standalone templates (templatefile)', () => {
    const r = parseTemplate(
      'Hello ${name}!\n%{ for x in xs ~}\n- ${x}\n%{ endfor ~}\n',
      'greet.tpl',
    );
    expect(r.diagnostics).toEqual([]);
    expect(sx(r.value)).toBe('(tpl "Hello " name "!\\n" (join (for _ x xs (tpl "- " x "\\n"))))');
    const bad = parseTemplate('line one\n${ oops(\n', 'bad.tpl');
    expect(bad.diagnostics.length).toBeGreaterThan(0);
    expect(bad.diagnostics[0]!.subject.filename).toBe('bad.tpl');
    expect(bad.diagnostics[0]!.subject.start.line).toBe(3);
  });
});

describe('bodies', () => {
  const src = [
    '# comment',
    'a = 1 // trailing',
    '/* block',
    '   comment */ b = "x"',
    'source "null" "example" {',
    '  communicator = "none"',
    '  nested label {',
    '  }',
    '}',
    'one "line" { v = 2 }',
    'empty {}',
  ].join('\n');
  const { value, diagnostics } = parseConfig(src, 'f.pkr.hcl');

  it('attributes and blocks in order, with labels', () => {
    expect(diagnostics.map(show)).toEqual([]);
    expect(value.body.attributes.map((a) => a.name)).toEqual(['a', 'b']);
    expect(value.body.blocks.map((b) => [b.type, b.labels])).toEqual([
      ['source', ['null', 'example']],
      ['one', ['line']],
      ['empty', []],
    ]);
    const source = value.body.blocks[0]!;
    expect(source.body.attributes.map((a) => a.name)).toEqual(['communicator']);
    expect(source.body.blocks.map((b) => [b.type, b.labels])).toEqual([['nested', ['label']]]);
    expect(value.body.blocks[1]!.body.attributes[0]!.name).toBe('v');
  });

  it('ranges: line, column and byte', () => {
    const b = value.body.attributes[1]!;
    expect(b.nameRange.start).toEqual({ line: 4, column: 15, byte: 51 });
    const source = value.body.blocks[0]!;
    expect(formatRange(source.typeRange)).toBe('f.pkr.hcl:5,1-7');
    expect(formatRange(source.labelRanges[1]!)).toBe('f.pkr.hcl:5,15-24');
    expect(formatRange(source.range)).toBe('f.pkr.hcl:5,1-9,2');
  });

  it('columns count code points and bytes count UTF-8', () => {
    const r = parseConfig('é = "ü😀"\nx = 1\n', 'u.hcl');
    expect(r.diagnostics).toEqual([]);
    const [e, x] = r.value.body.attributes;
    expect(e!.name).toBe('é');
    expect(e!.expr.range.end).toEqual({ line: 1, column: 9, byte: 13 });
    expect(x!.nameRange.start).toEqual({ line: 2, column: 1, byte: 14 });
  });

  it('CRLF line endings', () => {
    const r = parseConfig('a = 1\r\nb {\r\n  c = <<EOT\r\nx\r\nEOT\r\n}\r\n', 'crlf.hcl');
    expect(r.diagnostics.map(show)).toEqual([]);
    expect(r.value.body.blocks[0]!.body.attributes[0]!.name).toBe('c');
  });
});

describe('syntax errors: located, and every broken item reported', () => {
  const cases: [string, string, string][] = [
    ['a = ', 'Missing expression', 'e.hcl:1,5-5'],
    ['a = \nb = 1\n', 'Invalid expression', 'e.hcl:1,5-2,1'],
    ['a = 1 2\n', 'Missing newline after argument', 'e.hcl:1,7-8'],
    ['a = "x\n', 'Invalid multi-line string', 'e.hcl:1,7-2,1'],
    ['a = "\\q"\n', 'Invalid escape sequence', 'e.hcl:1,6-8'],
    ["a = 'x'\n", 'Invalid character', 'e.hcl:1,5-6'],
    ['a = [1 2]\n', 'Missing item separator', 'e.hcl:1,8-9'],
    ['a = f(1 2)\n', 'Missing argument separator', 'e.hcl:1,9-10'],
    ['a = {b 1}\n', 'Missing key/value separator', 'e.hcl:1,8-9'],
    ['a = (1\n', 'Unbalanced parentheses', 'e.hcl:2,1-1'],
    ['a = x.\n', 'Invalid attribute name', 'e.hcl:1,7-2,1'],
    ['a = x.1.2\n', 'Invalid legacy index syntax', 'e.hcl:1,7-10'],
    ['a = [for x in y: x if]\n', 'Invalid expression', 'e.hcl:1,22-23'],
    ['a = [for x y: x]\n', "Invalid 'for' expression", 'e.hcl:1,12-13'],
    ['a = {for x in y: x}\n', "Invalid 'for' expression", 'e.hcl:1,19-20'],
    ['a = "%{if x}y"\n', 'Unexpected end of template', 'e.hcl:1,14-15'],
    ['a = "%{if x}y%{endfor}"\n', 'Unexpected endfor directive', 'e.hcl:1,14-23'],
    ['a = "%{if x}%{else}%{else}%{endif}"\n', 'Unexpected else directive', 'e.hcl:1,20-27'],
    ['a = "%{if x y}%{endif}"\n', 'Extra characters in if marker', 'e.hcl:1,13-14'],
    ['a = "${x y}"\n', 'Extra characters after interpolation expression', 'e.hcl:1,10-11'],
    ['a = "${x"\n', 'Unclosed template interpolation sequence', 'e.hcl:1,6-8'],
    ['a = 1, b = 2\n', 'Unexpected comma after argument', 'e.hcl:1,6-7'],
    ['a = "%{endif}"\n', 'Unexpected endif directive', 'e.hcl:1,6-14'],
    ['a = <<EOT\nabc\n', 'Unterminated template string', 'e.hcl:1,5-2,1'],
    ['a = 1\na = 2\n', 'Attribute redefined', 'e.hcl:2,1-2'],
    ['b "x" y z {\n', 'Unclosed configuration block', 'e.hcl:2,1-1'],
    ['b = {\n', 'Missing closing brace', 'e.hcl:2,1-1'],
    ['b x = 1\n', 'Invalid block definition', 'e.hcl:1,5-6'],
    ['b\n', 'Argument or block definition required', 'e.hcl:1,1-2'],
    ['b = 1\nc [1]\n', 'Argument or block definition required', 'e.hcl:2,1-2'],
    ['b { c }\n', 'Argument or block definition required', 'e.hcl:1,5-6'],
    ['b { c "x" {} }\n', 'Argument definition required', 'e.hcl:1,5-6'],
    ['b { c = 1 d = 2 }\n', 'Invalid single-argument block definition', 'e.hcl:1,11-12'],
    ['b {} c = 1\n', 'Missing newline after block definition', 'e.hcl:1,6-7'],
    ['= 1\n', 'Argument or block definition required', 'e.hcl:1,1-2'],
    ['b "${x}" {}\n', 'Invalid string literal', 'e.hcl:1,4-6'],
    ['a = 1 /* open\n', 'Missing newline after argument', 'e.hcl:1,7-2,1'],
    ['a = 1 & 2\n', 'Unsupported operator', 'e.hcl:1,7-8'],
    ['a = !~x\n', 'Unsupported operator', 'e.hcl:1,6-7'],
    ['a = 2 ** 3\n', 'Unsupported operator', 'e.hcl:1,7-9'],
    ['a = `x`\n', 'Invalid character', 'e.hcl:1,5-6'],
    ['a = 1;\n', 'Invalid character', 'e.hcl:1,6-7'],
    ['a = ${x}\n', 'Invalid character', 'e.hcl:1,5-6'],
    ['a = "%{ $x }"\n', 'Invalid character', 'e.hcl:1,9-10'],
    ['a = "%{ else2 }"\n', 'Invalid template control keyword', 'e.hcl:1,9-14'],
    ['b { [1] }\n', 'Argument or block definition required', 'e.hcl:1,5-6'],
    ['b { c ?= 1 }\n', 'Argument or block definition required', 'e.hcl:1,5-6'],
    ['a = \u201cx\u201d\n', 'Invalid character', 'e.hcl:1,5-6'],
  ];
  for (const [src, summary, where] of cases) {
    it(`${JSON.stringify(src)} → ${summary}`, () => {
      const { diagnostics } = parseConfig(src, 'e.hcl');
      expect(diagnostics.length).toBeGreaterThan(0);
      expect(show(diagnostics[0]!)).toBe(`${where}: ${summary}`);
    });
  }

  it('goes on after an error: one diagnostic per broken item, good items kept', () => {
    const src = [
      'a = [1 2]',
      'b = 2',
      'c = f(1',
      '2)',
      'd = 4',
      'e {',
      '  x = = 1',
      '  y = 2',
      '}',
      'g = 7',
    ].join('\n');
    const { value, diagnostics } = parseConfig(src, 'r.hcl');
    expect(diagnostics.map((d) => d.subject.start.line)).toEqual([1, 4, 7]);
    expect(value.body.attributes.map((a) => a.name)).toEqual(['b', 'd', 'g']);
    expect(value.body.blocks[0]!.body.attributes.map((a) => a.name)).toEqual(['y']);
  });
});

describe('traversals', () => {
  it('lists variable references, not for-bound names', () => {
    const e = expr('[for x in var.list: "${x}-${local.suffix[0]}-${upper(source.name)}"]');
    expect(traversals(e).map((t) => [t.root, ...t.steps].join('.'))).toEqual([
      'var.list',
      'local.suffix.0',
      'source.name',
    ]);
  });
});

describe('pathological input', () => {
  it('deep nesting is a located diagnostic, not a stack overflow', () => {
    for (const src of [
      `a = ${'('.repeat(5000)}1${')'.repeat(5000)}\n`,
      `a = ${'['.repeat(5000)}${']'.repeat(5000)}\n`,
      `a = ${'"${'.repeat(3000)}1${'}"'.repeat(3000)}\n`,
      `a = ${'-'.repeat(5000)}1\n`,
      `${'a {\n'.repeat(5000)}${'}\n'.repeat(5000)}`,
    ]) {
      const { diagnostics } = parseConfig(src, 'deep.hcl');
      expect(diagnostics.map((d) => d.summary)).toContain('Nesting too deep');
      expect(diagnostics[0]!.subject.start.line).toBeGreaterThanOrEqual(1);
    }
  });
  it('nesting below the limit parses', () => {
    const r = parseConfig(`a = ${'['.repeat(150)}1${']'.repeat(150)}\n`, 'ok.hcl');
    expect(r.diagnostics).toEqual([]);
  });
});
