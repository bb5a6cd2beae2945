import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SystemError, UserError } from '../lib/errors.js';
import { guestHostAddress, type ServedRequest, startHttpServer } from './http-server.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-http-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const www = join(dir, 'www');
mkdirSync(join(www, 'sub dir'), { recursive: true });
mkdirSync(join(www, 'site'));
writeFileSync(join(www, 'preseed.cfg'), 'd-i debian-installer/locale string en_US\n');
writeFileSync(join(www, 'sub dir', 'a.sh'), '#!/bin/sh\necho a\n');
writeFileSync(join(www, 'site', 'index.html'), '<p>hi</p>');
writeFileSync(join(dir, 'secret.txt'), 'outside\n');
symlinkSync(join(dir, 'secret.txt'), join(www, 'link.txt'));

/** A raw GET/HEAD with the path exactly as given (fetch would normalise `..` away). */
function get(
  port: number,
  path: string,
  method = 'GET',
): Promise<{
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

function hold(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host: '127.0.0.1', port }, () => resolve(s));
  });
}

async function freeRange(n: number): Promise<number> {
  // A base port with n free ports after it (looked for high, away from common services).
  for (;;) {
    const base = 40000 + Math.floor(Math.random() * 20000);
    const held: Server[] = [];
    try {
      for (let i = 0; i < n; i++) held.push(await hold(base + i));
      return base;
    } catch {
      // try another base
    } finally {
      for (const s of held) s.close();
    }
  }
}

describe('startHttpServer: http_directory', () => {
  it('serves files, HEAD, index.html, a listing, and redirects a directory to its slash form', async () => {
    const requests: ServedRequest[] = [];
    await using srv = await startHttpServer({
      directory: www,
      bindAddress: '127.0.0.1',
      onRequest: (r) => requests.push(r),
    });
    expect(srv.port).toBeGreaterThanOrEqual(8000);
    expect(srv.port).toBeLessThan(9000);

    const f = await get(srv.port, '/preseed.cfg');
    expect(f).toMatchObject({ status: 200, body: 'd-i debian-installer/locale string en_US\n' });
    expect(f.headers['content-length']).toBe('41');
    expect(f.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(await get(srv.port, '/preseed.cfg', 'HEAD')).toMatchObject({ status: 200, body: '' });
    expect(await get(srv.port, '/sub%20dir/a.sh?x=1')).toMatchObject({
      status: 200,
      body: '#!/bin/sh\necho a\n',
    });
    expect(await get(srv.port, '/site/')).toMatchObject({ status: 200, body: '<p>hi</p>' });
    const redirect = await get(srv.port, '/site');
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe('/site/');
    const listing = await get(srv.port, '/');
    expect(listing.status).toBe(200);
    expect(listing.body).toContain('<a href="preseed.cfg">preseed.cfg</a>');
    expect(listing.body).toContain('<a href="sub%20dir/">sub dir/</a>');
    expect(await get(srv.port, '/nope.cfg')).toMatchObject({ status: 404 });
    expect(await get(srv.port, '/preseed.cfg', 'POST')).toMatchObject({ status: 405 });
    // A symbolic link inside the directory is followed, as Go's FileServer does.
    expect(await get(srv.port, '/link.txt')).toMatchObject({ status: 200, body: 'outside\n' });
    expect(requests.slice(0, 2)).toEqual([
      { method: 'GET', path: '/preseed.cfg', status: 200, bytes: 41 },
      { method: 'HEAD', path: '/preseed.cfg', status: 200, bytes: 0 },
    ]);
  });

  it('counts a file as sent when the client hangs up as soon as it has every byte (busybox wget)', async () => {
    const requests: ServedRequest[] = [];
    await using srv = await startHttpServer({
      directory: www,
      bindAddress: '127.0.0.1',
      onRequest: (r) => requests.push(r),
    });
    const fetchAndHangUp = () =>
      new Promise<void>((resolve, reject) => {
        const sock = connect({ host: '127.0.0.1', port: srv.port }, () =>
          sock.write('GET /preseed.cfg HTTP/1.1\r\nHost: x\r\n\r\n'),
        );
        let got = '';
        sock.on('data', (d: Buffer) => {
          got += d.toString();
          const head = got.indexOf('\r\n\r\n');
          if (head >= 0 && got.length - head - 4 >= 41) {
            sock.destroy();
            resolve();
          }
        });
        sock.on('error', reject);
      });
    for (let i = 0; i < 20; i++) await fetchAndHangUp();
    await new Promise((r) => setTimeout(r, 100));
    expect(requests.map((r) => `${r.status} ${r.bytes}`)).toEqual(Array(20).fill('200 41'));
  });

  it('refuses every spelling of a path out of the directory', async () => {
    await using srv = await startHttpServer({ directory: www, bindAddress: '127.0.0.1' });
    for (const path of [
      '/../secret.txt',
      '/sub%20dir/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/..%5csecret.txt',
      '/.%2E/secret.txt',
    ]) {
      const r = await get(srv.port, path);
      expect([path, r.status, r.body]).toEqual([path, 400, 'invalid URL path: ".." is refused\n']);
    }
    expect((await get(srv.port, '/%zz')).status).toBe(400);
    expect((await get(srv.port, '/a%00b')).status).toBe(400);
  });

  it('refuses a missing directory, both or neither source, and a reversed range, before listening', async () => {
    await expect(startHttpServer({ directory: join(dir, 'nope') })).rejects.toThrow(
      `http_directory "${join(dir, 'nope')}" is not a directory`,
    );
    await expect(startHttpServer({ directory: join(www, 'preseed.cfg') })).rejects.toBeInstanceOf(
      UserError,
    );
    await expect(startHttpServer({})).rejects.toThrow('needs http_directory or http_content');
    await expect(startHttpServer({ directory: www, content: {} })).rejects.toThrow(
      'http_content cannot be used together with http_directory',
    );
    await expect(startHttpServer({ directory: www, portMin: 9000, portMax: 8000 })).rejects.toThrow(
      'http_port_min must be less than http_port_max',
    );
  });
});

describe('startHttpServer: http_content', () => {
  it('serves the map by cleaned path and says which path was meant on a 404', async () => {
    await using srv = await startHttpServer({
      content: { '/preseed.cfg': 'd-i x\n', 'user-data': '#cloud-config\n', '/meta-data': '' },
      bindAddress: '127.0.0.1',
    });
    expect(await get(srv.port, '/preseed.cfg')).toMatchObject({ status: 200, body: 'd-i x\n' });
    expect(await get(srv.port, '//./preseed.cfg')).toMatchObject({ status: 200, body: 'd-i x\n' });
    expect(await get(srv.port, '/user-data')).toMatchObject({
      status: 200,
      body: '#cloud-config\n',
    });
    expect(await get(srv.port, '/meta-data')).toMatchObject({ status: 200, body: '' });
    expect(await get(srv.port, '/presed.cfg')).toMatchObject({
      status: 404,
      body: '/presed.cfg not found. Did you mean "/preseed.cfg"?\n',
    });
    expect(await get(srv.port, '/../preseed.cfg')).toMatchObject({ status: 400 });
  });
});

describe('startHttpServer: ports and closing', () => {
  it('takes a free port of [min, max), and exactly min when both are equal', async () => {
    const base = await freeRange(3);
    const busy = await hold(base);
    try {
      await using a = await startHttpServer({
        content: {},
        bindAddress: '127.0.0.1',
        portMin: base,
        portMax: base + 2,
      });
      expect(a.port).toBe(base + 1); // base is busy and base + 2 is the excluded maximum
      await using b = await startHttpServer({
        content: {},
        bindAddress: '127.0.0.1',
        portMin: base + 2,
        portMax: base + 2,
      });
      expect(b.port).toBe(base + 2);
      const err = await startHttpServer({
        content: {},
        bindAddress: '127.0.0.1',
        portMin: base,
        portMax: base + 2,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SystemError);
      expect((err as SystemError).code).toBe('HttpPortUnavailable');
      expect((err as SystemError).message).toBe(
        `no free port for the HTTP server on 127.0.0.1 in ${base}-${base + 1}`,
      );
    } finally {
      busy.close();
    }
  });

  it('binds where told: 0.0.0.0 by default, and refuses an address not on this machine', async () => {
    await using any = await startHttpServer({ content: { '/x': 'y' } });
    expect(any.bindAddress).toBe('0.0.0.0');
    expect(await get(any.port, '/x')).toMatchObject({ status: 200, body: 'y' });
    await expect(startHttpServer({ content: {}, bindAddress: '192.0.2.1' })).rejects.toThrow(
      /cannot listen on 192\.0\.2\.1:\d+/,
    );
  });

  it('close() stops listening and drops open connections at once, and may be called twice', async () => {
    const srv = await startHttpServer({ content: { '/x': 'y' }, bindAddress: '127.0.0.1' });
    // An idle keep-alive connection, and one in the middle of a request (a guest that stalled),
    // must not hold the close up.
    const opened = (text: string, answered: boolean) =>
      new Promise<Socket>((resolve) => {
        const s = connect(srv.port, '127.0.0.1', () => {
          s.write(text);
          if (answered) s.once('data', () => resolve(s));
          else setTimeout(() => resolve(s), 50);
        });
      });
    const idle = await opened('GET /x HTTP/1.1\r\nHost: x\r\n\r\n', true);
    const stalled = await opened('GET /x HTTP/1.1\r\nHost: x\r\n', false);
    const closed = Promise.all([idle, stalled].map((s) => new Promise((r) => s.once('close', r))));
    const t0 = Date.now();
    await srv.close();
    await srv.close();
    await closed;
    expect(Date.now() - t0).toBeLessThan(1000);
    await expect(get(srv.port, '/x')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('does not start when the signal is already aborted', async () => {
    await expect(
      startHttpServer({ content: {}, bindAddress: '127.0.0.1', signal: AbortSignal.abort() }),
    ).rejects.toThrow('starting the HTTP server was cancelled');
  });
});

describe('guestHostAddress', () => {
  it('is 10.0.2.2 on the user network, a bridge’s IPv4 address, or a clear error', () => {
    expect(guestHostAddress()).toBe('10.0.2.2');
    expect(guestHostAddress('lo')).toBe('127.0.0.1');
    expect(() => guestHostAddress('kiln-no-such-br0')).toThrow(
      'net_bridge "kiln-no-such-br0": no such network interface',
    );
  });
});
