import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ec2Client } from '../../aws/clients.js';
import { checkSchema } from '../../template/schema-check.js';
import { amiArtifact } from './artifact.js';
import {
  amazonEbsSchema,
  amiTags,
  checkConfig,
  runVolumeTags,
  sshTimeout,
  targetRegions,
  UNSUPPORTED,
} from './config.js';
import { prepareAmazonEbs } from './prepare.js';
import { buildInfo, LATE_KEYS, renderLateKeys } from './steps/build-info.js';
import { pickSubnet } from './steps/network-info.js';
import { blockDevices, noEphemeral } from './steps/run-source-instance.js';
import { sshAddress } from './steps/wait-instance.js';

/** Every key packer 1.6.6's amazon-ebs accepts (test/aws-fields.test.ts checks it against the binary). */
const PACKER_FIELDS = (
  JSON.parse(readFileSync(new URL('./packer-fields.json', import.meta.url), 'utf8')) as {
    fields: Record<string, unknown>;
  }
).fields;
/** Accepted by kiln beyond 1.6.6 (Packer 1.7's shape), plus the template layer's own keys. */
const KILN_ONLY = ['type', 'name', 'metadata_options', 'placement'];

const minimal = {
  region: 'us-east-1',
  source_ami: 'ami-12345678',
  instance_type: 't3.micro',
  ssh_username: 'admin',
  ami_name: 'hello-web 1',
};

describe('amazon-ebs config', () => {
  it('accepts the seed template fields with Packer spelling', () => {
    const c = amazonEbsSchema.parse({
      ...minimal,
      type: 'amazon-ebs',
      source_ami: undefined,
      source_ami_filter: {
        filters: { name: 'debian-12-*', 'virtualization-type': 'hvm' },
        owners: ['136693071363'],
        most_recent: true,
      },
      tags: { Name: 'x' },
      run_tags: { a: 'b' },
      snapshot_tags: { c: 'd' },
      ami_regions: ['eu-west-1'],
      ami_users: ['111122223333'],
      ami_groups: ['all'],
      launch_block_device_mappings: [
        {
          device_name: '/dev/xvda',
          volume_size: 8,
          volume_type: 'gp3',
          delete_on_termination: true,
        },
      ],
      subnet_id: 'subnet-1',
      vpc_id: 'vpc-1',
      associate_public_ip_address: true,
      ssh_interface: 'private_ip',
      temporary_key_pair_type: 'ed25519',
      temporary_security_group_source_cidrs: ['203.0.113.7/32'],
      force_deregister: true,
      force_delete_snapshot: true,
      encrypt_boot: true,
      aws_polling: { delay_seconds: 5, max_attempts: 100 },
      access_key: '',
      secret_key: '',
      token: '',
      profile: '',
    });
    expect(checkConfig(c)).toEqual([]);
  });

  it('rejects an unknown key (a typo is never silently ignored)', () => {
    const r = amazonEbsSchema.safeParse({ ...minimal, ami_nmae: 'x' });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/ami_nmae/);
  });

  it('gathers every cross-field problem at once', () => {
    const c = amazonEbsSchema.parse({
      ...minimal,
      source_ami: undefined,
      ssh_username: undefined,
      ami_name: 'x!',
      access_key: 'AKIA',
      force_delete_snapshot: true,
      ami_regions: ['moon-1'],
      temporary_security_group_source_cidrs: ['everywhere'],
    });
    const keys = checkConfig(c).map((e) => e.key);
    expect(keys).toEqual(
      expect.arrayContaining([
        'source_ami',
        'ssh_username',
        'ami_name',
        'access_key',
        'force_delete_snapshot',
        'ami_regions[0]',
        'temporary_security_group_source_cidrs[0]',
      ]),
    );
  });

  it('needs no ssh_username with communicator none; filters need owners', () => {
    expect(
      checkConfig(
        amazonEbsSchema.parse({ ...minimal, ssh_username: undefined, communicator: 'none' }),
      ),
    ).toEqual([]);
    const f = amazonEbsSchema.parse({
      ...minimal,
      source_ami: undefined,
      source_ami_filter: { filters: { name: 'x' } },
    });
    expect(checkConfig(f).map((e) => e.key)).toEqual(['source_ami_filter.owners']);
  });

  it('lists the build region first and once', () => {
    expect(
      targetRegions(amazonEbsSchema.parse({ ...minimal, ami_regions: ['eu-west-1', 'us-east-1'] })),
    ).toEqual(['us-east-1', 'eu-west-1']);
  });
});

describe('amazon-ebs config: every Packer 1.6.6 field', () => {
  it('accepts every field Packer 1.6.6 accepts, with the types it takes', () => {
    const r = amazonEbsSchema.safeParse(PACKER_FIELDS);
    expect(r.success, JSON.stringify(r.error?.issues)).toBe(true);
  });

  it("knows exactly Packer's fields (plus metadata_options and placement)", () => {
    const schemaKeys = Object.keys(amazonEbsSchema.shape).filter((k) => !KILN_ONLY.includes(k));
    expect(schemaKeys.sort()).toEqual(Object.keys(PACKER_FIELDS).sort());
  });

  it("rejects a typo, top-level or nested, naming the nearest key (Packer's weak types still pass)", () => {
    const r = checkSchema(amazonEbsSchema, {
      ...minimal,
      user_data_fiel: 'x.sh',
      launch_block_device_mappings: [{ device_name: '/dev/xvda', volume_sise: 8 }],
      ena_support: 'true',
      ssh_port: '2222',
    });
    expect(r.ok).toBe(false);
    const problems = r.ok ? [] : r.problems;
    expect(problems.map((p) => [p.path.join('.'), p.message]).sort()).toEqual([
      [
        'launch_block_device_mappings.0.volume_sise',
        'unknown key "volume_sise"; did you mean "volume_size"?',
      ],
      ['user_data_fiel', 'unknown key "user_data_fiel"; did you mean "user_data_file"?'],
    ]);
    const ok = checkSchema(amazonEbsSchema, { ...minimal, ena_support: 'true', ssh_port: '2222' });
    expect(ok.ok && (ok.config as { ena_support: boolean; ssh_port: number })).toMatchObject({
      ena_support: true,
      ssh_port: 2222,
    });
  });

  it('rejects the keys Packer 1.6.6 calls deprecated (packer fix renames them)', () => {
    for (const key of ['ssh_private_ip', 'ssh_host_port_min', 'ssh_skip_nat_mapping'])
      expect(amazonEbsSchema.safeParse({ ...minimal, [key]: true }).success, key).toBe(false);
  });

  it('names every field it cannot honour, with what to do, and accepts their empty values', () => {
    const set: Record<string, unknown> = {};
    for (const key of Object.keys(UNSUPPORTED))
      if (key in PACKER_FIELDS) set[key] = PACKER_FIELDS[key];
    // Empty/false values are Packer's defaults: a template may spell them out.
    set.ssh_password = 'hunter2';
    set.ssh_agent_auth = true;
    set.ssh_certificate_file = '/tmp/cert';
    set.ssh_public_key = 'x';
    set.ssh_private_key = 'x';
    set.skip_save_build_region = true;
    set.insecure_skip_tls_verify = true;
    const errors = checkConfig(amazonEbsSchema.parse({ ...minimal, ...set }));
    for (const key of Object.keys(set)) {
      const e = errors.find((x) => x.key === key);
      expect(e?.message, key).toMatch(new RegExp(`^${key} is not supported by kiln: .{20,}`));
    }
    expect(errors.find((e) => e.message.includes('hunter2'))).toBeUndefined();
    const empty = amazonEbsSchema.parse({
      ...minimal,
      spot_price: '',
      ssh_password: '',
      ssh_ciphers: [],
      ssh_agent_auth: false,
      assume_role: {},
      ssh_bastion_port: 22,
      winrm_username: 'Administrator',
      session_manager_port: 8022,
    });
    expect(checkConfig(empty)).toEqual([]);
    expect(
      checkConfig(amazonEbsSchema.parse({ ...minimal, ssh_interface: 'session_manager' })),
    ).toEqual([
      { key: 'ssh_interface', message: expect.stringMatching(/session_manager.*not supported/) },
    ]);
    expect(
      checkConfig(amazonEbsSchema.parse({ ...minimal, communicator: 'winrm' })).map((e) => e.key),
    ).toEqual(['communicator']);
  });

  it('checks the new cross-field rules', () => {
    const c = amazonEbsSchema.parse({
      ...minimal,
      instance_type: 't3.micro',
      user_data: 'x',
      user_data_file: '/nonexistent/user-data',
      ssh_keypair_name: 'mine',
      temporary_key_pair_bits: 2048,
      enable_t2_unlimited: true,
      region_kms_key_ids: { 'eu-west-1': 'alias/x', 'us-east-1': 'alias/y' },
      security_group_id: 'sg-1',
      security_group_filter: { filters: { 'group-name': 'x' } },
      tenancy: 'dedicated',
      placement: { tenancy: 'host' },
      ssh_timeout: '1m',
      ssh_wait_timeout: '2m',
    });
    expect(
      checkConfig(c)
        .map((e) => e.key)
        .sort(),
    ).toEqual(
      [
        'user_data_file',
        'ssh_private_key_file',
        'temporary_key_pair_bits',
        'enable_t2_unlimited',
        'region_kms_key_ids.eu-west-1',
        'region_kms_key_ids.us-east-1',
        'security_group_filter',
        'tenancy',
        'ssh_wait_timeout',
      ].sort(),
    );
    // prepare also checks that the files exist.
    const p = prepareAmazonEbs(
      amazonEbsSchema.parse({ ...minimal, user_data_file: '/nonexistent/user-data' }),
    );
    expect(p.errors).toEqual([
      { key: 'user_data_file', message: 'no file at /nonexistent/user-data' },
    ]);
    expect(
      prepareAmazonEbs(amazonEbsSchema.parse({ ...minimal, ami_virtualization_type: 'hvm' }))
        .warnings,
    ).toEqual([expect.stringMatching(/ami_virtualization_type has no effect/)]);
    expect(
      checkConfig(amazonEbsSchema.parse({ ...minimal, region: 'moon-base' })).map((e) => e.key),
    ).toEqual(['region']);
    expect(
      checkConfig(
        amazonEbsSchema.parse({ ...minimal, region: 'moon-base', skip_region_validation: true }),
      ),
    ).toEqual([]);
  });

  it('merges HCL-style tag blocks into the maps and reads ssh_wait_timeout', () => {
    const c = amazonEbsSchema.parse({
      ...minimal,
      tags: { Name: 'a', Stage: 'x' },
      tag: [{ key: 'Stage', value: 'build' }],
      run_volume_tags: { A: '1' },
      run_volume_tag: [{ name: 'B', value: '2' }],
      ssh_wait_timeout: '7m',
    });
    expect(amiTags(c)).toEqual({ Name: 'a', Stage: 'build' });
    expect(runVolumeTags(c)).toEqual({ A: '1', B: '2' });
    expect(sshTimeout(c)).toBe('7m');
    expect(sshTimeout(amazonEbsSchema.parse(minimal))).toBe('5m');
  });
});

describe('amazon-ebs helpers', () => {
  it("renders the late keys (map keys and values, tag blocks) with Packer's build info, nothing else", () => {
    const info = buildInfo('eu-west-1', {
      ImageId: 'ami-1',
      Name: 'debian-12',
      OwnerId: '136693071363',
      CreationDate: '2024-01-01T00:00:00.000Z',
      Tags: [{ Key: 'os', Value: 'debian' }],
    });
    expect(info).toMatchObject({
      BuildRegion: 'eu-west-1',
      SourceAMI: 'ami-1',
      SourceAMIName: 'debian-12',
      SourceAMIOwner: '136693071363',
      SourceAMIOwnerName: '',
      SourceAMITags: { os: 'debian' },
    });
    const c = amazonEbsSchema.parse({
      ...minimal,
      ami_description: 'D {{x}}',
      tags: { '{{k}}': '{{v}}' },
      tag: [{ key: 'a', value: '{{v}}' }],
      run_volume_tag: [{ name: 'n', value: '{{v}}' }],
      ssh_username: '{{raw}}',
    });
    const out = renderLateKeys(c, (t) => t.replace(/\{\{(\w+)\}\}/g, '<$1>'));
    expect(out.ami_description).toBe('D <x>');
    expect(out.tags).toEqual({ '<k>': '<v>' });
    expect(out.tag).toEqual([{ key: 'a', value: '<v>' }]);
    expect(out.run_volume_tag).toEqual([{ name: 'n', value: '<v>' }]);
    expect(out.ssh_username).toBe('{{raw}}');
    expect([...LATE_KEYS].every((k) => k in amazonEbsSchema.shape)).toBe(true);
  });

  it('picks the SSH address by ssh_host, ssh_interface, else public then private IP', () => {
    const inst = {
      PublicIpAddress: '198.51.100.4',
      PrivateIpAddress: '10.0.0.4',
      PublicDnsName: 'ec2-198-51-100-4.compute-1.amazonaws.com',
      PrivateDnsName: 'ip-10-0-0-4.ec2.internal',
    };
    expect(sshAddress({}, inst)).toBe('198.51.100.4');
    expect(sshAddress({}, { ...inst, PublicIpAddress: '' })).toBe('10.0.0.4');
    expect(sshAddress({ ssh_interface: 'private_ip' }, inst)).toBe('10.0.0.4');
    expect(sshAddress({ ssh_interface: 'public_dns' }, inst)).toBe(inst.PublicDnsName);
    expect(sshAddress({ ssh_interface: 'private_dns' }, inst)).toBe(inst.PrivateDnsName);
    expect(sshAddress({ ssh_interface: 'public_dns' }, { ...inst, PublicDnsName: '' })).toBe(
      undefined,
    );
    expect(sshAddress({ ssh_host: 'h', ssh_interface: 'private_ip' }, inst)).toBe('h');
  });

  it('builds block device mappings and no_ephemeral as Packer does', () => {
    expect(
      blockDevices([
        { device_name: '/dev/sdb', virtual_name: 'ephemeral0' },
        { device_name: '/dev/sdc', no_device: true },
        { device_name: '/dev/xvda', volume_size: 20, volume_type: 'gp3', encrypted: true },
      ]),
    ).toEqual([
      { DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' },
      { DeviceName: '/dev/sdc', NoDevice: '' },
      {
        DeviceName: '/dev/xvda',
        Ebs: { DeleteOnTermination: true, Encrypted: true, VolumeSize: 20, VolumeType: 'gp3' },
      },
    ]);
    const ne = noEphemeral();
    expect(ne).toHaveLength(26);
    expect(ne[0]).toEqual({ DeviceName: 'xvdca', NoDevice: '' });
    expect(ne[25]?.DeviceName).toBe('xvdcz');
  });

  it('picks a subnet: the only one, most free addresses, or random', () => {
    const subnets = [
      { SubnetId: 'a', AvailableIpAddressCount: 5 },
      { SubnetId: 'b', AvailableIpAddressCount: 50 },
      { SubnetId: 'c', AvailableIpAddressCount: 7 },
    ];
    expect(pickSubnet(subnets, { most_free: true })?.SubnetId).toBe('b');
    expect(pickSubnet(subnets, { random: true }, () => 0.99)?.SubnetId).toBe('c');
    expect(pickSubnet(subnets.slice(0, 1), {})?.SubnetId).toBe('a');
  });

  it('ec2Client honours max_retries and custom_endpoint_ec2 (a bare host means https)', async () => {
    const c = ec2Client({ max_retries: 2, custom_endpoint_ec2: 'ec2.example.com' }, 'us-east-1');
    try {
      expect(await c.config.maxAttempts()).toBe(3);
      const ep = await c.config.endpoint!();
      expect(`${ep.protocol}//${ep.hostname}`).toBe('https://ec2.example.com');
    } finally {
      c.destroy();
    }
    const d = ec2Client({}, 'us-east-1');
    expect(await d.config.maxAttempts()).toBe(10);
    d.destroy();
  });
});

describe('amazon-ebs artifact', () => {
  it("is Packer's: regions sorted and comma-joined in the id, one line per region in the string", () => {
    const a = amiArtifact({ 'us-west-2': 'ami-2', 'eu-west-1': 'ami-3', 'us-east-1': 'ami-1' });
    expect(a.builderId).toBe('mitchellh.amazonebs');
    expect(a.id).toBe('eu-west-1:ami-3,us-east-1:ami-1,us-west-2:ami-2');
    expect(a.string).toBe(
      'AMIs were created:\neu-west-1: ami-3\nus-east-1: ami-1\nus-west-2: ami-2\n',
    );
    expect(a.files).toEqual([]);
  });
});
