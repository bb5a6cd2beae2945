/**
 * AWS mistakes a user makes, through the compiled CLI against moto: each gives one clear
 * error, at once, before anything is created — a source_ami that does not exist (no
 * waiting: asked once), no credentials at all (what to set) — and `kiln images rm` of an
 * AMI says what it did to the AMI (forgot it, or with --deregister removed it).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeImagesCommand, DescribeSnapshotsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { kiln } from './helpers/kiln.js';
import { awsEnv, motoLinuxAmi, useMotoWithProxy } from './helpers/moto.js';

const aws = useMotoWithProxy();
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-aws-errors-'));
  return () => rm(dir, { recursive: true, force: true });
});

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
    }),
  );
  return path;
}

function env(extra: Record<string, string | undefined> = {}) {
  return { ...awsEnv(aws.proxy.url), KILN_HOME: join(dir, 'home'), ...extra };
}

/** AWS actions that create something. */
const CREATING = ['ImportKeyPair', 'CreateKeyPair', 'CreateSecurityGroup', 'RunInstances'];

describe('AWS errors (CLI, moto)', () => {
  it('a source_ami that does not exist fails on the first NotFound, creating nothing', async () => {
    const file = await writeTemplate({ source_ami: 'ami-0123456789abcdef0' });
    const r = await kiln(['build', file], { env: env(), cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(
      /source AMI ami-0123456789abcdef0 was not found in us-east-1/,
    );
    const asked = aws.proxy.calls.filter(
      (c) => c.action === 'DescribeImages' && c.params.get('ImageId.1') === 'ami-0123456789abcdef0',
    );
    expect(asked).toHaveLength(1);
    for (const action of CREATING) expect(aws.proxy.count(action), action).toBe(0);
  });

  it('a region that does not exist: one line naming it, asked once, creating nothing', async () => {
    const file = await writeTemplate({ region: 'us-east-7', source_ami: 'ami-0123456789abcdef0' });
    const r = await kiln(['build', file], { env: env(), cwd: dir });
    expect(r.code).toBe(1);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(/region "us-east-7" is not an AWS region \(EC2 lists: .*us-east-1/);
    expect(out).not.toMatch(/XML parse error|Deserialization/);
    expect(aws.proxy.count('DescribeImages')).toBe(1);
    expect(aws.proxy.count('DescribeRegions')).toBe(1);
    for (const action of CREATING) expect(aws.proxy.count(action), action).toBe(0);
  });

  it('no credentials at all: one line saying what to set, no AWS call', async () => {
    const file = await writeTemplate({ source_ami: 'ami-0123456789abcdef0' });
    const r = await kiln(['build', file], {
      env: env({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined }),
      cwd: dir,
    });
    expect(r.code).toBe(1);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(
      /no AWS credentials found \(needed for DescribeImages\): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
    );
    expect(out).not.toMatch(/rejected the credentials/);
    expect(out).not.toMatch(/\n\s+at /);
    expect(aws.proxy.calls).toHaveLength(0);
  });

  it('kiln images rm of an AMI says it only forgets it; --deregister removes the AMI and its snapshots', async () => {
    const file = await writeTemplate({ source_ami: await motoLinuxAmi() });
    const one = await kiln(['build', '-machine-readable', file], { env: env(), cwd: dir });
    expect(one.code, one.stderr + one.stdout).toBe(0);
    const ami1 = /,artifact,0,id,us-east-1:(ami-[0-9a-f]+)/.exec(one.stdout)![1]!;

    const forget = await kiln(['images', 'rm', ami1], { env: env(), cwd: dir });
    expect(forget.code, forget.stderr).toBe(0);
    expect(forget.stdout).toBe(`${ami1}\n`);
    expect(forget.stderr).toMatch(
      new RegExp(
        `kiln forgot ${ami1}, but the AMI stays registered in AWS \\(us-east-1:${ami1}\\)`,
      ),
    );
    const ec2 = new EC2Client({ region: 'us-east-1' });
    try {
      const still = await ec2.send(new DescribeImagesCommand({ ImageIds: [ami1] }));
      expect(still.Images?.[0]?.State).toBe('available');

      // A second build reuses it from AWS (the catalog forgot it, AWS did not).
      const two = await kiln(['build', '-machine-readable', file], { env: env(), cwd: dir });
      expect(two.code, two.stderr + two.stdout).toBe(0);
      expect(two.stdout).toContain(`us-east-1:${ami1}`);
      const snaps = (still.Images?.[0]?.BlockDeviceMappings ?? []).flatMap((b) =>
        b.Ebs?.SnapshotId ? [b.Ebs.SnapshotId] : [],
      );
      expect(snaps.length).toBeGreaterThan(0);

      const gone = await kiln(['images', 'rm', '--deregister', ami1], { env: env(), cwd: dir });
      expect(gone.code, gone.stderr).toBe(0);
      expect(gone.stderr).toMatch(new RegExp(`deregistered us-east-1:${ami1} and deleted snap-`));
      // moto answers a deregistered id with no image (AWS: InvalidAMIID.NotFound).
      const after = await ec2
        .send(new DescribeImagesCommand({ ImageIds: [ami1] }))
        .catch((e: Error) => {
          if (/^InvalidAMIID/.test(e.name)) return { Images: [] };
          throw e;
        });
      expect(after.Images ?? []).toEqual([]);
      const left = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }));
      for (const s of snaps) expect(left.Snapshots?.map((x) => x.SnapshotId)).not.toContain(s);
    } finally {
      ec2.destroy();
    }
  });

  it('source_ami_filter matching nothing, or several without most_recent: the error says what to do, creating nothing', async () => {
    const none = await kiln(
      [
        'build',
        await writeTemplate({
          source_ami_filter: { filters: { name: 'no-such-*' }, owners: ['self'] },
        }),
      ],
      { env: env(), cwd: dir },
    );
    expect(none.code).toBe(1);
    expect(none.stdout + none.stderr).toMatch(
      /source_ami_filter matched no image in us-east-1; check the filters, owners and the region \(aws ec2 describe-images --region us-east-1 --owners self/,
    );
    const many = await kiln(
      [
        'build',
        await writeTemplate({
          source_ami_filter: { filters: { 'root-device-type': 'ebs' }, owners: ['amazon'] },
        }),
      ],
      { env: env(), cwd: dir },
    );
    expect(many.code).toBe(1);
    expect(many.stdout + many.stderr).toMatch(
      /source_ami_filter matched \d+ images in us-east-1 \(ami-\w+ \(.*\) and \d+ more\); make the filters more specific, or set most_recent: true/,
    );
    for (const action of CREATING) expect(aws.proxy.count(action), action).toBe(0);
  });
});
