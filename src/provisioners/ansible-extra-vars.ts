/**
 * Keeps secrets off ansible-playbook's command line (which `ps` shows to every user): an
 * `-e`/`--extra-vars` value holding a secret is written to a 0600 JSON file (by the
 * caller's `write`, locally or on the machine) and passed as `-e @file` instead. Values
 * without secrets are left as given.
 */
import type { Secrets } from '../core/secrets.js';

/** Splits `a=1 b="two words" c='x'` the way Ansible's key=value parser does for plain cases. */
export function parseKeyValues(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    let token = '';
    while (i < text.length && !/\s/.test(text[i]!)) {
      const ch = text[i]!;
      if (ch === '"' || ch === "'") {
        const end = text.indexOf(ch, i + 1);
        if (end < 0) return undefined;
        token += text.slice(i + 1, end);
        i = end + 1;
      } else if (ch === '\\' && i + 1 < text.length) {
        token += text[i + 1];
        i += 2;
      } else {
        token += ch;
        i++;
      }
    }
    const eq = token.indexOf('=');
    if (eq <= 0) return undefined;
    out[token.slice(0, eq)] = token.slice(eq + 1);
  }
  return out;
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
