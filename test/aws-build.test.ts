/**
 * The amazon-ebs builder end to end against a real moto server (behind the fault proxy,
 * with no fault injected): the AMI with its tags, snapshots, region copies, launch
 * permissions, the catalog record, and no temporary resource left afterwards.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeImagesCommand, DescribeSnapshotsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { motoLinuxAmi, resourcesOfRun, runAmazonEbs, useMotoWithProxy } from './helpers/moto.js';

const aws = useMotoWithProxy();
let home: string;
let sourceAmi: string;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'kiln-aws-home-'));
  sourceAmi = await motoLinuxAmi();
  return () => rm(home, { recursive: true, force: true });
});

function base(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    region: 'us-east-1',
    source_ami: sourceAmi,
    instance_type: 't3.micro',
    communicator: 'none',
    ami_name: `hello-web-build-${Date.now()}`,
    ...extra,
  };
}

describe('amazon-ebs against moto', () => {
  it('builds an AMI with tags, tagged snapshots and a region copy, records it, and leaves nothing temporary', async () => {
    let provisioned = 0;
    const r = await runAmazonEbs(
      base({
        ami_description: 'hello-web build',
        tags: { Name: 'hello-web', Stage: 'build' },
        run_tags: { Purpose: 'kiln-test' },
        snapshot_tags: { Backup: 'no' },
        ami_regions: ['us-west-2'],
        ami_users: ['111122223333'],
      }),
      { kilnHome: home, provision: async () => void provisioned++ },
    );
    expect(r.error, r.text()).toBeUndefined();
    expect(provisioned).toBe(1);
    const a = r.artifact!;
    expect(a.builderId).toBe('mitchellh.amazonebs');
    expect(a.id).toMatch(/^us-east-1:ami-[0-9a-f]+,us-west-2:ami-[0-9a-f]+$/);
    expect(a.string).toMatch(
      /^AMIs were created:\nus-east-1: ami-[0-9a-f]+\nus-west-2: ami-[0-9a-f]+\n$/,
    );
    expect(a.files).toEqual([]);
    expect(r.generated.SourceAMI).toBe(sourceAmi);

    const east = a.id.split(',')[0]!.split(':')[1]!;
    const west = a.id.split(',')[1]!.split(':')[1]!;
    for (const [region, id] of [
      ['us-east-1', east],
      ['us-west-2', west],
    ] as const) {
      const ec2 = new EC2Client({ region });
      const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [id] }))).Images![0]!;
      const tags = Object.fromEntries((image.Tags ?? []).map((t) => [t.Key, t.Value]));
      expect(tags).toMatchObject({
        Name: 'hello-web',
        Stage: 'build',
        'kiln:run-id': r.runId,
        'kiln:artifact': 'true',
      });
      expect(tags['kiln:created']).toMatch(/^\d{4}-\d\d-\d\dT/);
      const snapIds = (image.BlockDeviceMappings ?? []).flatMap((b) =>
        b.Ebs?.SnapshotId ? [b.Ebs.SnapshotId] : [],
      );
      expect(snapIds.length).toBeGreaterThan(0);
      const snaps = (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: snapIds })))
        .Snapshots!;
      for (const s of snaps) {
        const st = Object.fromEntries((s.Tags ?? []).map((t) => [t.Key, t.Value]));
        expect(st).toMatchObject({ Backup: 'no', 'kiln:run-id': r.runId });
      }
      ec2.destroy();
    }
    // Launch permission for ami_users went through moto.
    expect(aws.proxy.count('ModifyImageAttribute', 'forwarded')).toBe(2);
    // The instance was launched once, with a ClientToken and kiln's tags from creation.
    const launches = aws.proxy.calls.filter((c) => c.action === 'RunInstances');
    expect(launches).toHaveLength(1);
    const p = launches[0]!.params;
    expect(p.get('ClientToken')).toMatch(/^run-/);
    const tagKeys = [...p]
      .filter(([k]) => /^TagSpecification\.1\.Tag\.\d+\.Key$/.test(k))
      .map(([, v]) => v);
    expect(tagKeys).toEqual(expect.arrayContaining(['kiln:run-id', 'kiln:created', 'Purpose']));
    // The key pair was imported (AWS never made the private key).
    expect(aws.proxy.count('ImportKeyPair')).toBe(1);
    expect(aws.proxy.count('CreateKeyPair')).toBe(0);
    const copy = aws.proxy.calls.find((c) => c.action === 'CopyImage')!;
    expect(copy.params.get('ClientToken')).toBeTruthy();

    const left = await resourcesOfRun(r.runId, ['us-east-1', 'us-west-2']);
    expect(left.instances).toEqual([]);
    expect(left.keyPairs).toEqual([]);
    expect(left.securityGroups).toEqual([]);
    expect(left.images.sort()).toEqual([`us-east-1:${east}`, `us-west-2:${west}`].sort());

    const catalog = Catalog.open(home);
    try {
      const rec = catalog.images.get(east)!;
      expect(rec).toMatchObject({
        builder: 'amazon-ebs',
        format: 'ami',
        files: [],
        parentId: null,
      });
      expect(rec.metadata).toMatchObject({
        region: 'us-east-1',
        regions: { 'us-east-1': east, 'us-west-2': west },
      });
    } finally {
      catalog.close();
    }
  });

  it('records a release AMI with its build AMI as parent (lineage)', async () => {
    const build = await runAmazonEbs(base({ ami_name: 'hello-web-build-1' }), { kilnHome: home });
    expect(build.error, build.text()).toBeUndefined();
    const buildAmi = build.artifact!.id.split(':')[1]!;
    const release = await runAmazonEbs(
      base({ ami_name: 'hello-web-release-1', source_ami: buildAmi }),
      {
        kilnHome: home,
      },
    );
    expect(release.error, release.text()).toBeUndefined();
    const releaseAmi = release.artifact!.id.split(':')[1]!;
    const catalog = Catalog.open(home);
    try {
      expect(catalog.images.lineage(releaseAmi).map((i) => i.id)).toEqual([releaseAmi, buildAmi]);
    } finally {
      catalog.close();
    }
  });

  it('refuses an AMI name that exists, before creating anything; force_deregister replaces it', async () => {
    const first = await runAmazonEbs(base({ ami_name: 'same-name' }), { kilnHome: home });
    expect(first.error, first.text()).toBeUndefined();
    aws.proxy.clear();
    const second = await runAmazonEbs(base({ ami_name: 'same-name' }), { kilnHome: home });
    expect(String((second.error as Error)?.message)).toMatch(/same-name.*used by an existing AMI/);
    expect(aws.proxy.count('RunInstances')).toBe(0);
    expect(aws.proxy.count('ImportKeyPair')).toBe(0);
    const third = await runAmazonEbs(
      base({ ami_name: 'same-name', force_deregister: true, force_delete_snapshot: true }),
      {
        kilnHome: home,
      },
    );
    expect(third.error, third.text()).toBeUndefined();
    const ec2 = new EC2Client({ region: 'us-east-1' });
    const named = await ec2.send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [{ Name: 'name', Values: ['same-name'] }],
      }),
    );
    ec2.destroy();
    expect(named.Images?.map((i) => i.ImageId)).toEqual([third.artifact!.id.split(':')[1]]);
  });

  it('source_ami_filter picks the newest match of the owners; encrypt_boot replaces the AMI with an encrypted copy', async () => {
    const first = await runAmazonEbs(base({ ami_name: 'base-2024-01' }), { kilnHome: home });
    expect(first.error, first.text()).toBeUndefined();
    // CreationDate has whole seconds: make the two images' dates differ.
    await new Promise((r) => setTimeout(r, 1100));
    const second = await runAmazonEbs(base({ ami_name: 'base-2024-02' }), { kilnHome: home });
    expect(second.error, second.text()).toBeUndefined();
    const newest = second.artifact!.id.split(':')[1]!;
    aws.proxy.clear();
    const r = await runAmazonEbs(
      base({
        source_ami: undefined,
        source_ami_filter: {
          filters: { name: 'base-2024-*' },
          owners: ['self'],
          most_recent: true,
        },
        ami_name: 'encrypted-release',
        encrypt_boot: true,
      }),
      { kilnHome: home },
    );
    expect(r.error, r.text()).toBeUndefined();
    expect(r.generated.SourceAMI).toBe(newest);
    const made = aws.proxy.calls.filter((c) => c.action === 'CreateImage').length;
    expect(made).toBe(1);
    const copy = aws.proxy.calls.find((c) => c.action === 'CopyImage')!;
    expect(copy.params.get('Encrypted')).toBe('true');
    const plain = copy.params.get('SourceImageId');
    const final = r.artifact!.id.split(':')[1]!;
    expect(final).not.toBe(plain);
    const ec2 = new EC2Client({ region: 'us-east-1' });
    const named = await ec2.send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [{ Name: 'name', Values: ['encrypted-release'] }],
      }),
    );
    ec2.destroy();
    // Only the encrypted copy is left; the unencrypted original was deregistered.
    expect(named.Images?.map((i) => i.ImageId)).toEqual([final]);
    const catalog = Catalog.open(home);
    try {
      expect(catalog.images.get(final)?.parentId).toBe(newest);
    } finally {
      catalog.close();
    }
  });
});
