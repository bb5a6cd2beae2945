/**
 * The set of values that must never reach output, the catalog or an image. Redaction
 * covers each secret raw and in the forms it takes on the way out: JSON-escaped,
 * shell-quoted, base64, Packer's comma escape, and each of its lines on its own.
 */
export const REDACTED = '<sensitive>';

export class Secrets {
  private readonly values = new Set<string>();
  private pattern: RegExp | undefined;

  /** Registers a secret (and its derived forms). Values shorter than 3 chars are ignored: redacting them would shred output. */
  add(value: string | undefined | null): void {
    if (value === undefined || value === null) return;
    const v = String(value);
    if (v.length < 3 || this.values.has(v)) return;
    this.values.add(v);
    this.pattern = undefined;
  }

  get size(): number {
    return this.values.size;
  }

  /** True when `text` contains any registered secret in any known form. */
  contains(text: string): boolean {
    const p = this.compiled();
    if (!p) return false;
    p.lastIndex = 0;
    return p.test(text);
  }

  /** Replaces every form of every secret in `text` with `<sensitive>`. */
  redact(text: string): string {
    const p = this.compiled();
    if (!p) return text;
    return text.replace(p, REDACTED);
  }

  /** Redacts every string inside a JSON-like value (for the catalog and JSON output). */
  redactDeep<T>(value: T): T {
    if (this.values.size === 0) return value;
    if (typeof value === 'string') return this.redact(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.redactDeep(v)) as T;
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.redactDeep(v);
      return out as T;
    }
    return value;
  }

  private compiled(): RegExp | undefined {
    if (this.values.size === 0) return undefined;
    if (this.pattern) return this.pattern;
    const forms = new Set<string>();
    for (const v of this.values) {
      for (const f of derivedForms(v)) if (f.length >= 3) forms.add(f);
    }
    // Longest first, so a secret is replaced whole before any of its lines.
    const sorted = [...forms].sort((a, b) => b.length - a.length);
    this.pattern = new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
    return this.pattern;
  }
}

function derivedForms(v: string): string[] {
  const json = JSON.stringify(v).slice(1, -1);
  const forms = [
    v,
    json,
    JSON.stringify(json).slice(1, -1),
    shellQuote(v),
    v.replace(/'/g, `'"'"'`),
    v.replace(/([\\"$`])/g, '\\$1'),
    v.replace(/,/g, '%!(PACKER_COMMA)').replace(/\n/g, '\\n'),
    v.replace(/\n/g, '\\n'),
    Buffer.from(v).toString('base64'),
    Buffer.from(v).toString('base64').replace(/=+$/, ''),
    encodeURIComponent(v),
  ];
  if (/[\r\n]/.test(v)) {
    for (const line of v.split(/\r?\n/)) {
      const t = line.trim();
      // Lines such as "-----END PRIVATE KEY-----" are not secret on their own; the key body is.
      if (t.length >= 6 && !/^-----(BEGIN|END) [A-Z ]+-----$/.test(t)) forms.push(t);
    }
  }
  return forms;
}

function shellQuote(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
