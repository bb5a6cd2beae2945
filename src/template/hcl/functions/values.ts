/**
 * Helpers the function library shares: Go's integer extraction (gocty.FromCtyValue into an
 * int), cty's JSON encoding of a value, and JSON decoding into the value whose type the JSON
 * implies (objects → object, arrays → tuple), with go-cty's and encoding/json's error texts.
 */
import {
  asBool,
  asNumber,
  asString,
  bool,
  elementsOf,
  entriesOf,
  isKnown,
  isNull,
  NULL,
  num,
  object,
  str,
  tuple,
  type Value,
} from '../value.js';
import { FnError, fnError } from './define.js';
import { floatText } from './go-fmt.js';
import { goJsonString } from './go-text.js';

const INT64_RANGE = 'between -9223372036854775808 and 9223372036854775807';

/** The whole number inside a number value, or FnError as gocty words it. */
export function goInt(v: Value, argIndex?: number): number {
  const n = asNumber(v);
  if (!Number.isInteger(n) || Math.abs(n) >= 2 ** 63) {
    throw new FnError(`value must be a whole number, ${INT64_RANGE}`, argIndex);
  }
  return n;
}

/** A number as cty's JSON and string conversion write it: shortest, never an exponent. */
export function numberText(n: number): string {
  return floatText(n, 'f', -1);
}

/** cty's json.Marshal of a wholly known value, compact, object keys sorted. */
export function jsonMarshal(v: Value): string {
  if (!isKnown(v)) throw fnError('value is not known');
  if (isNull(v)) return 'null';
  switch (v.type.kind) {
    case 'string':
      return goJsonString(asString(v));
    case 'number': {
      const n = asNumber(v);
      if (!Number.isFinite(n)) throw fnError('cannot serialize infinity as JSON');
      return numberText(n);
    }
    case 'bool':
      return asBool(v) ? 'true' : 'false';
    case 'list':
    case 'set':
    case 'tuple':
      return `[${elementsOf(v).map(jsonMarshal).join(',')}]`;
    case 'map':
    case 'object':
      return `{${[...entriesOf(v)].map(([k, e]) => `${goJsonString(k)}:${jsonMarshal(e)}`).join(',')}}`;
    default:
      throw fnError('value is not known');
  }
}

/** A JSON text that encoding/json rejects, worded as Go words it. */
class JsonSyntax extends Error {}

class JsonReader {
  pos = 0;
  private inToken = false;
  constructor(readonly text: string) {}

  private ws(): void {
    while (this.pos < this.text.length && ' \t\n\r'.includes(this.text[this.pos]!)) this.pos++;
  }

  private fail(context: string): never {
    // encoding/json's Decoder: input ending between tokens is "EOF", inside one "unexpected EOF".
    if (this.pos >= this.text.length) throw new JsonSyntax(this.inToken ? 'unexpected EOF' : 'EOF');
    const ch = this.text[this.pos]!;
    const shown = ch === "'" ? "'\\''" : `'${ch}'`;
    throw new JsonSyntax(`invalid character ${shown} ${context}`);
  }

  document(): Value {
    const v = this.value('looking for beginning of value');
    this.ws();
    if (this.pos < this.text.length) throw new JsonSyntax('extraneous data after JSON object');
    return v;
  }

  private value(context: string): Value {
    this.ws();
    const c = this.text[this.pos];
    if (c === '{') return this.obj();
    if (c === '[') return this.arr();
    if (c === '"') return str(this.string());
    if (c === 't' || c === 'f' || c === 'n') {
      for (const [word, v] of [
        ['true', bool(true)],
        ['false', bool(false)],
        ['null', NULL],
      ] as const) {
        if (this.text.startsWith(word, this.pos)) {
          this.pos += word.length;
          return v;
        }
      }
      // Point at the first character that departs from the literal.
      const word = c === 't' ? 'true' : c === 'f' ? 'false' : 'null';
      let i = 0;
      while (this.text[this.pos + i] === word[i]) i++;
      this.pos += i;
      this.inToken = true;
      this.fail(`in literal ${word} (expecting '${word[i]}')`);
    }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return num(this.number());
    this.fail(context);
  }

  private number(): number {
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(
      this.text.slice(this.pos),
    );
    if (!m) {
      this.pos++;
      this.fail('in numeric literal');
    }
    this.pos += m[0].length;
    return Number(m[0]);
  }

  private string(): string {
    this.pos++;
    let out = '';
    while (true) {
      if (this.pos >= this.text.length) throw new JsonSyntax('unexpected EOF');
      const ch = this.text[this.pos]!;
      if (ch === '"') {
        this.pos++;
        return out;
      }
      if (ch.charCodeAt(0) < 0x20) this.fail('in string literal');
      if (ch === '\\') {
        const e = this.text[this.pos + 1];
        const simple: Record<string, string> = {
          '"': '"',
          '\\': '\\',
          '/': '/',
          b: '\b',
          f: '\f',
          n: '\n',
          r: '\r',
          t: '\t',
        };
        if (e !== undefined && simple[e] !== undefined) {
          out += simple[e];
          this.pos += 2;
          continue;
        }
        if (e === 'u' && /^[0-9A-Fa-f]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) {
          out += String.fromCharCode(
            Number.parseInt(this.text.slice(this.pos + 2, this.pos + 6), 16),
          );
          this.pos += 6;
          continue;
        }
        this.pos++;
        this.fail('in string escape code');
      }
      out += ch;
      this.pos++;
    }
  }

  private obj(): Value {
    this.pos++;
    const attrs = new Map<string, Value>();
    this.ws();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return object(attrs);
    }
    while (true) {
      this.ws();
      if (this.text[this.pos] !== '"') this.fail('looking for beginning of object key string');
      const key = this.string();
      if (attrs.has(key)) throw new JsonSyntax(`duplicate "${key}" property in JSON object`);
      this.ws();
      if (this.text[this.pos] !== ':') this.fail('after object key');
      this.pos++;
      attrs.set(key, this.value('looking for beginning of value'));
      this.ws();
      const c = this.text[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === '}') {
        this.pos++;
        return object(attrs);
      }
      this.fail('after object key:value pair');
    }
  }

  private arr(): Value {
    this.pos++;
    const elems: Value[] = [];
    this.ws();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return tuple(elems);
    }
    while (true) {
      elems.push(this.value('looking for beginning of value'));
      this.ws();
      const c = this.text[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === ']') {
        this.pos++;
        return tuple(elems);
      }
      this.fail('after array element');
    }
  }
}

/** Decodes JSON into the value of its implied type; FnError with Go's message when invalid. */
export function jsonDecode(text: string): Value {
  try {
    return new JsonReader(text).document();
  } catch (err) {
    if (err instanceof JsonSyntax) throw fnError(err.message);
    throw err;
  }
}
