/**
 * Packer's encoding functions: base64 (strict, standard alphabet, UTF-8 checked), base64gzip,
 * CSV with a header line (Go's encoding/csv rules), JSON both ways (cty's encoding: compact,
 * sorted keys, HTML-safe strings), url.QueryEscape, and text ↔ base64 in other encodings.
 */
import { gzipSync } from 'node:zlib';
import {
  asString,
  type FunctionDef,
  isNull,
  isWhollyKnown,
  list,
  listType,
  object,
  objectType,
  str,
  T,
  unknownOf,
  type Value,
} from '../value.js';
import { argError, define, fnError, param } from './define.js';
import { goJsonString, goQueryEscape } from './go-text.js';
import { jsonDecode, jsonMarshal } from './values.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Go's base64.StdEncoding.DecodeString (strict padding; \r and \n are skipped as Go skips them). */
function decodeBase64(s: string): Buffer | undefined {
  const clean = s.replace(/[\r\n]/g, '');
  if (!BASE64.test(clean)) return undefined;
  // Like Go's StdEncoding (not Strict), leftover bits in the last quantum are ignored.
  return Buffer.from(clean, 'base64');
}

function validUtf8(buf: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// CSV

class CsvError extends Error {}

/** Go's encoding/csv reader with FieldsPerRecord set by the header: records of strings. */
function readCsv(text: string): string[][] {
  const records: string[][] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  let want = -1;
  while (i < n) {
    // Skip empty lines, as encoding/csv does.
    if (text[i] === '\n') {
      i++;
      line++;
      continue;
    }
    if (text[i] === '\r' && text[i + 1] === '\n') {
      i += 2;
      line++;
      continue;
    }
    const recordLine = line;
    const fields: string[] = [];
    let colStart = i;
    while (true) {
      let field = '';
      if (text[i] === '"') {
        const quoteLine = line;
        const quoteCol = i - colStart + 1;
        void quoteLine;
        void quoteCol;
        i++;
        while (true) {
          if (i >= n)
            throw new CsvError(
              `parse error on line ${line}, column ${i - colStart + 1}: extraneous or missing " in quoted-field`,
            );
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            const next = text[i];
            if (
              next === undefined ||
              next === ',' ||
              next === '\n' ||
              (next === '\r' && text[i + 1] === '\n')
            )
              break;
            throw new CsvError(
              `parse error on line ${line}, column ${i - colStart + 1}: extraneous or missing " in quoted-field`,
            );
          }
          if (c === '\r' && text[i + 1] === '\n') {
            field += '\n';
            i += 2;
            line++;
            colStart = i;
            continue;
          }
          if (c === '\n') {
            line++;
            colStart = i + 1;
          }
          field += c;
          i++;
        }
      } else {
        while (
          i < n &&
          text[i] !== ',' &&
          text[i] !== '\n' &&
          !(text[i] === '\r' && text[i + 1] === '\n')
        ) {
          if (text[i] === '"') {
            throw new CsvError(
              `parse error on line ${line}, column ${i - colStart + 1}: bare " in non-quoted-field`,
            );
          }
          field += text[i];
          i++;
        }
      }
      fields.push(field);
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '\r') i += 2;
      else if (text[i] === '\n') i++;
      line++;
      break;
    }
    if (want === -1) want = fields.length;
    else if (fields.length !== want)
      throw new CsvError(`record on line ${recordLine}: wrong number of fields`);
    records.push(fields);
  }
  return records;
}

const csvdecode = define('csvdecode', {
  params: [param('str', T.string)],
  returnType: (args) => {
    let rows: string[][];
    try {
      rows = readCsv(asString(args[0]!));
    } catch (err) {
      if (!(err instanceof CsvError)) throw err;
      // Only an error in the header line stops the type check; the rest fail in the call.
      rows = [];
      const headerOnly = asString(args[0]!).split('\n')[0] ?? '';
      try {
        rows = readCsv(headerOnly);
      } catch (e2) {
        if (e2 instanceof CsvError) throw fnError(e2.message);
        throw e2;
      }
    }
    const headers = rows[0];
    if (!headers) throw fnError('missing header line');
    const seen = new Set<string>();
    for (const h of headers) {
      if (seen.has(h)) throw fnError(`duplicate column name ${goJsonString(h)}`);
      seen.add(h);
    }
    return listType(objectType(Object.fromEntries(headers.map((h) => [h, T.string]))));
  },
  impl: (args, rt) => {
    let rows: string[][];
    try {
      rows = readCsv(asString(args[0]!));
    } catch (err) {
      if (err instanceof CsvError) throw fnError(err.message);
      throw err;
    }
    const [headers, ...body] = rows as [string[], ...string[][]];
    const ety = (rt as { element: typeof rt }).element;
    return list(
      body.map((cols) => object(Object.fromEntries(cols.map((c, i) => [headers[i]!, str(c)])))),
      ety,
    );
  },
});

// ---------------------------------------------------------------------------------------------
// text encodings

interface TextEncoding {
  name: string;
  encode(s: string): Buffer | undefined;
  decode(b: Buffer): string;
}

function utf16(name: string, littleEndian: boolean, bom: boolean): TextEncoding {
  return {
    name,
    encode: (s) => {
      const le = Buffer.from(s, 'utf16le');
      const body = littleEndian ? le : le.swap16();
      return bom
        ? Buffer.concat([Buffer.from(littleEndian ? [0xff, 0xfe] : [0xfe, 0xff]), body])
        : body;
    },
    decode: (b) => {
      let le = littleEndian;
      let body = b;
      if (bom && b.length >= 2) {
        if (b[0] === 0xff && b[1] === 0xfe) {
          le = true;
          body = b.subarray(2);
        } else if (b[0] === 0xfe && b[1] === 0xff) {
          le = false;
          body = b.subarray(2);
        }
      }
      return new TextDecoder(le ? 'utf-16le' : 'utf-16be').decode(body);
    },
  };
}

/** The IANA names and aliases kiln can encode to and decode from (case-insensitive): UTF-8, UTF-16 and ISO-8859-1. */
function lookupEncoding(label: string): TextEncoding | undefined {
  const l = label.toLowerCase();
  if (l === 'utf-8' || l === 'csutf8') {
    return {
      name: 'UTF-8',
      encode: (s) => Buffer.from(s, 'utf8'),
      decode: (b) => new TextDecoder('utf-8').decode(b),
    };
  }
  if (l === 'utf-16le' || l === 'csutf16le') return utf16('UTF-16LE', true, false);
  if (l === 'utf-16be' || l === 'csutf16be') return utf16('UTF-16BE', false, false);
  if (l === 'utf-16' || l === 'csutf16') return utf16('UTF-16', false, true);
  if (
    [
      'iso-8859-1',
      'iso_8859-1',
      'latin1',
      'l1',
      'ibm819',
      'cp819',
      'csisolatin1',
      'iso-ir-100',
    ].includes(l)
  ) {
    return {
      name: 'ISO-8859-1',
      encode: (s) =>
        [...s].every((c) => c.codePointAt(0)! < 256) ? Buffer.from(s, 'latin1') : undefined,
      decode: (b) => b.toString('latin1'),
    };
  }
  // Other IANA encodings (windows-125x, ISO-8859-2…, Shift_JIS…) would need tables this
  // Node's ICU does not carry: they are refused as unsupported.
  return undefined;
}

function encodingArg(v: Value): TextEncoding {
  const label = asString(v);
  const enc = lookupEncoding(label);
  if (!enc)
    throw argError(1, `${goJsonString(label)} is not a supported IANA encoding name or alias`);
  return enc;
}

const textencodebase64 = define('textencodebase64', {
  params: [param('string', T.string), param('encoding', T.string)],
  returnType: T.string,
  impl: (args) => {
    const enc = encodingArg(args[1]!);
    const out = enc.encode(asString(args[0]!));
    if (!out) {
      throw argError(
        0,
        `the given string contains characters that cannot be represented in ${enc.name}`,
      );
    }
    return str(out.toString('base64'));
  },
});

const textdecodebase64 = define('textdecodebase64', {
  params: [param('source', T.string), param('encoding', T.string)],
  returnType: T.string,
  impl: (args) => {
    const enc = encodingArg(args[1]!);
    const s = asString(args[0]!);
    const raw = decodeBase64(s);
    if (!raw) {
      const bad = /[^A-Za-z0-9+/=\r\n]/.exec(s);
      const at = bad ? bad.index : s.replace(/[\r\n]/g, '').length;
      throw argError(0, `the given value is has an invalid base64 symbol at offset ${at}`);
    }
    const text = enc.decode(raw);
    if (text.includes('\ufffd')) {
      throw argError(0, `the given string contains symbols that are not defined for ${enc.name}`);
    }
    return str(text);
  },
});

// ---------------------------------------------------------------------------------------------

/** The encoding functions, by name. */
export const encodingFunctions: Record<string, FunctionDef> = {
  base64decode: define('base64decode', {
    params: [param('str', T.string)],
    returnType: T.string,
    impl: (args) => {
      const s = asString(args[0]!);
      const buf = decodeBase64(s);
      if (!buf) throw fnError(`failed to decode base64 data '${s}'`);
      const text = validUtf8(buf);
      if (text === undefined) {
        throw fnError('the result of decoding the the provided string is not valid UTF-8');
      }
      return str(text);
    },
  }),
  base64encode: define('base64encode', {
    params: [param('str', T.string)],
    returnType: T.string,
    impl: (args) => str(Buffer.from(asString(args[0]!), 'utf8').toString('base64')),
  }),
  base64gzip: define('base64gzip', {
    params: [param('str', T.string)],
    returnType: T.string,
    impl: (args) => {
      const gz = gzipSync(Buffer.from(asString(args[0]!), 'utf8'));
      // Go's gzip writer leaves the OS byte "unknown" (255); zlib writes its own.
      gz[9] = 0xff;
      return str(gz.toString('base64'));
    },
  }),
  csvdecode,
  jsondecode: define('jsondecode', {
    params: [param('str', T.string)],
    returnType: (args) => jsonDecode(asString(args[0]!)).type,
    impl: (args) => jsonDecode(asString(args[0]!)),
  }),
  jsonencode: define('jsonencode', {
    params: [
      param('val', T.dynamic, { allowUnknown: true, allowDynamicType: true, allowNull: true }),
    ],
    returnType: T.string,
    impl: (args) => {
      const v = args[0]!;
      if (!isWhollyKnown(v)) return unknownOf(T.string);
      if (isNull(v)) return str('null');
      return str(jsonMarshal(v));
    },
  }),
  textdecodebase64,
  textencodebase64,
  urlencode: define('urlencode', {
    params: [param('str', T.string)],
    returnType: T.string,
    impl: (args) => str(goQueryEscape(asString(args[0]!))),
  }),
};
