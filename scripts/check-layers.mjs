#!/usr/bin/env node
/**
 * Checks the layering of src/ (docs: /work/shared/DESIGN.md's layers table) from the relative
 * imports of every .ts file, type-only and dynamic ones included, and fails on:
 *   file-cycle     an import cycle between files;
 *   folder-cycle   a cycle between folders (a top-level folder of src/, each builders/<x> apart);
 *   builder-private  an import of src/builders/<x>/… from outside builders/<x>/, except src/plugins.ts;
 *   backend-in-core  a builder's type name as a string in src/core (core must know no backend).
 * Each violation is printed as `file: imports file (rule)`. Plain Node, no dependencies.
 * Usage: node scripts/check-layers.mjs [repository root]
 *
 * Test files (*.test.ts) are checked for builder-private, and count for no cycle: nothing
 * imports a test, and a test may exercise its layer through the real layers above it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// The repository to check: the one this script is in, unless a path is given (tests).
const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
const src = join(root, 'src');
const rel = (abs) => relative(root, abs).split(sep).join('/');
const isTest = (file) => file.endsWith('.test.ts');

/** Every .ts file under `dir`, sorted. */
function tsFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...tsFiles(full));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/**
 * Splits TypeScript source into code (comments blanked, newlines kept) and its string
 * literals with their line. Regex literals are told from division by the token before them.
 */
function scan(text) {
  let code = '';
  const strings = [];
  let line = 1;
  let i = 0;
  let prev = ''; // the last significant code character, to tell a regex from a division
  let prevWord = '';
  const templateDepth = []; // brace depth at each `${` of an open template literal
  let braces = 0;
  const blank = (s) => s.replace(/[^\n]/g, ' ');
  const readString = (quote) => {
    let j = i + 1;
    let value = '';
    while (j < text.length && text[j] !== quote) {
      if (text[j] === '\\') {
        value += text[j + 1];
        j += 2;
        continue;
      }
      if (quote === '`' && text[j] === '$' && text[j + 1] === '{') break;
      if (quote !== '`' && text[j] === '\n') break;
      value += text[j];
      j += 1;
    }
    return { end: j, value };
  };
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? text.length : end;
      code += blank(text.slice(i, stop));
      i = stop;
      continue;
    }
    if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      const chunk = text.slice(i, stop);
      code += blank(chunk);
      line += chunk.split('\n').length - 1;
      i = stop;
      continue;
    }
    if (c === "'" || c === '"' || c === '`' || (c === '}' && templateDepth.at(-1) === braces)) {
      const quote = c === '}' ? '`' : c;
      if (c === '}') {
        templateDepth.pop();
        braces -= 1;
      }
      const { end, value } = readString(quote);
      const startLine = line;
      const chunk = text.slice(i, Math.min(end + 1, text.length));
      line += chunk.split('\n').length - 1;
      if (quote === '`' && text[end] === '$') {
        code += text.slice(i, end + 2);
        templateDepth.push(++braces);
        i = end + 2;
      } else {
        code += chunk;
        i = end + 1;
      }
      strings.push({ value, line: startLine, template: quote === '`' });
      prev = quote;
      continue;
    }
    if (
      c === '/' &&
      (prev === '' ||
        '(,=:[!&|?{};+-*%<>~^'.includes(prev) ||
        /^(return|typeof|case|of|in)$/.test(prevWord))
    ) {
      let j = i + 1;
      let inClass = false;
      while (j < text.length && text[j] !== '\n') {
        if (text[j] === '\\') j += 1;
        else if (text[j] === '[') inClass = true;
        else if (text[j] === ']') inClass = false;
        else if (text[j] === '/' && !inClass) break;
        j += 1;
      }
      while (/[a-z]/i.test(text[j + 1] ?? '')) j += 1;
      code += text.slice(i, j + 1);
      i = j + 1;
      prev = '/regex';
      continue;
    }
    if (c === '{') braces += 1;
    if (c === '}') braces -= 1;
    if (c === '\n') line += 1;
    if (!/\s/.test(c)) {
      prev = c;
      if (/[\w$]/.test(c)) {
        const m = /^[\w$]+/.exec(text.slice(i));
        prevWord = m[0];
        code += m[0];
        i += m[0].length;
        prev = 'w';
        continue;
      }
      prevWord = '';
    }
    code += c;
    i += 1;
  }
  return { code, strings };
}

const IMPORT_RES = [
  /^\s*(?:import|export)\b[^;]*?\bfrom\s*(['"])(\.{1,2}\/[^'"]*)\1/gm,
  /^\s*import\s*(['"])(\.{1,2}\/[^'"]*)\1/gm,
  /\bimport\s*\(\s*(['"])(\.{1,2}\/[^'"]*)\1\s*\)/g,
];

/** The files `file` imports (relative specifiers only), resolved to absolute .ts paths. */
function importsOf(file, code) {
  const out = new Set();
  for (const re of IMPORT_RES) {
    for (const m of code.matchAll(re)) {
      const spec = m[2];
      const base = resolve(dirname(file), spec);
      const candidates = [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, join(base, 'index.ts')];
      const hit = candidates.find((c) => statSync(c, { throwIfNoEntry: false })?.isFile());
      if (hit?.endsWith('.ts')) out.add(hit);
    }
  }
  return [...out].sort();
}

/** The layer a file belongs to: its top folder under src/ (`builders/<x>` for a builder). */
function folderOf(file) {
  const parts = relative(src, file).split(sep);
  if (parts.length === 1) return '.';
  if (parts[0] === 'builders' && parts.length > 2) return `builders/${parts[1]}`;
  return parts[0];
}

/** Strongly connected components of a graph (Tarjan), each a sorted list of nodes. */
function sccs(nodes, edges) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const out = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index += 1;
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      out.push(comp.sort());
    }
  };
  for (const v of nodes) if (!idx.has(v)) visit(v);
  return out;
}

/** The builder type names: builders/ folder names and the registry's keys in src/plugins.ts. */
function builderNames() {
  const names = new Set(
    readdirSync(join(src, 'builders')).filter((n) =>
      statSync(join(src, 'builders', n)).isDirectory(),
    ),
  );
  const plugins = statSync(join(src, 'plugins.ts'), { throwIfNoEntry: false })
    ? readFileSync(join(src, 'plugins.ts'), 'utf8')
    : '';
  const block = /\bbuilders\s*:\s*\{([^}]*)\}/.exec(plugins)?.[1] ?? '';
  for (const m of block.matchAll(/(?:^|[{,])\s*(?:'([^']+)'|"([^"]+)"|([\w$]+))\s*:/g)) {
    names.add(m[1] ?? m[2] ?? m[3]);
  }
  return names;
}

const files = tsFiles(src);
const graph = new Map();
const violations = [];
const names = builderNames();

for (const file of files) {
  const { code, strings } = scan(readFileSync(file, 'utf8'));
  const deps = importsOf(file, code);
  graph.set(file, deps);

  for (const dep of deps) {
    const m = /^src\/builders\/([^/]+)\//.exec(rel(dep));
    if (!m) continue;
    const own = rel(file).startsWith(`src/builders/${m[1]}/`);
    if (!own && rel(file) !== 'src/plugins.ts') {
      violations.push(`${rel(file)}: imports ${rel(dep)} (builder-private)`);
    }
  }

  if (rel(file).startsWith('src/core/') && !isTest(file)) {
    for (const s of strings) {
      if (names.has(s.value)) {
        violations.push(`${rel(file)}:${s.line}: names builder '${s.value}' (backend-in-core)`);
      }
    }
  }
}

// Cycles are over the code that ships: tests are leaves and are left out.
const shipped = files.filter((f) => !isTest(f));
const edges = new Map(shipped.map((f) => [f, graph.get(f).filter((d) => !isTest(d))]));

for (const comp of sccs(shipped, edges)) {
  const inComp = new Set(comp);
  const cyclic = comp.length > 1 || edges.get(comp[0]).includes(comp[0]);
  if (!cyclic) continue;
  const label = comp.map(rel).join(', ');
  for (const f of comp) {
    for (const d of edges.get(f)) {
      if (inComp.has(d))
        violations.push(`${rel(f)}: imports ${rel(d)} (file-cycle among ${label})`);
    }
  }
}

const folderEdges = new Map();
for (const [f, deps] of edges) {
  for (const d of deps) {
    const a = folderOf(f);
    const b = folderOf(d);
    if (a === b) continue;
    if (!folderEdges.has(a)) folderEdges.set(a, new Set());
    folderEdges.get(a).add(b);
  }
}
const folders = [...new Set(shipped.map(folderOf))].sort();
for (const comp of sccs(folders, new Map([...folderEdges].map(([k, v]) => [k, [...v].sort()])))) {
  if (comp.length < 2) continue;
  const inComp = new Set(comp);
  const label = comp.join(' ↔ ');
  for (const [f, deps] of edges) {
    for (const d of deps) {
      const a = folderOf(f);
      const b = folderOf(d);
      if (a !== b && inComp.has(a) && inComp.has(b)) {
        violations.push(`${rel(f)}: imports ${rel(d)} (folder-cycle ${label})`);
      }
    }
  }
}

for (const v of violations) console.log(v);
if (violations.length > 0) {
  const counts = {};
  for (const v of violations) {
    const rule = /\(([\w-]+)/.exec(v.slice(v.lastIndexOf('(')))[1];
    counts[rule] = (counts[rule] ?? 0) + 1;
  }
  const summary = Object.entries(counts)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  console.error(
    `check-layers: ${violations.length} violations (${summary}) in ${files.length} files`,
  );
  process.exit(1);
}
console.error(`check-layers: ${files.length} files, no violation`);
