/** How catalog rows look in SQLite and how they become the records the API returns. */
import type { ImageRecord, InstanceRecord } from './types.js';

/** A row of `images`. */
export interface ImageRow {
  id: string;
  name: string;
  builder: string;
  parent_id: string | null;
  files: string;
  format: string | null;
  input_hash: string | null;
  template_path: string | null;
  variables: string;
  size_bytes: number;
  sha256: string | null;
  metadata: string;
  status: string;
  status_before_missing: string | null;
  created_at: string;
}

/** A row of `instances`. */
export interface InstanceRow {
  id: string;
  image_id: string;
  name: string | null;
  backend: string;
  pid: number | null;
  ports: string;
  files: string;
  group_name: string | null;
  metadata: string;
  state: string;
  created_at: string;
}

/** An image row as a record, with its tags and (when given) the status reconciliation found. */
export function toImage(row: ImageRow, tags: string[], status = row.status): ImageRecord {
  return {
    id: row.id,
    name: row.name,
    builder: row.builder,
    parentId: row.parent_id,
    files: parseJson<string[]>(row.files, []),
    format: row.format,
    inputHash: row.input_hash,
    templatePath: row.template_path,
    variables: parseJson<Record<string, string>>(row.variables, {}),
    tags,
    sizeBytes: row.size_bytes,
    sha256: row.sha256,
    metadata: parseJson<Record<string, unknown>>(row.metadata, {}),
    status,
    createdAt: row.created_at,
  };
}

/** An instance row as a record. */
export function toInstance(row: InstanceRow): InstanceRecord {
  return {
    id: row.id,
    imageId: row.image_id,
    name: row.name,
    backend: row.backend,
    pid: row.pid,
    ports: parseJson<Array<{ host: number; guest: number }>>(row.ports, []),
    files: parseJson<string[]>(row.files, []),
    group: row.group_name,
    metadata: parseJson<Record<string, unknown>>(row.metadata, {}),
    state: row.state,
    createdAt: row.created_at,
  };
}

/** Parses a JSON column, or `fallback` when it is not valid JSON. */
export function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}
