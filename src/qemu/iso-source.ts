/**
 * The installer ISO of `iso_url`/`iso_urls`, as Packer's StepDownload gets it: each URL is
 * tried in order; a local path (or file: URL) is used in place, an http(s) URL is
 * downloaded into the cache as `sha1(checksum).iso` (Packer's name), so a second build
 * finds it there, and `iso_checksum` is verified before the file is used. A download goes
 * to a `.part` file beside its target, hashed while it streams, and is renamed only once
 * its checksum matches; a failed, mismatched or cancelled one leaves nothing behind, and
 * one whose process was killed is left to the caller's journal (`onPartFile`).
 *
 * `iso_checksum` takes Packer's forms: `md5:…`, `sha1:…`, `sha256:…`, `sha512:…`, bare hex
 * (the type told by its length), `file:URL` (a checksum file, GNU or BSD style, where the
 * ISO's file name is looked up) and `none` (not verified; downloaded anew every time,
 * since nothing tells a stale copy from a current one).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { CancelledError, SystemError, UserError } from '../lib/errors.js';

/** A hash algorithm of `iso_checksum`. */
export type ChecksumAlgorithm = 'md5' | 'sha1' | 'sha256' | 'sha512';

/** `iso_checksum` parsed: a hash, a checksum file to read it from, or none. */
export type IsoChecksum =
  | { kind: 'hash'; algorithm: ChecksumAlgorithm; hex: string }
  | { kind: 'file'; url: string; algorithm?: ChecksumAlgorithm }
  | { kind: 'none' };

const HEX_LENGTH: Record<ChecksumAlgorithm, number> = {
  md5: 32,
  sha1: 40,
  sha256: 64,
  sha512: 128,
};
const BY_LENGTH = new Map(Object.entries(HEX_LENGTH).map(([a, n]) => [n, a as ChecksumAlgorithm]));

/** Parses `iso_checksum` in any of Packer's forms; throws a UserError saying which forms exist. */
export function parseIsoChecksum(text: string): IsoChecksum {
  const value = text.trim();
  const forms =
    'write sha256:<hex> (or md5:, sha1:, sha512:), bare hex, file:<url of a checksum file>, or none';
  if (value === '') throw new UserError('BadIsoChecksum', 'iso_checksum is empty', { hint: forms });
  if (value.toLowerCase() === 'none') return { kind: 'none' };
  const m = /^(md5|sha1|sha256|sha512):(.*)$/i.exec(value);
  const algorithm = m ? (m[1]!.toLowerCase() as ChecksumAlgorithm) : undefined;
  const rest = m ? m[2]! : value;
  if (/^file:/i.test(rest)) {
    const url = rest.slice('file:'.length);
    if (url === '')
      throw new UserError('BadIsoChecksum', 'iso_checksum "file:" names no file', { hint: forms });
    return algorithm ? { kind: 'file', url, algorithm } : { kind: 'file', url };
  }
  if (!/^[0-9a-f]+$/i.test(rest)) {
    throw new UserError('BadIsoChecksum', `iso_checksum "${text}" is not a checksum`, {
      hint: forms,
    });
  }
  const hex = rest.toLowerCase();
  const guessed = algorithm ?? BY_LENGTH.get(hex.length);
  if (!guessed || HEX_LENGTH[guessed] !== hex.length) {
    throw new UserError(
      'BadIsoChecksum',
      algorithm
        ? `iso_checksum: a ${algorithm} checksum has ${HEX_LENGTH[algorithm]} hex digits, not ${hex.length}`
        : `iso_checksum: ${hex.length} hex digits match no checksum type (md5 32, sha1 40, sha256 64, sha512 128)`,
      { hint: forms },
    );
  }
  return { kind: 'hash', algorithm: guessed, hex };
}

/** Where and how to get the ISO. */
export interface IsoSourceOptions {
  /** `iso_urls` (or `[iso_url]`): tried in order until one works. */
  urls: readonly string[];
  /** `iso_checksum` as written. */
  checksum: string;
  /** The download cache (kiln home's cache directory). */
  cacheDir: string;
  /** What relative paths (in URLs and `file:` checksums) are relative to. */
  baseDir: string;
  signal?: AbortSignal;
  /** Download progress, called as bytes arrive (total when the server says it). */
  onProgress?: (p: { url: string; bytes: number; total?: number }) => void;
  /** Called once per URL tried, with the reason when it failed. */
  onTry?: (url: string, error?: Error) => void;
  /**
   * Told of a download's `.part` file just before it is created (`begin`) and once it is
   * renamed or removed (`end`), so a crash-safe journal can list it: a kiln killed mid-way
   * cannot remove it itself.
   */
  onPartFile?: (path: string, event: 'begin' | 'end') => void;
}

/** The ISO ready to boot. */
export interface IsoFile {
  /** The file to give QEMU (in the cache, or the local file itself). */
  path: string;
  /** The URL it came from. */
  url: string;
  /** The verified checksum as `algorithm:hex`, or `none` (an input of the image's hash). */
  checksum: string;
  /** It was already in the cache (or local): nothing was downloaded. */
  reused: boolean;
}

/**
 * Gets the ISO: tries each URL in order, returns the first that yields a file whose
 * checksum matches. Fails with every URL's reason when none does; a cancellation stops at
 * once with a CancelledError and removes the partial download.
 */
export async function fetchIso(opts: IsoSourceOptions): Promise<IsoFile> {
  if (opts.urls.length === 0) {
    throw new UserError('NoIsoUrl', 'one of iso_url or iso_urls must be given');
  }
  const parsed = parseIsoChecksum(opts.checksum);
  const reasons: string[] = [];
  for (const url of opts.urls) {
    throwIfCancelled(opts.signal);
    try {
      const expected = parsed.kind === 'file' ? await checksumFromFile(parsed, url, opts) : parsed;
      const iso = await fetchOne(url, expected, opts);
      opts.onTry?.(url);
      return iso;
    } catch (err) {
      if (err instanceof CancelledError || opts.signal?.aborted) {
        throw err instanceof CancelledError
          ? err
          : new CancelledError('the ISO download was cancelled');
      }
      opts.onTry?.(url, err as Error);
      reasons.push(`${url}: ${(err as Error).message}`);
    }
  }
  throw new SystemError(
    'IsoUnavailable',
    opts.urls.length === 1
      ? `cannot get the ISO: ${reasons[0]}`
      : `cannot get the ISO from any of ${opts.urls.length} URLs`,
    {
      details: opts.urls.length === 1 ? [] : reasons,
      hint: 'check iso_url/iso_urls and iso_checksum',
    },
  );
}

type Expected = { kind: 'hash'; algorithm: ChecksumAlgorithm; hex: string } | { kind: 'none' };

async function fetchOne(url: string, expected: Expected, opts: IsoSourceOptions): Promise<IsoFile> {
  const checksum = expected.kind === 'none' ? 'none' : `${expected.algorithm}:${expected.hex}`;
  const local = localPath(url, opts.baseDir);
  if (local !== undefined) {
    const st = await stat(local).catch(() => undefined);
    if (!st?.isFile()) throw new UserError('IsoMissing', `${local} is not a file`);
    if (expected.kind === 'hash') await verifyFile(local, expected, opts.signal);
    return { path: local, url, checksum, reused: true };
  }
  if (!/^https?:\/\//i.test(url)) {
    throw new UserError('IsoUrlScheme', `unsupported URL "${url}"`, {
      hint: 'iso_url takes a local path, a file: URL, or an http(s) URL',
    });
  }
  // Packer's cache name: the SHA-1 of the checksum string, or of the URL without one.
  const key = createHash('sha1')
    .update(expected.kind === 'none' ? url : checksum)
    .digest('hex');
  const target = join(opts.cacheDir, `${key}.iso`);
  if (expected.kind === 'hash' && (await stat(target).catch(() => undefined))?.isFile()) {
    try {
      await verifyFile(target, expected, opts.signal);
      return { path: target, url, checksum, reused: true };
    } catch (err) {
      if (err instanceof CancelledError) throw err;
      await rm(target, { force: true }); // a damaged copy: fetched again below
    }
  }
  await mkdir(opts.cacheDir, { recursive: true });
  // A name of its own per download, so two builds fetching the same ISO never share a
  // .part; the rename is atomic, and the last one to finish leaves an identical file.
  const part = `${target}.${randomBytes(4).toString('hex')}.part`;
  opts.onPartFile?.(part, 'begin');
  try {
    const digest = await download(
      url,
      part,
      expected.kind === 'hash' ? expected.algorithm : 'sha256',
      opts,
    );
    if (expected.kind === 'hash' && digest !== expected.hex) {
      throw new UserError(
        'IsoChecksumMismatch',
        `checksum mismatch: ${expected.algorithm} is ${digest}, iso_checksum says ${expected.hex}`,
      );
    }
    await rename(part, target);
  } finally {
    await rm(part, { force: true });
    opts.onPartFile?.(part, 'end');
  }
  return { path: target, url, checksum, reused: false };
}

// The local file a URL names, or undefined for a remote URL: a plain path, file:///abs, or
// Packer's file:./relative and file://./relative (relative to baseDir), the checksum form
// included.
function localPath(url: string, baseDir: string): string | undefined {
  let rest = url;
  if (/^file:/i.test(url)) {
    if (url.slice(5).startsWith('///')) return fileURLToPath(url);
    rest = url.slice(5);
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return undefined;
  // `iso_checksum: "file://./SUMS"` leaves `//./SUMS` once its `file:` is read.
  return resolve(baseDir, rest.replace(/^\/\/(?=\.)/, ''));
}

async function download(
  url: string,
  part: string,
  algorithm: ChecksumAlgorithm,
  opts: IsoSourceOptions,
): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, opts.signal ? { signal: opts.signal } : {});
  } catch (err) {
    throwIfCancelled(opts.signal);
    throw new SystemError('IsoDownloadFailed', `cannot fetch: ${causeText(err)}`, { cause: err });
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new SystemError(
      'IsoDownloadFailed',
      `the server answered ${res.status} ${res.statusText}`,
    );
  }
  const lengthHeader = res.headers.get('content-length');
  const total = lengthHeader ? Number(lengthHeader) : undefined;
  const hash = createHash(algorithm);
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      opts.onProgress?.(total === undefined ? { url, bytes } : { url, bytes, total });
      done(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>),
      meter,
      createWriteStream(part),
      opts.signal ? { signal: opts.signal } : {},
    );
  } catch (err) {
    throwIfCancelled(opts.signal);
    throw new SystemError(
      'IsoDownloadFailed',
      `the download broke off after ${bytes} bytes: ${causeText(err)}`,
      {
        cause: err,
      },
    );
  }
  if (total !== undefined && bytes !== total) {
    throw new SystemError(
      'IsoDownloadFailed',
      `the download ended after ${bytes} of ${total} bytes`,
    );
  }
  return hash.digest('hex');
}

async function verifyFile(
  path: string,
  expected: { algorithm: ChecksumAlgorithm; hex: string },
  signal?: AbortSignal,
): Promise<void> {
  const hash = createHash(expected.algorithm);
  try {
    await pipeline(createReadStream(path), hash, signal ? { signal } : {});
  } catch (err) {
    throwIfCancelled(signal);
    throw err;
  }
  const digest = hash.digest('hex');
  if (digest !== expected.hex) {
    throw new UserError(
      'IsoChecksumMismatch',
      `checksum mismatch for ${path}: ${expected.algorithm} is ${digest}, iso_checksum says ${expected.hex}`,
    );
  }
}

// Reads the ISO's line from a checksum file: GNU (`<hex>  name`, `<hex> *name`) or BSD
// (`SHA256 (name) = <hex>`) style, matched on the ISO URL's file name.
async function checksumFromFile(
  spec: { url: string; algorithm?: ChecksumAlgorithm },
  isoUrl: string,
  opts: IsoSourceOptions,
): Promise<Expected> {
  let text: string;
  const local = localPath(spec.url, opts.baseDir);
  try {
    if (local !== undefined) text = await readFile(local, 'utf8');
    else {
      const res = await fetch(spec.url, opts.signal ? { signal: opts.signal } : {});
      if (!res.ok) throw new Error(`the server answered ${res.status} ${res.statusText}`);
      text = await res.text();
    }
  } catch (err) {
    throwIfCancelled(opts.signal);
    throw new UserError(
      'IsoChecksumFile',
      `cannot read the checksum file ${spec.url}: ${causeText(err)}`,
      { cause: err },
    );
  }
  const name = decodeURIComponent(basename(isoUrl.split(/[?#]/)[0]!));
  for (const line of text.split(/\r?\n/)) {
    const bsd = /^\s*(MD5|SHA1|SHA256|SHA512)\s*\((.*)\)\s*=\s*([0-9a-fA-F]+)\s*$/i.exec(line);
    const gnu = /^\s*([0-9a-fA-F]+)\s+\*?(.+?)\s*$/.exec(line);
    const [hex, file] = bsd ? [bsd[3]!, bsd[2]!] : gnu ? [gnu[1]!, gnu[2]!] : [];
    if (hex === undefined || file === undefined || basename(file.replace(/^\.\//, '')) !== name)
      continue;
    const parsed = parseIsoChecksum(spec.algorithm ? `${spec.algorithm}:${hex}` : hex);
    if (parsed.kind === 'hash') return parsed;
  }
  throw new UserError('IsoChecksumFile', `the checksum file ${spec.url} has no line for ${name}`);
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError('the ISO download was cancelled');
}

function causeText(err: unknown): string {
  const e = err as Error & { cause?: Error };
  return e.cause?.message ? `${e.message} (${e.cause.message})` : e.message;
}
