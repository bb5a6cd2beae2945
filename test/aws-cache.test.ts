/**
 * The amazon-ebs cache kept in AWS, through the compiled CLI against moto (behind the fault
 * proxy, which only counts calls here): a source_ami_filter is resolved before hashing (an
 * unchanged upstream AMI reuses, a newer one rebuilds); two kiln homes share the AMIs
 * through their cache tags; a deregistered AMI is never reported, a deleted region copy is
 * made again. Every reported AMI is checked `available` with DescribeImages.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateImageCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { kiln } from './helpers/kiln.js';
import { awsEnv, motoLinuxAmi, useMotoWithProxy } from './helpers/moto.js';

const aws = useMotoWithProxy();
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-aws-cache-'));
  return () => rm(dir, { recursive: true, force: true });
});

/** An AMI of this account named `name` (made the way a team's base image would be). */
async function makeBaseAmi(name: string): Promise<string> {
  const ec2 = new EC2Client({ region: 'us-east-1' });
  try {
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: await motoLinuxAmi(),
        MinCount: 1,
        MaxCount: 1,
        InstanceType: 't3.micro',
      }),
    );
    const image = await ec2.send(
      new CreateImageCommand({ InstanceId: run.Instances![0]!.InstanceId!, Name: name }),
    );
    return image.ImageId!;
  } finally {
    ec2.destroy();
  }
}

async function deregister(region: string, id: string): Promise<void> {
  const ec2 = new EC2Client({ region });
  await ec2.send(new DeregisterImageCommand({ ImageId: id }));
  ec2.destroy();
}

/** The AMIs a build reported, by region (from its machine-readable artifact line). */
function reported(stdout: string): Record<string, string> {
  const line = stdout.split('\n').find((l) => /^\d+,amazon-ebs,artifact,0,id,/.test(l));
  if (!line) return {};
  const id = line.split(',').slice(5).join(',').replaceAll('%!(PACKER_COMMA)', ',');
  return Object.fromEntries(id.split(',').map((p) => p.split(':') as [string, string]));
}

/** Fails unless DescribeImages shows every reported AMI `available` in its region. */
async function expectAvailable(amis: Record<string, string>): Promise<void> {
  expect(Object.keys(amis).length).toBeGreaterThan(0);
  for (const [region, id] of Object.entries(amis)) {
    const ec2 = new EC2Client({ region });
    const res = await ec2.send(new DescribeImagesCommand({ ImageIds: [id] }));
    ec2.destroy();
    expect(res.Images?.[0]?.State, `${region}:${id}`).toBe('available');
  }
}

async function writeTemplate(builder: Record<string, unknown>): Promise<string> {
  const path = join(dir, 'web.json');
  await writeFile(
    path,
    JSON.stringify({
      builders: [
        {
          type: 'amazon-ebs',
          region: 'us-east-1',
          instance_type: 't3.micro',
          communicator: 'none',
          ami_name: 'web-{{uuid}}',
          aws_polling: { delay_seconds: 1, max_attempts: 30 },
          ...builder,
        },
      ],
      provisioners: [{ type: 'shell-local', inline: ['echo provisioning web'] }],
    }),
  );
  return path;
}

/** `kiln build -machine-readable` with its own kiln home (one "machine"). */
async function build(file: string, home: string, flags: string[] = []) {
  const env = { ...awsEnv(aws.proxy.url), KILN_HOME: join(dir, home) };
  const before = aws.proxy.count('RunInstances');
  const r = await kiln(['build', '-machine-readable', ...flags, file], { env, cwd: dir });
  expect(r.code, r.stderr + r.stdout).toBe(0);
  const amis = reported(r.stdout);
  await expectAvailable(amis);
  return { ...r, amis, launched: aws.proxy.count('RunInstances') - before };
}

describe('the amazon-ebs cache in AWS (CLI, moto)', () => {
  it('source_ami_filter: an unchanged upstream AMI reuses; a newer match rebuilds', async () => {
    const base1 = await makeBaseAmi('team-base-1');
    const file = await writeTemplate({
      source_ami_filter: { filters: { name: 'team-base-*' }, owners: ['self'], most_recent: true },
    });
    const first = await build(file, 'home');
    expect(first.launched).toBe(1);
    expect(first.stdout).toContain(`Found Image ID: ${base1}`);

    const second = await build(file, 'home');
    expect(second.launched).toBe(0);
    expect(second.amis).toEqual(first.amis);
    expect(second.stdout).toMatch(/Reusing ami-/);
    expect(second.stdout).not.toMatch(/Not looking for a reusable image/);

    // CreationDate has whole seconds: the newer base must be at least a second younger.
    await new Promise((r) => setTimeout(r, 1100));
    const base2 = await makeBaseAmi('team-base-2');
    const third = await build(file, 'home');
    expect(third.launched).toBe(1);
    expect(third.stdout).toContain(`Found Image ID: ${base2}`);
    expect(third.amis['us-east-1']).not.toBe(first.amis['us-east-1']);
  });

  it('two kiln homes share AMIs through AWS; a deregistered AMI is rebuilt, a deleted region copy restored', async () => {
    const source = await motoLinuxAmi();
    const file = await writeTemplate({ source_ami: source, ami_regions: ['us-west-2'] });

    const a = await build(file, 'machine-a');
    expect(a.launched).toBe(1);
    expect(Object.keys(a.amis).sort()).toEqual(['us-east-1', 'us-west-2']);

    // Another machine: nothing in its catalog, the AMI found by its input-hash tag.
    const b = await build(file, 'machine-b');
    expect(b.launched).toBe(0);
    expect(b.amis).toEqual(a.amis);
    const catalogB = Catalog.open(join(dir, 'machine-b'));
    try {
      expect(catalogB.images.get(a.amis['us-east-1']!)?.metadata).toMatchObject({
        regions: a.amis,
      });
    } finally {
      catalogB.close();
    }

    // Deregistered behind kiln's back: machine A's catalog still names it, but AWS decides.
    await deregister('us-east-1', a.amis['us-east-1']!);
    const a2 = await build(file, 'machine-a');
    expect(a2.launched).toBe(1);
    expect(a2.amis['us-east-1']).not.toBe(a.amis['us-east-1']);
    expect(a2.stdout).toMatch(/no longer available in us-east-1/);

    // And for machine B, whose catalog names the first AMI and knows nothing of the second.
    await deregister('us-east-1', a2.amis['us-east-1']!);
    const b2 = await build(file, 'machine-b');
    expect(b2.launched).toBe(1);
    expect(b2.amis['us-east-1']).not.toBe(a2.amis['us-east-1']);
    expect(b2.amis['us-east-1']).not.toBe(a.amis['us-east-1']);

    // A region copy deleted: the next build copies it again instead of rebuilding.
    await deregister('us-west-2', b2.amis['us-west-2']!);
    aws.proxy.clear();
    const a3 = await build(file, 'machine-a');
    expect(a3.launched).toBe(0);
    expect(aws.proxy.count('CopyImage')).toBe(1);
    expect(a3.amis['us-east-1']).toBe(b2.amis['us-east-1']);
    expect(a3.amis['us-west-2']).not.toBe(b2.amis['us-west-2']);
    const catalogA = Catalog.open(join(dir, 'machine-a'));
    try {
      expect(catalogA.images.get(a3.amis['us-east-1']!)?.metadata).toMatchObject({
        regions: a3.amis,
      });
      expect(catalogA.images.get(a.amis['us-east-1']!)?.status).toBe('missing');
    } finally {
      catalogA.close();
    }
    const ls = await kiln(['images', 'ls'], {
      env: { ...awsEnv(aws.proxy.url), KILN_HOME: join(dir, 'machine-a') },
    });
    expect(ls.stderr).toMatch(
      new RegExp(`AMI\\(s\\) are no longer available in AWS: .*${a.amis['us-east-1']}`),
    );
    // The restored copy is found by the other machine too, with no copy of its own.
    aws.proxy.clear();
    const b3 = await build(file, 'machine-b');
    expect(b3.launched).toBe(0);
    expect(aws.proxy.count('CopyImage')).toBe(0);
    expect(b3.amis).toEqual(a3.amis);
  });

  it('--no-cache builds even when AWS has the AMI', async () => {
    const file = await writeTemplate({ source_ami: await motoLinuxAmi() });
    const first = await build(file, 'home');
    const forced = await build(file, 'home', ['--no-cache']);
    expect(forced.launched).toBe(1);
    expect(forced.amis['us-east-1']).not.toBe(first.amis['us-east-1']);
  });
});
