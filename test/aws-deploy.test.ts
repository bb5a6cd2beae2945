/**
 * RELIABILITY rows 24–25 and the happy path of `kiln deploy aws`, through the compiled
 * CLI, against moto's launch templates and Auto Scaling groups. moto has no instance
 * refresh: the fault proxy answers Start/Describe/CancelInstanceRefresh with its small
 * state machine — the one stand-in these tests use.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoScalingClient, CreateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import {
  CreateImageCommand,
  CreateLaunchTemplateCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { kiln as runKiln, startKiln } from './helpers/kiln.js';
import { awsEnv, motoLinuxAmi, useMotoWithProxy } from './helpers/moto.js';

/** The deploy history as `kiln` recorded it under the test's kiln home. */
function listDeployments(filter: { backend?: string; group?: string }) {
  using catalog = Catalog.openReadOnly(home);
  return catalog.deployments.list(filter);
}

const aws = useMotoWithProxy();
let home: string;
let ec2: EC2Client;
let amis: string[];
let ltId: string;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'kiln-aws-home-'));
  ec2 = new EC2Client({ region: 'us-east-1' });
  const base = await motoLinuxAmi();
  // Three "releases" to deploy, made the way AWS makes AMIs.
  amis = [];
  for (const n of [1, 2, 3]) {
    const inst = await ec2.send(
      new RunInstancesCommand({
        ImageId: base,
        MinCount: 1,
        MaxCount: 1,
        InstanceType: 't3.micro',
      }),
    );
    const img = await ec2.send(
      new CreateImageCommand({ InstanceId: inst.Instances![0]!.InstanceId!, Name: `release-${n}` }),
    );
    amis.push(img.ImageId!);
  }
  const lt = await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'hello-web',
      LaunchTemplateData: { ImageId: base, InstanceType: 't3.micro' },
    }),
  );
  ltId = lt.LaunchTemplate!.LaunchTemplateId!;
  await group('hello-web-asg', '$Default');
  return async () => {
    ec2.destroy();
    await rm(home, { recursive: true, force: true });
  };
});

async function group(name: string, version: string): Promise<void> {
  const asg = new AutoScalingClient({ region: 'us-east-1' });
  await asg.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: name,
      LaunchTemplate: { LaunchTemplateId: ltId, Version: version },
      MinSize: 1,
      MaxSize: 2,
      DesiredCapacity: 1,
      AvailabilityZones: ['us-east-1a'],
    }),
  );
  asg.destroy();
}

function kiln(args: string[]) {
  return runKiln(args, { home, env: awsEnv(aws.proxy.url) });
}

async function template(): Promise<{
  defaultVersion: number;
  versions: Array<{ n: number; ami?: string }>;
}> {
  const lt = await ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [ltId] }));
  const v = await ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: ltId }));
  return {
    defaultVersion: lt.LaunchTemplates![0]!.DefaultVersionNumber!,
    versions: (v.LaunchTemplateVersions ?? [])
      .map((x) => ({ n: x.VersionNumber!, ami: x.LaunchTemplateData?.ImageId }))
      .sort((a, b) => a.n - b.n),
  };
}

const deployArgs = (ami: string, ...extra: string[]) => [
  'deploy',
  'aws',
  '--asg',
  'hello-web-asg',
  ami,
  '--region',
  'us-east-1',
  '--poll-interval',
  '100ms',
  ...extra,
];
const deploy = (ami: string, ...extra: string[]) => kiln(deployArgs(ami, ...extra));

describe('kiln deploy aws', () => {
  it('deploys: a new numbered default version with the AMI, an instance refresh with the preferences, recorded', async () => {
    const r = await deploy(
      amis[0]!,
      '--min-healthy',
      '75',
      '--warmup',
      '30',
      '--checkpoints',
      '50,100',
    );
    expect(r.code, r.stderr).toBe(0);
    const t = await template();
    expect(t.defaultVersion).toBe(2);
    expect(t.versions.at(-1)).toEqual({ n: 2, ami: amis[0] });
    const start = aws.proxy.refreshes[0]!;
    expect(start.preferences).toMatchObject({
      MinHealthyPercentage: '75',
      InstanceWarmup: '30',
      'CheckpointPercentages.member.1': '50',
      'CheckpointPercentages.member.2': '100',
    });
    expect(r.stderr).toMatch(/instance refresh .*: InProgress 50%/);
    expect(r.stderr).toMatch(/Successful 100%/);
    const history = listDeployments({ group: 'hello-web-asg' });
    expect(history[0]).toMatchObject({
      imageId: amis[0],
      status: 'succeeded',
      version: 2,
      previousVersion: 1,
      kind: 'deploy',
    });
  });

  it('row 24: a refresh that fails reports the reason, rolls back, and restores the default version', async () => {
    expect((await deploy(amis[0]!)).code).toBe(0);
    aws.proxy.refreshScenarios.push(
      { outcome: 'Failed', reason: 'Instance i-0abc failed ELB health checks' },
      { outcome: 'Successful' },
    );
    const r = await deploy(amis[1]!);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Instance i-0abc failed ELB health checks/);
    expect(r.stderr).toMatch(/rolled back to launch template version 2/);
    const t = await template();
    expect(t.defaultVersion).toBe(2);
    expect(t.versions.find((v) => v.n === t.defaultVersion)?.ami).toBe(amis[0]);
    // The rollback itself: a second refresh after the failed one, with the old version as default.
    expect(aws.proxy.refreshes.map((x) => x.status)).toEqual([
      'Successful',
      'Failed',
      'Successful',
    ]);
    const history = listDeployments({ group: 'hello-web-asg' });
    expect(history[0]).toMatchObject({
      imageId: amis[1],
      status: 'failed',
      reason: 'Instance i-0abc failed ELB health checks',
    });
  });

  it('row 25: a refresh already running is a clear error and leaks no launch template version', async () => {
    const before = await template();
    aws.proxy.refreshInProgress.add('hello-web-asg');
    const r = await deploy(amis[0]!);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/an instance refresh .*already running in group "hello-web-asg"/);
    expect(r.stderr).not.toMatch(/This is a bug/);
    expect(aws.proxy.count('CreateLaunchTemplateVersion', 'forwarded')).toBe(1);
    // The version kiln made is deleted again and the default never moved.
    const del = aws.proxy.calls.find((c) => c.action === 'DeleteLaunchTemplateVersions')!;
    expect(del.params.get('LaunchTemplateId')).toBe(ltId);
    expect(del.params.get('LaunchTemplateVersion.1')).toBe(String(before.versions.length + 1));
    const after = await template();
    expect(after.defaultVersion).toBe(before.defaultVersion);
    if (del.status === 200) expect(after).toEqual(before);
    // moto 5.2.1 has no DeleteLaunchTemplateVersions (HTTP 500): kiln then names the version it could not delete.
    else
      expect(r.stderr).toMatch(
        new RegExp(
          `could not delete launch template ${ltId} version ${before.versions.length + 1}`,
        ),
      );
  });

  it('row 25: a refresh seen running before the deploy starts: refused before anything is created', async () => {
    aws.proxy.refreshScenarios.push({ outcome: 'Successful', polls: 1000 });
    const asg = new AutoScalingClient({ region: 'us-east-1' });
    const { StartInstanceRefreshCommand } = await import('@aws-sdk/client-auto-scaling');
    await asg.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: 'hello-web-asg' }));
    asg.destroy();
    const before = await template();
    const r = await deploy(amis[0]!);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already running/);
    expect(aws.proxy.count('CreateLaunchTemplateVersion')).toBe(0);
    expect(await template()).toEqual(before);
  });

  it('row 25: a group on $Latest is refused before any change (rollback needs a numbered version)', async () => {
    await group('latest-asg', '$Latest');
    const r = await kiln([
      'deploy',
      'aws',
      '--asg',
      'latest-asg',
      amis[0]!,
      '--region',
      'us-east-1',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/launch template version \$Latest/);
    expect(r.stderr).toMatch(/\$Default/);
    expect(aws.proxy.count('CreateLaunchTemplateVersion')).toBe(0);
    expect(aws.proxy.count('ModifyLaunchTemplate')).toBe(0);
  });

  it('row 25: --launch-template-version $Latest is rejected at validation, before any AWS call', async () => {
    aws.proxy.clear();
    const r = await deploy(amis[0]!, '--launch-template-version', '$Latest');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /\$Latest moves on its own, and a rollback needs the numbered version/,
    );
    expect(aws.proxy.calls).toHaveLength(0);
  });

  it('an interrupt during the refresh cancels it and restores the default version', async () => {
    aws.proxy.refreshScenarios.push({ outcome: 'Successful', polls: 100_000 });
    const before = await template();
    const k = startKiln(deployArgs(amis[0]!), { home, env: awsEnv(aws.proxy.url) });
    let interrupted = false;
    aws.proxy.onRequest = (action) => {
      // Once kiln is waiting on the refresh, interrupt it (once: a second signal exits at once).
      if (
        action === 'DescribeInstanceRefreshes' &&
        aws.proxy.refreshes.length > 0 &&
        !interrupted
      ) {
        interrupted = true;
        k.child.kill('SIGTERM');
      }
    };
    // What matters is AWS's state once kiln has exited.
    await k.exit;
    expect(aws.proxy.count('CancelInstanceRefresh', 'refresh')).toBe(1);
    expect(aws.proxy.refreshes[0]!.status).toBe('Cancelled');
    expect((await template()).defaultVersion).toBe(before.defaultVersion);
    expect(listDeployments({ group: 'hello-web-asg' })[0]).toMatchObject({
      status: 'cancelled',
      imageId: amis[0],
    });
  });

  it('a second signal during that cleanup exits 130 at once, naming what it did not undo', async () => {
    aws.proxy.refreshScenarios.push({ outcome: 'Successful', polls: 100_000 });
    const before = await template();
    const k = startKiln(deployArgs(amis[0]!), { home, env: awsEnv(aws.proxy.url) });
    let interrupted = false;
    let cancelling: () => void = () => {};
    const cancelSeen = new Promise<void>((r) => (cancelling = r));
    let release: () => void = () => {};
    const released = new Promise<void>((r) => (release = r));
    aws.proxy.onRequest = async (action) => {
      if (
        action === 'DescribeInstanceRefreshes' &&
        aws.proxy.refreshes.length > 0 &&
        !interrupted
      ) {
        interrupted = true;
        k.child.kill('SIGTERM');
      }
      // Hold kiln's cleanup in its first call, so the second signal finds it unfinished.
      if (action === 'CancelInstanceRefresh') {
        cancelling();
        await released;
      }
    };
    await cancelSeen;
    k.child.kill('SIGTERM');
    const r = await k.exit;
    release();
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(
      /kiln: received a second SIGTERM: exiting now without finishing cleanup/,
    );
    expect(r.stderr).toContain('kiln: left behind:');
    expect(r.stderr).toContain(
      `deploy to hello-web-asg: not cleaned up: cancel instance refresh ${aws.proxy.refreshes[0]!.id}, set launch template ${ltId}'s default version back to ${before.defaultVersion}`,
    );
    expect(r.stderr).toMatch(
      /aws autoscaling cancel-instance-refresh --auto-scaling-group-name hello-web-asg/,
    );
    // It left what it named: the new version is still the default.
    expect((await template()).defaultVersion).toBe(before.defaultVersion + 1);
  });

  it('--rollback returns to the previous release', async () => {
    expect((await deploy(amis[0]!)).code).toBe(0);
    expect((await deploy(amis[1]!)).code).toBe(0);
    expect((await template()).defaultVersion).toBe(3);
    const r = await kiln([
      'deploy',
      'aws',
      '--rollback',
      '--asg',
      'hello-web-asg',
      '--region',
      'us-east-1',
      '--poll-interval',
      '100ms',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const t = await template();
    expect(t.defaultVersion).toBe(2);
    expect(t.versions.find((v) => v.n === 2)?.ami).toBe(amis[0]);
    expect(aws.proxy.refreshes).toHaveLength(3);
    // Without the local record (another machine deployed), the version's description says where to go.
    await rm(join(home, 'catalog.db'), { force: true });
    await rm(join(home, 'catalog.db-wal'), { force: true });
    await rm(join(home, 'catalog.db-shm'), { force: true });
    expect((await deploy(amis[2]!)).code).toBe(0);
    await rm(join(home, 'catalog.db'), { force: true });
    await rm(join(home, 'catalog.db-wal'), { force: true });
    await rm(join(home, 'catalog.db-shm'), { force: true });
    const again = await kiln([
      'deploy',
      'aws',
      '--rollback',
      '--asg',
      'hello-web-asg',
      '--region',
      'us-east-1',
      '--poll-interval',
      '100ms',
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect((await template()).defaultVersion).toBe(2);
  });

  it('takes a multi-region artifact id as grep | cut gives it (%!(PACKER_COMMA)) or with commas, in AWS_REGION', async () => {
    const noRegion = (ami: string) =>
      kiln(['deploy', 'aws', '--asg', 'hello-web-asg', ami, '--poll-interval', '100ms']);
    // As the machine-readable artifact line gives it; us-east-1 is AWS_REGION in awsEnv.
    const escaped = `us-east-1:${amis[0]}%!(PACKER_COMMA)us-west-2:ami-0aaaaaaaaaaaaaaaa`;
    const one = await noRegion(escaped);
    expect(one.code, one.stderr).toBe(0);
    expect((await template()).versions.at(-1)).toEqual({ n: 2, ami: amis[0] });
    // Real commas, the alphabetically first region not the one AWS_REGION names.
    const commas = `ap-south-1:ami-0bbbbbbbbbbbbbbbb,us-east-1:${amis[1]}`;
    const two = await noRegion(commas);
    expect(two.code, two.stderr).toBe(0);
    expect((await template()).versions.at(-1)).toEqual({ n: 3, ami: amis[1] });
    // --region still decides, and must name a region of the artifact.
    const wrong = await kiln([
      'deploy',
      'aws',
      '--asg',
      'hello-web-asg',
      commas,
      '--region',
      'eu-west-1',
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/has no AMI in eu-west-1/);
  });

  it('passes every instance refresh preference through by its AWS name (--preferences)', async () => {
    const prefs = {
      MinHealthyPercentage: 50,
      MaxHealthyPercentage: 150,
      InstanceWarmup: 45,
      CheckpointPercentages: [20, 100],
      CheckpointDelay: 30,
      SkipMatching: false,
      AutoRollback: true,
      AlarmSpecification: { Alarms: ['web-5xx', 'web-latency'] },
      ScaleInProtectedInstances: 'Wait',
      StandbyInstances: 'Terminate',
    };
    const r = await deploy(amis[0]!, '--preferences', JSON.stringify(prefs));
    expect(r.code, r.stderr).toBe(0);
    // What reached StartInstanceRefresh, as the Query API carries it.
    expect(aws.proxy.refreshes[0]!.preferences).toEqual({
      MinHealthyPercentage: '50',
      MaxHealthyPercentage: '150',
      InstanceWarmup: '45',
      'CheckpointPercentages.member.1': '20',
      'CheckpointPercentages.member.2': '100',
      CheckpointDelay: '30',
      SkipMatching: 'false',
      AutoRollback: 'true',
      'AlarmSpecification.Alarms.member.1': 'web-5xx',
      'AlarmSpecification.Alarms.member.2': 'web-latency',
      ScaleInProtectedInstances: 'Wait',
      StandbyInstances: 'Terminate',
    });
  });

  it('--preferences from a file; with AutoRollback AWS rolls a failed refresh back itself (no second refresh)', async () => {
    const { writeFile } = await import('node:fs/promises');
    const file = join(home, 'prefs.json');
    await writeFile(file, JSON.stringify({ AutoRollback: true, BakeTime: 0 }));
    aws.proxy.refreshScenarios.push({ outcome: 'Failed', reason: 'alarm web-5xx' });
    const r = await deploy(amis[0]!, '--preferences', `file://${file}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /RollbackSuccessful: alarm web-5xx.*rolled back to launch template version 1/s,
    );
    expect(aws.proxy.refreshes.map((x) => x.status)).toEqual(['RollbackSuccessful']);
    expect(aws.proxy.refreshes[0]!.preferences).toMatchObject({
      AutoRollback: 'true',
      BakeTime: '0',
    });
    expect((await template()).defaultVersion).toBe(1);
  });

  it('a wrong preference is refused before any AWS call, naming the AWS name it is nearest to', async () => {
    const calls = aws.proxy.calls.length;
    const r = await deploy(
      amis[0]!,
      '--preferences',
      '{"MinHealthyPercent":50,"StandbyInstances":"Keep","CheckpointPercentages":[50]}',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /MinHealthyPercent: not an instance refresh preference \(did you mean MinHealthyPercentage\?\)/,
    );
    expect(r.stderr).toMatch(/StandbyInstances/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    const both = await deploy(
      amis[0]!,
      '--min-healthy',
      '80',
      '--preferences',
      '{"MinHealthyPercentage":50}',
    );
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/--min-healthy and --preferences MinHealthyPercentage both given/);
    expect(aws.proxy.calls).toHaveLength(calls);
  });

  it('--help says moto has no instance refresh and the tests use the fault proxy', async () => {
    const r = await kiln(['deploy', 'aws', '--help']);
    expect(r.stdout).toMatch(/--preferences <json>/);
    expect(r.stdout).toMatch(/moto .* has no instance refresh/);
  });
});
