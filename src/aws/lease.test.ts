import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { LEASE_MS, leaseFor, ownerOf, runLiveness } from './lease.js';
import { EXPIRES_TAG, OWNER_TAG } from './tags.js';

const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const tags = (expires: Date | undefined, owner: string | undefined) => [
  { Key: 'kiln:run-id', Value: 'run-x' },
  ...(expires ? [{ Key: EXPIRES_TAG, Value: expires.toISOString() }] : []),
  ...(owner ? [{ Key: OWNER_TAG, Value: owner }] : []),
];

describe('run liveness', () => {
  const now = new Date('2026-12-07T18:00:00Z');
  const elsewhere = 'other-host/0000/123/456';

  it('another machine: alive while any resource of the run has a lease in the future', () => {
    const old = new Date(now.getTime() - 1000);
    const fresh = new Date(now.getTime() + 1000);
    expect(runLiveness([tags(old, elsewhere), tags(fresh, elsewhere)], now).state).toBe('alive');
    const dead = runLiveness([tags(old, elsewhere)], now);
    expect(dead).toEqual({ state: 'dead', why: `its lease expired at ${old.toISOString()}` });
  });

  it('this machine: the process decides, whatever the lease says', () => {
    const mine = ownerOf(process.pid);
    expect(mine).toBe(`${hostname()}/${boot}/${process.pid}/${mine.split('/')[3]}`);
    const past = new Date(now.getTime() - LEASE_MS);
    expect(runLiveness([tags(past, mine)], now).state).toBe('alive');
    // pid_max is at most 2^22: this pid never runs.
    const gone = `${hostname()}/${boot}/4194305/1`;
    expect(runLiveness([tags(new Date(now.getTime() + LEASE_MS), gone)], now)).toEqual({
      state: 'dead',
      why: 'its process 4194305 on this machine is gone',
    });
    // The same pid after a reboot is another process: its start time differs.
    const reused = `${hostname()}/${boot}/${process.pid}/1`;
    expect(runLiveness([tags(undefined, reused)], now).state).toBe('dead');
  });

  it('a run without a lease (an older kiln) is for --older-than to judge', () => {
    expect(runLiveness([tags(undefined, undefined)], now)).toEqual({ state: 'no-lease' });
  });

  it('a lease lasts LEASE_MS from now', () => {
    const l = leaseFor(process.pid, now);
    expect(l.expires.getTime() - now.getTime()).toBe(LEASE_MS);
    expect(l.owner).toBe(ownerOf(process.pid));
  });
});
