/** kiln's ownership tags on what it creates in AWS, and Packer's tag maps as EC2 tags. */
import type { Tag } from '@aws-sdk/client-ec2';

/** kiln's ownership tag: every temporary resource of a run carries its run id from creation. */
export const RUN_TAG = 'kiln:run-id';
/** When the resource was created (ISO 8601), for `kiln gc aws --older-than`. */
export const CREATED_TAG = 'kiln:created';
/**
 * The run's lease (ISO 8601): until then the run counts as alive. A running build renews it
 * (heartbeat); once it has passed on every resource of the run, the run is dead and what it
 * left is removed by the next build or `kiln gc aws`.
 */
export const EXPIRES_TAG = 'kiln:expires';
/**
 * Which process owns the run: `host/boot-id/pid/start-time`. On the same machine (host and
 * boot id alike) a run whose process is gone is dead at once, without waiting for its lease.
 */
export const OWNER_TAG = 'kiln:owner';
/** Set on an AMI and its snapshots once the build succeeded: gc never removes them. */
export const ARTIFACT_TAG = 'kiln:artifact';

/** The input hash of the build that made an AMI (`sha256:…`): the cache index any machine can read. */
export const INPUT_HASH_TAG = 'kiln:input-hash';
/** kiln's image format version when the AMI was made: a newer kiln never reuses an older layout. */
export const FORMAT_TAG = 'kiln:format';

/** The token of an instance's launch (its ClientToken), so a lost answer can be found again. */
export const TOKEN_TAG = 'kiln:client-token';

/** On a region copy: the build-region AMI it was copied from (an artifact's AMIs are one build's). */
export const COPY_OF_TAG = 'kiln:copy-of';

/** The cache tags of an AMI built from inputs hashed `hash` by image format `format`. */
export function cacheTags(hash: string, format: number): Tag[] {
  return [
    { Key: INPUT_HASH_TAG, Value: hash },
    { Key: FORMAT_TAG, Value: String(format) },
  ];
}

/** A run's lease as tags: until when it counts as alive, and the process that renews it. */
export interface Lease {
  expires: Date;
  owner: string;
}

/** kiln's ownership tags for a run (with its lease when given), as EC2 tags. */
export function kilnTags(runId: string, now = new Date(), lease?: Lease): Tag[] {
  return [
    { Key: RUN_TAG, Value: runId },
    { Key: CREATED_TAG, Value: now.toISOString() },
    ...(lease
      ? [
          { Key: EXPIRES_TAG, Value: lease.expires.toISOString() },
          { Key: OWNER_TAG, Value: lease.owner },
        ]
      : []),
  ];
}

/** kiln's own bookkeeping tags (run, lease, artifact): never copied from one AMI to another. */
export const RUN_BOOKKEEPING_TAGS = [RUN_TAG, CREATED_TAG, EXPIRES_TAG, OWNER_TAG];

/** Turns Packer's `tags`-style map into EC2 tags, kiln's own last (they win). */
export function toTags(map: Record<string, string> | undefined, extra: Tag[] = []): Tag[] {
  const byKey = new Map<string, string>();
  for (const [k, v] of Object.entries(map ?? {})) byKey.set(k, v);
  for (const t of extra) if (t.Key) byKey.set(t.Key, t.Value ?? '');
  return [...byKey].map(([Key, Value]) => ({ Key, Value }));
}
