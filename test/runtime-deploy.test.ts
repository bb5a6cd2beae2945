/**
 * `kiln deploy local` for real: a group of two instances replaced one at a time with the
 * group answering throughout, then a broken image (its service never answers) that fails
 * its health check while the old members keep serving. Up to three VMs at the peak of a
 * replacement (two old, one new), mostly idle.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import {
  ensureBase,
  ensureHttpImage,
  GUEST_PORT,
  groupMembers,
  HOME,
  httpGet,
  kilnAsync,
  leftoversOf,
  stopQuietly,
} from './runtime-helpers.js';

/** The deploy history as `kiln` recorded it under the test's kiln home. */
function listDeployments(filter: { backend?: string; group?: string }) {
  using catalog = Catalog.openReadOnly(HOME);
  return catalog.deployments.list(filter);
}

const group = `rt-web-${process.pid}`;
let httpImage: string;
let baseImage: string;
let basePort: number;
const seen = new Set<string>();

beforeAll(async () => {
  baseImage = await ensureBase();
  httpImage = await ensureHttpImage();
  basePort = await freeRun(3);
});

afterAll(() => stopQuietly([...seen, ...groupMembers(group)]));

async function deploy(args: string[]) {
  const k = kilnAsync(['deploy', 'local', '--group', group, '--memory', '512', ...args]);
  const r = await k.exit;
  for (const id of `${r.stdout}\n${r.stderr}`.match(/i-[0-9a-f]{17}/g) ?? []) seen.add(id);
  return r;
}

/** Polls every port of the group until stopped; counts rounds in which no member answered. */
function watchGroup(ports: number[]) {
  let silentRounds = 0;
  let rounds = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const answers = await Promise.all(ports.map((p) => httpGet(p, '/healthz')));
      rounds++;
      if (!answers.some((a) => a?.status === 200)) silentRounds++;
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { rounds, silentRounds };
    },
  };
}

describe('kiln deploy local', () => {
  it('starts a group, then replaces both members one at a time while the group keeps answering', async () => {
    const first = await deploy([
      '--count',
      '2',
      '-p',
      `${basePort}:${GUEST_PORT}`,
      '--health-path',
      '/healthz',
      httpImage,
    ]);
    expect(first.code, first.stderr).toBe(0);
    const firstIds = first.stdout.trim().split('\n');
    expect(firstIds).toHaveLength(2);
    expect(groupMembers(group).sort()).toEqual([...firstIds].sort());
    for (const port of [basePort, basePort + 1])
      expect((await httpGet(port, '/'))?.body).toBe('hello from kiln-test\n');

    const watch = watchGroup([basePort, basePort + 1, basePort + 2]);
    // No -p or --health-path: the group's plan is kept in its members.
    const second = await deploy(['--count', '2', httpImage]);
    const { rounds, silentRounds } = await watch.stop();
    expect(second.code, second.stderr).toBe(0);
    const secondIds = second.stdout.trim().split('\n');
    expect(secondIds).toHaveLength(2);
    expect(secondIds.some((id) => firstIds.includes(id))).toBe(false);
    expect(groupMembers(group).sort()).toEqual([...secondIds].sort());
    expect(leftoversOf(firstIds)).toEqual([]);
    expect(rounds).toBeGreaterThan(0);
    expect(silentRounds).toBe(0);

    // One at a time: each new member answered before an old one was stopped.
    const steps = second.stderr
      .split('\n')
      .map((l) => /(starting member \d|answered 200|stopping i-)/.exec(l)?.[1])
      .filter((s): s is string => s !== undefined);
    expect(steps).toEqual([
      'starting member 1',
      'answered 200',
      'stopping i-',
      'starting member 2',
      'answered 200',
      'stopping i-',
    ]);

    const history = listDeployments({ backend: 'local', group });
    expect(history.map((d) => [d.imageId, d.kind, d.status])).toEqual([
      [httpImage, 'deploy', 'succeeded'],
      [httpImage, 'deploy', 'succeeded'],
    ]);
  });

  it('stops a new member that never answers, ends the deploy, and the old members keep serving', async () => {
    const before = groupMembers(group).sort();
    expect(before).toHaveLength(2);
    const r = await deploy(['--count', '2', '--timeout', '30s', baseImage]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      new RegExp(
        `deploy of ${baseImage} to group ${group} failed: i-[0-9a-f]{17} on port \\d+ was not healthy; 2 old member\\(s\\) keep serving`,
      ),
    );
    expect(r.stderr).toMatch(/did not answer with a 2xx status within 30 s/);
    const failed = /failed: (i-[0-9a-f]{17})/.exec(r.stderr)![1]!;
    expect(leftoversOf([failed])).toEqual([]);
    expect(groupMembers(group).sort()).toEqual(before);
    let answering = 0;
    for (let port = basePort; port <= basePort + 2; port++)
      if ((await httpGet(port, '/healthz'))?.status === 200) answering++;
    expect(answering).toBe(2);
    const last = listDeployments({ backend: 'local', group })[0]!;
    expect([last.imageId, last.status]).toEqual([baseImage, 'failed']);
    expect(last.reason).toMatch(/did not answer/);
  });
});

/** The first of `n` consecutive ports free on 127.0.0.1 (from a random start in a quiet range). */
async function freeRun(n: number): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const start = 20_000 + Math.floor(Math.random() * 20_000);
    let ok = true;
    for (let p = start; p < start + n && ok; p++) ok = await canBind(p);
    if (ok) return start;
  }
  throw new Error('no run of free ports');
}

async function canBind(port: number): Promise<boolean> {
  const srv = createServer();
  try {
    srv.listen(port, '127.0.0.1');
    await once(srv, 'listening');
    return true;
  } catch {
    return false;
  } finally {
    await new Promise((r) => srv.close(r));
  }
}
