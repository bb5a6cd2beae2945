/**
 * Go's fmt verbs for numbers as go-cty's `format` applies them: big.Float's %e %E %f %g %G
 * (exact decimal expansion, round-half-even, Go's exponent form `e+06`) and big.Int's
 * %b %d %o %x %X with the `+ - # 0 space` flags, width and precision.
 */

/** The flags, width and precision of one verb. */
export interface VerbSpec {
  plus: boolean;
  minus: boolean;
  sharp: boolean;
  zero: boolean;
  space: boolean;
  /** -1 when absent. */
  width: number;
  /** -1 when absent. */
  prec: number;
}

/** A decimal: value = 0.mant × 10^exp; mant has no leading or trailing zeros ('' is zero). */
interface Decimal {
  mant: string;
  exp: number;
}

/** The exact decimal expansion of a finite double's magnitude. */
function exactDecimal(x: number): Decimal {
  x = Math.abs(x);
  if (x === 0) return { mant: '', exp: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e: number;
  if (biased === 0) e = -1074;
  else {
    m |= 1n << 52n;
    e = biased - 1075;
  }
  let digits: string;
  let exp: number;
  if (e >= 0) {
    digits = (m << BigInt(e)).toString();
    exp = digits.length;
  } else {
    digits = (m * 5n ** BigInt(-e)).toString();
    exp = digits.length + e;
  }
  return trim({ mant: digits, exp });
}

/** The shortest decimal that reads back as the same double (what Go's -1 precision prints). */
function shortestDecimal(x: number): Decimal {
  x = Math.abs(x);
  if (x === 0) return { mant: '', exp: 0 };
  const [m, e] = x.toExponential().split('e') as [string, string];
  return trim({ mant: m.replace('.', ''), exp: Number(e) + 1 });
}

function trim(d: Decimal): Decimal {
  let mant = d.mant.replace(/0+$/, '');
  let exp = d.exp;
  const lead = /^0*/.exec(mant)![0].length;
  mant = mant.slice(lead);
  exp -= lead;
  return mant === '' ? { mant: '', exp: 0 } : { mant, exp };
}

/** Rounds to n significant digits, half to even, as big's decimal.round does. */
function round(d: Decimal, n: number): Decimal {
  if (n < 0 || n >= d.mant.length) return n < 0 ? { mant: '', exp: 0 } : d;
  const next = d.mant.charCodeAt(n) - 48;
  let up: boolean;
  if (next === 5 && n + 1 === d.mant.length) {
    up = n > 0 && (d.mant.charCodeAt(n - 1) - 48) % 2 === 1;
  } else {
    up = next >= 5;
  }
  if (!up) return trim({ mant: d.mant.slice(0, n), exp: d.exp });
  const digits = d.mant.slice(0, n).split('');
  let i = n - 1;
  while (i >= 0 && digits[i] === '9') {
    digits[i] = '0';
    i--;
  }
  if (i < 0) return { mant: '1', exp: d.exp + 1 };
  digits[i] = String(Number(digits[i]) + 1);
  return trim({ mant: digits.join(''), exp: d.exp });
}

function digitAt(d: Decimal, i: number): string {
  return i >= 0 && i < d.mant.length ? d.mant[i]! : '0';
}

function fmtE(d: Decimal, e: 'e' | 'E', prec: number): string {
  let out = d.mant.length > 0 ? d.mant[0]! : '0';
  if (prec > 0) {
    out += '.';
    out += d.mant.slice(1, prec + 1);
    out += '0'.repeat(Math.max(0, prec - Math.max(0, d.mant.length - 1)));
  }
  let exp = d.mant.length > 0 ? d.exp - 1 : 0;
  const sign = exp < 0 ? '-' : '+';
  exp = Math.abs(exp);
  return `${out}${e}${sign}${exp < 10 ? '0' : ''}${exp}`;
}

function fmtF(d: Decimal, prec: number): string {
  let out: string;
  if (d.exp > 0) {
    out = d.mant.slice(0, d.exp) + '0'.repeat(Math.max(0, d.exp - d.mant.length));
  } else {
    out = '0';
  }
  if (prec > 0) {
    out += '.';
    for (let i = 0; i < prec; i++) out += digitAt(d, d.exp + i);
  }
  return out;
}

/** big.Float.Text(verb, prec) for a double: prec -1 means the shortest exact form. */
export function floatText(x: number, verb: 'e' | 'E' | 'f' | 'g' | 'G', prec: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const neg = x < 0 || Object.is(x, -0);
  const shortest = prec < 0;
  let d: Decimal;
  if (shortest) {
    d = shortestDecimal(x);
    switch (verb) {
      case 'e':
      case 'E':
        prec = Math.max(d.mant.length - 1, 0);
        break;
      case 'f':
        prec = Math.max(d.mant.length - d.exp, 0);
        break;
      default:
        prec = d.mant.length;
    }
  } else {
    d = exactDecimal(x);
    switch (verb) {
      case 'e':
      case 'E':
        d = round(d, 1 + prec);
        break;
      case 'f':
        d = round(d, d.exp + prec);
        break;
      default:
        if (prec === 0) prec = 1;
        d = round(d, prec);
    }
  }
  let body: string;
  switch (verb) {
    case 'e':
    case 'E':
      body = fmtE(d, verb, prec);
      break;
    case 'f':
      body = fmtF(d, prec);
      break;
    default: {
      let eprec = prec;
      if (eprec > d.mant.length && d.mant.length >= d.exp) eprec = d.mant.length;
      if (shortest) eprec = 6;
      const exp = d.exp - 1;
      if (d.mant.length > 0 && (exp < -4 || exp >= eprec)) {
        if (prec > d.mant.length) prec = d.mant.length;
        body = fmtE(d, verb === 'g' ? 'e' : 'E', prec - 1);
      } else {
        if (prec > d.exp) prec = d.mant.length;
        body = fmtF(d, Math.max(prec - d.exp, 0));
      }
    }
  }
  return neg ? `-${body}` : body;
}

/** big.Float's Format for %e %E %f %g %G with flags, width and precision. */
export function formatFloat(x: number, verb: 'e' | 'E' | 'f' | 'g' | 'G', spec: VerbSpec): string {
  let prec = spec.prec;
  if (prec < 0 && (verb === 'e' || verb === 'E' || verb === 'f')) prec = 6;
  let buf = floatText(x, verb, prec);
  let sign = '';
  if (buf.startsWith('-')) {
    sign = '-';
    buf = buf.slice(1);
  } else if (buf.startsWith('+')) {
    sign = spec.space ? ' ' : '+';
    buf = buf.slice(1);
  } else if (spec.plus) sign = '+';
  else if (spec.space) sign = ' ';
  const padding = spec.width > sign.length + buf.length ? spec.width - sign.length - buf.length : 0;
  if (spec.zero && Number.isFinite(x)) return sign + '0'.repeat(padding) + buf;
  if (spec.minus) return sign + buf + ' '.repeat(padding);
  return ' '.repeat(padding) + sign + buf;
}

/** big.Int's Format for %b %d %o %x %X with flags, width and precision. */
export function formatInteger(
  n: bigint,
  verb: 'b' | 'd' | 'o' | 'x' | 'X',
  spec: VerbSpec,
): string {
  const neg = n < 0n;
  const abs = neg ? -n : n;
  const base = { b: 2, d: 10, o: 8, x: 16, X: 16 }[verb];
  let digits = abs.toString(base);
  if (verb === 'X') digits = digits.toUpperCase();
  let prefix = '';
  if (spec.sharp) prefix = { b: '0b', o: '0', x: '0x', X: '0X', d: '' }[verb];
  const sign = neg ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
  let zeros = 0;
  if (spec.prec >= 0) {
    if (digits.length < spec.prec) zeros = spec.prec - digits.length;
    else if (digits === '0' && spec.prec === 0) return '';
  }
  let left = 0;
  let right = 0;
  const length = sign.length + prefix.length + zeros + digits.length;
  if (spec.width >= 0 && length < spec.width) {
    const d = spec.width - length;
    if (spec.minus) right = d;
    else if (spec.zero && spec.prec < 0) zeros = d;
    else left = d;
  }
  return ' '.repeat(left) + sign + prefix + '0'.repeat(zeros) + digits + ' '.repeat(right);
}
