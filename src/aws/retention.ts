/**
 * `kiln images prune --aws`: retention of the AMIs kiln made (tagged `kiln:artifact`), read
 * from AWS, region by region. AMIs form a lineage by name — the AMI name without the part
 * a build generates at its end (a timestamp, a uuid, a date: `web-1733600000` → `web`) —
 * and, with `perTags`, by those tags' values too (`Environment`). The newest `keep` of each
 * lineage stay; of the older ones, any AMI a launch template version, a launch
 * configuration or a live instance uses stays too, and the rest are deregistered with
 * their snapshots. Nothing is changed unless asked (`apply`).
 */
import {
  type AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeLaunchConfigurationsCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  type EC2Client,
  type Image,
} from '@aws-sdk/client-ec2';
import { newestFirst, removeImage, snapshotsOf } from './ami.js';
import { type AwsAccess, autoScalingClient, ec2Client } from './clients.js';
import { describeAwsError, explainAwsError } from './errors.js';
import { ARTIFACT_TAG } from './tags.js';

export interface RetentionOptions {
  access?: AwsAccess;
  regions: string[];
  /** AMIs to keep per lineage (newest first). */
  keep: number;
  /** Tag keys whose values split a lineage further (e.g. `Environment`). */
  perTags?: string[];
  /** Deregister (else only report what would go). */
  apply?: boolean;
  signal?: AbortSignal;
  onEntry?: (e: RetentionEntry) => void;
}

export interface RetentionEntry {
  region: string;
  id: string;
  name: string;
  /** The lineage it belongs to (`web`, `web Environment=prod`). */
  lineage: string;
  created: string;
  snapshots: string[];
  /**
   * `keep` (among the newest N), `in-use` (older, but used: `reason` says by what),
   * `deregister` (dry run), `deregistered`, `failed`.
   */
  action: 'keep' | 'in-use' | 'deregister' | 'deregistered' | 'failed';
  reason?: string;
}

/** The lineage of an AMI name: without a generated tail (digits ≥ 6, a uuid, hex ≥ 8, a date/time). */
export function lineageOfName(name: string): string {
  const tail =
    /[-_. ]?(?:\d{6,}|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|(?=[0-9a-f]*\d)[0-9a-f]{8,}|\d{4}-?\d{2}-?\d{2}(?:[T _-]?\d{2}[-:]?\d{2}(?:[-:]?\d{2})?Z?)?)$/i;
  let out = name;
  // A name may end in two generated parts (`web-2026-12-07-1733600000`).
  for (let i = 0; i < 3 && tail.test(out); i++) out = out.replace(tail, '');
  return out || name;
}

/** Decides per region what stays and what goes, and (with apply) deregisters; one entry per AMI. */
export async function pruneAmis(opts: RetentionOptions): Promise<RetentionEntry[]> {
  const out: RetentionEntry[] = [];
  const emit = (e: RetentionEntry) => {
    out.push(e);
    opts.onEntry?.(e);
  };
  for (const region of opts.regions) {
    const ec2 = ec2Client(opts.access ?? {}, region);
    const asg = autoScalingClient(opts.access ?? {}, region);
    try {
      const images = await kilnAmis(ec2, opts.signal).catch((err) => {
        throw explainAwsError(err, `DescribeImages in ${region}`);
      });
      if (images.length === 0) continue;
      const used = await amisInUse(ec2, asg, opts.signal).catch((err) => {
        throw explainAwsError(err, `finding the AMIs in use in ${region}`);
      });
      const lineages = new Map<string, Image[]>();
      for (const image of images) {
        const key = lineageKey(image, opts.perTags ?? []);
        lineages.set(key, [...(lineages.get(key) ?? []), image]);
      }
      for (const [lineage, list] of [...lineages].sort(([a], [b]) => a.localeCompare(b))) {
        for (const [n, image] of newest(list).entries()) {
          const entry: RetentionEntry = {
            region,
            id: image.ImageId!,
            name: image.Name ?? '',
            lineage,
            created: image.CreationDate ?? '',
            snapshots: snapshotsOf(image),
            action: 'keep',
          };
          const users = used.get(entry.id);
          if (n < opts.keep) entry.reason = `one of the ${opts.keep} newest`;
          else if (users) {
            entry.action = 'in-use';
            entry.reason = `used by ${users.join(', ')}`;
          } else if (!opts.apply) entry.action = 'deregister';
          else {
            try {
              await removeImage(ec2, entry.id, entry.snapshots, opts.signal);
              entry.action = 'deregistered';
            } catch (err) {
              entry.action = 'failed';
              entry.reason = describeAwsError(explainAwsError(err, 'DeregisterImage'));
            }
          }
          emit(entry);
        }
      }
    } finally {
      ec2.destroy();
      asg.destroy();
    }
  }
  return out;
}

/** Newest first by CreationDate; AMIs made in the same second by name, the larger (later) first. */
function newest(images: Image[]): Image[] {
  return newestFirst(images).sort(
    (a, b) =>
      (b.CreationDate ?? '').localeCompare(a.CreationDate ?? '') ||
      (b.Name ?? '').localeCompare(a.Name ?? '', undefined, { numeric: true }),
  );
}

function lineageKey(image: Image, perTags: string[]): string {
  const tags = perTags.map(
    (k) => `${k}=${image.Tags?.find((t) => t.Key === k)?.Value ?? '(none)'}`,
  );
  return [lineageOfName(image.Name ?? image.ImageId ?? ''), ...tags].join(' ');
}

/** This account's AMIs that kiln builds finished, in the client's region. */
async function kilnAmis(ec2: EC2Client, abortSignal?: AbortSignal): Promise<Image[]> {
  const res = await ec2.send(
    new DescribeImagesCommand({
      Owners: ['self'],
      Filters: [{ Name: `tag:${ARTIFACT_TAG}`, Values: ['true'] }],
    }),
    { abortSignal },
  );
  return (res.Images ?? []).filter((i) => i.ImageId && i.State !== 'deregistered');
}

/**
 * The AMIs something in the region uses, each with what: every launch template version
 * (not only the default: a rollback goes back to an older one), every launch configuration
 * and Auto Scaling group, and every instance not terminated.
 */
async function amisInUse(
  ec2: EC2Client,
  asg: AutoScalingClient,
  abortSignal?: AbortSignal,
): Promise<Map<string, string[]>> {
  const used = new Map<string, string[]>();
  const add = (ami: string | undefined, by: string) => {
    if (ami?.startsWith('ami-')) used.set(ami, [...(used.get(ami) ?? []), by]);
  };
  const lts = await ec2.send(new DescribeLaunchTemplatesCommand({}), { abortSignal });
  for (const lt of lts.LaunchTemplates ?? []) {
    const versions = await ec2.send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: lt.LaunchTemplateId }),
      { abortSignal },
    );
    for (const v of versions.LaunchTemplateVersions ?? [])
      add(
        v.LaunchTemplateData?.ImageId,
        `launch template ${lt.LaunchTemplateName} version ${v.VersionNumber}`,
      );
  }
  const configs = await asg.send(new DescribeLaunchConfigurationsCommand({}), { abortSignal });
  const groups = await asg.send(new DescribeAutoScalingGroupsCommand({}), { abortSignal });
  for (const c of configs.LaunchConfigurations ?? []) {
    const users = (groups.AutoScalingGroups ?? []).filter(
      (g) => g.LaunchConfigurationName === c.LaunchConfigurationName,
    );
    add(
      c.ImageId,
      `launch configuration ${c.LaunchConfigurationName}${users.length ? ` (Auto Scaling group ${users.map((g) => g.AutoScalingGroupName).join(', ')})` : ''}`,
    );
  }
  const inst = await ec2.send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    }),
    { abortSignal },
  );
  for (const i of (inst.Reservations ?? []).flatMap((r) => r.Instances ?? []))
    add(i.ImageId, `instance ${i.InstanceId} (${i.State?.Name})`);
  return used;
}
