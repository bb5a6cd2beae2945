/**
 * bcrypt ($2a$, as Go's golang.org/x/crypto/bcrypt writes it) on a small Blowfish. Blowfish's
 * initial P-array and S-boxes are the hexadecimal digits of pi; they are computed once, on the
 * first call, with BigInt arithmetic instead of shipping 4 KiB of constants.
 */

const WORDS = 18 + 4 * 256;

let piWords: Uint32Array | undefined;

/** arctan(1/x) scaled by 2^bits, by its alternating series. */
function arctanInv(x: bigint, bits: bigint): bigint {
  const one = 1n << bits;
  let term = one / x;
  const x2 = x * x;
  let sum = term;
  let k = 1n;
  let sign = -1n;
  while (term !== 0n) {
    term /= x2;
    sum += (sign * term) / (2n * k + 1n);
    sign = -sign;
    k++;
  }
  return sum;
}

/** The first WORDS 32-bit words of pi's fractional part (Machin's formula). */
function blowfishConstants(): Uint32Array {
  if (piWords) return piWords;
  const bits = BigInt(WORDS * 32 + 64);
  const pi = 16n * arctanInv(5n, bits) - 4n * arctanInv(239n, bits);
  const frac = (pi & ((1n << bits) - 1n)) >> 64n;
  const out = new Uint32Array(WORDS);
  for (let i = 0; i < WORDS; i++) {
    out[i] = Number((frac >> BigInt((WORDS - 1 - i) * 32)) & 0xffffffffn);
  }
  piWords = out;
  return out;
}

class Blowfish {
  readonly p: Uint32Array;
  readonly s: Uint32Array;

  constructor() {
    const c = blowfishConstants();
    this.p = c.slice(0, 18);
    this.s = c.slice(18);
  }

  private f(x: number): number {
    const s = this.s;
    const a = s[x >>> 24]!;
    const b = s[256 + ((x >>> 16) & 0xff)]!;
    const c = s[512 + ((x >>> 8) & 0xff)]!;
    const d = s[768 + (x & 0xff)]!;
    return ((((a + b) >>> 0) ^ c) + d) >>> 0;
  }

  encrypt(lr: Uint32Array): void {
    let l = lr[0]!;
    let r = lr[1]!;
    const p = this.p;
    for (let i = 0; i < 16; i += 2) {
      l = (l ^ p[i]!) >>> 0;
      r = (r ^ this.f(l)) >>> 0;
      r = (r ^ p[i + 1]!) >>> 0;
      l = (l ^ this.f(r)) >>> 0;
    }
    l = (l ^ p[16]!) >>> 0;
    r = (r ^ p[17]!) >>> 0;
    lr[0] = r;
    lr[1] = l;
  }

  /** Blowfish's key schedule, salted as bcrypt's EksBlowfish needs (an empty salt: plain). */
  expandKey(key: Uint8Array, salt?: Uint8Array): void {
    let kp = 0;
    const keyWord = () => {
      let w = 0;
      for (let i = 0; i < 4; i++) {
        w = ((w << 8) | key[kp]!) >>> 0;
        kp = (kp + 1) % key.length;
      }
      return w;
    };
    let sp = 0;
    const saltWord = () => {
      if (!salt) return 0;
      let w = 0;
      for (let i = 0; i < 4; i++) {
        w = ((w << 8) | salt[sp]!) >>> 0;
        sp = (sp + 1) % salt.length;
      }
      return w;
    };
    for (let i = 0; i < 18; i++) this.p[i] = (this.p[i]! ^ keyWord()) >>> 0;
    const lr = new Uint32Array(2);
    const fill = (arr: Uint32Array) => {
      for (let i = 0; i < arr.length; i += 2) {
        lr[0] = (lr[0]! ^ saltWord()) >>> 0;
        lr[1] = (lr[1]! ^ saltWord()) >>> 0;
        this.encrypt(lr);
        arr[i] = lr[0]!;
        arr[i + 1] = lr[1]!;
      }
    };
    fill(this.p);
    fill(this.s);
  }
}

const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const STD_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** bcrypt's base64: its own alphabet, no padding. */
export function bcryptBase64(b: Uint8Array): string {
  return [...Buffer.from(b).toString('base64').replace(/=+$/, '')]
    .map((c) => BCRYPT_ALPHABET[STD_ALPHABET.indexOf(c)]!)
    .join('');
}

/** Decodes bcrypt's base64 (used for known salts in tests and checks). */
export function bcryptBase64Decode(s: string): Buffer {
  const std = [...s].map((c) => STD_ALPHABET[BCRYPT_ALPHABET.indexOf(c)]!).join('');
  return Buffer.from(std, 'base64');
}

/** A $2a$ bcrypt hash of password with the given cost (4–31) and 16-byte salt. */
export function bcryptHash(password: Uint8Array, cost: number, salt: Uint8Array): string {
  // Go's bcrypt appends a NUL to the key, as the reference implementation does.
  const key = new Uint8Array(password.length + 1);
  key.set(password);
  const bf = new Blowfish();
  bf.expandKey(key, salt);
  const rounds = 2 ** cost;
  for (let i = 0; i < rounds; i++) {
    bf.expandKey(key);
    bf.expandKey(salt);
  }
  const text = Buffer.from('OrpheanBeholderScryDoubt', 'latin1');
  const words = new Uint32Array(6);
  for (let i = 0; i < 6; i++) words[i] = text.readUInt32BE(i * 4);
  const lr = new Uint32Array(2);
  for (let i = 0; i < 6; i += 2) {
    lr[0] = words[i]!;
    lr[1] = words[i + 1]!;
    for (let j = 0; j < 64; j++) bf.encrypt(lr);
    words[i] = lr[0]!;
    words[i + 1] = lr[1]!;
  }
  const out = Buffer.alloc(24);
  for (let i = 0; i < 6; i++) out.writeUInt32BE(words[i]!, i * 4);
  return `$2a$${String(cost).padStart(2, '0')}$${bcryptBase64(salt)}${bcryptBase64(out.subarray(0, 23))}`;
}
