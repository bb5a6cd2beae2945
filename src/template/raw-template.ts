/**
 * The structure of a Packer 1.6.6 JSON template, checked like Packer's `template.Parse` and
 * `Template.Validate`: root keys, variable defaults, builders (type required, unique names),
 * provisioners (`only`/`except`/`override`/`pause_before`/`max_retries`/`timeout`), the three
 * forms of post-processors, `_`-prefixed comments. No interpolation happens here.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { parseGoDurationNs } from '../lib/duration.js';
import { UserError } from '../lib/errors.js';
import { nearest } from '../lib/suggest.js';
import { formatLoc, type JsonPath, type JsonSource, parseJsonSource } from './json-source.js';
import type { VariableDecl } from './variables.js';
import { jsonType } from './variables.js';

export interface RawBuilder {
  index: number;
  /** The name as written (may hold `{{ }}`), or the type. */
  rawName: string;
  type: string;
  config: Record<string, unknown>;
  path: JsonPath;
}

export interface RawProvisioner {
  index: number;
  type: string;
  config: Record<string, unknown>;
  only: string[];
  except: string[];
  override: Record<string, Record<string, unknown>>;
  pauseBeforeMs: number;
  /** As written; interpolated and parsed per build (Packer does it late too). */
  maxRetries: string;
  timeoutMs: number;
  path: JsonPath;
}

export interface RawPostProcessor {
  type: string;
  /** Defaults to the type. */
  name: string;
  config: Record<string, unknown>;
  only: string[];
  except: string[];
  keepInputArtifact?: boolean;
  path: JsonPath;
}

export interface RawTemplate {
  src: JsonSource;
  /** Absolute path of the template file. */
  path: string;
  dir: string;
  description?: string;
  minPackerVersion?: string;
  comments: Record<string, string>;
  variables: VariableDecl[];
  sensitiveVariables: string[];
  builders: RawBuilder[];
  provisioners: RawProvisioner[];
  cleanupProvisioner?: RawProvisioner;
  postProcessors: RawPostProcessor[][];
}

/** One problem found in a template, at a JSON path. */
export interface TemplateProblem {
  path: JsonPath;
  message: string;
  /** Point at the key itself rather than its value. */
  atKey?: boolean;
  /** For a string value: the character inside it where the problem is (an interpolation error). */
  offset?: number;
}

const ROOT_KEYS = [
  'min_packer_version',
  'description',
  'builders',
  'push',
  'post-processors',
  'provisioners',
  'error-cleanup-provisioner',
  'variables',
  'sensitive-variables',
];

/** `builders[0].foo` from a JSON path. */
export function formatPath(path: JsonPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Turns problems into the one UserError a user sees: each as `file:line:column: path: message`. */
export function problemsError(
  src: JsonSource,
  problems: TemplateProblem[],
  headline?: string,
): UserError {
  // In source order, each once (a provisioner's problem repeats for every build).
  const located = problems.map((p) => ({
    p,
    loc:
      p.offset !== undefined
        ? src.locInString(p.path, p.offset)
        : src.locOf(p.path, { key: p.atKey }),
  }));
  located.sort((a, b) => a.loc.line - b.loc.line || a.loc.column - b.loc.column);
  const details = [
    ...new Set(
      located.map(({ p, loc }) =>
        p.path.length > 0
          ? `${formatLoc(loc)}: ${formatPath(p.path)}: ${p.message}`
          : `${formatLoc(loc)}: ${p.message}`,
      ),
    ),
  ];
  const n = details.length;
  return new UserError(
    'TemplateInvalid',
    headline ?? `template ${src.file} has ${n} error${n === 1 ? '' : 's'}`,
    {
      details,
    },
  );
}

/** Reads and parses a template file's JSON (throws UserError on a syntax error). */
export function readTemplateSource(path: string): JsonSource {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(
      'TemplateUnreadable',
      `cannot read template ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
      {
        hint: 'Pass the path of a Packer JSON template.',
      },
    );
  }
  return parseJsonSource(path, text, 'JSON');
}

/** Checks the template's structure (Packer's Parse + Validate) and returns it, or throws all problems at once. */
export function parseRawTemplate(src: JsonSource): RawTemplate {
  const problems: TemplateProblem[] = [];
  const add = (path: JsonPath, message: string, atKey = false) =>
    problems.push({ path, message, atKey });
  const root = src.value();
  const abs = resolvePath(src.file);
  const tpl: RawTemplate = {
    src,
    path: abs,
    dir: dirname(abs),
    comments: {},
    variables: [],
    sensitiveVariables: [],
    builders: [],
    provisioners: [],
    postProcessors: [],
  };
  if (!isObject(root)) {
    throw problemsError(src, [
      { path: [], message: `a template must be a JSON object, found ${jsonType(root)}` },
    ]);
  }

  for (const key of Object.keys(root)) {
    if (ROOT_KEYS.includes(key)) continue;
    // An editor's schema (schemas/kiln-template.schema.json): kiln ignores it, Packer 1.6.6
    // refuses it as an unknown root key (docs/packer-differences.md, 21).
    if (key === '$schema') {
      const v = root[key];
      if (typeof v !== 'string')
        add([key], `expected the path or URL of a JSON Schema, found ${jsonType(v)}`);
      continue;
    }
    if (key.startsWith('_')) {
      const v = root[key];
      if (typeof v !== 'string')
        add([key], `comment "${key}" must be a string, found ${jsonType(v)}`);
      else tpl.comments[key] = v;
      continue;
    }
    const near = nearest(key, ROOT_KEYS);
    add([key], `unknown root level key "${key}"${near ? `; did you mean "${near}"?` : ''}`, true);
  }

  const str = (key: string): string | undefined => {
    const v = root[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') {
      add([key], `expected a string, found ${jsonType(v)}`);
      return undefined;
    }
    return v;
  };
  tpl.description = str('description');
  tpl.minPackerVersion = str('min_packer_version');

  // variables: string defaults; null = required; anything else is an error (Packer's strict decode).
  const vars = root.variables;
  if (vars !== undefined && vars !== null) {
    if (!isObject(vars))
      add(['variables'], `expected an object of variables, found ${jsonType(vars)}`);
    else {
      for (const [name, v] of Object.entries(vars)) {
        if (v === null) tpl.variables.push({ name, required: true });
        else if (typeof v === 'string') tpl.variables.push({ name, default: v, required: false });
        else
          add(
            ['variables', name],
            `variable "${name}": the default must be a string or null, found ${jsonType(v)}`,
          );
      }
    }
  }
  const sens = root['sensitive-variables'];
  if (sens !== undefined && sens !== null) {
    if (!Array.isArray(sens))
      add(['sensitive-variables'], `expected an array of variable names, found ${jsonType(sens)}`);
    else
      sens.forEach((s, i) => {
        if (typeof s !== 'string')
          add(['sensitive-variables', i], `expected a variable name, found ${jsonType(s)}`);
        else tpl.sensitiveVariables.push(s);
      });
  }

  // builders
  const builders = root.builders;
  const names = new Map<string, number>();
  if (builders !== undefined && builders !== null && !Array.isArray(builders)) {
    add(['builders'], `expected an array of builders, found ${jsonType(builders)}`);
  } else {
    for (const [i, b] of ((builders ?? []) as unknown[]).entries()) {
      const path: JsonPath = ['builders', i];
      if (!isObject(b)) {
        add(path, `a builder must be an object, found ${jsonType(b)}`);
        continue;
      }
      const type = weakString(b.type);
      const name = weakString(b.name);
      if (type === undefined) {
        add([...path, 'type'], `expected a string, found ${jsonType(b.type)}`);
        continue;
      }
      if (name === undefined) {
        add([...path, 'name'], `expected a string, found ${jsonType(b.name)}`);
        continue;
      }
      if (type === '') {
        add(path, `builder ${i + 1} is missing "type"`);
        continue;
      }
      const rawName = name || type;
      if (names.has(rawName)) {
        add(
          b.name !== undefined ? [...path, 'name'] : path,
          `a builder named "${rawName}" already exists (builders[${names.get(rawName)}]); give each builder a unique "name"`,
        );
        continue;
      }
      names.set(rawName, i);
      const { name: _n, type: _t, ...config } = b;
      tpl.builders.push({ index: i, rawName, type, config, path });
    }
  }

  // provisioners
  const provs = root.provisioners;
  if (provs !== undefined && provs !== null && !Array.isArray(provs)) {
    add(['provisioners'], `expected an array of provisioners, found ${jsonType(provs)}`);
  } else {
    (provs ?? []).forEach((p: unknown, i: number) => {
      const prov = decodeProvisioner(p, ['provisioners', i], i, add);
      if (prov) tpl.provisioners.push(prov);
    });
  }
  const cleanup = root['error-cleanup-provisioner'];
  if (cleanup !== undefined && cleanup !== null) {
    tpl.cleanupProvisioner = decodeProvisioner(cleanup, ['error-cleanup-provisioner'], 0, add);
  }

  // post-processors: "type", {…}, or [ "type" | {…}, … ] (a chain)
  const pps = root['post-processors'];
  if (pps !== undefined && pps !== null && !Array.isArray(pps)) {
    add(['post-processors'], `expected an array of post-processors, found ${jsonType(pps)}`);
  } else {
    for (const [i, raw] of ((pps ?? []) as unknown[]).entries()) {
      const chain: Array<{ v: unknown; path: JsonPath }> = [];
      if (typeof raw === 'string' || isObject(raw))
        chain.push({ v: raw, path: ['post-processors', i] });
      else if (Array.isArray(raw)) {
        raw.forEach((inner, j) => {
          const path: JsonPath = ['post-processors', i, j];
          if (Array.isArray(inner))
            add(path, 'a sequence is not allowed inside a sequence of post-processors');
          else if (typeof inner === 'string' || isObject(inner)) chain.push({ v: inner, path });
          else
            add(
              path,
              `a post-processor must be a type name or an object, found ${jsonType(inner)}`,
            );
        });
      } else {
        add(
          ['post-processors', i],
          `a post-processor must be a type name, an object or an array, found ${jsonType(raw)}`,
        );
        continue;
      }
      const out: RawPostProcessor[] = [];
      for (const { v, path } of chain) {
        const pp = decodePostProcessor(v, path, add);
        if (pp) out.push(pp);
      }
      tpl.postProcessors.push(out);
    }
  }

  if (problems.length > 0) throw problemsError(src, problems);
  return tpl;
}

/** Packer's Template.Validate: at least one builder; `only`/`except`/`override` name existing builders. */
export function validateRawTemplate(tpl: RawTemplate): void {
  const problems: TemplateProblem[] = [];
  const add = (path: JsonPath, message: string, atKey = false) =>
    problems.push({ path, message, atKey });
  const names = new Set(tpl.builders.map((b) => b.rawName));
  if (tpl.builders.length === 0) add(['builders'], 'at least one builder must be defined');
  const checkOnlyExcept = (o: { only: string[]; except: string[]; path: JsonPath }) => {
    if (o.only.length > 0 && o.except.length > 0)
      add(o.path, `only one of "only" or "except" may be specified`);
    for (const [key, list] of [
      ['only', o.only],
      ['except', o.except],
    ] as const) {
      list.forEach((n, k) => {
        if (!names.has(n)) {
          const near = nearest(n, names);
          add(
            [...o.path, key, k],
            `"${key}" names builder "${n}", which does not exist${near ? `; did you mean "${near}"?` : ''}`,
          );
        }
      });
    }
  };
  for (const p of tpl.provisioners) {
    checkOnlyExcept(p);
    for (const name of Object.keys(p.override)) {
      if (!names.has(name)) {
        const near = nearest(name, names);
        add(
          [...p.path, 'override', name],
          `override names builder "${name}", which does not exist${near ? `; did you mean "${near}"?` : ''}`,
          true,
        );
      }
    }
  }
  for (const chain of tpl.postProcessors) for (const pp of chain) checkOnlyExcept(pp);
  if (problems.length > 0) throw problemsError(tpl.src, problems);
}

function decodeProvisioner(
  p: unknown,
  path: JsonPath,
  index: number,
  add: (path: JsonPath, message: string, atKey?: boolean) => void,
): RawProvisioner | undefined {
  if (!isObject(p)) {
    add(path, `a provisioner must be an object, found ${jsonType(p)}`);
    return undefined;
  }
  let ok = true;
  const type = weakString(p.type);
  if (type === undefined) {
    add([...path, 'type'], `expected a string, found ${jsonType(p.type)}`);
    ok = false;
  } else if (type === '') {
    add(path, 'the provisioner is missing "type"');
    ok = false;
  }
  const only = weakStringList(p.only, [...path, 'only'], add);
  const except = weakStringList(p.except, [...path, 'except'], add);
  const override: Record<string, Record<string, unknown>> = {};
  if (p.override !== undefined && p.override !== null) {
    if (!isObject(p.override)) {
      add(
        [...path, 'override'],
        `expected an object keyed by builder name, found ${jsonType(p.override)}`,
      );
      ok = false;
    } else {
      for (const [k, v] of Object.entries(p.override)) {
        if (!isObject(v)) {
          add([...path, 'override', k], `expected an object, found ${jsonType(v)}`);
          ok = false;
        } else override[k] = v;
      }
    }
  }
  const duration = (key: string): number => {
    const v = p[key];
    if (v === undefined || v === null) return 0;
    if (typeof v === 'number') return Math.trunc(v) / 1e6; // Packer: a bare number is nanoseconds
    if (typeof v !== 'string') {
      add([...path, key], `expected a duration such as "30s" or "1m30s", found ${jsonType(v)}`);
      ok = false;
      return 0;
    }
    try {
      return Math.trunc(parseGoDurationNs(v) / 1e6);
    } catch (err) {
      add(
        [...path, key],
        `${(err as Error).message} (use a Go duration such as "500ms", "30s" or "1m30s")`,
      );
      ok = false;
      return 0;
    }
  };
  const pauseBeforeMs = duration('pause_before');
  const timeoutMs = duration('timeout');
  let maxRetries = '';
  if (p.max_retries !== undefined && p.max_retries !== null) {
    const s = weakString(p.max_retries);
    if (s === undefined) {
      add([...path, 'max_retries'], `expected an integer, found ${jsonType(p.max_retries)}`);
      ok = false;
    } else maxRetries = s;
  }
  if (!ok || only === undefined || except === undefined || type === undefined) return undefined;
  const {
    type: _t,
    only: _o,
    except: _e,
    override: _ov,
    pause_before: _p,
    max_retries: _m,
    timeout: _to,
    ...config
  } = p;
  return {
    index,
    type,
    config,
    only,
    except,
    override,
    pauseBeforeMs,
    maxRetries,
    timeoutMs,
    path,
  };
}

function decodePostProcessor(
  v: unknown,
  path: JsonPath,
  add: (path: JsonPath, message: string, atKey?: boolean) => void,
): RawPostProcessor | undefined {
  if (typeof v === 'string') return { type: v, name: v, config: {}, only: [], except: [], path };
  const o = v as Record<string, unknown>;
  let ok = true;
  const strictString = (key: string): string | undefined => {
    const x = o[key];
    if (x === undefined || x === null) return undefined;
    if (typeof x !== 'string') {
      add([...path, key], `expected a string, found ${jsonType(x)}`);
      ok = false;
      return undefined;
    }
    return x;
  };
  const type = strictString('type');
  const name = strictString('name');
  // Post-processors are decoded strictly by Packer: lists must be arrays of strings.
  const list = (key: string): string[] => {
    const x = o[key];
    if (x === undefined || x === null) return [];
    if (!Array.isArray(x) || x.some((s) => typeof s !== 'string')) {
      add([...path, key], `expected an array of builder names, found ${jsonType(x)}`);
      ok = false;
      return [];
    }
    return x as string[];
  };
  const only = list('only');
  const except = list('except');
  let keepInputArtifact: boolean | undefined;
  if (o.keep_input_artifact !== undefined && o.keep_input_artifact !== null) {
    if (typeof o.keep_input_artifact !== 'boolean') {
      add(
        [...path, 'keep_input_artifact'],
        `expected true or false, found ${jsonType(o.keep_input_artifact)}`,
      );
      ok = false;
    } else keepInputArtifact = o.keep_input_artifact;
  }
  if (ok && !type) {
    add(path, 'the post-processor is missing "type"');
    ok = false;
  }
  if (!ok || !type) return undefined;
  const { type: _t, name: _n, only: _o, except: _e, keep_input_artifact: _k, ...config } = o;
  return { type, name: name || type, config, only, except, keepInputArtifact, path };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** mapstructure's weak string: numbers and booleans become strings (`true` → "1"). */
function weakString(v: unknown): string | undefined {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? '1' : '0';
  return undefined;
}

function weakStringList(
  v: unknown,
  path: JsonPath,
  add: (path: JsonPath, message: string) => void,
): string[] | undefined {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) {
    const out: string[] = [];
    for (const [i, s] of v.entries()) {
      const w = weakString(s);
      if (w === undefined) {
        add([...path, i], `expected a builder name, found ${jsonType(s)}`);
        return undefined;
      }
      out.push(w);
    }
    return out;
  }
  add(path, `expected an array of builder names, found ${jsonType(v)}`);
  return undefined;
}
