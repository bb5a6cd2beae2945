/**
 * RELIABILITY rows 17–22: the amazon-ebs builder against moto with faults injected by the
 * proxy in front of it. Each test names its row.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { findAwsLeftovers, removeAwsLeftovers } from '../src/aws/gc.js';
import { KilnError } from '../src/lib/errors.js';
import { motoLinuxAmi, resourcesOfRun, runAmazonEbs, useMotoWithProxy } from './helpers/moto.js';

const aws = useMotoWithProxy();
let home: string;
let sourceAmi: string;
const REGIONS = ['us-east-1', 'us-west-2'];

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'kiln-aws-home-'));
  sourceAmi = await motoLinuxAmi();
  return () => rm(home, { recursive: true, force: true });
});

function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    region: 'us-east-1',
    source_ami: sourceAmi,
    instance_type: 't3.micro',
    communicator: 'none',
    ami_name: `reliability-${Date.now()}`,
    aws_polling: { delay_seconds: 1, max_attempts: 5 },
    ...extra,
  };
}

/** Every instance moto ever launched for the run, terminated ones included. */
async function instancesOfRun(runId: string): Promise<Array<{ id: string; state: string }>> {
  const ec2 = new EC2Client({ region: 'us-east-1' });
  const res = await ec2.send(new DescribeInstancesCommand({}));
  ec2.destroy();
  return (res.Reservations ?? [])
    .flatMap((r) => r.Instances ?? [])
    .filter((i) => i.Tags?.some((t) => t.Key === 'kiln:run-id' && t.Value === runId))
    .map((i) => ({ id: i.InstanceId!, state: i.State?.Name ?? '' }));
}

/** Every image and snapshot this account owns, by region (to see what a run added). */
async function ownedImagesAndSnapshots(): Promise<Set<string>> {
  const out = new Set<string>();
  for (const region of REGIONS) {
    const ec2 = new EC2Client({ region });
    for (const i of (await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images ?? [])
      out.add(`${region}:${i.ImageId}`);
    for (const s of (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] })))
      .Snapshots ?? [])
      out.add(`${region}:${s.SnapshotId}`);
    ec2.destroy();
  }
  return out;
}

function expectNothingTemporary(left: Awaited<ReturnType<typeof resourcesOfRun>>): void {
  expect(left.instances).toEqual([]);
  expect(left.keyPairs).toEqual([]);
  expect(left.securityGroups).toEqual([]);
}

describe('AWS reliability (fault proxy in front of moto)', () => {
  it('row 17: throttled RunInstances and DescribeImages succeed with growing back-off and exactly one instance', async () => {
    const runThrottle = aws.proxy.inject({
      action: 'RunInstances',
      error: 'RequestLimitExceeded',
      times: 5,
    });
    const imgThrottle = aws.proxy.inject({
      action: 'DescribeImages',
      error: 'RequestLimitExceeded',
      times: 5,
    });
    const r = await runAmazonEbs(config(), { kilnHome: home });
    expect(r.error, r.text()).toBeUndefined();
    expect(runThrottle.hits).toBe(5);
    expect(imgThrottle.hits).toBe(5);
    expect(aws.proxy.count('RunInstances', 'forwarded')).toBe(1);
    const delays = [
      ...r.text().matchAll(/RunInstances: RequestLimitExceeded.*retrying in (\d+) ms/g),
    ].map((m) => Number(m[1]));
    expect(delays).toHaveLength(5);
    for (let i = 1; i < delays.length; i++) expect(delays[i]!).toBeGreaterThan(delays[i - 1]!);
    const instances = await instancesOfRun(r.runId);
    expect(instances).toHaveLength(1);
    expect(instances[0]!.state).toBe('terminated');
    expectNothingTemporary(await resourcesOfRun(r.runId, ['us-east-1']));
  });

  it('row 18: a RunInstances answer dropped after moto created the instance leads to no second instance, and it is terminated', async () => {
    const drop = aws.proxy.inject({ action: 'RunInstances', drop: true, times: 1 });
    const r = await runAmazonEbs(config(), { kilnHome: home });
    expect(r.error, r.text()).toBeUndefined();
    expect(drop.hits).toBe(1);
    // moto ignores ClientToken, so a blind retry would have made a second instance.
    expect(aws.proxy.count('RunInstances')).toBe(1);
    expect(r.text()).toMatch(/found the instance by its token/);
    const instances = await instancesOfRun(r.runId);
    expect(instances).toHaveLength(1);
    expect(instances[0]!.state).toBe('terminated');
    expectNothingTemporary(await resourcesOfRun(r.runId, ['us-east-1']));
  });

  it('row 18: a dropped RunInstances answer in a build that then fails still terminates the instance it never heard of', async () => {
    aws.proxy.inject({ action: 'RunInstances', drop: true, times: 1 });
    // The lookup for the lost launch fails too: kiln must stop rather than launch again.
    aws.proxy.inject({
      action: 'DescribeInstances',
      error: 'UnauthorizedOperation',
      times: 1,
      // The lookup by launch token (not the sweep of dead runs' leftovers before it).
      match: (p) => p.get('Filter.1.Name') === 'tag:kiln:client-token',
    });
    const r = await runAmazonEbs(config(), { kilnHome: home });
    expect(String((r.error as Error)?.message)).toMatch(/UnauthorizedOperation/);
    expect(aws.proxy.count('RunInstances')).toBe(1);
    const instances = await instancesOfRun(r.runId);
    expect(instances).toHaveLength(1);
    expect(instances[0]!.state).toBe('terminated');
    expectNothingTemporary(await resourcesOfRun(r.runId, ['us-east-1']));
  });

  it('row 19: InvalidInstanceID.NotFound / InvalidAMIID.NotFound for the first three calls: succeeds with tags applied', async () => {
    const inst = aws.proxy.inject({
      action: 'DescribeInstances',
      error: 'InvalidInstanceID.NotFound',
      times: 3,
    });
    const stop = aws.proxy.inject({
      action: 'StopInstances',
      error: 'InvalidInstanceID.NotFound',
      times: 3,
    });
    const ami = aws.proxy.inject({
      action: 'DescribeImages',
      error: 'InvalidAMIID.NotFound',
      times: 3,
      after: 'CreateImage',
    });
    const tags = aws.proxy.inject({
      action: 'CreateTags',
      error: 'InvalidSnapshot.NotFound',
      times: 3,
    });
    const r = await runAmazonEbs(config({ tags: { Name: 'ec' }, snapshot_tags: { Snap: 'yes' } }), {
      kilnHome: home,
    });
    expect(r.error, r.text()).toBeUndefined();
    expect([inst.hits, stop.hits, ami.hits, tags.hits]).toEqual([3, 3, 3, 3]);
    const amiId = r.artifact!.id.split(':')[1]!;
    const ec2 = new EC2Client({ region: 'us-east-1' });
    const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [amiId] }))).Images![0]!;
    expect(image.Tags).toEqual(expect.arrayContaining([{ Key: 'Name', Value: 'ec' }]));
    const snap = image.BlockDeviceMappings![0]!.Ebs!.SnapshotId!;
    const s = (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap] })))
      .Snapshots![0]!;
    ec2.destroy();
    expect(s.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'Snap', Value: 'yes' },
        { Key: 'kiln:run-id', Value: r.runId },
      ]),
    );
  });

  it('row 20: a failure after CreateImage deregisters the AMIs (copies too), deletes their snapshots, key pair and group', async () => {
    const before = await ownedImagesAndSnapshots();
    const fail = aws.proxy.inject({
      action: 'ModifyImageAttribute',
      error: 'InvalidParameterValue',
      times: 1,
    });
    const r = await runAmazonEbs(
      config({ ami_regions: ['us-west-2'], ami_users: ['111122223333'] }),
      { kilnHome: home },
    );
    expect(fail.hits).toBe(1);
    expect(String((r.error as Error)?.message)).toMatch(/InvalidParameterValue/);
    expect(aws.proxy.count('CreateImage', 'forwarded')).toBe(1);
    expect(aws.proxy.count('CopyImage', 'forwarded')).toBe(1);
    const after = await ownedImagesAndSnapshots();
    expect([...after].filter((x) => !before.has(x))).toEqual([]);
    expect(aws.proxy.count('DeregisterImage', 'forwarded')).toBe(2);
    expect(aws.proxy.count('DeleteSnapshot', 'forwarded')).toBeGreaterThanOrEqual(2);
    const left = await resourcesOfRun(r.runId, REGIONS);
    expectNothingTemporary(left);
    expect(left.images).toEqual([]);
    expect(left.snapshots).toEqual([]);
    expect(aws.proxy.count('DeleteKeyPair', 'forwarded')).toBe(1);
    expect(aws.proxy.count('DeleteSecurityGroup', 'forwarded')).toBe(1);
  });

  it('row 21: a security group still in use (DependencyViolation ×3) is deleted after retries', async () => {
    const dv = aws.proxy.inject({
      action: 'DeleteSecurityGroup',
      error: 'DependencyViolation',
      times: 3,
    });
    const r = await runAmazonEbs(config(), { kilnHome: home });
    expect(r.error, r.text()).toBeUndefined();
    expect(dv.hits).toBe(3);
    expect(aws.proxy.count('DeleteSecurityGroup', 'forwarded')).toBe(1);
    expect(r.text()).toMatch(/still in use \(attempt 3\); retrying/);
    expectNothingTemporary(await resourcesOfRun(r.runId, ['us-east-1']));
  });

  it('row 21: when the group stays in use, cleanup gives up and prints its exact ID', async () => {
    aws.proxy.inject({
      action: 'DeleteSecurityGroup',
      error: 'DependencyViolation',
      times: Number.POSITIVE_INFINITY,
    });
    const r = await runAmazonEbs(config(), { kilnHome: home });
    const left = await resourcesOfRun(r.runId, ['us-east-1']);
    expect(left.securityGroups).toHaveLength(1);
    const sg = left.securityGroups[0]!;
    expect(r.text()).toMatch(
      new RegExp(
        `error: cleanup of security-group failed: .*could not delete security group ${sg}: DependencyViolation`,
      ),
    );
    expect(left.instances).toEqual([]);
    expect(left.keyPairs).toEqual([]);
  });

  it('row 22: ExpiredToken mid-build: no retry storm, a clear message, and what is left listed with IDs', async () => {
    const expired = aws.proxy.inject({
      action: '*',
      error: 'ExpiredToken',
      times: Number.POSITIVE_INFINITY,
      after: 'CreateImage',
    });
    const r = await runAmazonEbs(config(), { kilnHome: home });
    expect(r.error).toBeInstanceOf(KilnError);
    expect((r.error as KilnError).code).toBe('AwsCredentials');
    expect((r.error as KilnError).message).toMatch(/AWS rejected the credentials.*ExpiredToken/);
    // One failing call per step that still tried (the wait, then each cleanup), no retries of it.
    expect(expired.hits).toBeLessThanOrEqual(8);
    aws.proxy.clear();
    const left = await resourcesOfRun(r.runId, ['us-east-1']);
    const text = r.text();
    for (const id of [
      ...left.instances,
      ...left.keyPairs,
      ...left.securityGroups,
      ...left.images.map((i) => i.split(':')[1]!),
    ])
      expect(text).toContain(id);
    expect(left.instances).toHaveLength(1);
    expect(left.images).toHaveLength(1);
    // The run's process (this test's) still lives, so its lease holds: nothing is a leftover yet.
    expect(await findAwsLeftovers({ regions: ['us-east-1'], olderThanMs: 0 })).toEqual([]);
    // Once the credentials work again, gc removes exactly what the run left when told it is dead.
    const found = await findAwsLeftovers({ regions: ['us-east-1'], runs: [r.runId] });
    expect(new Set(found.map((f) => f.runId))).toEqual(new Set([r.runId]));
    const actions = await removeAwsLeftovers(found, {});
    expect(actions.filter((a) => a.outcome === 'failed')).toEqual([]);
    const after = await resourcesOfRun(r.runId, ['us-east-1']);
    expectNothingTemporary(after);
    expect(after.images).toEqual([]);
  });
});

describe('amazon-ebs with SSH and interrupts', () => {
  it('provisions over SSH with the temporary key (ssh_host pointed at a local sshd), then removes the key', async () => {
    const { startSshd, sshdAvailable } = await import('./helpers/sshd.js');
    expect(sshdAvailable(), 'the SSH test needs root and openssh-server').toBe(true);
    const { writeFile } = await import('node:fs/promises');
    const sshd = await startSshd();
    try {
      // AWS would put the imported key on the instance; here it goes to the local sshd.
      aws.proxy.onRequest = async (action, params) => {
        if (action !== 'ImportKeyPair') return;
        const key = Buffer.from(params.get('PublicKeyMaterial') ?? '', 'base64').toString('utf8');
        await writeFile(sshd.authorizedKeysFile, `${key}\n`, { mode: 0o600 });
      };
      let said = '';
      let keyFile = '';
      const r = await runAmazonEbs(
        config({
          communicator: 'ssh',
          ssh_username: sshd.user,
          ssh_host: sshd.host,
          ssh_port: sshd.port,
          ssh_timeout: '60s',
          temporary_security_group_source_cidrs: ['127.0.0.1/32'],
        }),
        {
          kilnHome: home,
          provision: async (comm) => {
            const lines: string[] = [];
            const res = await comm!.exec({
              command: 'echo provisioned-as-$(id -un)',
              onStdout: (l) => lines.push(l),
            });
            said = `${res.exitCode}:${lines.join('|')}`;
          },
        },
      );
      expect(r.error, r.text()).toBeUndefined();
      expect(r.text()).toMatch(/Connected to SSH!/);
      expect(said).toBe('0:provisioned-as-root');
      keyFile = String(r.generated.SSHPrivateKeyFile ?? '');
      said = r.text();
      // The ingress rule opened SSH to the given source only.
      const auth = aws.proxy.calls.find((c) => c.action === 'AuthorizeSecurityGroupIngress')!;
      expect(auth.params.get('IpPermissions.1.IpRanges.1.CidrIp')).toBe('127.0.0.1/32');
      expect(auth.params.get('IpPermissions.1.FromPort')).toBe(String(sshd.port));
      // The key was imported as ed25519, never created by AWS, and the private key is gone.
      expect(aws.proxy.count('CreateKeyPair')).toBe(0);
      const { existsSync } = await import('node:fs');
      expect(keyFile).not.toBe('');
      expect(existsSync(keyFile)).toBe(false);
      expect(said).not.toMatch(/BEGIN OPENSSH PRIVATE KEY/);
      expect(sshd.log()).toMatch(/Accepted publickey for root .* ED25519/);
    } finally {
      await sshd.stop();
    }
  });

  it('an interrupt during provisioning removes everything of the run', async () => {
    const stop = new AbortController();
    const before = await ownedImagesAndSnapshots();
    const r = await runAmazonEbs(config(), {
      kilnHome: home,
      signal: stop.signal,
      provision: async () => {
        stop.abort();
        throw new Error('interrupted');
      },
    });
    expect(r.error).toBeDefined();
    expect(aws.proxy.count('CreateImage')).toBe(0);
    expectNothingTemporary(await resourcesOfRun(r.runId, ['us-east-1']));
    expect(await ownedImagesAndSnapshots()).toEqual(before);
  });

  it('an interrupt while the AMI is being made removes the AMI and its snapshot too', async () => {
    const stop = new AbortController();
    const before = await ownedImagesAndSnapshots();
    // Interrupted once moto has made the copy, before its answer arrives (held by the proxy):
    // the copy exists, kiln never learns its id. Reached by the proxy, never by timing: an
    // abort on the request itself raced moto making the copy after kiln's cleanup had looked.
    const copy = aws.proxy.inject({ action: 'CopyImage', hold: 'after' });
    void copy.reached!.then(() => {
      stop.abort();
      copy.release!();
    });
    const r = await runAmazonEbs(config({ ami_regions: ['us-west-2'] }), {
      kilnHome: home,
      signal: stop.signal,
    });
    expect(r.error).toBeDefined();
    expect(aws.proxy.count('CreateImage', 'forwarded')).toBe(1);
    const left = await resourcesOfRun(r.runId, REGIONS);
    expectNothingTemporary(left);
    expect(left.images).toEqual([]);
    expect([...(await ownedImagesAndSnapshots())].filter((x) => !before.has(x))).toEqual([]);
  });
});
