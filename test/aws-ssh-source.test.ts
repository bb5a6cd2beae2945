/**
 * Where the temporary security group lets SSH in from, with no route to the what-is-my-IP
 * service (KILN_CHECKIP_URL points at a closed port): with ssh_interface private_ip the
 * build opens SSH to the VPC's CIDR and provisions over SSH (ssh_host at a local sshd, as
 * moto's instances run none); without it the build stops before creating anything, with
 * an error naming temporary_security_group_source_cidrs.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { motoLinuxAmi, resourcesOfRun, runAmazonEbs, useMotoWithProxy } from './helpers/moto.js';
import { freePort, sshdAvailable, startSshd } from './helpers/sshd.js';

const aws = useMotoWithProxy();
let home: string;
let sourceAmi: string;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'kiln-aws-ssh-'));
  sourceAmi = await motoLinuxAmi();
  // Nothing listens there: the lookup fails at once, as it does offline.
  process.env.KILN_CHECKIP_URL = `http://127.0.0.1:${await freePort()}/`;
  return () => rm(home, { recursive: true, force: true });
});
afterEach(() => {
  delete process.env.KILN_CHECKIP_URL;
});

const CREATING = ['ImportKeyPair', 'CreateKeyPair', 'CreateSecurityGroup', 'RunInstances'];

describe('SSH ingress without the internet', () => {
  it('ssh_interface private_ip opens SSH to the VPC CIDR and the build provisions', async () => {
    expect(sshdAvailable(), 'the SSH test needs root and openssh-server').toBe(true);
    const sshd = await startSshd();
    try {
      aws.proxy.onRequest = async (action, params) => {
        if (action !== 'ImportKeyPair') return;
        const key = Buffer.from(params.get('PublicKeyMaterial') ?? '', 'base64').toString('utf8');
        await writeFile(sshd.authorizedKeysFile, `${key}\n`, { mode: 0o600 });
      };
      let said = '';
      const r = await runAmazonEbs(
        {
          region: 'us-east-1',
          source_ami: sourceAmi,
          instance_type: 't3.micro',
          ami_name: `private-${Date.now()}`,
          aws_polling: { delay_seconds: 1, max_attempts: 5 },
          communicator: 'ssh',
          ssh_interface: 'private_ip',
          ssh_username: sshd.user,
          ssh_host: sshd.host,
          ssh_port: sshd.port,
          ssh_timeout: '60s',
        },
        {
          kilnHome: home,
          provision: async (comm) => {
            const res = await comm!.exec({ command: 'true' });
            said = `exit ${res.exitCode}`;
          },
        },
      );
      expect(r.error, r.text()).toBeUndefined();
      expect(said).toBe('exit 0');
      const ec2 = new EC2Client({ region: 'us-east-1' });
      const vpcs = await ec2.send(
        new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }),
      );
      ec2.destroy();
      const cidr = vpcs.Vpcs![0]!.CidrBlock!;
      const auth = aws.proxy.calls.find((c) => c.action === 'AuthorizeSecurityGroupIngress')!;
      expect(auth.params.get('IpPermissions.1.IpRanges.1.CidrIp')).toBe(cidr);
      expect(auth.params.get('IpPermissions.1.IpRanges.2.CidrIp')).toBeNull();
      const left = await resourcesOfRun(r.runId, ['us-east-1']);
      expect(left.instances).toEqual([]);
      expect(left.keyPairs).toEqual([]);
      expect(left.securityGroups).toEqual([]);
    } finally {
      await sshd.stop();
    }
  });

  it('without it the build stops before creating anything, naming temporary_security_group_source_cidrs', async () => {
    const r = await runAmazonEbs(
      {
        region: 'us-east-1',
        source_ami: sourceAmi,
        instance_type: 't3.micro',
        ami_name: `public-${Date.now()}`,
        communicator: 'ssh',
        ssh_username: 'admin',
      },
      { kilnHome: home },
    );
    const message = String((r.error as Error | undefined)?.message);
    expect(message).toMatch(
      /could not learn this machine's public address from http:\/\/127\.0\.0\.1:\d+\/ \(ECONNREFUSED\)/,
    );
    expect(message).toMatch(/set temporary_security_group_source_cidrs/);
    for (const action of CREATING) expect(aws.proxy.count(action), action).toBe(0);
  });
});
