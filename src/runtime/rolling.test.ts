import { describe, expect, it } from 'vitest';
import {
  type FailedRollout,
  type Member,
  type RollingDriver,
  RolloutError,
  rollOut,
  rollOutWithRollback,
} from './rolling.js';

/** Records the order of operations and fails the health check of chosen starts. */
function fakeDriver(failOn: (n: number, imageId: string) => boolean = () => false) {
  const log: string[] = [];
  const live = new Map<string, Member>();
  let n = 0;
  const driver: RollingDriver = {
    async start(imageId, port) {
      n++;
      const m = { id: `new${n}`, port, imageId };
      if ([...live.values()].some((x) => x.port === port)) throw new Error(`port ${port} taken`);
      live.set(m.id, m);
      log.push(`start ${m.id}@${port}`);
      return m;
    },
    async waitHealthy(m) {
      const k = Number(m.id.replace('new', ''));
      if (failOn(k, m.imageId)) {
        log.push(`unhealthy ${m.id}`);
        throw new Error(`${m.id} unhealthy`);
      }
      log.push(`healthy ${m.id}`);
    },
    async stop(m, why) {
      live.delete(m.id);
      log.push(`stop ${m.id} (${why})`);
    },
  };
  return { driver, log, live };
}

const oldMembers = (): Member[] => [
  { id: 'old1', port: 8080, imageId: 'img-a' },
  { id: 'old2', port: 8081, imageId: 'img-a' },
];

describe('rollOut', () => {
  it('replaces members one at a time, each healthy before an old one stops, on the spare port first', async () => {
    const { driver, log, live } = fakeDriver();
    for (const m of oldMembers()) live.set(m.id, m);
    const r = await rollOut('img-b', oldMembers(), 2, [8080, 8081, 8082], driver);
    expect(log).toEqual([
      'start new1@8082',
      'healthy new1',
      'stop old1 (replaced)',
      'start new2@8080',
      'healthy new2',
      'stop old2 (replaced)',
    ]);
    expect(r.started.map((m) => m.port)).toEqual([8082, 8080]);
    expect([...live.keys()].sort()).toEqual(['new1', 'new2']);
  });

  it('stops a new member that fails its health check and leaves the old ones running', async () => {
    const { driver, log, live } = fakeDriver((n) => n === 1);
    for (const m of oldMembers()) live.set(m.id, m);
    const err = await rollOut('img-b', oldMembers(), 2, [8080, 8081, 8082], driver).catch((e) => e);
    expect(err).toBeInstanceOf(RolloutError);
    expect(err.failed.id).toBe('new1');
    expect(err.stopped).toEqual([]);
    expect(log).toEqual(['start new1@8082', 'unhealthy new1', 'stop new1 (failed)']);
    expect([...live.keys()].sort()).toEqual(['old1', 'old2']);
  });

  it('reports what a failure in the middle had already done', async () => {
    const { driver } = fakeDriver((n) => n === 2);
    const err = (await rollOut('img-b', oldMembers(), 2, [8080, 8081, 8082], driver).catch(
      (e) => e,
    )) as RolloutError;
    expect(err.started.map((m) => m.id)).toEqual(['new1']);
    expect(err.stopped.map((m) => m.id)).toEqual(['old1']);
    expect(err.failed?.id).toBe('new2');
  });

  it('starts new members when the group is smaller than the count, and stops extras when it shrank', async () => {
    const grow = fakeDriver();
    const r1 = await rollOut('img-b', [], 2, [9000, 9001, 9002], grow.driver);
    expect(grow.log).toEqual([
      'start new1@9000',
      'healthy new1',
      'start new2@9001',
      'healthy new2',
    ]);
    expect(r1.stopped).toEqual([]);

    const shrink = fakeDriver();
    const three: Member[] = [...oldMembers(), { id: 'old3', port: 8082, imageId: 'img-a' }];
    const r2 = await rollOut('img-b', three, 1, [8080, 8081], shrink.driver);
    // Every slot was held: the oldest member made room first.
    expect(shrink.log).toEqual([
      'stop old1 (replaced)',
      'start new1@8080',
      'healthy new1',
      'stop old2 (replaced)',
      'stop old3 (replaced)',
    ]);
    expect(r2.stopped.map((m) => m.id)).toEqual(['old1', 'old2', 'old3']);
  });

  it('rolls members already replaced back to the previous image, on ports the untouched members do not hold', async () => {
    const { driver, log, live } = fakeDriver((n, image) => n === 2 && image === 'img-b');
    for (const m of oldMembers()) live.set(m.id, m);
    const failure = (await rollOutWithRollback(
      'img-b',
      oldMembers(),
      2,
      [8080, 8081, 8082],
      driver,
      'img-a',
    ).catch((e) => e)) as FailedRollout;
    expect(failure.error.failed?.id).toBe('new2');
    expect(failure.untouched.map((m) => m.id)).toEqual(['old2']);
    expect(failure.rollback).toMatchObject({ imageId: 'img-a', ok: true });
    expect(log).toEqual([
      'start new1@8082',
      'healthy new1',
      'stop old1 (replaced)',
      'start new2@8080',
      'unhealthy new2',
      'stop new2 (failed)',
      // old2 holds 8081: the rollback member takes 8080, then new1 goes.
      'start new3@8080',
      'healthy new3',
      'stop new1 (replaced)',
    ]);
    expect([...live.values()].map((m) => `${m.id}:${m.imageId}`).sort()).toEqual([
      'new3:img-a',
      'old2:img-a',
    ]);
  });

  it('does not roll back when nothing was replaced yet, or when told not to', async () => {
    const first = fakeDriver((n) => n === 1);
    const f1 = (await rollOutWithRollback(
      'img-b',
      oldMembers(),
      2,
      [8080, 8081, 8082],
      first.driver,
      'img-a',
    ).catch((e) => e)) as FailedRollout;
    expect(f1.rollback).toBeUndefined();
    expect(f1.untouched).toHaveLength(2);
    const off = fakeDriver((n) => n === 2);
    const f2 = (await rollOutWithRollback(
      'img-b',
      oldMembers(),
      2,
      [8080, 8081, 8082],
      off.driver,
      undefined,
    ).catch((e) => e)) as FailedRollout;
    expect(f2.rollback).toBeUndefined();
    expect(f2.error).toBeInstanceOf(RolloutError);
  });
});
