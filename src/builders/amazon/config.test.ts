import { describe, expect, it } from 'vitest';
import { amiArtifact } from './artifact.js';
import { amazonEbsSchema, checkConfig, targetRegions } from './config.js';
import { parseDuration } from './duration.js';

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

describe('parseDuration', () => {
  it('reads Go durations and rejects the rest', () => {
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('90')).toBe(90_000);
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
  });
});
