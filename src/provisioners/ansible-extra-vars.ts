/**
 * Keeps secrets off ansible-playbook's command line (which `ps` shows to every user): an
 * `-e`/`--extra-vars` value holding a secret is written to a 0600 JSON file (by the
 * caller's `write`, locally or on the machine) and passed as `-e @file` instead. Values
 * without secrets are left as given.
 */
import type { Secrets } from '../core/secrets.js';

/**
 * Parses `a=1 b="two words"` as Ansible's `parse_kv` does for `-e` (split on blanks
 * outside quotes and `{{ }}`, decode backslash escapes, split at the first unescaped `=`,
 * strip one pair of matching outer quotes). Undefined when a word is not `key=value`.
 */
export function parseKeyValues(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const word of splitArgs(text)) {
    const x = decodeEscapes(word);
    let pos = -1;
    for (let i = 1; i < x.length; i++) {
      if (x[i] === '=' && x[i - 1] !== '\\') {
        pos = i;
        break;
      }
    }
    if (pos <= 0) return undefined;
    out[x.slice(0, pos).trim()] = unquote(x.slice(pos + 1).trim());
  }
  return out;
}

function splitArgs(text: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let jinja = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const prev = i > 0 ? text[i - 1] : '';
    if (quote) {
      if (ch === quote && prev !== '\\') quote = undefined;
      cur += ch;
    } else if ((ch === '"' || ch === "'") && prev !== '\\') {
      quote = ch;
      cur += ch;
    } else if (ch === '{' && (text[i + 1] === '{' || text[i + 1] === '%')) {
      jinja++;
      cur += ch;
    } else if ((ch === '}' || ch === '%') && text[i + 1] === '}' && jinja > 0) {
      jinja--;
      cur += ch;
    } else if (/\s/.test(ch) && jinja === 0) {
      if (cur) words.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) words.push(cur);
  return words;
}

const ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

function decodeEscapes(s: string): string {
  return s.replace(
    /\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[\\'"abfnrtv])/g,
    (_m, e: string) => {
      if (e.length > 1) return String.fromCodePoint(Number.parseInt(e.slice(1), 16));
      return ESCAPES[e] ?? e;
    },
  );
}

function unquote(s: string): string {
  if (s.length >= 2 && (s[0] === '"' || s[0] === "'") && s[s.length - 1] === s[0])
    return s.slice(1, -1);
  return s;
}

/**
 * Returns the arguments with every secret-bearing extra-vars value moved into a file that
 * `write(n, json)` stores (returning its path). A value that cannot be converted safely is
 * kept (and still redacted in output).
 */
export async function moveSecretExtraVars(
  args: readonly string[],
  secrets: Secrets,
  write: (n: number, json: string) => Promise<string>,
): Promise<string[]> {
  const out: string[] = [];
  let n = 0;
  const toFile = async (value: string): Promise<string | undefined> => {
    if (value.startsWith('@') || !secrets.contains(value)) return undefined;
    const trimmed = value.trim();
    let json: string | undefined;
    if (trimmed.startsWith('{')) {
      try {
        JSON.parse(trimmed);
        json = trimmed;
      } catch {
        json = undefined;
      }
    } else {
      const kv = parseKeyValues(value);
      if (kv) json = JSON.stringify(kv);
    }
    if (json === undefined) return undefined;
    return `@${await write(++n, json)}`;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if ((a === '-e' || a === '--extra-vars') && i + 1 < args.length) {
      const moved = await toFile(args[i + 1]!);
      out.push(a, moved ?? args[i + 1]!);
      i++;
    } else if (a.startsWith('--extra-vars=')) {
      const moved = await toFile(a.slice('--extra-vars='.length));
      out.push(moved ? `--extra-vars=${moved}` : a);
    } else {
      out.push(a);
    }
  }
  return out;
}
