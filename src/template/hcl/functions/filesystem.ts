/**
 * Packer's filesystem functions: paths as Go's path/filepath handles them (Clean, Base, Dir,
 * Abs), `~` expanded as mitchellh/go-homedir does, files read relative to the template's
 * folder, `fileset` with doublestar globs (`**`, `{a,b}`, classes), and `templatefile`, which
 * renders through the evaluator handed in (the function library has no template engine).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import {
  asString,
  bool,
  DYNAMIC,
  entriesOf,
  type FunctionDef,
  isKnown,
  set,
  setType,
  str,
  T,
  type Value,
} from '../value.js';
import { argError, define, fnError, param } from './define.js';

/** Go's filepath.Clean (POSIX). */
export function goClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

/** Go's filepath.Base. */
export function goBase(p: string): string {
  if (p === '') return '.';
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** Go's filepath.Dir. */
export function goDir(p: string): string {
  const i = p.lastIndexOf('/');
  return goClean(p.slice(0, i + 1));
}

/** go-homedir's Expand: `~` and `~/…` become the home folder; `~user` is refused. */
export function expandHome(p: string): string {
  if (p === '' || p[0] !== '~') return p;
  if (p.length > 1 && p[1] !== '/' && p[1] !== '\\') {
    throw fnError('cannot expand user-specific home dir');
  }
  return (process.env.HOME || homedir()) + p.slice(1);
}

function resolveIn(baseDir: string, p: string): string {
  let expanded: string;
  try {
    expanded = expandHome(p);
  } catch (err) {
    throw fnError(`failed to expand ~: ${(err as Error).message}`);
  }
  return goClean(path.isAbsolute(expanded) ? expanded : `${baseDir}/${expanded}`);
}

/** go-cty-funcs' readFileBytes: the file's bytes, or "no file exists at …". */
export function readTemplateFile(baseDir: string, p: string): Buffer {
  const full = resolveIn(baseDir, p);
  try {
    return readFileSync(full);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw fnError(`no file exists at ${full}`);
    throw fnError(`failed to read ${full}`);
  }
}

function utf8OrFail(buf: Buffer, p: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    throw fnError(
      `contents of ${p} are not valid UTF-8; use the filebase64 function to obtain the Base64 encoded contents or the other file functions (e.g. filemd5, filesha256) to obtain file hashing results instead`,
    );
  }
}

/** Go's FileMode.String for what stat reports: type letter (d, L, p, S, D, c or -) and rwx bits. */
function goModeString(st: import('node:fs').Stats): string {
  let t = '-';
  if (st.isDirectory()) t = 'd';
  else if (st.isSymbolicLink()) t = 'L';
  else if (st.isFIFO()) t = 'p';
  else if (st.isSocket()) t = 'S';
  else if (st.isBlockDevice()) t = 'D';
  else if (st.isCharacterDevice()) t = 'Dc';
  const rwx = 'rwxrwxrwx';
  let bits = '';
  for (let i = 0; i < 9; i++) bits += st.mode & (1 << (8 - i)) ? rwx[i] : '-';
  return t + bits;
}

// ---------------------------------------------------------------------------------------------
// doublestar globs

/** A doublestar pattern as a RegExp over slash-separated paths; throws on bad syntax. */
export function globToRegExp(pattern: string): RegExp {
  let i = 0;
  const parse = (inBrace: boolean): string => {
    let out = '';
    while (i < pattern.length) {
      const c = pattern[i]!;
      if (inBrace && (c === ',' || c === '}')) return out;
      if (c === '\\') {
        const n = pattern[i + 1];
        if (n === undefined) throw new Error('syntax error in pattern');
        out += n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
        i += 2;
        continue;
      }
      if (c === '*') {
        const segStart = i === 0 || pattern[i - 1] === '/';
        if (
          pattern[i + 1] === '*' &&
          segStart &&
          (pattern[i + 2] === '/' || i + 2 === pattern.length)
        ) {
          // "**" as a whole segment: any number of folders (zero included).
          if (pattern[i + 2] === '/') {
            out += '(?:[^/]*(?:/[^/]*)*/)?';
            i += 3;
          } else {
            out += '.*';
            i += 2;
          }
          continue;
        }
        while (pattern[i] === '*') i++;
        out += '[^/]*';
        continue;
      }
      if (c === '?') {
        out += '[^/]';
        i++;
        continue;
      }
      if (c === '[') {
        let j = i + 1;
        let cls = '';
        if (pattern[j] === '^' || pattern[j] === '!') {
          cls += '^';
          j++;
        }
        let closed = false;
        while (j < pattern.length) {
          const d = pattern[j]!;
          if (d === ']' && cls.replace('^', '') !== '') {
            closed = true;
            break;
          }
          if (d === '\\' && j + 1 < pattern.length) {
            cls += `\\${pattern[j + 1]}`;
            j += 2;
            continue;
          }
          cls += d === '/' ? '' : d.replace(/[\]\\^]/g, '\\$&');
          j++;
        }
        if (!closed) throw new Error('syntax error in pattern');
        out += cls.startsWith('^') ? `(?:(?!/)[${cls}])` : `[${cls}]`;
        i = j + 1;
        continue;
      }
      if (c === '{') {
        i++;
        const alts: string[] = [];
        while (true) {
          alts.push(parse(true));
          if (pattern[i] === ',') {
            i++;
            continue;
          }
          if (pattern[i] === '}') {
            i++;
            break;
          }
          throw new Error('syntax error in pattern');
        }
        out += `(?:${alts.join('|')})`;
        continue;
      }
      out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      i++;
    }
    if (inBrace) throw new Error('syntax error in pattern');
    return out;
  };
  return new RegExp(`^${parse(false)}$`, 'u');
}

function walkFiles(dir: string, out: string[]): void {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const full = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`;
    if (e.isDirectory()) walkFiles(full, out);
    else out.push(full);
  }
}

/** fileset(path, pattern): the regular files under path matching pattern, relative to path. */
export function fileSet(baseDir: string, dir: string, pattern: string): string[] {
  const root = goClean(path.isAbsolute(dir) ? dir : `${baseDir}/${dir}`);
  const full = goClean(`${root}/${pattern}`);
  let re: RegExp;
  try {
    re = globToRegExp(full);
  } catch (err) {
    throw fnError(`failed to glob pattern (${full}): ${(err as Error).message}`);
  }
  // Walk only below the pattern's literal leading folders.
  const segs = full.split('/');
  const literal: string[] = [];
  for (const seg of segs.slice(0, -1)) {
    if (/[*?[{\\]/.test(seg)) break;
    literal.push(seg);
  }
  const start = literal.join('/') || (full.startsWith('/') ? '/' : '.');
  const files: string[] = [];
  walkFiles(start, files);
  const out: string[] = [];
  for (const f of files) {
    const candidate = start === '.' ? f.slice(2) : f;
    if (!re.test(candidate)) continue;
    let st: import('node:fs').Stats;
    try {
      st = statSync(f);
    } catch (err) {
      throw fnError(`failed to stat (${f}): ${(err as Error).message}`);
    }
    if (!st.isFile()) continue;
    out.push(path.relative(root, path.resolve(f)).split(path.sep).join('/'));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

/**
 * Renders a template file's text (HCL template syntax) with the given variables and functions;
 * throws FnError for problems in the template (the default is renderHclTemplate, over the
 * parser and evaluator).
 */
export type TemplateRenderer = (
  source: string,
  filename: string,
  variables: ReadonlyMap<string, Value>,
  functions: Readonly<Record<string, FunctionDef>>,
) => Value;

const IDENTIFIER = /^[\p{ID_Start}_][\p{ID_Continue}-]*$/u;

/** templatefile, bound to the template folder, the renderer and the full function table. */
export function templateFileFunction(
  baseDir: string,
  render: TemplateRenderer,
  table: () => Readonly<Record<string, FunctionDef>>,
): FunctionDef {
  const params = [param('path', T.string), param('vars', T.dynamic)];
  const run = (args: readonly Value[]): Value => {
    const p = asString(args[0]!);
    const vars = args[1]!;
    const text = utf8OrFail(readTemplateFile(baseDir, p), p);
    if (vars.type.kind !== 'map' && vars.type.kind !== 'object') {
      throw argError(1, 'invalid vars value: must be a map');
    }
    const variables = entriesOf(vars);
    for (const name of variables.keys()) {
      if (!IDENTIFIER.test(name)) {
        throw argError(
          1,
          `invalid template variable name ${JSON.stringify(name)}: must start with a letter, followed by zero or more letters, digits, and underscores`,
        );
      }
    }
    // A template may not call templatefile again (no recursion through files).
    const funcs: Record<string, FunctionDef> = { ...table() };
    funcs.templatefile = define('templatefile', {
      params,
      returnType: () => {
        throw fnError('cannot recursively call templatefile from inside templatefile call');
      },
      impl: () => DYNAMIC,
    });
    return render(text, p, variables, funcs);
  };
  return define('templatefile', {
    params,
    returnType: (args) => (isKnown(args[0]!) && isKnown(args[1]!) ? run(args).type : T.dynamic),
    impl: (args) => run(args),
  });
}

/** The filesystem functions, bound to the template's folder (Packer's basedir). */
export function filesystemFunctions(baseDir: string): Record<string, FunctionDef> {
  const pathFn = (name: string, f: (p: string) => string): FunctionDef =>
    define(name, {
      params: [param('path', T.string)],
      returnType: T.string,
      impl: (args) => str(f(asString(args[0]!))),
    });
  return {
    abspath: pathFn('abspath', (p) => goClean(path.resolve(p))),
    basename: pathFn('basename', goBase),
    dirname: pathFn('dirname', goDir),
    file: pathFn('file', (p) => utf8OrFail(readTemplateFile(baseDir, p), p)),
    filebase64: pathFn('filebase64', (p) => {
      // Packer's own filebase64 reads relative to the working folder, without ~ expansion.
      try {
        return readFileSync(p).toString('base64');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const why =
          code === 'ENOENT'
            ? 'no such file or directory'
            : code === 'EISDIR'
              ? 'is a directory'
              : String(code);
        throw fnError(`failed to read file ${JSON.stringify(p)}: open ${p}: ${why}`);
      }
    }),
    fileexists: define('fileexists', {
      params: [param('path', T.string)],
      returnType: T.bool,
      impl: (args) => {
        const full = resolveIn(baseDir, asString(args[0]!));
        let st: import('node:fs').Stats;
        try {
          st = statSync(full);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return bool(false);
          throw fnError(`failed to stat ${full}`);
        }
        if (st.isFile()) return bool(true);
        throw fnError(`${full} is not a regular file, but ${JSON.stringify(goModeString(st))}`);
      },
    }),
    fileset: define('fileset', {
      params: [param('path', T.string), param('pattern', T.string)],
      returnType: setType(T.string),
      impl: (args) =>
        set(
          fileSet(baseDir, asString(args[0]!), asString(args[1]!)).map((f) => str(f)),
          T.string,
        ),
    }),
    pathexpand: pathFn('pathexpand', expandHome),
  };
}
