/**
 * `kiln gc aws`: finds what killed kiln runs left in AWS — instances, key pairs, security
 * groups, AMIs and snapshots carrying kiln's run tag, older than a limit — and removes
 * exactly those. Untagged resources are never touched, nor AMIs/snapshots a build
 * finished (tagged `kiln:artifact`), nor anything whose age cannot be read from its tag.
 */
import {
  DeleteKeyPairCommand,
  DeleteSecurityGroupCommand,
  DeleteSnapshotCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotsCommand,
  type EC2Client,
  type Tag,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { removeImage, snapshotsOf } from '../../aws/ami.js';
import { type AwsAccess, ec2Client } from '../../aws/clients.js';
import { awsCode, describeAwsError, explainAwsError } from '../../aws/errors.js';
import { retryOn } from '../../aws/retry.js';
import { ARTIFACT_TAG, CREATED_TAG, RUN_TAG } from '../../aws/tags.js';
import { sleep } from '../../lib/sleep.js';

export type LeftoverKind = 'instance' | 'image' | 'snapshot' | 'key-pair' | 'security-group';

export interface AwsLeftover {
  region: string;
  kind: LeftoverKind;
  /** The resource ID (key pairs: their name, which the API deletes by). */
  id: string;
  runId: string;
  /** From kiln's `kiln:created` tag (ISO 8601). */
  created: string;
  /** Snapshots behind a leftover image: removed with it. */
  snapshots?: string[];
}

export interface GcAwsOptions {
  access?: AwsAccess;
  regions: string[];
  /** Only resources created longer ago than this are leftovers (a live run's are younger). */
  olderThanMs: number;
  now?: Date;
  signal?: AbortSignal;
}

export interface GcAwsAction {
  leftover: AwsLeftover;
  outcome: 'removed' | 'gone' | 'failed' | 'would-remove';
  detail?: string;
}

/** Lists kiln's leftovers older than the limit, in removal order (instances first, groups last). */
export async function findAwsLeftovers(opts: GcAwsOptions): Promise<AwsLeftover[]> {
  const cutoff = (opts.now ?? new Date()).getTime() - opts.olderThanMs;
  const out: AwsLeftover[] = [];
  const runFilter = [{ Name: 'tag-key', Values: [RUN_TAG] }];
  for (const region of opts.regions) {
    const ec2 = ec2Client(opts.access ?? {}, region);
    const abortSignal = opts.signal;
    try {
      const add = (
        kind: LeftoverKind,
        id: string | undefined,
        tags: Tag[] | undefined,
        extra: Partial<AwsLeftover> = {},
      ) => {
        const own = ownership(tags);
        if (!id || !own || own.artifact) return;
        const t = Date.parse(own.created);
        if (Number.isNaN(t) || t > cutoff) return;
        out.push({ region, kind, id, runId: own.runId, created: own.created, ...extra });
      };
      const inst = await ec2.send(new DescribeInstancesCommand({ Filters: runFilter }), {
        abortSignal,
      });
      for (const i of (inst.Reservations ?? []).flatMap((r) => r.Instances ?? []))
        if (i.State?.Name !== 'terminated' && i.State?.Name !== 'shutting-down')
          add('instance', i.InstanceId, i.Tags);
      const images = await ec2.send(
        new DescribeImagesCommand({ Owners: ['self'], Filters: runFilter }),
        { abortSignal },
      );
      for (const i of images.Images ?? [])
        add('image', i.ImageId, i.Tags, { snapshots: snapshotsOf(i) });
      const snaps = await ec2.send(
        new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: runFilter }),
        { abortSignal },
      );
      const ofImages = new Set(out.flatMap((l) => l.snapshots ?? []));
      for (const s of snaps.Snapshots ?? [])
        if (!ofImages.has(s.SnapshotId ?? '')) add('snapshot', s.SnapshotId, s.Tags);
      const keys = await ec2.send(new DescribeKeyPairsCommand({ Filters: runFilter }), {
        abortSignal,
      });
      for (const k of keys.KeyPairs ?? []) add('key-pair', k.KeyName, k.Tags);
      const groups = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: runFilter }), {
        abortSignal,
      });
      for (const g of groups.SecurityGroups ?? []) add('security-group', g.GroupId, g.Tags);
    } catch (err) {
      throw explainAwsError(err, `listing kiln's resources in ${region}`);
    } finally {
      ec2.destroy();
    }
  }
  const order: LeftoverKind[] = ['instance', 'image', 'snapshot', 'key-pair', 'security-group'];
  return out.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
}

/** Removes the leftovers (or, with dryRun, only reports them); one action per leftover, failures included. */
export async function removeAwsLeftovers(
  leftovers: AwsLeftover[],
  opts: {
    access?: AwsAccess;
    dryRun?: boolean;
    signal?: AbortSignal;
    onAction?: (a: GcAwsAction) => void;
  },
): Promise<GcAwsAction[]> {
  const actions: GcAwsAction[] = [];
  const clients = new Map<string, EC2Client>();
  const client = (region: string) => {
    let c = clients.get(region);
    if (!c) {
      c = ec2Client(opts.access ?? {}, region);
      clients.set(region, c);
    }
    return c;
  };
  const report = (a: GcAwsAction) => {
    actions.push(a);
    opts.onAction?.(a);
  };
  try {
    if (opts.dryRun) {
      for (const l of leftovers) report({ leftover: l, outcome: 'would-remove' });
      return actions;
    }
    const terminated: Array<{ region: string; id: string }> = [];
    for (const l of leftovers) {
      const ec2 = client(l.region);
      const abortSignal = opts.signal;
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
  } finally {
    for (const c of clients.values()) c.destroy();
  }
  return actions;
}

function ownership(
  tags: Tag[] | undefined,
): { runId: string; created: string; artifact: boolean } | undefined {
  const get = (k: string) => tags?.find((t) => t.Key === k)?.Value;
  const runId = get(RUN_TAG);
  if (!runId) return undefined;
  return { runId, created: get(CREATED_TAG) ?? '', artifact: get(ARTIFACT_TAG) !== undefined };
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
