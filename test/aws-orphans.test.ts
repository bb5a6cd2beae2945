/**
 * RELIABILITY row 29 (issue 13 item 2) through the compiled CLI against moto: a build
 * killed with SIGKILL at five points (after the key pair, after the security group, after
 * RunInstances, during CreateImage, during a region copy) leaves resources; the next
 * `kiln build` of another template removes all of them (0 remaining), while a live build
 * held mid-way by the fault proxy loses nothing and then finishes. Each point is reached
 * by holding one call at the proxy, never by timing. Then `kiln gc aws`: a run whose lease
 * expired on another machine is swept in a region no one named, one whose lease still runs
 * is kept, and a copy a kill cut off is found through this machine's journal.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSecurityGroupCommand,
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
import type { FaultRule } from './helpers/fault-proxy.js';
import { kiln, type Running, startKiln } from './helpers/kiln.js';
import { awsEnv, motoLinuxAmi, useMotoWithProxy } from './helpers/moto.js';

const aws = useMotoWithProxy();
const REGIONS = ['us-east-1', 'us-west-2'];
let dir: string;
let source: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-aws-orphans-'));
  source = await motoLinuxAmi();
  return () => rm(dir, { recursive: true, force: true });
});

const env = () => ({ ...awsEnv(aws.proxy.url), KILN_HOME: join(dir, 'home') });

async function template(name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const path = join(dir, `${name}.json`);
  await writeFile(
    path,
    JSON.stringify({
      builders: [
        {
          type: 'amazon-ebs',
          region: 'us-east-1',
          source_ami: source,
          instance_type: 't3.micro',
          communicator: 'none',
          ami_name: `${name}-{{uuid}}`,
          aws_polling: { delay_seconds: 1, max_attempts: 60 },
          ...extra,
        },
      ],
    }),
  );
  return path;
}

/**
 * Everything in the account that a build could leave, by region, read straight from EC2:
 * live instances, key pairs, security groups but the default, own AMIs and snapshots.
 */
async function census(): Promise<Set<string>> {
  const out = new Set<string>();
  for (const region of REGIONS) {
    const ec2 = new EC2Client({ region });
    const inst = await ec2.send(new DescribeInstancesCommand({}));
    for (const i of (inst.Reservations ?? []).flatMap((r) => r.Instances ?? []))
      if (i.State?.Name !== 'terminated') out.add(`${region}:${i.InstanceId}`);
    for (const k of (await ec2.send(new DescribeKeyPairsCommand({}))).KeyPairs ?? [])
      out.add(`${region}:key:${k.KeyName}`);
    for (const g of (await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [])
      if (g.GroupName !== 'default') out.add(`${region}:${g.GroupId}`);
    for (const i of (await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images ?? [])
      out.add(`${region}:${i.ImageId}`);
    for (const s of (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] })))
      .Snapshots ?? [])
      out.add(`${region}:${s.SnapshotId}`);
    ec2.destroy();
  }
  return out;
}

const minus = (a: Set<string>, b: Set<string>) => new Set([...a].filter((x) => !b.has(x)));

/** The AMIs a build reported and their snapshots, as census keys. */
async function artifactOf(stdout: string): Promise<Set<string>> {
  const out = new Set<string>();
  const line = stdout.split('\n').find((l) => /^\d+,amazon-ebs,artifact,0,id,/.test(l));
  const id = (line ?? '').split(',').slice(5).join(',').replaceAll('%!(PACKER_COMMA)', ',');
  for (const pair of id.split(',').filter(Boolean)) {
    const [region, ami] = pair.split(':') as [string, string];
    out.add(`${region}:${ami}`);
    const ec2 = new EC2Client({ region });
    const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [ami] }))).Images?.[0];
    ec2.destroy();
    expect(image?.State, pair).toBe('available');
    for (const b of image?.BlockDeviceMappings ?? [])
      if (b.Ebs?.SnapshotId) out.add(`${region}:${b.Ebs.SnapshotId}`);
  }
  return out;
}

function hold(rule: Omit<FaultRule, 'hold'> & { hold: 'before' | 'after' }): FaultRule {
  return aws.proxy.inject(rule);
}

/** Starts a build and waits until the proxy holds `rule`'s call. */
async function startHeld(file: string, rule: FaultRule): Promise<Running> {
  const run = startKiln(['build', '-machine-readable', file], { env: env(), cwd: dir });
  await Promise.race([
    rule.reached,
    run.exit.then((r) => {
      throw new Error(`the build ended before reaching ${rule.action}: ${r.output}`);
    }),
  ]);
  return run;
}

/** Each kill point, the call held to reach it, and what the kill leaves (by kind, census keys). */
const POINTS: Array<{
  point: string;
  rule: Omit<FaultRule, 'hold'> & { hold: 'before' | 'after' };
  left: string[];
}> = [
  {
    point: 'after the key pair',
    rule: { action: 'CreateSecurityGroup', hold: 'before' },
    left: ['key'],
  },
  {
    point: 'after the security group',
    rule: { action: 'RunInstances', hold: 'before' },
    left: ['key', 'sg'],
  },
  {
    point: 'after RunInstances',
    // wait-instance's first look at the launched instance (the sweep's listing has no id).
    rule: { action: 'DescribeInstances', hold: 'before', match: (p) => p.has('InstanceId.1') },
    left: ['i', 'key', 'sg'],
  },
  {
    point: 'during CreateImage',
    rule: { action: 'CreateImage', hold: 'after' },
    left: ['ami', 'i', 'key', 'sg', 'snap'],
  },
  {
    point: 'during a region copy',
    rule: { action: 'CopyImage', hold: 'after' },
    left: ['ami', 'ami', 'i', 'key', 'sg', 'snap', 'snap'],
  },
];

/** The kind of a census key (`us-east-1:ami-…` → `ami`). */
const kindOf = (key: string) => {
  const [, id] = key.split(':') as [string, string];
  return id === 'key' ? 'key' : id.split('-')[0]!;
};

describe('kill -9 of an amazon-ebs build (row 29)', () => {
  for (const { point, rule, left: kinds } of POINTS) {
    it(`${point}: the next build removes all it left; a live build in parallel loses nothing`, async () => {
      const baseline = await census();
      // The live build: held with its key pair, group, instance and AMI made.
      const liveHold = hold({ action: 'CreateImage', hold: 'after' });
      const live = await startHeld(
        await template('live', { ami_regions: ['us-west-2'] }),
        liveHold,
      );
      const liveMade = minus(await census(), baseline);
      expect(liveMade.size).toBeGreaterThanOrEqual(5);

      // The build that is killed at `point`.
      const killHold = hold(rule);
      const before = await census();
      const killed = await startHeld(
        await template('killed', { ami_regions: ['us-west-2'] }),
        killHold,
      );
      killed.child.kill('SIGKILL');
      const k = await killed.exit;
      expect(k.signal).toBe('SIGKILL');
      killHold.release!();
      const left = minus(await census(), before);
      expect([...left].map(kindOf).sort(), `what the kill left ${point}`).toEqual(kinds);

      // The next build, of another template, in the build region only.
      const next = await kiln(['build', '-machine-readable', await template('next')], {
        env: env(),
        cwd: dir,
      });
      expect(next.code, next.output).toBe(0);
      expect(next.stdout).toMatch(/Left by a dead kiln run: removed/);
      const nextMade = await artifactOf(next.stdout);
      const now = await census();
      const remaining = [...left].filter((x) => now.has(x));
      expect(remaining, `left by the build killed ${point}`).toEqual([]);
      // The live build's resources are all still there, and nothing else.
      expect(minus(minus(now, baseline), nextMade)).toEqual(liveMade);

      liveHold.release!();
      const l = await live.exit;
      expect(l.code, l.output).toBe(0);
      const liveArtifact = await artifactOf(l.stdout);
      expect(liveArtifact.size).toBe(4);
      expect(minus(minus(await census(), baseline), nextMade)).toEqual(liveArtifact);
    });
  }
});

describe('kiln gc aws: leases, every region, the journal', () => {
  async function makeRun(region: string, tags: Tag[]): Promise<string[]> {
    const ec2 = new EC2Client({ region });
    const spec = (ResourceType: string) => [{ ResourceType, Tags: tags }] as never;
    const name = `kiln_${Math.random().toString(16).slice(2)}`;
    const key = await ec2.send(
      new ImportKeyPairCommand({
        KeyName: name,
        PublicKeyMaterial: Buffer.from(ssh2.utils.generateKeyPairSync('ed25519').public),
        TagSpecifications: spec('key-pair'),
      }),
    );
    const sg = await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: name,
        Description: 'x',
        TagSpecifications: spec('security-group'),
      }),
    );
    const inst = await ec2.send(
      new RunInstancesCommand({
        ImageId: await motoLinuxAmi(region),
        MinCount: 1,
        MaxCount: 1,
        InstanceType: 't3.micro',
        TagSpecifications: spec('instance'),
      }),
    );
    ec2.destroy();
    return [
      `${region}:key:${key.KeyName}`,
      `${region}:${sg.GroupId}`,
      `${region}:${inst.Instances![0]!.InstanceId}`,
    ];
  }

  const leaseTags = (run: string, expiresInMs: number, owner: string): Tag[] => [
    { Key: 'kiln:run-id', Value: run },
    { Key: 'kiln:created', Value: new Date(Date.now() - 3_600_000).toISOString() },
    { Key: 'kiln:expires', Value: new Date(Date.now() + expiresInMs).toISOString() },
    { Key: 'kiln:owner', Value: owner },
  ];

  it('sweeps every region: an expired lease goes, a running lease stays, whoever owns it', async () => {
    const elsewhere = 'ci-runner-7/0b1c/4242/1234';
    const expired = await makeRun('eu-west-1', leaseTags('run-expired', -60_000, elsewhere));
    const running = await makeRun('eu-west-1', leaseTags('run-running', 600_000, elsewhere));
    // On this machine, a pid that is not running (pid_max is below 2^22 + 1 here).
    const here = `${hostname()}/${(await import('node:fs')).readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}/4194305/1`;
    const deadHere = await makeRun('ap-south-1', leaseTags('run-dead-here', 600_000, here));
    const regionsOf = (ids: string[]) => [...new Set(ids.map((i) => i.split(':')[0]!))];

    const dry = await kiln(['gc', 'aws', '--dry-run'], { env: env() });
    expect(dry.code, dry.output).toBe(0);
    expect(dry.stdout).toMatch(/would remove instance .*run-expired.*its lease expired at/);
    expect(dry.stdout).toMatch(
      /would remove .*run-dead-here.*its process 4194305 on this machine is gone/,
    );
    expect(dry.stdout).not.toMatch(/run-running/);
    expect(aws.proxy.count('DescribeRegions')).toBe(1);

    const real = await kiln(['gc', 'aws'], { env: env() });
    expect(real.code, real.output).toBe(0);
    for (const region of regionsOf([...expired, ...deadHere])) {
      const ec2 = new EC2Client({ region });
      const inst = await ec2.send(new DescribeInstancesCommand({}));
      const live = (inst.Reservations ?? [])
        .flatMap((r) => r.Instances ?? [])
        .filter((i) => i.State?.Name !== 'terminated')
        .map((i) => `${region}:${i.InstanceId}`);
      const keys = ((await ec2.send(new DescribeKeyPairsCommand({}))).KeyPairs ?? []).map(
        (k) => `${region}:key:${k.KeyName}`,
      );
      const groups = ((await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [])
        .filter((g) => g.GroupName !== 'default')
        .map((g) => `${region}:${g.GroupId}`);
      ec2.destroy();
      const present = new Set([...live, ...keys, ...groups]);
      for (const id of [...expired, ...deadHere].filter((x) => x.startsWith(region)))
        expect(present.has(id), `${id} should be gone`).toBe(false);
      for (const id of running.filter((x) => x.startsWith(region)))
        expect(present.has(id), `${id} belongs to a live run`).toBe(true);
    }
  });

  it('a copy a kill cut off (untagged on moto) is found through the journal by kiln gc aws', async () => {
    const copyHold = hold({ action: 'CopyImage', hold: 'after' });
    const before = await census();
    const killed = await startHeld(
      await template('killed', { ami_regions: ['us-west-2'] }),
      copyHold,
    );
    killed.child.kill('SIGKILL');
    await killed.exit;
    copyHold.release!();
    const left = minus(await census(), before);
    const copies = [...left].filter((x) => x.startsWith('us-west-2:ami-'));
    expect(copies).toHaveLength(1);
    const ec2 = new EC2Client({ region: 'us-west-2' });
    const copy = (
      await ec2.send(new DescribeImagesCommand({ ImageIds: [copies[0]!.split(':')[1]!] }))
    ).Images![0]!;
    ec2.destroy();
    expect(copy.Tags ?? []).toEqual([]);

    const gc = await kiln(['gc', 'aws', '--region', 'us-east-1,us-west-2'], { env: env() });
    expect(gc.code, gc.output).toBe(0);
    expect(gc.stdout).toMatch(/removed image ami-\S+ \(us-west-2, run-\S+: journalled by run/);
    const now = await census();
    expect([...left].filter((x) => now.has(x))).toEqual([]);
    // The journal forgot the run: a second sweep has nothing to do.
    const again = await kiln(['gc', 'aws', '--region', 'us-east-1,us-west-2'], { env: env() });
    expect(again.stdout).toMatch(/nothing to remove/);
  });
});
