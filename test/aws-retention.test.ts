/**
 * Issue 13 item 4 through the compiled CLI against moto: `kiln images prune --aws` on 12
 * kiln AMIs (10 of lineage `web` in prod, 2 in staging, split with --per-tag Environment),
 * 3 of the old ones in use — by a launch template version that is not the default, by an
 * Auto Scaling group's launch configuration, by a running instance. A dry run changes
 * nothing; with --deregister exactly the old unused ones go, with their snapshots.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  CreateLaunchConfigurationCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateImageCommand,
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { lineageOfName } from '../src/aws/retention.js';
import { kiln as runKiln } from './helpers/kiln.js';
import { awsEnv, motoLinuxAmi, useMotoWithProxy } from './helpers/moto.js';

const aws = useMotoWithProxy();
let home: string;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'kiln-aws-retention-'));
  return () => rm(home, { recursive: true, force: true });
});

const kiln = (args: string[]) => runKiln(args, { home, env: awsEnv(aws.proxy.url) });

async function state(ec2: EC2Client): Promise<{ amis: Set<string>; snaps: Set<string> }> {
  const images = (await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images ?? [];
  const snaps = (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots;
  return {
    amis: new Set(images.map((i) => i.ImageId!)),
    snaps: new Set((snaps ?? []).map((s) => s.SnapshotId!)),
  };
}

describe('kiln images prune --aws', () => {
  it('12 AMIs, 3 in use: exactly the old unused ones and their snapshots go', async () => {
    const ec2 = new EC2Client({ region: 'us-east-1' });
    const base = await motoLinuxAmi();
    const made: Array<{ id: string; snapshot: string; name: string }> = [];
    const t0 = 1_733_600_000;
    // Built "one a day": the number in the name grows with the build (moto's CreationDate has
    // whole seconds, so the name breaks the tie between AMIs made in the same second).
    for (let n = 1; n <= 12; n++) {
      const env = n <= 10 ? 'prod' : 'staging';
      const inst = await ec2.send(
        new RunInstancesCommand({
          ImageId: base,
          MinCount: 1,
          MaxCount: 1,
          InstanceType: 't3.micro',
        }),
      );
      const instanceId = inst.Instances![0]!.InstanceId!;
      const name = `web-${t0 + n * 86_400}`;
      const img = await ec2.send(
        new CreateImageCommand({
          InstanceId: instanceId,
          Name: name,
          TagSpecifications: [
            {
              ResourceType: 'image',
              Tags: [
                { Key: 'kiln:artifact', Value: 'true' },
                { Key: 'Environment', Value: env },
              ],
            },
          ],
        }),
      );
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
      const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [img.ImageId!] })))
        .Images![0]!;
      made.push({
        id: img.ImageId!,
        snapshot: image.BlockDeviceMappings![0]!.Ebs!.SnapshotId!,
        name,
      });
    }
    // Not kiln's (no kiln:artifact), old, same lineage: never touched.
    const inst = await ec2.send(
      new RunInstancesCommand({
        ImageId: base,
        MinCount: 1,
        MaxCount: 1,
        InstanceType: 't3.micro',
      }),
    );
    const foreign = await ec2.send(
      new CreateImageCommand({ InstanceId: inst.Instances![0]!.InstanceId!, Name: `web-${t0}` }),
    );
    await ec2.send(
      new TerminateInstancesCommand({ InstanceIds: [inst.Instances![0]!.InstanceId!] }),
    );

    const web = (n: number) => made[n - 1]!;
    // In use: web-2 by launch template version 1 (version 2 is the default now), web-4 by an
    // Auto Scaling group's launch configuration, web-6 by a running instance.
    const lt = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'web',
        LaunchTemplateData: { ImageId: web(2).id, InstanceType: 't3.micro' },
      }),
    );
    await ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: lt.LaunchTemplate!.LaunchTemplateId!,
        LaunchTemplateData: { ImageId: web(10).id, InstanceType: 't3.micro' },
      }),
    );
    const asg = new AutoScalingClient({ region: 'us-east-1' });
    await asg.send(
      new CreateLaunchConfigurationCommand({
        LaunchConfigurationName: 'web-lc',
        ImageId: web(4).id,
        InstanceType: 't3.micro',
      }),
    );
    await asg.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'web-asg',
        LaunchConfigurationName: 'web-lc',
        MinSize: 0,
        MaxSize: 1,
        DesiredCapacity: 0,
        AvailabilityZones: ['us-east-1a'],
      }),
    );
    asg.destroy();
    await ec2.send(
      new RunInstancesCommand({
        ImageId: web(6).id,
        MinCount: 1,
        MaxCount: 1,
        InstanceType: 't3.micro',
      }),
    );

    // prod keeps web-10, 9, 8; staging (web-11, 12) keeps both; of web-1…7, 2, 4, 6 are in use.
    const expectedGone = [1, 3, 5, 7].map(web);
    const before = await state(ec2);
    const args = ['images', 'prune', '--aws', '--keep', '3', '--per-tag', 'Environment'];
    const dry = await kiln(args);
    expect(dry.code, dry.stderr).toBe(0);
    const would = dry.stdout.split('\n').filter((l) => l.startsWith('would deregister'));
    expect(would.map((l) => l.split(' ')[2]!.split(':')[1]).sort()).toEqual(
      expectedGone.map((m) => m.id).sort(),
    );
    for (const m of expectedGone)
      expect(dry.stdout).toContain(`${m.id} (${m.name}, web Environment=prod`);
    expect(dry.stdout).toMatch(
      new RegExp(`kept us-east-1:${web(2).id} .*launch template web version 1`),
    );
    expect(dry.stdout).toMatch(
      new RegExp(
        `kept us-east-1:${web(4).id} .*launch configuration web-lc \\(Auto Scaling group web-asg\\)`,
      ),
    );
    expect(dry.stdout).toMatch(
      new RegExp(`kept us-east-1:${web(6).id} .*instance i-\\w+ \\(running\\)`),
    );
    expect(dry.stderr).toMatch(
      /dry run: nothing changed; add --deregister to deregister these 4 AMI/,
    );
    expect(await state(ec2)).toEqual(before);
    expect(aws.proxy.count('DeregisterImage')).toBe(0);

    const real = await kiln([...args, '--deregister']);
    expect(real.code, real.stderr).toBe(0);
    const after = await state(ec2);
    const goneAmis = [...before.amis].filter((x) => !after.amis.has(x)).sort();
    const goneSnaps = [...before.snaps].filter((x) => !after.snaps.has(x)).sort();
    expect(goneAmis).toEqual(expectedGone.map((m) => m.id).sort());
    expect(goneSnaps).toEqual(expectedGone.map((m) => m.snapshot).sort());
    expect(after.amis.has(foreign.ImageId!)).toBe(true);
    expect(aws.proxy.count('DeregisterImage')).toBe(4);

    // Retention is stable: a second run keeps everything.
    const again = await kiln([...args, '--deregister']);
    expect(again.stdout).not.toMatch(/deregistered/);
    ec2.destroy();
  });

  it('a lineage is the AMI name without the part a build generates', () => {
    expect(lineageOfName('web-1733600000')).toBe('web');
    expect(lineageOfName('web-2026-12-07T10-11-12Z')).toBe('web');
    expect(lineageOfName('web-6f1c2e1a-8e4b-4c1e-9a57-3c1d2b4e5f60')).toBe('web');
    expect(lineageOfName('api_server 20261207')).toBe('api_server');
    expect(lineageOfName('web-v2')).toBe('web-v2');
    expect(lineageOfName('1733600000')).toBe('1733600000');
  });

  it('--deregister without --aws, or with --dry-run, is refused before any AWS call', async () => {
    const a = await kiln(['images', 'prune', '--keep', '1', '--deregister']);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/--deregister is for AMIs: add --aws/);
    const b = await kiln(['images', 'prune', '--aws', '--keep', '1', '--dry-run', '--deregister']);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/contradict/);
    expect(aws.proxy.calls).toHaveLength(0);
  });
});
