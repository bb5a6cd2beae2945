/**
 * The build's HTTP server reached from a real QEMU guest (TCG) on the user network at
 * `{{ .HTTPIP }}` (10.0.2.2), while bound to the host's loopback only: QEMU's iPXE network
 * boot ROM (Debian's ipxe-qemu, a dependency of qemu-system-x86) gets the script's URL as
 * the DHCP boot file, fetches it from the server, and the script makes it fetch a second
 * file by a relative path, so the second request proves the first answer was read.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { guestHostAddress, type ServedRequest, startHttpServer } from '../src/qemu/http-server.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-http-guest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the build HTTP server seen from a QEMU guest', () => {
  it('serves http_directory to the guest at 10.0.2.2 while bound to 127.0.0.1', async () => {
    const www = join(dir, 'www');
    mkdirSync(join(www, 'sub'), { recursive: true });
    const first = '#!ipxe\nchain sub/second.ipxe\n';
    const second = '#!ipxe\nsleep 600\n';
    writeFileSync(join(www, 'boot.ipxe'), first);
    writeFileSync(join(www, 'sub', 'second.ipxe'), second);

    const requests: ServedRequest[] = [];
    let secondFetched!: () => void;
    const fetched = new Promise<void>((r) => {
      secondFetched = r;
    });
    await using srv = await startHttpServer({
      directory: www,
      bindAddress: '127.0.0.1',
      onRequest: (r) => {
        requests.push(r);
        if (r.path === '/sub/second.ipxe') secondFetched();
      },
    });
    const url = `http://${guestHostAddress()}:${srv.port}/boot.ipxe`;
    let qemu: ChildProcess | undefined;
    try {
      const t0 = Date.now();
      qemu = spawn(
        'qemu-system-x86_64',
        [
          ...['-machine', 'pc', '-accel', 'tcg', '-nodefaults', '-display', 'none', '-m', '64'],
          ...['-netdev', `user,id=n0,bootfile=${url}`, '-device', 'virtio-net-pci,netdev=n0'],
          ...['-boot', 'n'],
        ],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      let timer: NodeJS.Timeout | undefined;
      const failed = new Promise<never>((_, reject) => {
        qemu!.once('exit', (code) =>
          reject(new Error(`QEMU exited (${code}) before the guest fetched both files`)),
        );
        timer = setTimeout(
          () => reject(new Error(`the guest fetched only ${JSON.stringify(requests)}`)),
          120_000,
        );
      });
      failed.catch(() => {}); // QEMU's exit when it is killed below is no failure
      await Promise.race([fetched, failed]).finally(() => clearTimeout(timer));
      console.log(`the guest fetched both files ${Date.now() - t0} ms after QEMU started`);
      expect(requests).toEqual([
        { method: 'GET', path: '/boot.ipxe', status: 200, bytes: first.length },
        { method: 'GET', path: '/sub/second.ipxe', status: 200, bytes: second.length },
      ]);
    } finally {
      if (qemu && qemu.exitCode === null && qemu.signalCode === null) {
        const gone = new Promise((r) => qemu!.once('exit', r));
        qemu.kill('SIGKILL');
        await gone;
      }
    }
  });
});
