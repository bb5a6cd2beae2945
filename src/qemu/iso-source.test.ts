import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError, SystemError, UserError } from '../lib/errors.js';
import { fetchIso, parseIsoChecksum } from './iso-source.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-iso-'));
const ISO = Buffer.alloc(3 * 1024 * 1024 + 7);
for (let i = 0; i < ISO.length; i++) ISO[i] = (i * 31 + (i >> 12)) & 0xff;
const hex = (algo: string, data: Buffer | string = ISO) =>
  createHash(algo).update(data).digest('hex');
const SHA256 = hex('sha256');
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

// A real HTTP server: the ISO, checksum files, a 404, a body cut short, and a slow one.
let server: Server;
let base = '';
const hits: string[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url!);
    if (req.url === '/d/netinst.iso') {
      res.writeHead(200, { 'Content-Length': String(ISO.length) });
      res.end(ISO);
    } else if (req.url === '/d/SHA256SUMS') {
      res.end(`${hex('sha256', 'other')}  other.iso\n${SHA256}  netinst.iso\n`);
    } else if (req.url === '/d/short.iso') {
      res.writeHead(200, { 'Content-Length': String(ISO.length) });
      res.write(ISO.subarray(0, 1000), () => res.destroy());
    } else if (req.url === '/d/slow.iso') {
      res.writeHead(200, { 'Content-Length': String(ISO.length) });
      res.write(ISO.subarray(0, 64 * 1024)); // then nothing more
    } else {
      res.writeHead(404).end('no');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** A fresh cache directory and base directory per test. */
function dirs() {
  const d = join(dir, `t${n++}`);
  mkdirSync(join(d, 'tpl'), { recursive: true });
  return { cacheDir: join(d, 'cache'), baseDir: join(d, 'tpl') };
}
const cacheFiles = (cacheDir: string) => {
  try {
    return readdirSync(cacheDir).sort();
  } catch {
    return [];
  }
};

describe('parseIsoChecksum', () => {
  it("reads every one of Packer's forms", () => {
    const md5 = '090992ba9fd140077b0661cb75f7ce13';
    const s1 = 'ebfb681885ddf1234c18094a45bbeafd91467911';
    const s256 = 'ed363350696a726b7932db864dda019bd2017365c9e299627830f06954643f93';
    const s512 = 'a'.repeat(128);
    expect(parseIsoChecksum(`md5:${md5}`)).toEqual({ kind: 'hash', algorithm: 'md5', hex: md5 });
    expect(parseIsoChecksum(md5)).toEqual({ kind: 'hash', algorithm: 'md5', hex: md5 });
    expect(parseIsoChecksum(`SHA1:${s1.toUpperCase()}`)).toEqual({
      kind: 'hash',
      algorithm: 'sha1',
      hex: s1,
    });
    expect(parseIsoChecksum(s1)).toEqual({ kind: 'hash', algorithm: 'sha1', hex: s1 });
    expect(parseIsoChecksum(`sha256:${s256}`)).toEqual({
      kind: 'hash',
      algorithm: 'sha256',
      hex: s256,
    });
    expect(parseIsoChecksum(s256)).toEqual({ kind: 'hash', algorithm: 'sha256', hex: s256 });
    expect(parseIsoChecksum(`sha512:${s512}`)).toEqual({
      kind: 'hash',
      algorithm: 'sha512',
      hex: s512,
    });
    expect(parseIsoChecksum(s512)).toEqual({ kind: 'hash', algorithm: 'sha512', hex: s512 });
    expect(parseIsoChecksum('file:http://releases.ubuntu.com/20.04/MD5SUMS')).toEqual({
      kind: 'file',
      url: 'http://releases.ubuntu.com/20.04/MD5SUMS',
    });
    expect(parseIsoChecksum('file:./local/path/file.sum')).toEqual({
      kind: 'file',
      url: './local/path/file.sum',
    });
    expect(parseIsoChecksum('file:file://./local/path/file.sum')).toEqual({
      kind: 'file',
      url: 'file://./local/path/file.sum',
    });
    expect(parseIsoChecksum('sha256:file:./SHA256SUMS')).toEqual({
      kind: 'file',
      url: './SHA256SUMS',
      algorithm: 'sha256',
    });
    expect(parseIsoChecksum('none')).toEqual({ kind: 'none' });
  });

  it('refuses what is no checksum, saying which forms exist', () => {
    expect(() => parseIsoChecksum('')).toThrow('iso_checksum is empty');
    expect(() => parseIsoChecksum('abc')).toThrow('3 hex digits match no checksum type');
    expect(() => parseIsoChecksum(`sha256:${'a'.repeat(40)}`)).toThrow(
      'a sha256 checksum has 64 hex digits, not 40',
    );
    expect(() => parseIsoChecksum('crc32:1234abcd')).toThrow(
      'iso_checksum "crc32:1234abcd" is not a checksum',
    );
    expect(() => parseIsoChecksum('file:')).toThrow('names no file');
    const err = (() => {
      try {
        parseIsoChecksum('zz');
      } catch (e) {
        return e as UserError;
      }
    })();
    expect(err).toBeInstanceOf(UserError);
    expect(err?.hint).toContain('sha256:<hex>');
  });
});

describe('fetchIso', () => {
  it('downloads once into the cache under Packer’s name, then finds it there', async () => {
    const d = dirs();
    const progress: number[] = [];
    const url = `${base}/d/netinst.iso`;
    const first = await fetchIso({
      urls: [url],
      checksum: `sha256:${SHA256}`,
      ...d,
      onProgress: (p) => {
        expect(p.total).toBe(ISO.length);
        progress.push(p.bytes);
      },
    });
    expect(first).toEqual({
      path: join(d.cacheDir, `${sha1(`sha256:${SHA256}`)}.iso`),
      url,
      checksum: `sha256:${SHA256}`,
      reused: false,
    });
    expect(readFileSync(first.path).equals(ISO)).toBe(true);
    expect(progress.at(-1)).toBe(ISO.length);
    expect(cacheFiles(d.cacheDir)).toEqual([`${sha1(`sha256:${SHA256}`)}.iso`]);

    const before = hits.length;
    const again = await fetchIso({ urls: [url], checksum: SHA256, ...d });
    expect(again).toEqual({ ...first, reused: true });
    expect(hits.length).toBe(before); // nothing asked of the server
  });

  it('takes the checksum from a checksum file (remote, local, GNU and BSD style)', async () => {
    const d = dirs();
    const url = `${base}/d/netinst.iso`;
    expect(
      (await fetchIso({ urls: [url], checksum: `file:${base}/d/SHA256SUMS`, ...d })).checksum,
    ).toBe(`sha256:${SHA256}`);
    writeFileSync(join(d.baseDir, 'MD5SUMS'), `${hex('md5')} *netinst.iso\n`);
    expect((await fetchIso({ urls: [url], checksum: 'file:./MD5SUMS', ...d })).checksum).toBe(
      `md5:${hex('md5')}`,
    );
    writeFileSync(
      join(d.baseDir, 'BSD'),
      `SHA512 (other.iso) = ${hex('sha512', 'x')}\nSHA512 (netinst.iso) = ${hex('sha512')}\n`,
    );
    expect((await fetchIso({ urls: [url], checksum: 'file://./BSD', ...d })).checksum).toBe(
      `sha512:${hex('sha512')}`,
    );
    await expect(
      fetchIso({ urls: [`${base}/d/other-name.iso`], checksum: `file:${base}/d/SHA256SUMS`, ...d }),
    ).rejects.toThrow(`the checksum file ${base}/d/SHA256SUMS has no line for other-name.iso`);
  });

  it('uses a local ISO in place after checking it, by path or file: URL', async () => {
    const d = dirs();
    const local = join(d.baseDir, 'my.iso');
    writeFileSync(local, ISO);
    for (const url of ['my.iso', './my.iso', `file://${local}`, 'file:./my.iso']) {
      expect(await fetchIso({ urls: [url], checksum: `sha1:${hex('sha1')}`, ...d })).toEqual({
        path: local,
        url,
        checksum: `sha1:${hex('sha1')}`,
        reused: true,
      });
    }
    await expect(fetchIso({ urls: ['my.iso'], checksum: hex('md5', 'x'), ...d })).rejects.toThrow(
      `checksum mismatch for ${local}: md5 is ${hex('md5')}, iso_checksum says ${hex('md5', 'x')}`,
    );
    expect(cacheFiles(d.cacheDir)).toEqual([]);
  });

  it('tries each of iso_urls in order and reports every reason when all fail', async () => {
    const d = dirs();
    const ok = await fetchIso({
      urls: [`${base}/d/missing.iso`, 'ftp://example.com/x.iso', `${base}/d/netinst.iso`],
      checksum: SHA256,
      ...d,
    });
    expect(ok.url).toBe(`${base}/d/netinst.iso`);
    const err = (await fetchIso({
      urls: [`${base}/d/missing.iso`, `${base}/d/short.iso`, `${base}/d/netinst.iso`],
      checksum: hex('sha256', 'something else'),
      cacheDir: dirs().cacheDir,
      baseDir: d.baseDir,
    }).catch((e: unknown) => e)) as SystemError;
    expect(err).toBeInstanceOf(SystemError);
    expect(err.message).toBe('cannot get the ISO from any of 3 URLs');
    expect(err.details[0]).toBe(`${base}/d/missing.iso: the server answered 404 Not Found`);
    expect(err.details[1]).toMatch(/short\.iso: the download (broke off|ended) after 1000 bytes/);
    expect(err.details[2]).toContain(`checksum mismatch: sha256 is ${SHA256}`);
  });

  it('leaves nothing in the cache after a mismatch or a cut download', async () => {
    const d = dirs();
    await expect(
      fetchIso({ urls: [`${base}/d/netinst.iso`], checksum: hex('md5', 'no'), ...d }),
    ).rejects.toThrow('checksum mismatch');
    await expect(
      fetchIso({ urls: [`${base}/d/short.iso`], checksum: 'none', ...d }),
    ).rejects.toThrow('after 1000 bytes');
    expect(cacheFiles(d.cacheDir)).toEqual([]);
  });

  it('replaces a damaged cached copy, and downloads anew each time with checksum none', async () => {
    const d = dirs();
    const url = `${base}/d/netinst.iso`;
    const first = await fetchIso({ urls: [url], checksum: SHA256, ...d });
    writeFileSync(first.path, 'damaged');
    const again = await fetchIso({ urls: [url], checksum: SHA256, ...d });
    expect(again.reused).toBe(false);
    expect(readFileSync(again.path).equals(ISO)).toBe(true);

    const none = await fetchIso({ urls: [url], checksum: 'none', ...d });
    expect(none).toMatchObject({
      path: join(d.cacheDir, `${sha1(url)}.iso`),
      checksum: 'none',
      reused: false,
    });
    expect((await fetchIso({ urls: [url], checksum: 'none', ...d })).reused).toBe(false);
  });

  it('tells onPartFile of each .part before it exists and once it is gone (done, broken off, cancelled)', async () => {
    const d = dirs();
    const seen: string[] = [];
    const onPartFile = (path: string, event: 'begin' | 'end') => {
      // What a journal needs: the name before the file is created, and the end after it is gone.
      const named = path.startsWith(d.cacheDir) && path.endsWith('.part');
      const exists = cacheFiles(d.cacheDir).some((f) => f.endsWith('.part'));
      seen.push(`${event} ${named ? 'named' : path} ${exists ? 'exists' : 'absent'}`);
    };
    await fetchIso({ urls: [`${base}/d/netinst.iso`], checksum: SHA256, ...d, onPartFile });
    await expect(
      fetchIso({
        urls: [`${base}/d/short.iso`],
        checksum: `sha1:${'0'.repeat(40)}`,
        ...d,
        onPartFile,
      }),
    ).rejects.toBeInstanceOf(SystemError);
    const ac = new AbortController();
    await expect(
      fetchIso({
        urls: [`${base}/d/slow.iso`],
        checksum: `md5:${'0'.repeat(32)}`,
        ...d,
        signal: ac.signal,
        onPartFile,
        onProgress: () => ac.abort(),
      }),
    ).rejects.toBeInstanceOf(CancelledError);
    expect(seen).toEqual(Array(3).fill(['begin named absent', 'end named absent']).flat());
    // The cached ISO stays; no .part does.
    expect(cacheFiles(d.cacheDir)).toEqual([`${sha1(`sha256:${SHA256}`)}.iso`]);
  });

  it('stops at once when cancelled mid-download and leaves no .part', async () => {
    const d = dirs();
    const ac = new AbortController();
    const p = fetchIso({
      urls: [`${base}/d/slow.iso`, `${base}/d/netinst.iso`],
      checksum: SHA256,
      ...d,
      signal: ac.signal,
      onProgress: (x) => {
        if (x.bytes >= 64 * 1024) setTimeout(() => ac.abort(), 50);
      },
    });
    const t0 = Date.now();
    await expect(p).rejects.toBeInstanceOf(CancelledError);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(cacheFiles(d.cacheDir)).toEqual([]);
    await expect(
      fetchIso({
        urls: [`${base}/d/netinst.iso`],
        checksum: SHA256,
        ...d,
        signal: AbortSignal.abort(),
      }),
    ).rejects.toBeInstanceOf(CancelledError);
  });
});
