/**
 * Interrupting the qemu builder's installer path at each step, for real under QEMU (TCG),
 * with the installer-like ISO of helpers/installer-iso.ts: the ISO download, boot_wait,
 * the typing of boot_command, the install (the guest has fetched its answer file and is
 * writing the disk) and the SSH wait after the installer's reboot. Each point is reached
 * by watching what kiln says (its HTTP server's request log, QMP's RESET event as "the
 * guest rebooted", the step's own line) or the download's `.part` file appearing — never
 * by sleeping a guessed time. After each: no QEMU, no HTTP server listening, no temporary
 * CD or key dir, no `.part`, no image, nothing in the run journal for `kiln gc`, and the
 * build ends as Packer's does (exit 1, "Cleanly cancelled builds after being interrupted.").
 * A kiln killed with SIGKILL mid-download cannot remove its `.part`: `kiln gc`, or the next
 * build's start, does.
 */
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { type InstallerSuite, listening, makeInstallerSuite } from './helpers/installer-build.js';
import { kiln, type Running } from './helpers/kiln.js';

let suite: InstallerSuite;

beforeAll(async () => {
  suite = await makeInstallerSuite('kiln-installer-int-');
});

afterAll(() => {
  if (suite) rmSync(suite.dir, { recursive: true, force: true });
});

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const parts = () => suite.isoCache().filter((f) => f.endsWith('.part'));

/** Nothing of the run is left, and `kiln gc` finds nothing to do. */
async function nothingLeft(k: Running & { tmp: string }, imagesBefore: string[], port?: number) {
  expect(suite.qemuOfHome()).toEqual([]);
  if (port !== undefined) expect(await listening(port)).toBe(false);
  // The key dir, the QMP/console run dir and the CD's dir were all in kiln's own TMPDIR.
  expect(readdirSync(k.tmp)).toEqual([]);
  expect(parts()).toEqual([]);
  expect(suite.imageIds()).toEqual(imagesBefore);
  const catalog = Catalog.openReadOnly(suite.home);
  try {
    expect(catalog.journal.orphaned()).toEqual([]);
    expect(readdirSync(catalog.imagesDir).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  } finally {
    catalog.close();
  }
  const gc = await kiln(['gc', '--dry-run'], { home: suite.home });
  expect(gc.code, gc.stderr).toBe(0);
  expect(gc.stdout).toBe('nothing to remove\n');
  rmSync(k.tmp, { recursive: true, force: true });
}

/** The build was cancelled cleanly by `signal`, as Packer ends one (exit 1). */
function cancelledBy(r: { code: number | null; output: string }, signal: NodeJS.Signals) {
  expect(r.code, r.output).toBe(1);
  expect(r.output).toContain(
    `Cancelling build after receiving ${signal === 'SIGINT' ? 'interrupt' : 'terminated'}`,
  );
  expect(r.output).toContain('Cleanly cancelled builds after being interrupted.');
}

/** Resolves with the name of the first `.part` in the ISO cache not in `old`; fails if kiln exits first. */
async function newPart(k: Running, old: string[] = []): Promise<string> {
  for (;;) {
    const p = parts().find((f) => !old.includes(f));
    if (p) return p;
    if (k.child.exitCode !== null || k.child.signalCode !== null) throw new Error(k.output());
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** An HTTP server that sends the first megabyte of the ISO, then stalls: a download cut mid-way. */
async function stallingServer() {
  const size = statSync(suite.media.iso).size;
  const head = readFileSync(suite.media.iso).subarray(0, 1 << 20);
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Length': String(size) });
    res.write(head);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/installer.iso`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

interface Point {
  /** The build's step (or the guest's phase) when the signal arrives. */
  what: string;
  signal: NodeJS.Signals;
  extra: Record<string, unknown>;
  /** Lines to see, in order, before sending the signal. */
  at: RegExp[];
  /** What must not have happened yet (the signal landed before it). */
  before?: RegExp;
}

const POINTS: Point[] = [
  {
    what: 'boot_wait',
    signal: 'SIGINT',
    extra: { boot_wait: '10m' },
    at: [/Waiting 10m for boot/],
  },
  {
    what: 'typing',
    signal: 'SIGINT',
    extra: { boot_wait: '1s', boot_key_interval: '3s' },
    at: [/Typing the boot command/],
    before: /typed \d+ keys/,
  },
  {
    // The guest fetched its answer file from kiln's HTTP server and is writing the disk.
    what: 'the install',
    signal: 'SIGTERM',
    extra: {},
    at: [/typed \d+ keys/, /http: GET \/answer\.sh → 200/],
    before: /the guest rebooted/,
  },
  {
    // The installer rebooted the guest (QMP's RESET event); its sshd is not up yet.
    what: 'the SSH wait after the reboot',
    signal: 'SIGINT',
    extra: {},
    at: [/http: GET \/rootfs\.tar → 200/, /the guest rebooted/],
    before: /Connected to SSH/,
  },
];

describe('qemu builder: interrupting an install from an ISO', () => {
  it.each(POINTS.map((p) => [p.signal, p.what, p] as const))(
    '%s during %s leaves no QEMU, no HTTP server, no temporary CD and nothing for kiln gc',
    async (_signal, what, p) => {
      const tpl = suite.template(
        `interrupt-${what.replace(/\W+/g, '-')}`,
        suite.installer({ ...p.extra, cd_content: { 'meta-data': 'x' } }),
      );
      const imagesBefore = suite.imageIds();
      const k = suite.kilnBuild([tpl]);
      const port = Number((await k.waitFor(/Starting HTTP server on port (\d+)/))[1]);
      await k.waitFor(/CD made: /);
      // An install under TCG on a loaded machine: minutes, not seconds.
      for (const line of p.at) await k.waitFor(line, 1_000_000);
      expect(await listening(port)).toBe(true);
      expect(suite.qemuOfHome()).toHaveLength(1);
      k.child.kill(p.signal);
      const r = await k.exit;
      cancelledBy(r, p.signal);
      if (p.before) expect(r.output).not.toMatch(p.before);
      await nothingLeft(k, imagesBefore, port);
    },
    1_200_000,
  );

  it('SIGINT during the ISO download leaves no partial file in the cache and starts no VM', async () => {
    const server = await stallingServer();
    try {
      const tpl = suite.template('interrupt-download', suite.installer({ iso_url: server.url }));
      const imagesBefore = suite.imageIds();
      const k = suite.kilnBuild([tpl]);
      await newPart(k);
      k.child.kill('SIGINT');
      const r = await k.exit;
      cancelledBy(r, 'SIGINT');
      expect(r.output).not.toMatch(/Starting VM/);
      await nothingLeft(k, imagesBefore);
    } finally {
      await server.close();
    }
  });

  it("kill -9 during the ISO download: kiln gc removes the .part left, and so does the next build's start", async () => {
    const server = await stallingServer();
    const cache = join(suite.home, 'cache', 'iso');
    try {
      const tpl = suite.template('kill-download', suite.installer({ iso_url: server.url }));
      const imagesBefore = suite.imageIds();

      const first = suite.kilnBuild([tpl]);
      const part1 = await newPart(first);
      first.child.kill('SIGKILL');
      expect((await first.exit).signal).toBe('SIGKILL');
      // Nobody was left to remove it…
      expect(parts()).toEqual([part1]);
      // …but the run journal lists it.
      const gc = await kiln(['gc'], { home: suite.home });
      expect(gc.code, gc.stderr).toBe(0);
      expect(gc.stdout).toContain(`removed file ${join(cache, part1)}`);
      expect(parts()).toEqual([]);

      const second = suite.kilnBuild([tpl]);
      const part2 = await newPart(second);
      second.child.kill('SIGKILL');
      await second.exit;
      expect(parts()).toEqual([part2]);
      // The next build (the same template here; any would do) removes it before it starts.
      const third = suite.kilnBuild([tpl]);
      await third.waitFor(
        new RegExp(
          `Cleaning up after a kiln run that died: removed file ${escapeRe(join(cache, part2))}`,
        ),
      );
      await newPart(third, [part2]);
      expect(parts()).not.toContain(part2);
      third.child.kill('SIGINT');
      cancelledBy(await third.exit, 'SIGINT');
      await nothingLeft(third, imagesBefore);
      for (const k of [first, second]) rmSync(k.tmp, { recursive: true, force: true });
    } finally {
      await server.close();
    }
  });
});
