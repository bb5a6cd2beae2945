/**
 * Deploy history (`deploy_history`, schema migration 3): each `kiln deploy aws|local` and
 * rollback, what it set and what it replaced, so `--rollback` knows the previous release
 * and `kiln images prune` knows which images are deployed.
 */
import type { CatalogDb } from './db.js';
import type { DeploymentRecord, DeploymentsApi, NewDeployment } from './types.js';

export type { DeploymentRecord, NewDeployment } from './types.js';

/** The `deploy_history` table. */
export class Deployments implements DeploymentsApi {
  constructor(private readonly h: CatalogDb) {}

  /** Appends one deploy to the history; returns it with its id and time. */
  record(d: NewDeployment): DeploymentRecord {
    const createdAt = new Date().toISOString();
    const id = this.h.write(
      () =>
        this.h.db
          .prepare(
            `INSERT INTO deploy_history (backend, group_name, region, image_id, kind, status, launch_template_id,
             version, previous_version, refresh_id, reason, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            d.backend,
            d.group,
            d.region ?? null,
            d.imageId,
            d.kind,
            d.status,
            d.launchTemplateId ?? null,
            d.version ?? null,
            d.previousVersion ?? null,
            d.refreshId ?? null,
            d.reason ?? null,
            createdAt,
          ).lastInsertRowid,
    );
    return { ...d, id: Number(id), createdAt };
  }

  /** The deploys of one group (newest first), or of every group. */
  list(filter: { backend?: string; group?: string } = {}): DeploymentRecord[] {
    const rows = this.h.db
      .prepare(
        `SELECT * FROM deploy_history WHERE (? IS NULL OR backend = ?) AND (? IS NULL OR group_name = ?) ORDER BY id DESC`,
      )
      .all(
        filter.backend ?? null,
        filter.backend ?? null,
        filter.group ?? null,
        filter.group ?? null,
      ) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      id: Number(r.id),
      backend: String(r.backend),
      group: String(r.group_name),
      ...(r.region != null ? { region: String(r.region) } : {}),
      imageId: String(r.image_id),
      kind: r.kind === 'rollback' ? 'rollback' : 'deploy',
      status: String(r.status),
      ...(r.launch_template_id != null ? { launchTemplateId: String(r.launch_template_id) } : {}),
      ...(r.version != null ? { version: Number(r.version) } : {}),
      ...(r.previous_version != null ? { previousVersion: Number(r.previous_version) } : {}),
      ...(r.refresh_id != null ? { refreshId: String(r.refresh_id) } : {}),
      ...(r.reason != null ? { reason: String(r.reason) } : {}),
      createdAt: String(r.created_at),
    }));
  }
}
