/**
 * Instances of catalogued images: what `kiln run` and `kiln deploy local` started (and AWS
 * instances). The row says what kiln started; the runtime checks the process table.
 */
import { UserError } from '../lib/errors.js';
import type { CatalogDb } from './db.js';
import { newId } from './ids.js';
import { type InstanceRow, toInstance } from './rows.js';
import type { InstanceRecord, InstancesApi, NewInstance } from './types.js';

const LS_HINT = 'run `kiln images ls` to see the images in the catalog';

/** The `instances` table. */
export class Instances implements InstancesApi {
  constructor(private readonly h: CatalogDb) {}

  /** Records an instance of a catalogued image (state `running`); its id is `i-` + 17 hex unless given. */
  add(instance: NewInstance): InstanceRecord {
    const id = instance.id ?? newId('i');
    const { db } = this.h;
    this.h.write(() => {
      if (!db.prepare('SELECT 1 FROM images WHERE id = ?').get(instance.imageId)) {
        throw new UserError('ImageNotFound', `image ${instance.imageId} is not in the catalog`, {
          hint: LS_HINT,
        });
      }
      db.prepare(
        `INSERT INTO instances (id, image_id, name, backend, pid, ports, files, group_name, metadata, state, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)`,
      ).run(
        id,
        instance.imageId,
        instance.name ?? null,
        instance.backend,
        instance.pid ?? null,
        JSON.stringify(instance.ports ?? []),
        JSON.stringify(instance.files ?? []),
        instance.group ?? null,
        JSON.stringify(instance.metadata ?? {}),
        new Date().toISOString(),
      );
    });
    return this.get(id)!;
  }

  /** The instance with this id, or undefined. */
  get(id: string): InstanceRecord | undefined {
    const row = this.h.db.prepare('SELECT * FROM instances WHERE id = ?').get(id) as
      | InstanceRow
      | undefined;
    return row ? toInstance(row) : undefined;
  }

  /** Every instance, oldest first. */
  list(): InstanceRecord[] {
    return (
      this.h.db.prepare('SELECT * FROM instances ORDER BY created_at, rowid').all() as InstanceRow[]
    ).map(toInstance);
  }

  /** Changes an instance's state, pid or metadata (metadata is replaced, not merged). */
  update(id: string, patch: Partial<Pick<InstanceRecord, 'state' | 'pid' | 'metadata'>>): void {
    const { db } = this.h;
    const r = this.h.write(() => {
      const row = db.prepare('SELECT * FROM instances WHERE id = ?').get(id) as
        | InstanceRow
        | undefined;
      if (!row) return undefined;
      db.prepare('UPDATE instances SET state = ?, pid = ?, metadata = ? WHERE id = ?').run(
        patch.state ?? row.state,
        patch.pid === undefined ? row.pid : patch.pid,
        patch.metadata === undefined ? row.metadata : JSON.stringify(patch.metadata),
        id,
      );
      return row;
    });
    if (!r) throw new UserError('InstanceNotFound', `instance ${id} is not in the catalog`);
  }

  /** Forgets an instance (the row only: its process and files are the runtime's to stop and delete). */
  remove(id: string): void {
    this.h.write(() => this.h.db.prepare('DELETE FROM instances WHERE id = ?').run(id));
  }
}
