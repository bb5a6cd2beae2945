/**
 * The `{{ }}` engine: the subset of Go's text/template that Packer 1.6.6 JSON templates use
 * (function calls, pipes, string/number/bool literals, parentheses, `.Field` data
 * references, comments and `{{-`/`-}}` trimming), with Packer's functions, their argument
 * order, results and error messages.
 */
import { randomBytes } from 'node:crypto';
import { dirname, resolve as resolvePath } from 'node:path';
import { formatGoTime, formatRfc3339, formatStrftime } from './go-time.js';

/** Packer's version kiln claims compatibility with (`packer_version`, `min_packer_version`). */
export const PACKER_COMPAT_VERSION = '1.6.6';

/** Everything an interpolation may read. */
export interface InterpolationContext {
  /** `{{ user `x` }}`; undefined makes `user` fail (as in Packer with no variables). */
  userVariables?: Record<string, string>;
  /** True only while rendering variable defaults: allows `env`, and makes an unknown `user` an error. */
  enableEnv?: boolean;
  env?: NodeJS.ProcessEnv;
  buildName?: string;
  buildType?: string;
  templatePath?: string;
  /** The run's start: `timestamp`, `isotime` and `strftime` give one value per run. */
  initTime: Date;
  /** `{{ .Field }}` data (a late key's `.Path`, `.Vars`…). */
  data?: Record<string, unknown>;
  /** `{{ build `X` }}`: returns the value or throws; undefined = not available here (builder blocks). */
  build?: (key: string) => string;
  /** Extra functions for this context (e.g. `clean_resource_name` in amazon builders). */
  funcs?: Record<string, TemplateFunc>;
  cwd?: string;
}

type Value = string | number | boolean | undefined | null | Record<string, unknown> | unknown[];
type ParamType = 'string' | 'int';

/** A template function: its parameter types (Go's static types) and its body. */
export interface TemplateFunc {
  params: ParamType[];
  /** Accepts any number of trailing strings (Go's `...string`). */
  variadic?: boolean;
  call(ctx: InterpolationContext, args: Value[]): string;
}

/** An error in a `{{ }}` expression, with Go text/template's wording. */
export class InterpolationError extends Error {
  constructor(
    message: string,
    /** 1-based line and column inside the interpolated string. */
    readonly line: number,
    readonly column: number,
    /** 0-based character offset of the problem inside the interpolated string. */
    readonly offset = 0,
  ) {
    super(message);
    this.name = 'InterpolationError';
  }
}

/** Thrown by a template function: reported as Go's `error calling NAME: …`. */
export class FuncError extends Error {}

const str = (v: Value) => (typeof v === 'string' ? v : String(v));

/** Go's strings.Replace (n < 0: all). */
function goReplace(s: string, old: string, neu: string, n: number): string {
  if (old === neu || n === 0) return s;
  if (old === '') {
    const chars = Array.from(s);
    let out = '';
    let count = 0;
    for (let i = 0; i <= chars.length; i++) {
      if (n < 0 || count < n) {
        out += neu;
        count++;
      }
      if (i < chars.length) out += chars[i];
    }
    return out;
  }
  let out = '';
  let rest = s;
  let count = 0;
  while (n < 0 || count < n) {
    const idx = rest.indexOf(old);
    if (idx < 0) break;
    out += rest.slice(0, idx) + neu;
    rest = rest.slice(idx + old.length);
    count++;
  }
  return out + rest;
}

/** Packer's time-ordered UUID: 8 hex digits of the Unix time, then random bytes. */
function timeOrderedUuid(): string {
  const unix = Math.floor(Date.now() / 1000) >>> 0;
  const b = randomBytes(12).toString('hex');
  return `${unix.toString(16).padStart(8, '0')}-${b.slice(0, 4)}-${b.slice(4, 8)}-${b.slice(8, 12)}-${b.slice(12, 16)}${b.slice(16, 24)}`;
}

/** Packer 1.6.6's amazon `clean_resource_name`: every byte outside `[A-Za-z0-9()[] ./-'@_]` becomes `-`. */
export function cleanAmazonResourceName(s: string): string {
  return Array.from(Buffer.from(s, 'utf8'))
    .map((c) =>
      /[A-Za-z0-9()[\] ./\-'@_]/.test(String.fromCharCode(c)) ? String.fromCharCode(c) : '-',
    )
    .join('');
}

function needsVarsSection(what: string): TemplateFunc {
  return {
    params: ['string'],
    variadic: what === 'aws_secretsmanager',
    call(ctx) {
      if (!ctx.enableEnv) {
        throw new FuncError(
          what === 'consul_key'
            ? 'consul_key is not allowed here'
            : `${what === 'vault' ? 'Vault vars' : 'AWS Secrets Manager'} is only allowed in the variables section`,
        );
      }
      throw new FuncError(
        `${what} is not supported by kiln; pass the value with -var or -var-file`,
      );
    },
  };
}

/** Packer 1.6.6's functions, by name. */
export const BUILTIN_FUNCS: Record<string, TemplateFunc> = {
  build_name: {
    params: [],
    call: (ctx) => {
      if (!ctx.buildName) throw new FuncError('build_name not available');
      return ctx.buildName;
    },
  },
  build_type: {
    params: [],
    call: (ctx) => {
      if (!ctx.buildType) throw new FuncError('build_type not available');
      return ctx.buildType;
    },
  },
  env: {
    params: ['string'],
    call: (ctx, [k]) => {
      if (!ctx.enableEnv) throw new FuncError('env vars are not allowed here');
      return (ctx.env ?? process.env)[str(k)] ?? '';
    },
  },
  isotime: {
    params: [],
    variadic: true,
    call: (ctx, args) => {
      if (args.length === 0) return formatRfc3339(ctx.initTime);
      if (args.length > 1)
        throw new FuncError(`too many values, 1 needed: [${args.map(str).join(' ')}]`);
      return formatGoTime(ctx.initTime, str(args[0]));
    },
  },
  strftime: { params: ['string'], call: (ctx, [f]) => formatStrftime(ctx.initTime, str(f)) },
  pwd: { params: [], call: (ctx) => ctx.cwd ?? process.cwd() },
  split: {
    params: ['string', 'string', 'int'],
    call: (_ctx, [k, s, i]) => {
      const parts = str(s) === '' ? Array.from(str(k)) : str(k).split(str(s));
      const n = Number(i);
      if (parts.length <= n || n < 0) {
        throw new FuncError(
          `the substring ${n} was unavailable using the separator value, ${str(s)}, only ${parts.length} values were found`,
        );
      }
      return parts[n]!;
    },
  },
  template_dir: {
    params: [],
    call: (ctx) => {
      if (!ctx.templatePath) throw new FuncError('template path not available');
      return resolvePath(ctx.cwd ?? process.cwd(), dirname(ctx.templatePath));
    },
  },
  timestamp: { params: [], call: (ctx) => String(Math.floor(ctx.initTime.getTime() / 1000)) },
  uuid: { params: [], call: () => timeOrderedUuid() },
  user: {
    params: ['string'],
    call: (ctx, [k]) => {
      if (!ctx.userVariables) throw new FuncError('test');
      const key = str(k);
      const val = Object.hasOwn(ctx.userVariables, key) ? ctx.userVariables[key] : undefined;
      if (val === undefined && ctx.enableEnv)
        throw new FuncError(`Error: variable not set: ${key}`);
      return val ?? '';
    },
  },
  packer_version: { params: [], call: () => PACKER_COMPAT_VERSION },
  consul_key: needsVarsSection('consul_key'),
  vault: { ...needsVarsSection('vault'), params: ['string', 'string'] },
  aws_secretsmanager: { ...needsVarsSection('aws_secretsmanager'), params: [] },
  sed: {
    params: ['string', 'string'],
    call: () => {
      throw new FuncError(
        'template function `sed` is deprecated use `replace` or `replace_all` instead.Documentation: https://www.packer.io/docs/templates/engine',
      );
    },
  },
  build: {
    params: ['string'],
    call: (ctx, [k]) => {
      if (!ctx.build) {
        throw new FuncError(
          `Error validating build variable: the given variable ${str(k)} will not be passed into your plugin.`,
        );
      }
      return ctx.build(str(k));
    },
  },
  replace: {
    params: ['string', 'string', 'int', 'string'],
    call: (_ctx, [o, n, c, s]) => goReplace(str(s), str(o), str(n), Number(c)),
  },
  replace_all: {
    params: ['string', 'string', 'string'],
    call: (_ctx, [o, n, s]) => goReplace(str(s), str(o), str(n), -1),
  },
  upper: { params: ['string'], call: (_ctx, [s]) => str(s).toUpperCase() },
  lower: { params: ['string'], call: (_ctx, [s]) => str(s).toLowerCase() },
};

// ---------------------------------------------------------------------------------------
// Parsing

type Operand =
  | { kind: 'func'; name: string }
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number; text: string }
  | { kind: 'bool'; value: boolean }
  | { kind: 'nil' }
  | { kind: 'dot' }
  | { kind: 'field'; path: string[] }
  | { kind: 'pipe'; pipe: Command[] };

type Command = Operand[];

type TemplateNode =
  | { kind: 'text'; text: string }
  | {
      kind: 'action';
      pipe: Command[];
      source: string;
      line: number;
      column: number;
      offset: number;
    };

const KEYWORDS = new Set([
  'if',
  'else',
  'end',
  'range',
  'with',
  'define',
  'template',
  'block',
  'break',
  'continue',
]);

function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      last = i;
    }
  }
  return { line, column: offset - last };
}

/** Parses a template string; `funcs` is the set of function names defined in this context. */
export function parseTemplate(text: string, funcs: ReadonlySet<string>): TemplateNode[] {
  const nodes: TemplateNode[] = [];
  let i = 0;
  let trimNextLeading = false;
  while (i < text.length) {
    const open = text.indexOf('{{', i);
    let chunk = open < 0 ? text.slice(i) : text.slice(i, open);
    if (trimNextLeading) chunk = chunk.replace(/^[ \t\r\n]+/, '');
    trimNextLeading = false;
    if (open < 0) {
      if (chunk) nodes.push({ kind: 'text', text: chunk });
      break;
    }
    let start = open + 2;
    // "{{- " trims the text before; the dash must be followed by a space.
    if (text[start] === '-' && /[ \t\r\n]/.test(text[start + 1] ?? '')) {
      chunk = chunk.replace(/[ \t\r\n]+$/, '');
      start += 1;
    }
    if (chunk) nodes.push({ kind: 'text', text: chunk });
    const at = lineCol(text, open);
    const { pipe, end, trimRight, comment } = parseAction(text, start, funcs, at.line);
    if (!comment)
      nodes.push({ kind: 'action', pipe, source: text.slice(open, end), ...at, offset: open });
    trimNextLeading = trimRight;
    i = end;
  }
  return nodes;
}

function parseAction(
  text: string,
  start: number,
  funcs: ReadonlySet<string>,
  line: number,
): { pipe: Command[]; end: number; trimRight: boolean; comment: boolean } {
  const fail = (msg: string, at = start): never => {
    throw new InterpolationError(
      `template: root:${lineCol(text, at).line}: ${msg}`,
      lineCol(text, at).line,
      lineCol(text, at).column,
      // Point at the action's `{{` for errors inside it, where the user will look.
      Math.max(0, text.lastIndexOf('{{', at)),
    );
  };
  let p = start;
  const skipSpace = () => {
    while (p < text.length && /[ \t\r\n]/.test(text[p]!)) p++;
  };
  skipSpace();
  // Comments: {{/* ... */}}
  if (text.startsWith('/*', p)) {
    const close = text.indexOf('*/', p + 2);
    if (close < 0) fail('unclosed comment');
    p = close + 2;
    skipSpace();
    let trimRight = false;
    if (text.startsWith('-}}', p)) {
      trimRight = true;
      p += 1;
    }
    if (!text.startsWith('}}', p)) fail('comment ends before closing delimiter');
    return { pipe: [], end: p + 2, trimRight, comment: true };
  }

  const atClose = (): { ok: boolean; trim: boolean } => {
    if (text.startsWith('}}', p)) return { ok: true, trim: false };
    if (text[p] === '-' && text.startsWith('}}', p + 1) && /[ \t\r\n]/.test(text[p - 1] ?? ''))
      return { ok: true, trim: true };
    return { ok: false, trim: false };
  };

  const parsePipe = (inParen: boolean): Command[] => {
    const cmds: Command[] = [];
    let cmd: Command = [];
    for (;;) {
      skipSpace();
      if (p >= text.length) fail(inParen ? 'unclosed left paren' : 'unclosed action', text.length);
      if (!inParen && atClose().ok) break;
      const c = text[p]!;
      if (inParen && c === ')') {
        p++;
        break;
      }
      if (c === ')') fail(`unexpected right paren U+0029 ')'`, p);
      if (c === '|') {
        if (cmd.length === 0) fail(`missing value for command`, p);
        cmds.push(cmd);
        cmd = [];
        p++;
        continue;
      }
      if (c === '(') {
        p++;
        const inner = parsePipe(true);
        if (inner.length === 0) fail('missing value for parenthesized pipeline', p);
        cmd.push({ kind: 'pipe', pipe: inner });
        continue;
      }
      if (c === '`') {
        const close = text.indexOf('`', p + 1);
        if (close < 0) fail('unterminated raw quoted string', p);
        cmd.push({ kind: 'string', value: text.slice(p + 1, close) });
        p = close + 1;
        continue;
      }
      if (c === '"') {
        let j = p + 1;
        while (j < text.length && text[j] !== '"') {
          if (text[j] === '\\') j++;
          if (text[j] === '\n') fail('unterminated quoted string', p);
          j++;
        }
        if (j >= text.length) fail('unterminated quoted string', p);
        const raw = text.slice(p, j + 1);
        let value: string;
        try {
          value = JSON.parse(
            raw
              .replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1')
              .replace(/\\a/g, '\\u0007')
              .replace(/\\v/g, '\\u000b'),
          );
        } catch {
          fail(`bad character in quoted string: ${raw}`, p);
        }
        cmd.push({ kind: 'string', value: value! });
        p = j + 1;
        continue;
      }
      if (c === '.') {
        const m = /^(?:\.[A-Za-z_][A-Za-z0-9_]*)+/.exec(text.slice(p));
        if (m) {
          cmd.push({ kind: 'field', path: m[0].slice(1).split('.') });
          p += m[0].length;
        } else {
          cmd.push({ kind: 'dot' });
          p++;
        }
        continue;
      }
      if (c === '$') fail('variables ($x) are not supported in Packer templates', p);
      const num =
        /^[+-]?(?:0[xX][0-9a-fA-F_]+|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+)/.exec(
          text.slice(p),
        );
      if (num && (c !== '+' && c !== '-' ? true : /[0-9.]/.test(text[p + 1] ?? ''))) {
        const t = num[0].replace(/_/g, '');
        cmd.push({ kind: 'number', value: Number(t), text: num[0] });
        p += num[0].length;
        continue;
      }
      const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(p));
      if (id) {
        const name = id[0];
        p += name.length;
        if (name === 'true' || name === 'false') cmd.push({ kind: 'bool', value: name === 'true' });
        else if (name === 'nil') cmd.push({ kind: 'nil' });
        else if (KEYWORDS.has(name))
          fail(`"${name}" actions are not supported by kiln's template engine`, p - name.length);
        else if (!funcs.has(name)) fail(`function "${name}" not defined`, p - name.length);
        else cmd.push({ kind: 'func', name });
        continue;
      }
      fail(`unexpected "${c}" in command`, p);
    }
    if (cmd.length > 0) cmds.push(cmd);
    else if (cmds.length > 0) fail('missing value for command', p);
    return cmds;
  };

  const pipe = parsePipe(false);
  const close = atClose();
  if (pipe.length === 0) fail('missing value for command', p);
  void line;
  return { pipe, end: p + (close.trim ? 3 : 2), trimRight: close.trim, comment: false };
}

// ---------------------------------------------------------------------------------------
// Execution

function funcSet(ctx: InterpolationContext): Set<string> {
  return new Set([...Object.keys(BUILTIN_FUNCS), ...Object.keys(ctx.funcs ?? {})]);
}

function lookupFunc(ctx: InterpolationContext, name: string): TemplateFunc {
  return ctx.funcs?.[name] ?? BUILTIN_FUNCS[name]!;
}

function printValue(v: Value): string {
  if (v === undefined || v === null) return '<no value>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => printValue(x as Value)).join(' ')}]`;
  return `map[${Object.keys(v)
    .sort()
    .map((k) => `${k}:${printValue(v[k] as Value)}`)
    .join(' ')}]`;
}

function operandText(o: Operand): string {
  switch (o.kind) {
    case 'func':
      return o.name;
    case 'string':
      return `"${o.value}"`;
    case 'number':
      return o.text;
    case 'bool':
      return String(o.value);
    case 'nil':
      return 'nil';
    case 'dot':
      return '.';
    case 'field':
      return `.${o.path.join('.')}`;
    case 'pipe':
      return `(${o.pipe.map((c) => c.map(operandText).join(' ')).join(' | ')})`;
  }
}

/** Renders a template string once (Packer's RenderOnce). Throws InterpolationError. */
export function renderOnce(text: string, ctx: InterpolationContext): string {
  if (!text.includes('{{')) return text;
  const nodes = parseTemplate(text, funcSet(ctx));
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') {
      out += node.text;
      continue;
    }
    const fail = (msg: string): never => {
      throw new InterpolationError(
        `template: root:${node.line}:${node.column + 1}: executing "root" at <${node.source.replace(/^\{\{-?\s*|\s*-?\}\}$/g, '')}>: ${msg}`,
        node.line,
        node.column,
        node.offset,
      );
    };
    out += printValue(evalPipe(node.pipe, ctx, fail));
  }
  return out;
}

/** Renders until the result stops changing (Packer's Render, used for build names). */
export function render(text: string, ctx: InterpolationContext): string {
  let v = text;
  for (let i = 0; i < 100; i++) {
    const r = renderOnce(v, ctx);
    if (r === v) return r;
    v = r;
  }
  return v;
}

/** Checks a template string's syntax and function names without running it. */
export function validateSyntax(text: string, ctx: InterpolationContext): void {
  if (text.includes('{{')) parseTemplate(text, funcSet(ctx));
}

function evalPipe(pipe: Command[], ctx: InterpolationContext, fail: (m: string) => never): Value {
  let piped: Value | typeof NONE = NONE;
  for (const cmd of pipe) piped = evalCommand(cmd, piped, ctx, fail);
  return piped === NONE ? undefined : (piped as Value);
}

const NONE = Symbol('none');

function evalOperand(o: Operand, ctx: InterpolationContext, fail: (m: string) => never): Value {
  switch (o.kind) {
    case 'string':
    case 'number':
    case 'bool':
      return o.value;
    case 'nil':
      return fail('nil is not a command');
    case 'dot':
      return ctx.data as Value;
    case 'field': {
      let v: unknown = ctx.data;
      for (const seg of o.path) {
        if (v === undefined || v === null) return undefined;
        if (typeof v !== 'object') fail(`can't evaluate field ${seg} in type ${typeof v}`);
        v = (v as Record<string, unknown>)[seg];
      }
      return v as Value;
    }
    case 'pipe':
      return evalPipe(o.pipe, ctx, fail);
    case 'func':
      return callFunc(o.name, [], NONE, ctx, fail);
  }
}

function evalCommand(
  cmd: Command,
  piped: Value | typeof NONE,
  ctx: InterpolationContext,
  fail: (m: string) => never,
): Value {
  const [head, ...rest] = cmd;
  if (!head) return undefined;
  if (head.kind === 'func') {
    const args = rest.map((o) => ({
      o,
      v: o.kind === 'func' ? callFunc(o.name, [], NONE, ctx, fail) : evalOperand(o, ctx, fail),
    }));
    return callFunc(head.name, args, piped, ctx, fail);
  }
  if (rest.length > 0) fail(`can't give argument to non-function ${operandText(head)}`);
  if (piped !== NONE) fail(`can't give argument to non-function ${operandText(head)}`);
  return evalOperand(head, ctx, fail);
}

function callFunc(
  name: string,
  args: Array<{ o: Operand | null; v: Value }>,
  piped: Value | typeof NONE,
  ctx: InterpolationContext,
  fail: (m: string) => never,
): string {
  const fn = lookupFunc(ctx, name);
  const all = piped === NONE ? args : [...args, { o: null, v: piped as Value }];
  const n = fn.params.length;
  if (fn.variadic ? all.length < n : all.length !== n) {
    fail(
      `wrong number of args for ${name}: want ${fn.variadic ? 'at least ' : ''}${n} got ${all.length}`,
    );
  }
  const values = all.map((a, i) => {
    const want: ParamType = fn.params[i] ?? 'string';
    if (want === 'string') {
      if (typeof a.v === 'string') return a.v;
      if (
        a.o &&
        a.o.kind !== 'func' &&
        a.o.kind !== 'pipe' &&
        a.o.kind !== 'field' &&
        a.o.kind !== 'dot'
      ) {
        return fail(`expected string; found ${operandText(a.o)}`);
      }
      if (a.v === undefined || a.v === null) return fail(`invalid value; expected string`);
      return fail(`wrong type for value; expected string; got ${goTypeName(a.v)}`);
    }
    if (typeof a.v === 'number' && Number.isInteger(a.v)) return a.v;
    if (
      a.o &&
      a.o.kind !== 'func' &&
      a.o.kind !== 'pipe' &&
      a.o.kind !== 'field' &&
      a.o.kind !== 'dot'
    ) {
      return fail(`expected integer; found ${operandText(a.o)}`);
    }
    return fail(`wrong type for value; expected int; got ${goTypeName(a.v)}`);
  });
  try {
    return fn.call(ctx, values);
  } catch (err) {
    if (err instanceof FuncError) return fail(`error calling ${name}: ${err.message}`);
    throw err;
  }
}

function goTypeName(v: Value): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return '[]interface {}';
  if (v && typeof v === 'object') return 'map[string]interface {}';
  return 'interface {}';
}

/**
 * Renders every string inside a JSON-like value (objects, arrays), leaving keys untouched.
 * `onError` receives the path of a failing string; keys in `skip` at the top level are only
 * syntax-checked (Packer's late keys).
 */
export function renderDeep(
  value: unknown,
  ctx: InterpolationContext,
  onError: (path: Array<string | number>, err: InterpolationError) => void,
  skip: ReadonlySet<string> = new Set(),
  path: Array<string | number> = [],
): unknown {
  if (typeof value === 'string') {
    try {
      if (path.length >= 1 && skip.has(String(path[0]))) {
        validateSyntax(value, ctx);
        return value;
      }
      return renderOnce(value, ctx);
    } catch (err) {
      if (err instanceof InterpolationError) {
        onError(path, err);
        return value;
      }
      throw err;
    }
  }
  if (Array.isArray(value))
    return value.map((v, i) => renderDeep(v, ctx, onError, skip, [...path, i]));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = renderDeep(v, ctx, onError, skip, [...path, k]);
    return out;
  }
  return value;
}
