/**
 * Packer's hash and crypto functions (go-cty-funcs): hex digests of a string's UTF-8 bytes,
 * `bcrypt` ($2a$, cost 10 by default), `rsadecrypt` (PKCS #1 v1.5 with a PKCS #1 PEM key) and
 * UUIDs v4 (random) and v5 (SHA-1, with the dns/url/oid/x500 namespaces by name).
 */
import { createHash, createPrivateKey, randomBytes, randomUUID } from 'node:crypto';
import { asString, type FunctionDef, str, T } from '../value.js';
import { bcryptHash } from './bcrypt.js';
import { define, fnError, param } from './define.js';
import { goInt } from './values.js';

function hashFn(name: string, algorithm: string): FunctionDef {
  return define(name, {
    params: [param('str', T.string)],
    returnType: T.string,
    impl: (args) => str(createHash(algorithm).update(asString(args[0]!), 'utf8').digest('hex')),
  });
}

const NAMESPACES: Record<string, string> = {
  dns: '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
  url: '6ba7b811-9dad-11d1-80b4-00c04fd430c8',
  oid: '6ba7b812-9dad-11d1-80b4-00c04fd430c8',
  x500: '6ba7b814-9dad-11d1-80b4-00c04fd430c8',
};

/** google/uuid's Parse: 36 characters, or with braces, a urn:uuid: prefix, or 32 bare hex digits. */
function parseUuid(s: string): Buffer {
  let hex: string;
  switch (s.length) {
    case 36:
      if (
        !/^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/.test(s)
      ) {
        throw new Error(s.split('-').length === 5 ? 'invalid UUID format' : 'invalid UUID format');
      }
      hex = s.replace(/-/g, '');
      break;
    case 38:
      if (!s.startsWith('{') || !s.endsWith('}')) throw new Error('invalid UUID format');
      return parseUuid(s.slice(1, -1));
    case 45:
      if (!s.toLowerCase().startsWith('urn:uuid:'))
        throw new Error(`invalid urn prefix: "${s.slice(0, 9)}"`);
      return parseUuid(s.slice(9));
    case 32:
      if (!/^[0-9A-Fa-f]{32}$/.test(s)) throw new Error('invalid UUID format');
      hex = s;
      break;
    default:
      throw new Error(`invalid UUID length: ${s.length}`);
  }
  return Buffer.from(hex, 'hex');
}

function formatUuid(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A name-based UUID (version 5: SHA-1 of namespace and name). */
export function uuidV5(namespace: Buffer, name: string): string {
  const b = createHash('sha1').update(namespace).update(name, 'utf8').digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return formatUuid(Buffer.from(b));
}

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = base % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return result;
}

const b64urlToBigInt = (s: string) =>
  BigInt(`0x${Buffer.from(s, 'base64url').toString('hex') || '0'}`);

/** Whether DER holds a PKCS #1 RSAPrivateKey: SEQUENCE { INTEGER version, INTEGER modulus, … }. */
function isPkcs1(der: Buffer): boolean {
  if (der[0] !== 0x30) return false;
  let i = 1;
  const len = der[i]!;
  i += len & 0x80 ? 1 + (len & 0x7f) : 1;
  if (der[i] !== 0x02) return false;
  i += 2 + der[i + 1]!;
  return der[i] === 0x02;
}

/**
 * RSA PKCS #1 v1.5 decryption done with BigInts: Node 20 refuses this padding in
 * privateDecrypt (CVE-2023-46809), while Packer's rsadecrypt is defined by it.
 */
function rsaDecrypt(cipher: Buffer, pem: string): Buffer {
  const block = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(pem);
  if (!block) throw fnError('failed to parse key: no key found');
  if (/Proc-Type:\s*4,ENCRYPTED/.test(block[2]!)) {
    throw fnError(
      'failed to parse key: password protected keys are not supported. Please decrypt the key prior to use',
    );
  }
  const der = Buffer.from(block[2]!.replace(/^[A-Za-z-]+:.*$/gm, '').replace(/\s+/g, ''), 'base64');
  let jwk: { n?: string; d?: string };
  // Go's ParsePKCS1PrivateKey takes only RSAPrivateKey (OpenSSL would also take PKCS #8).
  if (!isPkcs1(der)) {
    throw fnError(
      'x509: failed to parse private key (use ParsePKCS8PrivateKey instead for this key format)',
    );
  }
  try {
    jwk = createPrivateKey({ key: der, format: 'der', type: 'pkcs1' }).export({ format: 'jwk' });
  } catch {
    throw fnError(
      'x509: failed to parse private key (use ParsePKCS8PrivateKey instead for this key format)',
    );
  }
  const n = b64urlToBigInt(jwk.n!);
  const d = b64urlToBigInt(jwk.d!);
  const k = Math.ceil(n.toString(16).length / 2);
  const c = BigInt(`0x${cipher.toString('hex') || '0'}`);
  if (cipher.length > k || c >= n) throw fnError('crypto/rsa: decryption error');
  const m = modPow(c, d, n)
    .toString(16)
    .padStart(k * 2, '0');
  const em = Buffer.from(m, 'hex');
  // EM = 0x00 || 0x02 || PS (at least 8 non-zero bytes) || 0x00 || M
  const sep = em.indexOf(0, 2);
  if (em[0] !== 0 || em[1] !== 2 || sep < 10) throw fnError('crypto/rsa: decryption error');
  return em.subarray(sep + 1);
}

/** The hash and crypto functions, by name. */
export const cryptoFunctions: Record<string, FunctionDef> = {
  bcrypt: define('bcrypt', {
    params: [param('str', T.string)],
    varParam: param('cost', T.number),
    returnType: T.string,
    impl: (args) => {
      let cost = 10;
      if (args.length > 1) cost = goInt(args[1]!);
      if (args.length > 2) throw fnError('bcrypt() takes no more than two arguments');
      const password = Buffer.from(asString(args[0]!), 'utf8');
      if (cost < 4) cost = 10; // Go's bcrypt falls back to its default below the minimum.
      if (cost > 31) {
        throw fnError(
          `error occured generating password crypto/bcrypt: cost ${cost} is outside allowed range (4,31)`,
        );
      }
      if (password.length > 72) {
        throw fnError('error occured generating password bcrypt: password length exceeds 72 bytes');
      }
      return str(bcryptHash(password, cost, randomBytes(16)));
    },
  }),
  md5: hashFn('md5', 'md5'),
  rsadecrypt: define('rsadecrypt', {
    params: [param('ciphertext', T.string), param('privatekey', T.string)],
    returnType: T.string,
    impl: (args) => {
      const s = asString(args[0]!);
      const clean = s.replace(/[\r\n]/g, '');
      if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(clean)) {
        throw fnError(
          `failed to decode input ${JSON.stringify(s)}: cipher text must be base64-encoded`,
        );
      }
      return str(rsaDecrypt(Buffer.from(clean, 'base64'), asString(args[1]!)).toString('utf8'));
    },
  }),
  sha1: hashFn('sha1', 'sha1'),
  sha256: hashFn('sha256', 'sha256'),
  sha512: hashFn('sha512', 'sha512'),
  uuidv4: define('uuidv4', {
    params: [],
    returnType: T.string,
    impl: () => str(randomUUID()),
  }),
  uuidv5: define('uuidv5', {
    params: [param('namespace', T.string), param('name', T.string)],
    returnType: T.string,
    impl: (args) => {
      const ns = asString(args[0]!);
      let bytes: Buffer;
      try {
        bytes = parseUuid(NAMESPACES[ns] ?? ns);
      } catch (err) {
        throw fnError(`uuidv5() doesn't support namespace ${ns} (${(err as Error).message})`);
      }
      return str(uuidV5(bytes, asString(args[1]!)));
    },
  }),
};
