/**
 * Shared by the runtime integration tests: the test kiln home (the same one the QEMU
 * tests use, so the debian-12 base is made once), a small image whose systemd unit
 * serves HTTP with python3 (built once with the qemu builder and found again by tag),
 * the compiled CLI, and "nothing left" checks for instances.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../src/catalog/index.js';
import { ROOT, type Running, type RunResult, kiln as runKiln, startKiln } from './helpers/kiln.js';

export { ROOT };
export const HOME = process.env.KILN_TEST_HOME ?? join(tmpdir(), 'kiln-test-home');
/** The port the test image's HTTP server listens on in the guest. */
export const GUEST_PORT = 8000;
/** Bump when the test image's template changes. */
const HTTP_TAG = 'runtime-test-http-1';

/** Runs the compiled CLI to completion with KILN_HOME set to the test home. */
export function kiln(args: string[], timeoutMs = 600_000): Promise<RunResult> {
  return runKiln(args, { home: HOME, timeoutMs });
}

/** Starts the compiled CLI in the background with KILN_HOME set to the test home. */
export function kilnAsync(args: string[]): Running {
  return startKiln(args, { home: HOME });
}

/** Makes (or finds) the debian-12 base in the test home; returns its id. */
export async function ensureBase(): Promise<string> {
  const r = await kiln(['base', 'debian-12'], 900_000);
  if (r.code !== 0) throw new Error(`kiln base failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim().split('\n').at(-1)!;
}

/** Makes (or finds by tag) an image whose service answers HTTP on GUEST_PORT (`/` and `/healthz`); returns its id. */
export async function ensureHttpImage(): Promise<string> {
  await ensureBase();
  const catalog = Catalog.open(HOME);
  try {
    const found = catalog.images
      .list()
      .find((i) => i.tags.includes(HTTP_TAG) && i.status === 'ready');
    if (found) return found.id;
  } finally {
    catalog.close();
  }
  const dir = mkdtempSync(join(tmpdir(), 'kiln-rt-tpl-'));
  try {
    const unit = [
      '[Unit]',
      'Description=kiln test HTTP server',
      'After=network.target',
      '[Service]',
      `ExecStart=/usr/bin/python3 -m http.server ${GUEST_PORT} --bind 0.0.0.0 --directory /srv/www`,
      '[Install]',
      'WantedBy=multi-user.target',
    ].join('\\n');
    const tpl = {
      builders: [
        {
          type: 'qemu',
          source_image: 'debian-12',
          ssh_username: 'root',
          vm_name: 'kiln-test-http',
          memory: 1024,
          cpus: 1,
        },
      ],
      provisioners: [
        {
          type: 'shell',
          inline: [
            "mkdir -p /srv/www && echo 'hello from kiln-test' > /srv/www/index.html && echo ok > /srv/www/healthz",
            `printf '${unit}\\n' > /etc/systemd/system/kiln-test-http.service`,
            'systemctl enable kiln-test-http.service',
          ],
        },
      ],
    };
    const file = join(dir, 'http.json');
    writeFileSync(file, JSON.stringify(tpl, null, 2));
    const r = await kiln(['build', '-machine-readable', file], 900_000);
    const id = /,artifact,0,id,(img-[0-9a-f]+)/.exec(r.stdout)?.[1];
    if (r.code !== 0 || !id)
      throw new Error(`building the HTTP test image failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    const catalog = Catalog.open(HOME);
    try {
      catalog.images.addTag(id, HTTP_TAG);
    } finally {
      catalog.close();
    }
    return id;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One GET on 127.0.0.1 with a short timeout: the status and body, or undefined when nothing answered. */
export function httpGet(
  port: number,
  path = '/',
): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** QEMU processes whose command line mentions `marker` (an instance id). */
export function qemuPidsMentioning(marker: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.startsWith('qemu-system') && cmd.includes(marker)) pids.push(Number(d));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/**
 * What these instances left: QEMU processes, directories, catalog rows, journal runs. Only
 * the given ids are looked at: other tests may share the test home at the same time.
 */
export function leftoversOf(ids: readonly string[]): string[] {
  const catalog = Catalog.open(HOME);
  try {
    const left: string[] = [];
    const orphans = new Set(catalog.journal.orphaned().map((r) => r.runId));
    for (const id of ids) {
      for (const pid of qemuPidsMentioning(id)) left.push(`${id}: QEMU pid ${pid}`);
      if (existsSync(join(HOME, 'instances', id))) left.push(`${id}: directory`);
      if (catalog.instances.get(id)) left.push(`${id}: catalog row`);
      if (orphans.has(`run-${id}`)) left.push(`${id}: journal run`);
    }
    return left;
  } finally {
    catalog.close();
  }
}

/** Instance ids of a group in the test home. */
export function groupMembers(group: string): string[] {
  const catalog = Catalog.open(HOME);
  try {
    return catalog.instances
      .list()
      .filter((i) => i.group === group)
      .map((i) => i.id);
  } finally {
    catalog.close();
  }
}

/** Stops the given instances (whatever a failed test left), ignoring those already gone. */
export async function stopQuietly(ids: readonly string[]): Promise<void> {
  if (ids.length > 0) await kiln(['stop', '--timeout', '1s', ...ids], 120_000);
}
