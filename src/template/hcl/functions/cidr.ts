/**
 * Packer's IP network functions (go-cty-funcs' cidr, over apparentlymart/go-cidr): addresses as
 * BigInts, Go's net.ParseCIDR rules (the prefix's host bits are cleared), and Go's address text
 * (dotted IPv4, RFC 5952 IPv6 with the longest zero run as `::`).
 */
import { asString, type FunctionDef, list, listType, str, T } from '../value.js';
import { argError, define, FnError, fnError, param } from './define.js';
import { goInt } from './values.js';

interface Network {
  /** The network address (host bits cleared). */
  ip: bigint;
  prefix: number;
  /** 32 or 128. */
  bits: number;
}

function parseIPv4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return undefined;
    v = (v << 8n) | BigInt(p);
  }
  return v;
}

function parseIPv6(s: string): bigint | undefined {
  let text = s;
  let tail: bigint[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [v4 >> 16n, v4 & 0xffffn];
    // Keep a "::" that ends the head; drop the single ":" before the IPv4 part.
    text = text.slice(0, lastColon + 1);
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const group = (h: string): bigint[] | undefined => {
    if (h === '') return [];
    const out: bigint[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
      out.push(BigInt(`0x${g}`));
    }
    return out;
  };
  const head = group(halves[0]!);
  const rest = halves.length === 2 ? group(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const explicit = head.length + rest.length + tail.length;
  let groups: bigint[];
  if (halves.length === 2) {
    if (explicit > 7) return undefined;
    groups = [...head, ...Array<bigint>(8 - explicit).fill(0n), ...rest, ...tail];
  } else {
    if (explicit !== 8) return undefined;
    groups = [...head, ...tail];
  }
  return groups.reduce((acc, g) => (acc << 16n) | g, 0n);
}

/** Go's net.ParseCIDR; FnError "invalid CIDR expression: invalid CIDR address: …" otherwise. */
export function parseCidr(s: string, argIndex?: number): Network {
  const fail = () => new FnError(`invalid CIDR expression: invalid CIDR address: ${s}`, argIndex);
  const slash = s.indexOf('/');
  if (slash < 0) throw fail();
  const addr = s.slice(0, slash);
  const pfx = s.slice(slash + 1);
  const v4 = addr.includes(':') ? undefined : parseIPv4(addr);
  const v6 = v4 === undefined ? parseIPv6(addr) : undefined;
  const bits = v4 !== undefined ? 32 : 128;
  const ip = v4 ?? v6;
  if (ip === undefined || !/^[0-9]+$/.test(pfx) || Number(pfx) > bits) throw fail();
  const prefix = Number(pfx);
  return { ip: ip & maskOf(prefix, bits), prefix, bits };
}

function maskOf(prefix: number, bits: number): bigint {
  const all = (1n << BigInt(bits)) - 1n;
  return all ^ ((1n << BigInt(bits - prefix)) - 1n);
}

/** An address as Go's net.IP.String prints it. */
export function formatIp(ip: bigint, bits: number): string {
  if (bits === 32) {
    return [24n, 16n, 8n, 0n].map((sh) => String((ip >> sh) & 0xffn)).join('.');
  }
  const groups = Array.from({ length: 8 }, (_, i) =>
    Number((ip >> BigInt(112 - 16 * i)) & 0xffffn),
  );
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

const networkText = (n: Network) => `${formatIp(n.ip, n.bits)}/${n.prefix}`;

function intOrFail(v: Parameters<typeof goInt>[0], argIndex?: number): number {
  try {
    return goInt(v);
  } catch (err) {
    if (err instanceof FnError && argIndex !== undefined) throw argError(argIndex, err.message);
    throw err;
  }
}

const cidrhost = define('cidrhost', {
  params: [param('prefix', T.string), param('hostnum', T.number)],
  returnType: T.string,
  impl: (args) => {
    const hostnum = intOrFail(args[1]!);
    const net = parseCidr(asString(args[0]!));
    const hostBits = BigInt(net.bits - net.prefix);
    const max = (1n << hostBits) - 1n;
    const n = BigInt(hostnum);
    const bad = () =>
      fnError(`prefix of ${net.prefix} does not accommodate a host numbered ${hostnum}`);
    let offset: bigint;
    if (n >= 0n) {
      if (n > max) throw bad();
      offset = n;
    } else {
      // A negative number counts back from the end of the range (-1 is the last address).
      if (-n > max + 1n) throw bad();
      offset = max + 1n + n;
    }
    return str(formatIp(net.ip + offset, net.bits));
  },
});

const cidrnetmask = define('cidrnetmask', {
  params: [param('prefix', T.string)],
  returnType: T.string,
  impl: (args) => {
    const net = parseCidr(asString(args[0]!));
    return str(formatIp(maskOf(net.prefix, net.bits), net.bits));
  },
});

const cidrsubnet = define('cidrsubnet', {
  params: [param('prefix', T.string), param('newbits', T.number), param('netnum', T.number)],
  returnType: T.string,
  impl: (args) => {
    const newbits = intOrFail(args[1]!);
    const netnum = intOrFail(args[2]!);
    const net = parseCidr(asString(args[0]!));
    if (newbits > 32) throw fnError('may not extend prefix by more than 32 bits');
    const newPrefix = net.prefix + newbits;
    if (newPrefix > net.bits) {
      throw fnError(`insufficient address space to extend prefix of ${net.prefix} by ${newbits}`);
    }
    const maxNet = (1n << BigInt(newbits)) - 1n;
    if (BigInt(netnum) > maxNet || netnum < 0) {
      throw fnError(
        `prefix extension of ${newbits} does not accommodate a subnet numbered ${netnum}`,
      );
    }
    const ip = net.ip | (BigInt(netnum) << BigInt(net.bits - newPrefix));
    return str(networkText({ ip, prefix: newPrefix, bits: net.bits }));
  },
});

const cidrsubnets = define('cidrsubnets', {
  params: [param('prefix', T.string)],
  varParam: param('newbits', T.number),
  returnType: listType(T.string),
  impl: (args) => {
    const net = parseCidr(asString(args[0]!), 0);
    const lengths = args.slice(1);
    if (lengths.length === 0) return list([], T.string);
    const size = 1n << BigInt(net.bits);
    const all = size - 1n;
    const first = intOrFail(lengths[0]!, 1) + net.prefix;
    // go-cidr's PreviousSubnet: the block of the first size just before the network.
    let current: Network = {
      ip: ((net.ip - 1n + size) % size) & maskOf(Math.min(first, net.bits), net.bits),
      prefix: Math.min(first, net.bits),
      bits: net.bits,
    };
    const out = lengths.map((lv, i) => {
      let length = intOrFail(lv, i + 1);
      if (length < 1) throw argError(i + 1, 'must extend prefix by at least one bit');
      if (length > 32) throw argError(i + 1, 'may not extend prefix by more than 32 bits');
      length += net.prefix;
      if (length > net.bits) {
        throw argError(
          i + 1,
          `would extend prefix to ${length} bits, which is too long for an ${net.bits === 32 ? 'IPv4' : 'IPv6'} address`,
        );
      }
      // go-cidr's NextSubnet: the block of the new size just after the current one.
      const currentLast = current.ip | (all ^ maskOf(current.prefix, net.bits));
      const mask = maskOf(length, net.bits);
      const containing = currentLast & mask;
      const last = containing | (all ^ mask);
      const after = (last + 1n) % size;
      const next: Network = { ip: after & mask, prefix: length, bits: net.bits };
      const inNetwork = (next.ip & maskOf(net.prefix, net.bits)) === net.ip;
      if (after === 0n || !inNetwork) {
        throw argError(
          i + 1,
          `not enough remaining address space for a subnet with a prefix of ${length} bits after ${networkText(current)}`,
        );
      }
      current = next;
      return str(networkText(current));
    });
    return list(out, T.string);
  },
});

/** The IP network functions, by name. */
export const cidrFunctions: Record<string, FunctionDef> = {
  cidrhost,
  cidrnetmask,
  cidrsubnet,
  cidrsubnets,
};
