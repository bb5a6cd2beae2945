/**
 * The rolling replacement itself, apart from QEMU so that its order of operations can be
 * tested on its own: one new member at a time, healthy before an old one goes; a new
 * member that fails is stopped at once and the replacement ends there, so whatever old
 * members are left keep serving.
 */

/** A group member as the rollout sees it. */
export interface Member {
  id: string;
  /** Its host port (each member of a group has its own). */
  port: number;
  imageId: string;
}

/** What the rollout does to the world. */
export interface RollingDriver {
  /** Starts a member of `imageId` on host `port`. */
  start(imageId: string, port: number): Promise<Member>;
  /** Resolves when the member answers its health check; throws why it does not. */
  waitHealthy(member: Member): Promise<void>;
  /** Stops a member: `failed` never served (no need for a clean power-off), `replaced` did. */
  stop(member: Member, why: 'failed' | 'replaced'): Promise<void>;
  /** Progress for the user. */
  note?(text: string): void;
}

/** A rollout that ended early: which member failed, and what it had done until then. */
export class RolloutError extends Error {
  constructor(
    readonly reason: unknown,
    /** The member that failed its start or health check (already stopped), if it got that far. */
    readonly failed: Member | undefined,
    /** New members that passed and are serving. */
    readonly started: Member[],
    /** Old members already stopped. */
    readonly stopped: Member[],
  ) {
    super(reason instanceof Error ? reason.message : String(reason));
    this.name = 'RolloutError';
  }
}

export interface RolloutResult {
  started: Member[];
  stopped: Member[];
}

/**
 * Replaces `old` (oldest first) with `count` members of `imageId`, each on the lowest port
 * of `ports` no live member holds. Before each start, the next port must be free: when
 * every port is held, the oldest old member is stopped first. Extra old members (a group
 * that shrank) are stopped once all new ones are healthy. Throws a RolloutError.
 */
export async function rollOut(
  imageId: string,
  old: readonly Member[],
  count: number,
  ports: readonly number[],
  driver: RollingDriver,
): Promise<RolloutResult> {
  const remaining = [...old];
  const started: Member[] = [];
  const stopped: Member[] = [];
  const stopOldest = async () => {
    const victim = remaining.shift()!;
    driver.note?.(`stopping ${victim.id} (${victim.imageId}, port ${victim.port})`);
    await driver.stop(victim, 'replaced');
    stopped.push(victim);
  };
  for (let i = 0; i < count; i++) {
    let port = freeSlot(ports, [...remaining, ...started]);
    if (port === undefined && remaining.length > 0) {
      await stopOldest().catch((e: unknown) => {
        throw new RolloutError(e, undefined, started, stopped);
      });
      port = freeSlot(ports, [...remaining, ...started]);
    }
    if (port === undefined) {
      throw new RolloutError(
        new Error('no free port left for a new member'),
        undefined,
        started,
        stopped,
      );
    }
    driver.note?.(`starting member ${i + 1}/${count} from ${imageId} on port ${port}`);
    let member: Member;
    try {
      member = await driver.start(imageId, port);
    } catch (e) {
      throw new RolloutError(e, undefined, started, stopped);
    }
    try {
      await driver.waitHealthy(member);
    } catch (e) {
      await driver.stop(member, 'failed').catch(() => undefined);
      throw new RolloutError(e, member, started, stopped);
    }
    started.push(member);
    if (remaining.length > 0) {
      await stopOldest().catch((e: unknown) => {
        throw new RolloutError(e, undefined, started, stopped);
      });
    }
  }
  while (remaining.length > 0) {
    await stopOldest().catch((e: unknown) => {
      throw new RolloutError(e, undefined, started, stopped);
    });
  }
  return { started, stopped };
}

/** The lowest port of `ports` that no member holds. */
function freeSlot(ports: readonly number[], members: readonly Member[]): number | undefined {
  const held = new Set(members.map((m) => m.port));
  return ports.find((p) => !held.has(p));
}

/** How a rollout with rollback ended when it failed. */
export interface FailedRollout {
  error: RolloutError;
  /** Old members that were never stopped (they keep serving). */
  untouched: Member[];
  /** Set when members already replaced were put back on `previousImage`. */
  rollback?: { imageId: string; ok: boolean; reason?: string; members: Member[] };
}

/**
 * `rollOut`, and when it fails after some members were replaced, the same rollout back to
 * `previousImage` for those members (on ports the untouched old members do not hold).
 * Resolves with the result, or rejects with nothing but a FailedRollout.
 */
export async function rollOutWithRollback(
  imageId: string,
  old: readonly Member[],
  count: number,
  ports: readonly number[],
  driver: RollingDriver,
  previousImage: string | undefined,
): Promise<RolloutResult> {
  try {
    return await rollOut(imageId, old, count, ports, driver);
  } catch (err) {
    if (!(err instanceof RolloutError)) throw err;
    const untouched = old.filter((m) => !err.stopped.some((s) => s.id === m.id));
    const failure: FailedRollout = { error: err, untouched };
    if (err.started.length > 0 && previousImage !== undefined) {
      driver.note?.(`rolling ${err.started.length} replaced member(s) back to ${previousImage}`);
      const free = ports.filter((p) => !untouched.some((m) => m.port === p));
      try {
        const back = await rollOut(previousImage, err.started, err.started.length, free, driver);
        failure.rollback = { imageId: previousImage, ok: true, members: back.started };
      } catch (rb) {
        const reason = rb instanceof RolloutError ? rb.message : String(rb);
        failure.rollback = { imageId: previousImage, ok: false, reason, members: [] };
      }
    }
    throw failure;
  }
}

/** True for what `rollOutWithRollback` rejects with. */
export function isFailedRollout(x: unknown): x is FailedRollout {
  return typeof x === 'object' && x !== null && (x as FailedRollout).error instanceof RolloutError;
}
