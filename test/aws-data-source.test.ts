/**
 * The HCL2 `amazon-ami` data source against moto, through the compiled CLI: its `id` as a
 * build's source_ami, its other attributes in the AMI's tags, and the cache on top of it —
 * an unchanged match reuses, a newer match rebuilds. A data source that matches nothing
 * fails at load time with the block's location, before anything is created.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateImageCommand,
  DescribeImagesCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { kiln } from './helpers/kiln.js';
import { awsEnv, motoLinuxAmi, useMotoWithProxy } from './helpers/moto.js';

const aws = useMotoWithProxy();
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-aws-data-'));
  return () => rm(dir, { recursive: true, force: true });
});

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

function template(filter: string): string {
  return `
data "amazon-ami" "base" {
  region      = "us-east-1"
  owners      = ["self"]
  most_recent = true
  filters = {
    name = "${filter}"
  }
}

source "amazon-ebs" "web" {
  region        = "us-east-1"
  source_ami    = data.amazon-ami.base.id
  instance_type = "t3.micro"
  communicator  = "none"
  ami_name      = "web-\${uuidv4()}"
  aws_polling {
    delay_seconds = 1
    max_attempts  = 30
  }
  tags = {
    Base      = data.amazon-ami.base.name
    BaseOwner = data.amazon-ami.base.owner
  }
}

build {
  sources = ["source.amazon-ebs.web"]
}
`;
}

async function build(file: string) {
  const env = { ...awsEnv(aws.proxy.url), KILN_HOME: join(dir, 'home') };
  const before = aws.proxy.count('RunInstances');
  const r = await kiln(['build', '-machine-readable', file], { env, cwd: dir });
  const ami = /,artifact,0,id,us-east-1:(ami-[0-9a-f]+)/.exec(r.stdout)?.[1];
  return { ...r, ami, launched: aws.proxy.count('RunInstances') - before };
}

async function tagsOf(id: string): Promise<Record<string, string>> {
  const ec2 = new EC2Client({ region: 'us-east-1' });
  const res = await ec2.send(new DescribeImagesCommand({ ImageIds: [id] }));
  ec2.destroy();
  return Object.fromEntries((res.Images?.[0]?.Tags ?? []).map((t) => [t.Key!, t.Value!]));
}

describe('data "amazon-ami" (HCL2, moto)', () => {
  it('feeds source_ami; an unchanged match reuses, a newer match rebuilds', async () => {
    const base1 = await makeBaseAmi('team-base-1');
    const file = join(dir, 'web.pkr.hcl');
    await writeFile(file, template('team-base-*'));

    const first = await build(file);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    expect(first.launched).toBe(1);
    expect(first.stdout).toContain(`Found Image ID: ${base1}`);
    const tags = await tagsOf(first.ami!);
    expect(tags.Base).toBe('team-base-1');
    expect(tags.BaseOwner).toMatch(/^\d{12}$/);
    expect(tags['kiln:input-hash']).toMatch(/^sha256:[0-9a-f]{64}$/);

    const second = await build(file);
    expect(second.code, second.stderr + second.stdout).toBe(0);
    expect(second.launched).toBe(0);
    expect(second.ami).toBe(first.ami);

    await new Promise((r) => setTimeout(r, 1100));
    const base2 = await makeBaseAmi('team-base-2');
    const third = await build(file);
    expect(third.code, third.stderr + third.stdout).toBe(0);
    expect(third.launched).toBe(1);
    expect(third.stdout).toContain(`Found Image ID: ${base2}`);
    expect(third.ami).not.toBe(first.ami);
    expect((await tagsOf(third.ami!)).Base).toBe('team-base-2');
  });

  it('a data source matching nothing fails at load time, naming the block, creating nothing', async () => {
    const file = join(dir, 'web.pkr.hcl');
    await writeFile(file, template('no-such-base-*'));
    const r = await build(file);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(
      /web\.pkr\.hcl:2:\d+: Data source amazon-ami\.base failed: no AMI of self matches the filters in us-east-1; check the filters, owners and region/,
    );
    expect(aws.proxy.calls.map((c) => c.action)).toEqual(['DescribeImages']);
  });
});
