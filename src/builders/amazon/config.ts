/**
 * The amazon-ebs builder's configuration, with Packer's field names. One zod schema gives
 * the type and the validation; `checkConfig` adds the rules that need more than one field.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';

const stringMap = z.record(z.string(), z.string());

/** One `launch_block_device_mappings` entry (Packer's BlockDevice). */
const blockDevice = z.strictObject({
  device_name: z.string().min(1),
  delete_on_termination: z.boolean().optional(),
  encrypted: z.boolean().optional(),
  iops: z.number().int().positive().optional(),
  throughput: z.number().int().positive().optional(),
  kms_key_id: z.string().optional(),
  no_device: z.boolean().optional(),
  snapshot_id: z.string().optional(),
  virtual_name: z.string().optional(),
  volume_size: z.number().int().positive().optional(),
  volume_type: z.string().optional(),
});

/** Packer's `source_ami_filter`: the newest image matching filters and owners. */
const sourceAmiFilter = z.strictObject({
  filters: stringMap.optional(),
  owners: z.array(z.string()).optional(),
  most_recent: z.boolean().optional(),
});

/** Packer's `aws_polling`: how often and how long to wait for AWS state changes. */
const awsPolling = z.strictObject({
  delay_seconds: z.number().int().positive().optional(),
  max_attempts: z.number().int().positive().optional(),
});

const duration = z.string().refine((s) => parseDuration(s) !== undefined, {
  message: 'expected a duration such as "5m" or "90s"',
});

export const amazonEbsSchema = z.strictObject({
  /** Set by the template layer: the block's type and optional name. */
  type: z.literal('amazon-ebs').optional(),
  name: z.string().optional(),

  // Access: empty means the SDK's default credential chain.
  access_key: z.string().optional(),
  secret_key: z.string().optional(),
  token: z.string().optional(),
  profile: z.string().optional(),
  region: z.string().min(1),

  // The source.
  source_ami: z.string().optional(),
  source_ami_filter: sourceAmiFilter.optional(),
  instance_type: z.string().min(1),
  subnet_id: z.string().optional(),
  vpc_id: z.string().optional(),
  security_group_ids: z.array(z.string()).optional(),
  security_group_id: z.string().optional(),
  associate_public_ip_address: z.boolean().optional(),
  launch_block_device_mappings: z.array(blockDevice).optional(),
  run_tags: stringMap.optional(),
  temporary_key_pair_type: z.enum(['rsa', 'ed25519']).optional(),
  temporary_security_group_source_cidrs: z.array(z.string()).optional(),

  // The result.
  ami_name: z.string(),
  ami_description: z.string().optional(),
  tags: stringMap.optional(),
  snapshot_tags: stringMap.optional(),
  ami_regions: z.array(z.string()).optional(),
  ami_users: z.array(z.string()).optional(),
  ami_groups: z.array(z.string()).optional(),
  force_deregister: z.boolean().optional(),
  force_delete_snapshot: z.boolean().optional(),
  encrypt_boot: z.boolean().optional(),
  kms_key_id: z.string().optional(),
  aws_polling: awsPolling.optional(),

  // Communicator.
  communicator: z.enum(['ssh', 'none']).optional(),
  ssh_username: z.string().optional(),
  ssh_port: z.number().int().min(1).max(65535).optional(),
  ssh_timeout: duration.optional(),
  ssh_host: z.string().optional(),
  ssh_interface: z.enum(['public_ip', 'private_ip', 'public_dns', 'private_dns']).optional(),
  ssh_handshake_attempts: z.number().int().positive().optional(),
  shutdown_behavior: z.enum(['stop', 'terminate']).optional(),
});

export type AmazonEbsConfig = z.infer<typeof amazonEbsSchema>;

// Packer's rule for AMI names (builder/amazon/common/ami_config.go).
const AMI_NAME = /^[a-zA-Z0-9().\-/_ '@[\]]{3,128}$/;

/** Cross-field rules (Packer's Prepare): every problem at once, as `key: message`. */
export function checkConfig(c: AmazonEbsConfig): Array<{ key?: string; message: string }> {
  const errors: Array<{ key?: string; message: string }> = [];
  if (!c.source_ami && !c.source_ami_filter)
    errors.push({
      key: 'source_ami',
      message: 'a source_ami or source_ami_filter must be specified',
    });
  if (c.source_ami && c.source_ami_filter)
    errors.push({
      key: 'source_ami_filter',
      message: 'give source_ami or source_ami_filter, not both',
    });
  if (c.source_ami_filter && !(c.source_ami_filter.owners?.length ?? 0))
    errors.push({
      key: 'source_ami_filter.owners',
      message:
        'owners must name at least one account, alias or "self" (an ownerless filter can pick anyone\'s image)',
    });
  if (!AMI_NAME.test(c.ami_name))
    errors.push({
      key: 'ami_name',
      message:
        "must be 3-128 characters of letters, digits, spaces and ( ) [ ] . / - ' @ _ (use {{ clean_resource_name }})",
    });
  if ((c.access_key && !c.secret_key) || (!c.access_key && c.secret_key))
    errors.push({ key: 'access_key', message: 'access_key and secret_key must be given together' });
  if ((c.communicator ?? 'ssh') === 'ssh' && !c.ssh_username)
    errors.push({ key: 'ssh_username', message: 'required when communicator is "ssh"' });
  if (c.force_delete_snapshot && !c.force_deregister)
    errors.push({ key: 'force_delete_snapshot', message: 'needs force_deregister: true' });
  if (c.kms_key_id && !c.encrypt_boot)
    errors.push({ key: 'kms_key_id', message: 'needs encrypt_boot: true' });
  for (const [i, cidr] of (c.temporary_security_group_source_cidrs ?? []).entries())
    if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(cidr) && !/^[0-9a-fA-F:]+\/\d{1,3}$/.test(cidr))
      errors.push({
        key: `temporary_security_group_source_cidrs[${i}]`,
        message: `"${cidr}" is not a CIDR block`,
      });
  for (const [i, r] of (c.ami_regions ?? []).entries())
    if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(r))
      errors.push({ key: `ami_regions[${i}]`, message: `"${r}" is not an AWS region name` });
  if (c.security_group_id && c.security_group_ids)
    errors.push({
      key: 'security_group_id',
      message: 'give security_group_id or security_group_ids, not both',
    });
  return errors;
}

/** The polling settings to use (Packer's defaults: every 2 s, up to 40 checks → AWS_MAX_ATTEMPTS style). */
export function polling(c: AmazonEbsConfig): { delayMs: number; maxAttempts: number } {
  return {
    delayMs: (c.aws_polling?.delay_seconds ?? 2) * 1000,
    maxAttempts: c.aws_polling?.max_attempts ?? 300,
  };
}

/** The regions the AMI ends up in, the build region first, without duplicates. */
export function targetRegions(c: AmazonEbsConfig): string[] {
  return [...new Set([c.region, ...(c.ami_regions ?? [])])];
}
