/**
 * RELIABILITY row 23 through the compiled CLI: `kiln gc aws --older-than` removes exactly
 * the kiln-tagged leftovers older than the limit, and `--dry-run` only lists them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateImageCommand,
  CreateSecurityGroupCommand,
  CreateSnapshotCommand,
  CreateTagsCommand,
  CreateVolumeCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  ImportKeyPairCommand,
  RunInstancesCommand,
  type Tag,
} from '@aws-sdk/client-ec2';
import ssh2 from 'ssh2';
import { beforeEach, describe, expect, it } from 'vitest';
import { kiln as runKiln } from './helpers/kiln.js';
import { awsEnv, motoLinuxAmi, useMotoWithProxy } from './helpers/moto.js';

const aws = useMotoWithProxy();
let home: string;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'kiln-aws-home-'));
  return () => rm(home, { recursive: true, force: true });
});

function kiln(args: string[]) {
  return runKiln(args, { home, env: awsEnv(aws.proxy.url) });
}

const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();

/** One of each kind kiln makes, tagged as a run `runId` created at `created` (or untagged when `tags` is false). */
async function makeSet(ec2: EC2Client, ami: string, label: string, tags: Tag[] | undefined) {
  const spec = (ResourceType: string) =>
    (tags ? [{ ResourceType, Tags: tags }] : undefined) as never;
  const pub = ssh2.utils.generateKeyPairSync('ed25519').public;
  await ec2.send(
    new ImportKeyPairCommand({
      KeyName: `kiln_${label}`,
      PublicKeyMaterial: Buffer.from(pub),
      TagSpecifications: spec('key-pair'),
    }),
  );
  const sg = await ec2.send(
    new CreateSecurityGroupCommand({
      GroupName: `kiln_${label}`,
      Description: 'x',
      TagSpecifications: spec('security-group'),
    }),
  );
  const inst = await ec2.send(
    new RunInstancesCommand({
      ImageId: ami,
      MinCount: 1,
      MaxCount: 1,
      InstanceType: 't3.micro',
      TagSpecifications: spec('instance'),
    }),
  );
  const image = await ec2.send(
    new CreateImageCommand({
      InstanceId: inst.Instances![0]!.InstanceId!,
      Name: `ami_${label}`,
      TagSpecifications: spec('image'),
    }),
  );
  const vol = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }));
  const snap = await ec2.send(new CreateSnapshotCommand({ VolumeId: vol.VolumeId! }));
  if (tags) await ec2.send(new CreateTagsCommand({ Resources: [snap.SnapshotId!], Tags: tags }));
  return {
    keyPair: `kiln_${label}`,
    group: sg.GroupId!,
    instance: inst.Instances![0]!.InstanceId!,
    image: image.ImageId!,
    snapshot: snap.SnapshotId!,
  };
}

async function existing(ec2: EC2Client) {
  const instances = (await ec2.send(new DescribeInstancesCommand({})))
    .Reservations!.flatMap((r) => r.Instances ?? [])
    .filter((i) => i.State?.Name !== 'terminated')
    .map((i) => i.InstanceId!);
  const keys = (await ec2.send(new DescribeKeyPairsCommand({}))).KeyPairs!.map((k) => k.KeyName!);
  const groups = (await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups!.map(
    (g) => g.GroupId!,
  );
  const images = (await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images!.map(
    (i) => i.ImageId!,
  );
  const snaps = (
    await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))
  ).Snapshots!.map((s) => s.SnapshotId!);
  return new Set([...instances, ...keys, ...groups, ...images, ...snaps]);
}

describe('kiln gc aws', () => {
  it('row 23: removes exactly the kiln-tagged leftovers older than the limit; --dry-run lists them', async () => {
    const ec2 = new EC2Client({ region: 'us-east-1' });
    const ami = await motoLinuxAmi();
    const run = (h: number) => [
      { Key: 'kiln:run-id', Value: `run-${randomBytes(8).toString('hex')}` },
      { Key: 'kiln:created', Value: hoursAgo(h) },
    ];
    const old = await makeSet(ec2, ami, 'old', run(3));
    const recent = await makeSet(ec2, ami, 'recent', run(0.5));
    const lookalike = await makeSet(ec2, ami, 'lookalike', undefined);
    // A finished build's AMI carries the run tag too, plus kiln:artifact: never a leftover.
    const artifactTags = [...run(5), { Key: 'kiln:artifact', Value: 'true' }];
    const kept = await makeSet(ec2, ami, 'artifact', artifactTags);
    const before = await existing(ec2);

    const dry = await kiln([
      'gc',
      'aws',
      '--older-than',
      '2h',
      '--dry-run',
      '--region',
      'us-east-1',
    ]);
    expect(dry.code, dry.stderr).toBe(0);
    const listed = dry.stdout.split('\n').filter((l) => l.startsWith('would remove'));
    const oldIds = Object.values(old);
    expect(listed.map((l) => l.split(' ')[3]).sort()).toEqual(oldIds.sort());
    // --output json says the same as one object.
    const json = await kiln(['gc', 'aws', '--output', 'json', '--older-than', '2h', '--dry-run']);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as {
      dryRun: boolean;
      actions: Array<{ outcome: string; leftover: { id: string; region: string } }>;
    };
    expect(report.dryRun).toBe(true);
    expect(report.actions.every((a) => a.outcome === 'would-remove')).toBe(true);
    expect(report.actions.map((a) => a.leftover.id).sort()).toEqual(oldIds.sort());
    expect(await existing(ec2)).toEqual(before);

    const real = await kiln(['gc', 'aws', '--older-than', '2h', '--region', 'us-east-1']);
    expect(real.code, real.stderr).toBe(0);
    const after = await existing(ec2);
    for (const id of oldIds) expect(after.has(id), `${id} should be removed`).toBe(false);
    // The image's own snapshot (from CreateImage) went with it.
    const gone = [...before].filter((x) => !after.has(x));
    expect(gone.filter((x) => x.startsWith('snap-')).length).toBeGreaterThanOrEqual(2);
    for (const set of [recent, lookalike])
      for (const id of Object.values(set)) expect(after.has(id), id).toBe(true);
    expect(after.has(kept.image)).toBe(true);
    // Only kiln-tagged things older than 2 h disappeared (the old set and its image's snapshot).
    expect(gone.filter((x) => !oldIds.includes(x)).every((x) => x.startsWith('snap-'))).toBe(true);
    expect(gone.filter((x) => !oldIds.includes(x))).toHaveLength(1);
    ec2.destroy();
  });

  it('refuses a bad --older-than before any AWS call', async () => {
    const r = await kiln(['gc', 'aws', '--older-than', 'soon', '--region', 'us-east-1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--older-than: "soon" is not a duration/);
    expect(aws.proxy.calls).toHaveLength(0);
  });
});
