/**
 * The action cache (`action_cache`, schema migration 4): the pipeline's command steps
 * (unit_tests, integration_tests, package) whose declared inputs hashed to a run that
 * passed, with the files that run made. A key is only ever written after a pass, so a
 * failing run is never cached; the newest few keys of each step are kept.
 */
import type { CatalogDb } from './db.js';
import { parseJson } from './rows.js';
import type { ActionOutput, ActionRecord, ActionsApi, NewAction } from './types.js';

export type { ActionOutput, ActionRecord, NewAction } from './types.js';

interface ActionRow {
  key: string;
  step: string;
  pipeline: string;
  outputs: string;
  duration_ms: number;
  created_at: string;
  used_at: string;
}

function toAction(r: ActionRow): ActionRecord {
  return {
    key: r.key,
    step: r.step,
    pipeline: r.pipeline,
    outputs: parseJson<ActionOutput[]>(r.outputs, []),
    durationMs: r.duration_ms,
    createdAt: r.created_at,
    usedAt: r.used_at,
  };
}

/** The `action_cache` table. */
export class Actions implements ActionsApi {
  constructor(private readonly h: CatalogDb) {}

  /** The passed run recorded under `key`, if any. */
  get(key: string): ActionRecord | undefined {
    const row = this.h.db.prepare('SELECT * FROM action_cache WHERE key = ?').get(key) as
      | ActionRow
      | undefined;
    return row ? toAction(row) : undefined;
  }

  /** Records a passed run under its key (replacing an older record of the same key). */
  record(a: NewAction): ActionRecord {
    const now = new Date().toISOString();
    this.h.write(() =>
      this.h.db
        .prepare(
          `INSERT OR REPLACE INTO action_cache (key, step, pipeline, outputs, duration_ms, created_at, used_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          a.key,
          a.step,
          a.pipeline,
          JSON.stringify(a.outputs ?? []),
          Math.round(a.durationMs),
          now,
          now,
        ),
    );
    return this.get(a.key)!;
  }

  /** Notes that a run skipped thanks to `key` (what `prune` keeps by). */
  touch(key: string): void {
    this.h.write(() =>
      this.h.db
        .prepare('UPDATE action_cache SET used_at = ? WHERE key = ?')
        .run(new Date().toISOString(), key),
    );
  }

  /** Forgets all but the `keep` most recently used keys of one step of one pipeline; returns those forgotten. */
  prune(pipeline: string, step: string, keep: number): ActionRecord[] {
    return this.h.write(() => {
      const old = this.h.db
        .prepare(
          'SELECT * FROM action_cache WHERE pipeline = ? AND step = ? ORDER BY used_at DESC, created_at DESC LIMIT -1 OFFSET ?',
        )
        .all(pipeline, step, keep) as ActionRow[];
      const del = this.h.db.prepare('DELETE FROM action_cache WHERE key = ?');
      for (const r of old) del.run(r.key);
      return old.map(toAction);
    });
  }

  /** Every output digest some record still names (what the output store must keep). */
  outputDigests(): Set<string> {
    const all = new Set<string>();
    for (const text of this.h.db
      .prepare('SELECT outputs FROM action_cache')
      .pluck()
      .all() as string[])
      for (const o of parseJson<ActionOutput[]>(text, [])) all.add(o.sha256);
    return all;
  }

  /** Every record, newest first. */
  list(): ActionRecord[] {
    return (
      this.h.db.prepare('SELECT * FROM action_cache ORDER BY used_at DESC').all() as ActionRow[]
    ).map(toAction);
  }
}
