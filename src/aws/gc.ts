/**
 * What dead kiln runs left in AWS — instances, key pairs, security groups, AMIs and
 * snapshots — found two ways and removed: by kiln's run tag (a run is dead once its lease
 * expired, or at once when its process on this machine is gone: see lease.ts), and by the
 * local run journal, which names each resource before it is created, so that one whose
 * tags never arrived (a lost CreateImage/CopyImage answer; moto drops CopyImage's tags) is
 * still found by its id, name or launch token. A live run's resources are never touched,
 * nor AMIs/snapshots a build finished (tagged `kiln:artifact`). Used by `kiln gc aws` and
 * at the start of every amazon-ebs build.
 */
import {
  DeleteKeyPairCommand,
  DeleteSecurityGroupCommand,
  DeleteSnapshotCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeRegionsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotsCommand,
  type EC2Client,
  type Image,
  type Tag,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import type { JournalApi } from '../catalog/types.js';
import { sleep } from '../lib/sleep.js';
import { describeImage, imagesNamed, removeImage, snapshotsOf } from './ami.js';
import { type AwsAccess, ec2Client, ec2ClientsByRegion } from './clients.js';
import { awsCode, describeAwsError, explainAwsError } from './errors.js';
import { runLiveness } from './lease.js';
import { retryOn } from './retry.js';
import { ARTIFACT_TAG, CREATED_TAG, RUN_TAG, TOKEN_TAG } from './tags.js';

export type LeftoverKind = 'instance' | 'image' | 'snapshot' | 'key-pair' | 'security-group';

/** Journal kinds of AWS resources (`aws-` + LeftoverKind); the local `kiln gc` leaves them to this module. */
export const JOURNAL_KINDS = ['aws-instance', 'aws-image', 'aws-key-pair', 'aws-security-group'];

/** What a journal entry of an AWS resource holds: where, and what finds it before its id is known. */
export interface AwsJournalEntry {
  region: string;
  /** The run tag (`run-…`) the resource carries or was to carry. */
  runTag: string;
  id?: string;
  /** Key pair, security group and AMI names. */
  name?: string;
  /** An instance's launch token (ClientToken, tagged `kiln:client-token`). */
  token?: string;
}

export interface AwsLeftover {
  region: string;
  kind: LeftoverKind;
  /** The resource ID (key pairs: their name, which the API deletes by). */
  id: string;
  runId: string;
  /** From kiln's `kiln:created` tag (ISO 8601), when it has one. */
  created: string;
  /** Why it is a leftover: the run's lease expired, its process is gone, its age. */
  why?: string;
  /** Snapshots behind a leftover image: removed with it. */
  snapshots?: string[];
  /** The journal entries it was found by (forgotten once it is removed). */
  journal?: Array<{ run: string; ref: string }>;
  /** Journalled but no longer in AWS: nothing to remove, the entry is only forgotten. */
  absent?: boolean;
}

export interface GcAwsOptions {
  access?: AwsAccess;
  /** Regions to search by tag (the journal's entries name their own). */
  regions: string[];
  /**
   * Resources without a lease (tagged by a kiln before leases) count as left once created
   * longer ago than this; undefined: never.
   */
  olderThanMs?: number;
  /** These runs' resources are taken as left whatever their lease says (`kiln gc aws --run`). */
  runs?: string[];
  /** The local run journal: dead runs' journalled AWS resources. */
  journal?: JournalApi;
  now?: Date;
  signal?: AbortSignal;
}

export interface GcAwsAction {
  leftover: AwsLeftover;
  outcome: 'removed' | 'gone' | 'failed' | 'would-remove';
  detail?: string;
}

const ORDER: LeftoverKind[] = ['instance', 'image', 'snapshot', 'key-pair', 'security-group'];

/** A resource carrying kiln's run tag, with its tags. */
interface Tagged {
  region: string;
  kind: LeftoverKind;
  id: string;
  tags: Tag[];
  snapshots?: string[];
}

/** Every region EC2 lists for the account (asked in `region`), for a sweep of all of them. */
export async function allRegions(access: AwsAccess, region: string, signal?: AbortSignal) {
  const ec2 = ec2Client(access, region);
  try {
    const res = await ec2.send(new DescribeRegionsCommand({}), { abortSignal: signal });
    return (res.Regions ?? []).flatMap((r) => (r.RegionName ? [r.RegionName] : [])).sort();
  } catch (err) {
    throw explainAwsError(err, 'DescribeRegions');
  } finally {
    ec2.destroy();
  }
}

/**
 * Lists the leftovers of dead runs, in removal order (instances first, groups last): those
 * the journal names for runs whose process died, and those whose run tag says the run is
 * dead (or, without a lease, is older than `olderThanMs`, or is one of `runs`).
 */
export async function findAwsLeftovers(opts: GcAwsOptions): Promise<AwsLeftover[]> {
  const now = opts.now ?? new Date();
  const out: AwsLeftover[] = [];
  const clients = ec2ClientsByRegion(opts.access ?? {});
  const client = (region: string) => clients.get(region);
  const add = (l: AwsLeftover) => {
    const same = out.find((o) => o.region === l.region && o.kind === l.kind && o.id === l.id);
    if (!same) out.push(l);
    else if (l.journal) same.journal = [...(same.journal ?? []), ...l.journal];
  };
  try {
    for (const l of await journalled(opts, client)) add(l);
    const tagged: Tagged[] = [];
    await inParallel(opts.regions, 4, async (region) => {
      try {
        tagged.push(...(await listTagged(client(region), region, opts.signal)));
      } catch (err) {
        throw explainAwsError(err, `listing kiln's resources in ${region}`);
      }
    });
    const byRun = new Map<string, Tagged[]>();
    for (const t of tagged) {
      const run = tagOf(t.tags, RUN_TAG)!;
      byRun.set(run, [...(byRun.get(run) ?? []), t]);
    }
    const cutoff = now.getTime() - (opts.olderThanMs ?? Number.POSITIVE_INFINITY);
    for (const [runId, list] of byRun) {
      const named = opts.runs?.includes(runId);
      const life = runLiveness(
        list.map((t) => t.tags),
        now,
      );
      if (!named && life.state === 'alive') continue;
      const ofImages = new Set(list.flatMap((t) => t.snapshots ?? []));
      for (const t of list) {
        if (tagOf(t.tags, ARTIFACT_TAG) !== undefined) continue;
        if (t.kind === 'snapshot' && ofImages.has(t.id)) continue;
        const created = tagOf(t.tags, CREATED_TAG) ?? '';
        if (!named && life.state === 'no-lease') {
          const at = Date.parse(created);
          if (Number.isNaN(at) || at > cutoff) continue;
        }
        add({
          region: t.region,
          kind: t.kind,
          id: t.id,
          runId,
          created,
          why: named
            ? 'named with --run'
            : life.state === 'no-lease'
              ? 'no lease; older than the limit'
              : life.why,
          ...(t.snapshots ? { snapshots: t.snapshots } : {}),
        });
      }
    }
  } finally {
    clients.destroy();
  }
  return out.sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind));
}

/** The 5 listings of one region: every resource carrying kiln's run tag. */
async function listTagged(ec2: EC2Client, region: string, abortSignal?: AbortSignal) {
  const Filters = [{ Name: 'tag-key', Values: [RUN_TAG] }];
  const out: Tagged[] = [];
  const push = (kind: LeftoverKind, id: string | undefined, tags: Tag[] | undefined, x = {}) => {
    if (id && tags) out.push({ region, kind, id, tags, ...x });
  };
  const inst = await ec2.send(new DescribeInstancesCommand({ Filters }), { abortSignal });
  for (const i of (inst.Reservations ?? []).flatMap((r) => r.Instances ?? []))
    if (i.State?.Name !== 'terminated' && i.State?.Name !== 'shutting-down')
      push('instance', i.InstanceId, i.Tags);
  const images = await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters }), {
    abortSignal,
  });
  for (const i of images.Images ?? [])
    push('image', i.ImageId, i.Tags, { snapshots: snapshotsOf(i) });
  const snaps = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters }), {
    abortSignal,
  });
  for (const s of snaps.Snapshots ?? []) push('snapshot', s.SnapshotId, s.Tags);
  const keys = await ec2.send(new DescribeKeyPairsCommand({ Filters }), { abortSignal });
  for (const k of keys.KeyPairs ?? []) push('key-pair', k.KeyName, k.Tags);
  const groups = await ec2.send(new DescribeSecurityGroupsCommand({ Filters }), { abortSignal });
  for (const g of groups.SecurityGroups ?? []) push('security-group', g.GroupId, g.Tags);
  return out;
}

/**
 * The AWS resources the journal names for runs whose process died, as they are now: by
 * id when the run heard it, else by name (key pair, group, AMI) or launch token (instance).
 * An AMI found by name counts only when it is not an artifact and carries no other run's tag.
 */
async function journalled(
  opts: GcAwsOptions,
  client: (region: string) => EC2Client,
): Promise<AwsLeftover[]> {
  if (!opts.journal) return [];
  const out: AwsLeftover[] = [];
  const abortSignal = opts.signal;
  for (const run of opts.journal.orphaned()) {
    for (const res of run.resources) {
      if (!JOURNAL_KINDS.includes(res.kind)) continue;
      const e = res.metadata as unknown as AwsJournalEntry;
      if (!e?.region) continue;
      const ec2 = client(e.region);
      const base = {
        region: e.region,
        runId: e.runTag,
        created: '',
        why: `journalled by run ${run.runId}, whose process ${run.pid} is gone`,
        journal: [{ run: run.runId, ref: res.ref }],
      };
      try {
        switch (res.kind) {
          case 'aws-key-pair': {
            const r = await ec2
              .send(new DescribeKeyPairsCommand({ KeyNames: [e.name!] }), { abortSignal })
              .catch(undefinedIfNotFound);
            const k = r?.KeyPairs?.[0];
            out.push({ ...base, kind: 'key-pair', id: k?.KeyName ?? e.name!, ...(k ? {} : GONE) });
            break;
          }
          case 'aws-security-group': {
            const r = await ec2
              .send(
                new DescribeSecurityGroupsCommand(
                  e.id
                    ? { GroupIds: [e.id] }
                    : { Filters: [{ Name: 'group-name', Values: [e.name!] }] },
                ),
                { abortSignal },
              )
              .catch(undefinedIfNotFound);
            const g = r?.SecurityGroups?.[0];
            out.push({
              ...base,
              kind: 'security-group',
              id: g?.GroupId ?? e.id ?? e.name!,
              ...(g ? {} : GONE),
            });
            break;
          }
          case 'aws-instance': {
            const r = await ec2
              .send(
                new DescribeInstancesCommand(
                  e.id
                    ? { InstanceIds: [e.id] }
                    : { Filters: [{ Name: `tag:${TOKEN_TAG}`, Values: [e.token!] }] },
                ),
                { abortSignal },
              )
              .catch(undefinedIfNotFound);
            const live = (r?.Reservations ?? [])
              .flatMap((x) => x.Instances ?? [])
              .filter((i) => i.State?.Name !== 'terminated');
            for (const i of live) out.push({ ...base, kind: 'instance', id: i.InstanceId! });
            // Nothing to remove: still listed once, so the entry is forgotten.
            if (live.length === 0)
              out.push({ ...base, kind: 'instance', id: e.id ?? e.token!, ...GONE });
            break;
          }
          case 'aws-image': {
            const images: Image[] = [];
            if (e.id) {
              const i = await describeImage(ec2, e.id, abortSignal);
              if (i) images.push(i);
            } else images.push(...(await imagesNamed(ec2, e.name!, abortSignal)));
            for (const i of images) {
              const run = tagOf(i.Tags, RUN_TAG);
              if (tagOf(i.Tags, ARTIFACT_TAG) !== undefined) continue;
              if (run !== undefined && run !== e.runTag) continue;
              out.push({ ...base, kind: 'image', id: i.ImageId!, snapshots: snapshotsOf(i) });
            }
            if (images.length === 0)
              out.push({ ...base, kind: 'image', id: e.id ?? e.name!, ...GONE });
            break;
          }
        }
      } catch (err) {
        throw explainAwsError(err, `looking for what run ${run.runId} left in ${e.region}`);
      }
    }
  }
  return out;
}

/** A journalled resource that no longer exists: reported as gone, its entry forgotten. */
const GONE = { absent: true } as const;

/** A lookup's NotFound (or malformed id) means the resource is gone: undefined. */
function undefinedIfNotFound(err: unknown): undefined {
  if (/NotFound|Malformed/.test(awsCode(err) ?? '')) return undefined;
  throw err;
}

/**
 * Removes the leftovers (or, with dryRun, only reports them); one action per leftover,
 * failures included. With the journal, what is removed (or found gone) is forgotten, and a
 * dead run whose entries are all handled leaves the journal.
 */
export async function removeAwsLeftovers(
  leftovers: AwsLeftover[],
  opts: {
    access?: AwsAccess;
    dryRun?: boolean;
    signal?: AbortSignal;
    journal?: JournalApi;
    onAction?: (a: GcAwsAction) => void;
  },
): Promise<GcAwsAction[]> {
  const actions: GcAwsAction[] = [];
  const clients = ec2ClientsByRegion(opts.access ?? {});
  const client = (region: string) => clients.get(region);
  const report = (a: GcAwsAction) => {
    actions.push(a);
    opts.onAction?.(a);
    if (opts.journal && (a.outcome === 'removed' || a.outcome === 'gone'))
      for (const j of a.leftover.journal ?? []) opts.journal.forget(j.run, j.ref);
  };
  try {
    if (opts.dryRun) {
      for (const l of leftovers) if (!l.absent) report({ leftover: l, outcome: 'would-remove' });
      return actions;
    }
    const terminated: Array<{ region: string; id: string }> = [];
    for (const l of leftovers) {
      const ec2 = client(l.region);
      const abortSignal = opts.signal;
      if (l.absent) {
        report({ leftover: l, outcome: 'gone' });
        continue;
      }
      try {
        switch (l.kind) {
          case 'instance':
            await ec2.send(new TerminateInstancesCommand({ InstanceIds: [l.id] }), { abortSignal });
            terminated.push({ region: l.region, id: l.id });
            break;
          case 'image':
            await removeImage(ec2, l.id, l.snapshots ?? [], abortSignal);
            break;
          case 'snapshot':
            await ec2.send(new DeleteSnapshotCommand({ SnapshotId: l.id }), { abortSignal });
            break;
          case 'key-pair':
            await ec2.send(new DeleteKeyPairCommand({ KeyName: l.id }), { abortSignal });
            break;
          case 'security-group':
            if (terminated.length > 0) await waitTerminated(client, terminated, opts.signal);
            terminated.length = 0;
            await retryOn(
              () => ec2.send(new DeleteSecurityGroupCommand({ GroupId: l.id }), { abortSignal }),
              {
                codes: ['DependencyViolation'],
                attempts: 10,
                ...(opts.signal ? { signal: opts.signal } : {}),
              },
            );
            break;
        }
        report({ leftover: l, outcome: 'removed' });
      } catch (err) {
        if (/NotFound/.test(awsCode(err) ?? '')) report({ leftover: l, outcome: 'gone' });
        else report({ leftover: l, outcome: 'failed', detail: describeAwsError(err) });
      }
    }
    if (opts.journal) endClearedRuns(opts.journal);
  } finally {
    clients.destroy();
  }
  return actions;
}

/** Ends the dead runs that have nothing left listed (what `kiln gc` would do for them too). */
function endClearedRuns(journal: JournalApi): void {
  for (const run of journal.orphaned()) if (run.resources.length === 0) journal.end(run.runId);
}

/** Finds and removes (or lists, with dryRun) what dead runs left: findAwsLeftovers then removeAwsLeftovers. */
export async function sweepAwsLeftovers(
  opts: GcAwsOptions & { dryRun?: boolean; onAction?: (a: GcAwsAction) => void },
): Promise<GcAwsAction[]> {
  const leftovers = await findAwsLeftovers(opts);
  if (leftovers.length === 0) {
    if (opts.journal && !opts.dryRun) endClearedRuns(opts.journal);
    return [];
  }
  return removeAwsLeftovers(leftovers, {
    ...(opts.access ? { access: opts.access } : {}),
    ...(opts.dryRun ? { dryRun: true } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.journal ? { journal: opts.journal } : {}),
    ...(opts.onAction ? { onAction: opts.onAction } : {}),
  });
}

/** One line for an action: what, where, which run and why. */
export function describeGcAwsAction(a: GcAwsAction): string {
  const l = a.leftover;
  const verb = {
    removed: 'removed',
    gone: 'already gone',
    failed: 'FAILED to remove',
    'would-remove': 'would remove',
  }[a.outcome];
  const when = l.created ? `, created ${l.created}` : '';
  const why = l.why ? `: ${l.why}` : '';
  return `${verb} ${l.kind} ${l.id} (${l.region}, ${l.runId}${when}${why})${a.detail ? `: ${a.detail}` : ''}`;
}

function tagOf(tags: Tag[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>) {
  const queue = [...items];
  const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
  });
  await Promise.all(workers);
}

async function waitTerminated(
  client: (region: string) => EC2Client,
  list: Array<{ region: string; id: string }>,
  signal?: AbortSignal,
): Promise<void> {
  for (let i = 0; i < 60; i++) {
    let pending = 0;
    for (const { region, id } of list) {
      const res = await client(region).send(new DescribeInstancesCommand({ InstanceIds: [id] }), {
        abortSignal: signal,
      });
      if (res.Reservations?.[0]?.Instances?.[0]?.State?.Name !== 'terminated') pending++;
    }
    if (pending === 0) return;
    await sleep(2000, signal);
  }
}
