/**
 * Packer 1.6.6's amazon-ebs fields against the real packer binary (the field list is
 * Packer's own) and against a real moto server (what each implemented field sends to EC2,
 * and what EC2 then holds), plus the fields kiln refuses: they fail before any AWS call.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateKeyPairCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotAttributeCommand,
  DescribeSnapshotsCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
  EC2Client,
  type Instance,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { run } from '../src/lib/exec.js';
import { run as runCommand, kiln as runKiln } from './helpers/kiln.js';
import {
  awsEnv,
  motoLinuxAmi,
  resourcesOfRun,
  runAmazonEbs,
  useMotoWithProxy,
} from './helpers/moto.js';

const FIELDS = (
  JSON.parse(
    readFileSync(new URL('../src/builders/amazon/packer-fields.json', import.meta.url), 'utf8'),
  ) as { fields: Record<string, unknown> }
).fields;

async function packerValidate(dir: string, builder: Record<string, unknown>): Promise<string> {
  const file = join(dir, 'template.json');
  await writeFile(file, JSON.stringify({ builders: [{ type: 'amazon-ebs', ...builder }] }));
  const r = await run('packer', ['validate', file], { reject: false, cwd: dir });
  // Packer wraps long lines; join them so each message is whole.
  return `${r.stdout}\n${r.stderr}`.replace(/\n(?!\s*\*)/g, ' ');
}

describe("the field list is Packer 1.6.6's", () => {
  it('packer 1.6.6 decodes every field of the fixture (no unknown key, no type error); a typo is unknown to it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiln-packer-fields-'));
    try {
      const version = await run('packer', ['version'], { reject: false });
      expect(version.stdout).toMatch(/Packer v1\.6\.6/);
      // vault_aws_engine makes packer call a vault server at prepare: left out of this run.
      const { vault_aws_engine: _vault, ...fields } = FIELDS;
      const out = await packerValidate(dir, fields);
      // Prepare errors (conflicting fields) are expected; decoding problems are not.
      expect(out).toMatch(/Failed to prepare build/);
      expect(out).not.toMatch(/unknown configuration key|error decoding|expected a|Deprecated/);
      const typo = await packerValidate(dir, { ...fields, user_data_fiel: 'x' });
      expect(typo).toMatch(/unknown configuration key: '"user_data_fiel"'/);
      const nested = await packerValidate(dir, {
        vault_aws_engine: FIELDS.vault_aws_engine,
        bogus: 1,
      });
      expect(nested).toMatch(/unknown configuration key: '"bogus"'/);
      expect(nested).not.toMatch(/vault_aws_engine\./);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const aws = useMotoWithProxy();
let home: string;
let sourceAmi: string;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'kiln-aws-fields-'));
  sourceAmi = await motoLinuxAmi();
  return () => rm(home, { recursive: true, force: true });
});

function base(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    region: 'us-east-1',
    source_ami: sourceAmi,
    instance_type: 't3.micro',
    communicator: 'none',
    ami_name: `fields-${Date.now()}`,
    ...extra,
  };
}

function launchParams(): URLSearchParams {
  const launches = aws.proxy.calls.filter((c) => c.action === 'RunInstances');
  expect(launches).toHaveLength(1);
  return launches[0]!.params;
}

/** The values of `Prefix.N.Suffix` params, in order. */
function listParam(p: URLSearchParams, prefix: string, suffix = ''): string[] {
  const re = new RegExp(
    `^${prefix.replace(/\./g, '\\.')}\\.(\\d+)${suffix.replace(/\./g, '\\.')}$`,
  );
  return [...p]
    .filter(([k]) => re.test(k))
    .sort((a, b) => Number(re.exec(a[0])![1]) - Number(re.exec(b[0])![1]))
    .map(([, v]) => v);
}

function tagsOf(p: URLSearchParams, spec: number): Record<string, string> {
  const keys = listParam(p, `TagSpecification.${spec}.Tag`, '.Key');
  const values = listParam(p, `TagSpecification.${spec}.Tag`, '.Value');
  return Object.fromEntries(keys.map((k, i) => [k, values[i]!]));
}

async function describeInstance(ec2: EC2Client, id: string): Promise<Instance> {
  const res = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  return res.Reservations![0]!.Instances![0]!;
}

/** Creates an IAM instance profile in moto (no IAM client is installed: the query API by hand). */
async function createInstanceProfile(name: string): Promise<void> {
  const res = await fetch(aws.moto.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization:
        'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: new URLSearchParams({
      Action: 'CreateInstanceProfile',
      InstanceProfileName: name,
      Version: '2010-05-08',
    }),
  });
  expect(res.status, await res.text()).toBe(200);
}

describe('amazon-ebs fields against moto', () => {
  it('launches with user data, instance profile, EBS optimisation, shutdown behaviour, placement, metadata options, volume tags and no_ephemeral', async () => {
    await createInstanceProfile('kiln-builder');
    const dir = await mkdtemp(join(tmpdir(), 'kiln-userdata-'));
    const userDataFile = join(dir, 'user-data.sh');
    await writeFile(userDataFile, '#!/bin/sh\necho from-file\n');
    const runId = `run-launch-${Date.now()}`;
    let running: Instance | undefined;
    const r = await runAmazonEbs(
      base({
        user_data_file: userDataFile,
        iam_instance_profile: 'kiln-builder',
        ebs_optimized: true,
        shutdown_behavior: 'terminate',
        availability_zone: 'us-east-1b',
        tenancy: 'default',
        metadata_options: {
          http_endpoint: 'enabled',
          http_tokens: 'required',
          http_put_response_hop_limit: 2,
        },
        run_tags: { Purpose: 'kiln-test' },
        run_tag: [{ key: 'Team', value: 'kiln' }],
        run_volume_tags: { Disk: 'root' },
        run_volume_tag: [{ name: 'Backup', value: 'no' }],
        no_ephemeral: true,
      }),
      {
        kilnHome: home,
        runId,
        // moto drops the profile association on termination: look while the instance runs.
        provision: async () => {
          const ec2 = new EC2Client({ region: 'us-east-1', endpoint: aws.moto.url });
          const res = await ec2.send(
            new DescribeInstancesCommand({
              Filters: [{ Name: 'tag:kiln:run-id', Values: [runId] }],
            }),
          );
          running = res.Reservations?.[0]?.Instances?.[0];
          ec2.destroy();
        },
      },
    );
    await rm(dir, { recursive: true, force: true });
    expect(r.error, r.text()).toBeUndefined();
    const p = launchParams();
    expect(Buffer.from(p.get('UserData') ?? '', 'base64').toString()).toBe(
      '#!/bin/sh\necho from-file\n',
    );
    expect(p.get('IamInstanceProfile.Name')).toBe('kiln-builder');
    expect(p.get('EbsOptimized')).toBe('true');
    expect(p.get('InstanceInitiatedShutdownBehavior')).toBe('terminate');
    expect(p.get('Placement.AvailabilityZone')).toBe('us-east-1b');
    expect(p.get('Placement.Tenancy')).toBe('default');
    expect(p.get('MetadataOptions.HttpTokens')).toBe('required');
    expect(p.get('MetadataOptions.HttpPutResponseHopLimit')).toBe('2');
    expect(listParam(p, 'BlockDeviceMapping', '.DeviceName')).toContain('xvdca');
    expect(listParam(p, 'BlockDeviceMapping', '.DeviceName')).toHaveLength(26);
    // run_tags (+ run_tag) on the instance only; run_volume_tags (+ run_volume_tag) on its volumes.
    expect(tagsOf(p, 1)).toMatchObject({
      Purpose: 'kiln-test',
      Team: 'kiln',
      'kiln:run-id': r.runId,
    });
    expect(tagsOf(p, 1)).not.toHaveProperty('Disk');
    expect(tagsOf(p, 2)).toMatchObject({ Disk: 'root', Backup: 'no', 'kiln:run-id': r.runId });
    expect(tagsOf(p, 2)).not.toHaveProperty('Purpose');

    // What moto made of it.
    const ec2 = new EC2Client({ region: 'us-east-1' });
    try {
      const id = String(r.generated.InstanceId);
      expect(running?.InstanceId).toBe(id);
      expect(running?.IamInstanceProfile?.Arn).toMatch(/instance-profile\/kiln-builder$/);
      expect(running?.EbsOptimized).toBe(true);
      expect(running?.Placement?.AvailabilityZone).toBe('us-east-1b');
      const ud = await ec2.send(
        new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: 'userData' }),
      );
      expect(Buffer.from(ud.UserData?.Value ?? '', 'base64').toString()).toMatch(/from-file/);
      const vols = await ec2.send(
        new DescribeVolumesCommand({ Filters: [{ Name: 'tag:kiln:run-id', Values: [r.runId] }] }),
      );
      for (const v of vols.Volumes ?? [])
        expect(Object.fromEntries((v.Tags ?? []).map((t) => [t.Key, t.Value]))).toMatchObject({
          Disk: 'root',
        });
    } finally {
      ec2.destroy();
    }
    // user_data never reaches the output.
    expect(r.text()).not.toMatch(/from-file/);
    // The catalog records the user data file's content hash (the content is an input of the build's hash too).
    const { createHash } = await import('node:crypto');
    const { Catalog } = await import('../src/catalog/index.js');
    const catalog = Catalog.open(home);
    try {
      expect(catalog.images.get(r.artifact!.id.split(':')[1]!)?.metadata).toMatchObject({
        userDataFileSha256: createHash('sha256')
          .update('#!/bin/sh\necho from-file\n')
          .digest('hex'),
      });
    } finally {
      catalog.close();
    }
  });

  it('makes the AMI with its description, extra block devices, ENA/SR-IOV, merged tags, snapshot tags and snapshot permissions', async () => {
    const r = await runAmazonEbs(
      base({
        ami_description: 'fields test image',
        ami_block_device_mappings: [
          {
            device_name: '/dev/sdf',
            volume_size: 2,
            volume_type: 'gp2',
            delete_on_termination: true,
          },
        ],
        ena_support: true,
        sriov_support: true,
        tags: { Name: 'fields' },
        tag: [{ key: 'Stage', value: 'build' }],
        snapshot_tags: { Backup: 'no' },
        snapshot_tag: [{ key: 'Owner', value: 'kiln' }],
        snapshot_users: ['444455556666'],
        snapshot_groups: ['all'],
      }),
      { kilnHome: home },
    );
    expect(r.error, r.text()).toBeUndefined();
    const amiId = r.artifact!.id.split(':')[1]!;
    const create = aws.proxy.calls.find((c) => c.action === 'CreateImage')!.params;
    expect(create.get('Description')).toBe('fields test image');
    expect(create.get('BlockDeviceMapping.1.DeviceName')).toBe('/dev/sdf');
    expect(create.get('BlockDeviceMapping.1.Ebs.VolumeSize')).toBe('2');
    const modify = aws.proxy.calls.filter((c) => c.action === 'ModifyInstanceAttribute');
    expect(modify.map((c) => c.outcome)).toEqual(['forwarded', 'forwarded']);
    expect(modify.some((c) => c.params.get('EnaSupport.Value') === 'true')).toBe(true);
    expect(modify.some((c) => c.params.get('SriovNetSupport.Value') === 'simple')).toBe(true);
    // Set on the stopped instance, before the image is made.
    const order = aws.proxy.calls.map((c) => c.action);
    expect(order.indexOf('StopInstances')).toBeLessThan(order.indexOf('ModifyInstanceAttribute'));
    expect(order.lastIndexOf('ModifyInstanceAttribute')).toBeLessThan(order.indexOf('CreateImage'));

    const ec2 = new EC2Client({ region: 'us-east-1' });
    try {
      // moto keeps SR-IOV on the instance (ENA it accepts without storing).
      const sriov = await ec2.send(
        new DescribeInstanceAttributeCommand({
          InstanceId: String(r.generated.InstanceId),
          Attribute: 'sriovNetSupport',
        }),
      );
      expect(sriov.SriovNetSupport?.Value).toBe('simple');
      const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [amiId] }))).Images![0]!;
      expect(image.Description).toBe('fields test image');
      expect(Object.fromEntries((image.Tags ?? []).map((t) => [t.Key, t.Value]))).toMatchObject({
        Name: 'fields',
        Stage: 'build',
      });
      const snaps = (image.BlockDeviceMappings ?? []).flatMap((b) =>
        b.Ebs?.SnapshotId ? [b.Ebs.SnapshotId] : [],
      );
      expect(snaps.length).toBeGreaterThan(0);
      for (const s of (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: snaps })))
        .Snapshots ?? [])
        expect(Object.fromEntries((s.Tags ?? []).map((t) => [t.Key, t.Value]))).toMatchObject({
          Backup: 'no',
          Owner: 'kiln',
        });
      const perm = await ec2.send(
        new DescribeSnapshotAttributeCommand({
          SnapshotId: snaps[0],
          Attribute: 'createVolumePermission',
        }),
      );
      expect(perm.CreateVolumePermissions).toEqual(
        expect.arrayContaining([{ UserId: '444455556666' }, { Group: 'all' }]),
      );
      // No launch permission was asked for.
      const launch = await ec2.send(
        new DescribeImageAttributeCommand({ ImageId: amiId, Attribute: 'launchPermission' }),
      );
      expect(launch.LaunchPermissions ?? []).toEqual([]);
    } finally {
      ec2.destroy();
    }
  });

  it('disable_stop_instance: kiln sends no stop and waits for the provisioner to stop the machine', async () => {
    const runId = `run-stop-${Date.now()}`;
    const r = await runAmazonEbs(base({ disable_stop_instance: true }), {
      kilnHome: home,
      runId,
      provision: async () => {
        // What a sysprep shutdown would do: the machine stops itself (straight to moto, so the
        // proxy's record holds only kiln's calls).
        const ec2 = new EC2Client({ region: 'us-east-1', endpoint: aws.moto.url });
        const res = await ec2.send(
          new DescribeInstancesCommand({
            Filters: [{ Name: 'tag:kiln:run-id', Values: [runId] }],
          }),
        );
        const id = res.Reservations![0]!.Instances![0]!.InstanceId!;
        await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
        ec2.destroy();
      },
    });
    expect(r.error, r.text()).toBeUndefined();
    expect(aws.proxy.count('StopInstances')).toBe(0);
    expect(r.text()).toMatch(/Automatic instance stop disabled/);
    expect(aws.proxy.count('CreateImage')).toBe(1);
  });

  it("uses the user's own key pair (ssh_keypair_name + ssh_private_key_file): never creates or deletes one; SSH goes to ssh_interface's address", async () => {
    const ec2 = new EC2Client({ region: 'us-east-1' });
    const dir = await mkdtemp(join(tmpdir(), 'kiln-ownkey-'));
    try {
      const made = await ec2.send(new CreateKeyPairCommand({ KeyName: 'my-own-key' }));
      const keyFile = join(dir, 'my-own-key.pem');
      await writeFile(keyFile, made.KeyMaterial!, { mode: 0o600 });
      aws.proxy.clear();
      const r = await runAmazonEbs(
        base({
          communicator: 'ssh',
          ssh_username: 'admin',
          ssh_keypair_name: 'my-own-key',
          ssh_private_key_file: keyFile,
          ssh_interface: 'private_ip',
          ssh_timeout: '2s',
          temporary_security_group_source_cidrs: ['127.0.0.1/32'],
        }),
        { kilnHome: home },
      );
      // moto's instances run no sshd: the wait for SSH times out, after the address was chosen.
      expect(String((r.error as Error)?.message), r.text()).toMatch(/SSH|ssh/);
      const inst = await describeInstance(ec2, String(r.generated.InstanceId));
      expect(r.generated.Host).toBe(inst.PrivateIpAddress);
      expect(r.generated.SSHPrivateKeyFile).toBe(keyFile);
      expect(launchParams().get('KeyName')).toBe('my-own-key');
      expect(aws.proxy.count('ImportKeyPair')).toBe(0);
      expect(aws.proxy.count('CreateKeyPair')).toBe(0);
      expect(aws.proxy.count('DeleteKeyPair')).toBe(0);
      const pairs = await ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['my-own-key'] }));
      expect(pairs.KeyPairs).toHaveLength(1);
      // The failed build still removed what it made.
      const left = await resourcesOfRun(r.runId, ['us-east-1']);
      expect(left).toMatchObject({ instances: [], securityGroups: [], images: [] });
      expect(r.text()).not.toMatch(/BEGIN RSA PRIVATE KEY/);
    } finally {
      ec2.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('finds the subnet, VPC and security group by filter; makes no security group then', async () => {
    const ec2 = new EC2Client({ region: 'us-east-1' });
    const subnets = (
      await ec2.send(
        new DescribeSubnetsCommand({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] }),
      )
    ).Subnets!;
    const groups = (
      await ec2.send(
        new DescribeSecurityGroupsCommand({
          Filters: [{ Name: 'group-name', Values: ['default'] }],
        }),
      )
    ).SecurityGroups!;
    ec2.destroy();
    expect(subnets.length).toBeGreaterThan(1);
    const r = await runAmazonEbs(
      base({
        vpc_filter: { filters: { 'is-default': 'true' } },
        subnet_filter: { filters: { 'default-for-az': 'true' }, most_free: true },
        security_group_filter: { filters: { 'group-name': 'default' } },
      }),
      { kilnHome: home },
    );
    expect(r.error, r.text()).toBeUndefined();
    const p = launchParams();
    expect(subnets.map((s) => s.SubnetId)).toContain(p.get('SubnetId'));
    expect(p.get('SecurityGroupId.1')).toBe(groups[0]!.GroupId);
    expect(aws.proxy.count('CreateSecurityGroup')).toBe(0);
    expect(aws.proxy.count('DescribeVpcs')).toBe(1);

    aws.proxy.clear();
    const none = await runAmazonEbs(
      base({ subnet_filter: { filters: { 'tag:Class': 'nothing-has-this' } } }),
      { kilnHome: home },
    );
    expect(String((none.error as Error)?.message)).toMatch(/subnet_filter matched no subnet/);
    expect(aws.proxy.count('RunInstances')).toBe(0);
    expect(aws.proxy.count('ImportKeyPair')).toBe(0);
  });

  it('custom_endpoint_ec2 sends EC2 calls there; skip_credential_validation skips GetCallerIdentity; region_kms_key_ids encrypts each copy with its key', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_EC2;
    // Nothing listens here: only custom_endpoint_ec2 can make the build work.
    process.env.AWS_ENDPOINT_URL_EC2 = 'http://127.0.0.1:9';
    try {
      const r = await runAmazonEbs(
        base({
          custom_endpoint_ec2: aws.proxy.url,
          skip_credential_validation: true,
          max_retries: 2,
          ami_regions: ['us-west-2'],
          region_kms_key_ids: { 'us-west-2': 'alias/west-key' },
        }),
        { kilnHome: home },
      );
      expect(r.error, r.text()).toBeUndefined();
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_EC2;
      else process.env.AWS_ENDPOINT_URL_EC2 = saved;
    }
    expect(aws.proxy.count('RunInstances')).toBe(1);
    expect(aws.proxy.count('GetCallerIdentity')).toBe(0);
    const copy = aws.proxy.calls.find((c) => c.action === 'CopyImage')!.params;
    expect(copy.get('Encrypted')).toBe('true');
    expect(copy.get('KmsKeyId')).toBe('alias/west-key');
  });

  it('a field kiln cannot honour fails at prepare, naming it, before any AWS call', async () => {
    for (const extra of [
      { spot_price: 'auto' },
      { ssh_bastion_host: 'bastion.example.com' },
      { communicator: 'ssh', ssh_username: 'admin', ssh_interface: 'session_manager' },
      { mfa_code: '123456' },
    ]) {
      aws.proxy.clear();
      const r = await runAmazonEbs(base(extra), { kilnHome: home });
      const key = Object.keys(extra).at(-1)!;
      expect(String((r.error as Error)?.message)).toMatch(
        new RegExp(`^${key}: .*not supported by kiln`),
      );
      expect(aws.proxy.calls).toEqual([]);
    }
  });

  it("assume_role: every call is signed with the role's credentials (moto then acts in the role's account)", async () => {
    const r = await runAmazonEbs(
      base({
        assume_role: {
          role_arn: 'arn:aws:iam::111122223333:role/kiln-builder',
          session_name: 'kiln-test',
          external_id: 'ext-42',
          duration_seconds: 900,
        },
      }),
      { kilnHome: home },
    );
    expect(r.error, r.text()).toBeUndefined();
    const assume = aws.proxy.calls.filter((c) => c.action === 'AssumeRole');
    expect(assume.length).toBeGreaterThan(0);
    expect(assume[0]!.params.get('RoleArn')).toBe('arn:aws:iam::111122223333:role/kiln-builder');
    expect(assume[0]!.params.get('ExternalId')).toBe('ext-42');
    expect(assume[0]!.params.get('RoleSessionName')).toBe('kiln-test');
    const amiId = r.artifact!.id.split(':')[1]!;
    const { Catalog } = await import('../src/catalog/index.js');
    const catalog = Catalog.open(home);
    try {
      expect(catalog.images.get(amiId)?.metadata).toMatchObject({ accountId: '111122223333' });
    } finally {
      catalog.close();
    }
    // The base credentials' account holds nothing of the run.
    expect(await resourcesOfRun(r.runId, ['us-east-1'])).toMatchObject({
      images: [],
      instances: [],
    });
  });

  it('kiln build renders {{ .SourceAMIName }}, {{ .BuildRegion }}… in tags, descriptions and run/snapshot tags, as Packer does', async () => {
    const ec2 = new EC2Client({ region: 'us-east-1' });
    try {
      const source = (await ec2.send(new DescribeImagesCommand({ ImageIds: [sourceAmi] })))
        .Images![0]!;
      const dir = await mkdtemp(join(tmpdir(), 'kiln-late-'));
      const template = {
        builders: [
          {
            type: 'amazon-ebs',
            ...base({ ami_name: 'late-{{timestamp}}' }),
            ami_description: 'from {{ .SourceAMI }} ({{ .SourceAMIName }})',
            tags: { Base_AMI_Name: '{{ .SourceAMIName }}', '{{ .BuildRegion }}-built': 'yes' },
            run_tags: { Source: '{{ .SourceAMI }}' },
            snapshot_tags: { Owner: '{{ .SourceAMIOwner }}', Who: '{{ user `who` }}' },
          },
        ],
        variables: { who: 'kiln-team' },
      };
      await writeFile(join(dir, 't.json'), JSON.stringify(template));
      const b = await runKiln(['build', '-machine-readable', 't.json'], {
        home: join(dir, 'home'),
        env: awsEnv(aws.proxy.url),
        cwd: dir,
      });
      await rm(dir, { recursive: true, force: true });
      expect(b.code, b.stderr + b.stdout).toBe(0);
      const amiId = /us-east-1:(ami-[0-9a-f]+)/.exec(b.stdout)![1]!;
      const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [amiId] }))).Images![0]!;
      expect(image.Description).toBe(`from ${sourceAmi} (${source.Name})`);
      const tags = Object.fromEntries((image.Tags ?? []).map((t) => [t.Key, t.Value]));
      expect(tags).toMatchObject({ Base_AMI_Name: source.Name, 'us-east-1-built': 'yes' });
      const launch = launchParams();
      expect(tagsOf(launch, 1)).toMatchObject({ Source: sourceAmi });
      const snap = image.BlockDeviceMappings!.find((m) => m.Ebs?.SnapshotId)!.Ebs!.SnapshotId!;
      const snapTags = (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap] })))
        .Snapshots![0]!.Tags!;
      expect(Object.fromEntries(snapTags.map((t) => [t.Key, t.Value]))).toMatchObject({
        Owner: source.OwnerId,
        Who: 'kiln-team',
      });
      expect(JSON.stringify(image.Tags)).not.toMatch(/no value|\{\{/);
    } finally {
      ec2.destroy();
    }
  });

  it('sends EC2 what packer 1.6.6 sends for the same template (both builds through the proxy in front of moto)', async () => {
    await createInstanceProfile('diff-profile');
    const dir = await mkdtemp(join(tmpdir(), 'kiln-packer-diff-'));
    const builder = (name: string) => ({
      type: 'amazon-ebs',
      region: 'us-east-1',
      access_key: 'testing',
      secret_key: 'testing',
      custom_endpoint_ec2: aws.proxy.url,
      skip_region_validation: true,
      skip_credential_validation: true,
      skip_metadata_api_check: true,
      source_ami: sourceAmi,
      instance_type: 't2.micro',
      communicator: 'none',
      ami_name: `${name}-{{timestamp}}`,
      aws_polling: { delay_seconds: 1, max_attempts: 60 },
      user_data: '#!/bin/sh\necho diff\n',
      iam_instance_profile: 'diff-profile',
      ebs_optimized: true,
      enable_t2_unlimited: true,
      shutdown_behavior: 'terminate',
      availability_zone: 'us-east-1c',
      tenancy: 'default',
      associate_public_ip_address: true,
      launch_block_device_mappings: [
        {
          device_name: '/dev/sda1',
          volume_size: 12,
          volume_type: 'gp2',
          delete_on_termination: true,
        },
      ],
      ami_block_device_mappings: [
        {
          device_name: '/dev/sdf',
          volume_size: 3,
          volume_type: 'gp2',
          delete_on_termination: true,
        },
      ],
      ena_support: true,
      sriov_support: true,
      no_ephemeral: true,
      run_tags: { Purpose: 'diff-{{ .SourceAMI }}' },
      run_volume_tags: { Disk: '{{ .BuildRegion }}' },
      tags: { Base_AMI_Name: '{{ .SourceAMIName }}', '{{ .BuildRegion }}-built': 'yes' },
      snapshot_tags: { Owner: '{{ .SourceAMIOwner }}' },
    });
    const byTool: Record<string, { calls: typeof aws.proxy.calls; ami: string }> = {};
    try {
      for (const tool of ['packer', 'kiln'] as const) {
        aws.proxy.clear();
        await writeFile(join(dir, `${tool}.json`), JSON.stringify({ builders: [builder(tool)] }));
        const args = ['build', '-machine-readable', `${tool}.json`];
        const r =
          tool === 'packer'
            ? await runCommand('packer', args, { cwd: dir, env: { CHECKPOINT_DISABLE: '1' } })
            : await runKiln(args, {
                cwd: dir,
                home: join(dir, 'home'),
                env: awsEnv(aws.proxy.url),
              });
        expect(r.code, `${tool}: ${r.stdout}${r.stderr}`).toBe(0);
        byTool[tool] = {
          calls: [...aws.proxy.calls],
          ami: /artifact,0,id,us-east-1:(ami-[0-9a-f]+)/.exec(r.stdout)![1]!,
        };
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const launchOf = (calls: typeof aws.proxy.calls) => {
      const p = calls.find((c) => c.action === 'RunInstances')!.params;
      const keep =
        /^(UserData|IamInstanceProfile\.|EbsOptimized|InstanceType|ImageId|InstanceInitiatedShutdownBehavior|Placement\.|CreditSpecification\.|BlockDeviceMapping\.|NetworkInterface\.1\.(AssociatePublicIpAddress|DeviceIndex))/;
      return Object.fromEntries([...p].filter(([k]) => keep.test(k)).sort());
    };
    const modifyOf = (calls: typeof aws.proxy.calls) =>
      calls
        .filter((c) => c.action === 'ModifyInstanceAttribute')
        .map((c) => Object.fromEntries([...c.params].filter(([k]) => /Support/.test(k)).sort()))
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const createOf = (calls: typeof aws.proxy.calls) =>
      Object.fromEntries(
        [...calls.find((c) => c.action === 'CreateImage')!.params]
          .filter(([k]) => /^BlockDeviceMapping\./.test(k))
          .sort(),
      );
    const { packer, kiln } = byTool as Required<typeof byTool> &
      Record<'packer' | 'kiln', (typeof byTool)[string]>;
    expect(launchOf(kiln.calls)).toEqual(launchOf(packer.calls));
    expect(modifyOf(kiln.calls)).toEqual(modifyOf(packer.calls));
    expect(createOf(kiln.calls)).toEqual(createOf(packer.calls));
    expect(launchOf(kiln.calls).UserData).toBe(
      Buffer.from('#!/bin/sh\necho diff\n').toString('base64'),
    );

    // What EC2 holds afterwards: the template's tags, rendered alike (kiln adds only kiln:*).
    const ec2 = new EC2Client({ region: 'us-east-1' });
    try {
      const mine = (tags: Array<{ Key?: string; Value?: string }> | undefined) =>
        Object.fromEntries(
          (tags ?? []).filter((t) => !t.Key?.startsWith('kiln:')).map((t) => [t.Key, t.Value]),
        );
      const images = (
        await ec2.send(new DescribeImagesCommand({ ImageIds: [packer.ami, kiln.ami] }))
      ).Images!;
      const pImg = images.find((i) => i.ImageId === packer.ami)!;
      const kImg = images.find((i) => i.ImageId === kiln.ami)!;
      expect(mine(kImg.Tags)).toEqual(mine(pImg.Tags));
      expect(mine(kImg.Tags)['us-east-1-built']).toBe('yes');
      const snapTags = async (img: typeof pImg) => {
        const id = img.BlockDeviceMappings!.find((m) => m.Ebs?.SnapshotId)!.Ebs!.SnapshotId!;
        return mine(
          (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] }))).Snapshots![0]!.Tags,
        );
      };
      expect(await snapTags(kImg)).toEqual(await snapTags(pImg));
      const instTags = async (calls: typeof aws.proxy.calls) => {
        const res = await ec2.send(
          new DescribeInstancesCommand({
            Filters: [{ Name: 'image-id', Values: [sourceAmi] }],
          }),
        );
        const ids = calls
          .filter((c) => c.action === 'TerminateInstances')
          .map((c) => c.params.get('InstanceId.1'));
        const inst = (res.Reservations ?? [])
          .flatMap((x) => x.Instances ?? [])
          .find((i) => i.InstanceId !== undefined && ids.includes(i.InstanceId));
        return mine(inst?.Tags);
      };
      const kTags = await instTags(kiln.calls);
      const pTags = await instTags(packer.calls);
      // Each tool names its builder instance itself ("Packer Builder" / "kiln builder").
      delete kTags.Name;
      delete pTags.Name;
      expect(kTags).toEqual(pTags);
      expect(kTags).toEqual({ Purpose: `diff-${sourceAmi}` });
    } finally {
      ec2.destroy();
    }
  });

  it('secrets in the access fields never reach the output', async () => {
    const r = await runAmazonEbs(
      base({
        access_key: 'AKIAKILNFIELDSTEST',
        secret_key: 'kiln-secret-value-42',
        token: 'kiln-token-value-42',
      }),
      { kilnHome: home },
    );
    expect(r.error, r.text()).toBeUndefined();
    expect(r.text()).not.toMatch(/AKIAKILNFIELDSTEST|kiln-secret-value-42|kiln-token-value-42/);
  });
});
