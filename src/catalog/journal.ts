/**
 * The run journal, for crash-safe cleanup: a run announces itself (`begin`), then records
 * each resource *before* creating it, forgets what it removed or handed over, and ends.
 * A run whose process died without ending is an orphan: `kiln gc` removes what it lists.
 */
import { hostname } from 'node:os';
import { KilnError } from '../lib/errors.js';
import type { CatalogDb } from './db.js';
import { isSameProcessAlive, processCmdline, processIdentity } from './process-info.js';
import { parseJson } from './rows.js';
import type { JournalApi, OrphanedRun, RunResource } from './types.js';

interface RunRow {
  id: string;
  pid: number;
  start_time: string | null;
  boot_id: string | null;
  host: string;
  description: string;
}

interface ResourceRow {
  run_id: string;
  kind: string;
  ref: string;
  metadata: string;
}

/** The `runs` and `run_resources` tables. */
export class Journal implements JournalApi {
  constructor(private readonly h: CatalogDb) {}

  /** Announces a run by the process `pid` (with its start time, so a reused pid is not mistaken for it). */
  begin(runId: string, pid: number, description: string): void {
    this.h.write(() => {
      if (this.h.db.prepare('SELECT 1 FROM runs WHERE id = ?').get(runId)) {
        throw new KilnError('RunExists', `run ${runId} is already in the journal`);
      }
      this.insertRun(runId, pid, description);
    });
  }

  /**
   * Records a resource *before* it is created (a process right after spawn). For a
   * `process`, its command line and start time are read from /proc when not given, so that
   * `kiln gc` can check it is still the same process before killing it.
   */
  record(resource: RunResource): void {
    this.h.write(() => {
      if (!this.h.db.prepare('SELECT 1 FROM runs WHERE id = ?').get(resource.runId)) {
        throw new KilnError(
          'RunNotFound',
          `run ${resource.runId} is not in the journal; call begin first`,
        );
      }
      this.putResource(resource);
    });
  }

  /** The resource is gone (or handed over, e.g. to an image), so a crash must not delete it. */
  forget(runId: string, ref: string): void {
    this.h.write(() =>
      this.h.db.prepare('DELETE FROM run_resources WHERE run_id = ? AND ref = ?').run(runId, ref),
    );
  }

  /** The run finished (its cleanups ran); it and whatever it still lists are forgotten. */
  end(runId: string): void {
    this.h.write(() => this.h.db.prepare('DELETE FROM runs WHERE id = ?').run(runId));
  }

  /** Runs of this host whose process is gone (or whose pid now belongs to another process), with what they left. */
  orphaned(): OrphanedRun[] {
    const runs = this.h.db
      .prepare('SELECT * FROM runs WHERE host = ? ORDER BY started_at')
      .all(hostname()) as RunRow[];
    const orphans: OrphanedRun[] = [];
    for (const run of runs) {
      const identity = {
        ...(run.start_time ? { startTime: run.start_time } : {}),
        ...(run.boot_id ? { bootId: run.boot_id } : {}),
      };
      if (isSameProcessAlive(run.pid, identity)) continue;
      const resources = (
        this.h.db
          .prepare('SELECT * FROM run_resources WHERE run_id = ? ORDER BY created_at, rowid')
          .all(run.id) as ResourceRow[]
      ).map((r) => ({
        runId: r.run_id,
        kind: r.kind,
        ref: r.ref,
        metadata: parseJson<Record<string, unknown>>(r.metadata, {}),
      }));
      orphans.push({ runId: run.id, pid: run.pid, description: run.description, resources });
    }
    return orphans;
  }

  /** Inside a write transaction: adds a run row (for another concern's transaction, e.g. image removal). */
  insertRun(runId: string, pid: number, description: string): void {
    const identity = processIdentity(pid);
    this.h.db
      .prepare(
        'INSERT INTO runs (id, pid, start_time, boot_id, host, description, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        runId,
        pid,
        identity.startTime ?? null,
        identity.bootId ?? null,
        hostname(),
        description,
        new Date().toISOString(),
      );
  }

  /** Inside a write transaction: adds (or updates) a resource of a run. */
  putResource(resource: RunResource): void {
    let metadata = resource.metadata ?? {};
    if (resource.kind === 'process') {
      const pid = Number(resource.ref);
      const identity = processIdentity(pid);
      const cmdline = processCmdline(pid);
      metadata = {
        ...(cmdline ? { cmdline } : {}),
        ...(identity.startTime ? { startTime: identity.startTime } : {}),
        ...(identity.bootId ? { bootId: identity.bootId } : {}),
        ...metadata,
      };
    }
    this.h.db
      .prepare(
        `INSERT INTO run_resources (run_id, kind, ref, metadata, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(run_id, ref) DO UPDATE SET kind = excluded.kind, metadata = excluded.metadata`,
      )
      .run(
        resource.runId,
        resource.kind,
        resource.ref,
        JSON.stringify(metadata),
        new Date().toISOString(),
      );
  }

  /** Inside a write transaction: files and directories at `refs` now belong to an image, whichever run made them. */
  handOver(refs: readonly string[]): void {
    const stmt = this.h.db.prepare(
      `DELETE FROM run_resources WHERE kind IN ('file', 'dir') AND ref = ?`,
    );
    for (const ref of refs) stmt.run(ref);
  }

  /** Paths of the files and directories journalled by any run (live or dead). */
  journalledPaths(): string[] {
    return this.h.db
      .prepare(`SELECT ref FROM run_resources WHERE kind IN ('file', 'dir')`)
      .pluck()
      .all() as string[];
  }
}
