/**
 * The amazon-ebs builder's configuration: every field Packer 1.6.6's amazon-ebs accepts
 * (measured against the packer binary on this machine, see config.test.ts), with Packer's
 * names and types. One zod schema gives the type and rejects typos; `checkConfig` adds the
 * rules that need more than one field and names, with a hint, every field kiln accepts but
 * cannot honour (UNSUPPORTED): a template must never build something other than it says.
 */
import { z } from 'zod';
import { goDuration } from '../../lib/duration-schema.js';

const stringMap = z.record(z.string(), z.string());
const stringList = z.array(z.string());

/** One `launch_block_device_mappings` / `ami_block_device_mappings` entry (Packer's BlockDevice). */
const blockDevice = z.strictObject({
  device_name: z.string().min(1),
  delete_on_termination: z.boolean().optional(),
  encrypted: z.boolean().optional(),
  iops: z.number().int().nonnegative().optional(),
  throughput: z.number().int().nonnegative().optional(),
  kms_key_id: z.string().optional(),
  no_device: z.boolean().optional(),
  snapshot_id: z.string().optional(),
  virtual_name: z.string().optional(),
  volume_size: z.number().int().nonnegative().optional(),
  volume_type: z.string().optional(),
});
export type BlockDeviceConfig = z.infer<typeof blockDevice>;

/** Packer's `source_ami_filter`: the newest image matching filters and owners. */
const sourceAmiFilter = z.strictObject({
  filters: stringMap.optional(),
  owners: stringList.optional(),
  most_recent: z.boolean().optional(),
});

/** `security_group_filter` / `vpc_filter`: EC2 filters that must match. */
const filterOnly = z.strictObject({ filters: stringMap.optional() });

/** `subnet_filter`: filters, and how to pick among several matches. */
const subnetFilter = z.strictObject({
  filters: stringMap.optional(),
  most_free: z.boolean().optional(),
  random: z.boolean().optional(),
});

/** Packer's `aws_polling`: how often and how long to wait for AWS state changes. */
const awsPolling = z.strictObject({
  delay_seconds: z.number().int().positive().optional(),
  max_attempts: z.number().int().positive().optional(),
});

/** HCL2's repeatable `tag { key, value }` blocks, as JSON templates may also spell them. */
const keyValueList = z.array(z.strictObject({ key: z.string(), value: z.string() }));
/** `run_volume_tag { name, value }` (Packer's FlatNameValue). */
const nameValueList = z.array(z.strictObject({ name: z.string(), value: z.string() }));

/** Packer's `assume_role` block. */
const assumeRole = z.strictObject({
  role_arn: z.string().optional(),
  duration_seconds: z.number().int().optional(),
  external_id: z.string().optional(),
  policy: z.string().optional(),
  policy_arns: stringList.optional(),
  session_name: z.string().optional(),
  tags: stringMap.optional(),
  transitive_tag_keys: stringList.optional(),
});

/** Packer's `vault_aws_engine` block. */
const vaultAwsEngine = z.strictObject({
  name: z.string().optional(),
  role_arn: z.string().optional(),
  ttl: z.string().optional(),
  engine_name: z.string().optional(),
});

/** Packer's `temporary_iam_instance_profile_policy_document` (IAM's own capitalised keys). */
const policyDocument = z.strictObject({
  Version: z.string().optional(),
  Statement: z
    .array(
      z.strictObject({
        Effect: z.string().optional(),
        Action: stringList.optional(),
        Resource: z.union([z.string(), stringList]).optional(),
      }),
    )
    .optional(),
});

/** Instance metadata service options (Packer 1.7's `metadata_options`; not in 1.6.6). */
const metadataOptions = z.strictObject({
  http_endpoint: z.enum(['enabled', 'disabled']).optional(),
  http_tokens: z.enum(['optional', 'required']).optional(),
  http_put_response_hop_limit: z.number().int().min(1).max(64).optional(),
});

/** Placement (Packer 1.7's `placement`; not in 1.6.6, whose `tenancy` is top-level). */
const placement = z.strictObject({
  tenancy: z.enum(['default', 'dedicated', 'host']).optional(),
  host_resource_group_arn: z.string().optional(),
});

export const amazonEbsSchema = z.strictObject({
  /** Set by the template layer: the block's type and optional name. */
  type: z.literal('amazon-ebs').optional(),
  name: z.string().optional(),

  // --- Access (Packer's AccessConfig). Empty means the SDK's default credential chain.
  access_key: z.string().optional(),
  secret_key: z.string().optional(),
  token: z.string().optional(),
  profile: z.string().optional(),
  region: z.string().min(1),
  custom_endpoint_ec2: z.string().optional(),
  max_retries: z.number().int().nonnegative().optional(),
  skip_region_validation: z.boolean().optional(),
  skip_credential_validation: z.boolean().optional(),
  skip_metadata_api_check: z.boolean().optional(),
  decode_authorization_messages: z.boolean().optional(),
  insecure_skip_tls_verify: z.boolean().optional(),
  mfa_code: z.string().optional(),
  shared_credentials_file: z.string().optional(),
  assume_role: assumeRole.optional(),
  vault_aws_engine: vaultAwsEngine.optional(),
  aws_polling: awsPolling.optional(),

  // --- The source instance (RunConfig).
  source_ami: z.string().optional(),
  source_ami_filter: sourceAmiFilter.optional(),
  instance_type: z.string().min(1),
  availability_zone: z.string().optional(),
  subnet_id: z.string().optional(),
  subnet_filter: subnetFilter.optional(),
  vpc_id: z.string().optional(),
  vpc_filter: filterOnly.optional(),
  security_group_ids: stringList.optional(),
  security_group_id: z.string().optional(),
  security_group_filter: filterOnly.optional(),
  associate_public_ip_address: z.boolean().optional(),
  ebs_optimized: z.boolean().optional(),
  enable_t2_unlimited: z.boolean().optional(),
  iam_instance_profile: z.string().optional(),
  skip_profile_validation: z.boolean().optional(),
  temporary_iam_instance_profile_policy_document: policyDocument.optional(),
  shutdown_behavior: z.enum(['stop', 'terminate']).optional(),
  disable_stop_instance: z.boolean().optional(),
  tenancy: z.enum(['default', 'dedicated', 'host']).optional(),
  placement: placement.optional(),
  metadata_options: metadataOptions.optional(),
  user_data: z.string().optional(),
  user_data_file: z.string().optional(),
  launch_block_device_mappings: z.array(blockDevice).optional(),
  no_ephemeral: z.boolean().optional(),
  run_tags: stringMap.optional(),
  run_tag: keyValueList.optional(),
  run_volume_tags: stringMap.optional(),
  run_volume_tag: nameValueList.optional(),
  temporary_key_pair_name: z.string().optional(),
  temporary_key_pair_type: z.enum(['rsa', 'ed25519']).optional(),
  temporary_key_pair_bits: z.number().int().nonnegative().optional(),
  temporary_security_group_source_cidrs: stringList.optional(),
  windows_password_timeout: goDuration.optional(),
  spot_price: z.string().optional(),
  spot_price_auto_product: z.string().optional(),
  spot_instance_types: stringList.optional(),
  spot_tags: stringMap.optional(),
  spot_tag: keyValueList.optional(),
  block_duration_minutes: z.number().int().nonnegative().optional(),

  // --- The result (AMIConfig, BlockDevices).
  ami_name: z.string(),
  ami_description: z.string().optional(),
  ami_virtualization_type: z.string().optional(),
  ami_users: stringList.optional(),
  ami_groups: stringList.optional(),
  ami_product_codes: stringList.optional(),
  ami_regions: stringList.optional(),
  ami_block_device_mappings: z.array(blockDevice).optional(),
  tags: stringMap.optional(),
  tag: keyValueList.optional(),
  snapshot_tags: stringMap.optional(),
  snapshot_tag: keyValueList.optional(),
  snapshot_users: stringList.optional(),
  snapshot_groups: stringList.optional(),
  ena_support: z.boolean().optional(),
  sriov_support: z.boolean().optional(),
  force_deregister: z.boolean().optional(),
  force_delete_snapshot: z.boolean().optional(),
  encrypt_boot: z.boolean().optional(),
  kms_key_id: z.string().optional(),
  region_kms_key_ids: stringMap.optional(),
  skip_save_build_region: z.boolean().optional(),

  // --- Communicator (Packer's communicator.Config with SSH and WinRM, plus ssh_interface).
  communicator: z.enum(['ssh', 'none', 'winrm']).optional(),
  pause_before_connecting: goDuration.optional(),
  ssh_host: z.string().optional(),
  ssh_port: z.number().int().min(1).max(65535).optional(),
  ssh_username: z.string().optional(),
  ssh_password: z.string().optional(),
  ssh_keypair_name: z.string().optional(),
  ssh_private_key_file: z.string().optional(),
  ssh_certificate_file: z.string().optional(),
  ssh_ciphers: stringList.optional(),
  ssh_key_exchange_algorithms: stringList.optional(),
  ssh_clear_authorized_keys: z.boolean().optional(),
  ssh_pty: z.boolean().optional(),
  ssh_timeout: goDuration.optional(),
  ssh_wait_timeout: goDuration.optional(),
  ssh_agent_auth: z.boolean().optional(),
  ssh_disable_agent_forwarding: z.boolean().optional(),
  ssh_handshake_attempts: z.number().int().positive().optional(),
  ssh_bastion_host: z.string().optional(),
  ssh_bastion_port: z.number().int().min(0).max(65535).optional(),
  ssh_bastion_agent_auth: z.boolean().optional(),
  ssh_bastion_username: z.string().optional(),
  ssh_bastion_password: z.string().optional(),
  ssh_bastion_interactive: z.boolean().optional(),
  ssh_bastion_private_key_file: z.string().optional(),
  ssh_bastion_certificate_file: z.string().optional(),
  ssh_file_transfer_method: z.enum(['scp', 'sftp']).optional(),
  ssh_proxy_host: z.string().optional(),
  ssh_proxy_port: z.number().int().min(0).max(65535).optional(),
  ssh_proxy_username: z.string().optional(),
  ssh_proxy_password: z.string().optional(),
  ssh_keep_alive_interval: goDuration.optional(),
  ssh_read_write_timeout: goDuration.optional(),
  ssh_remote_tunnels: stringList.optional(),
  ssh_local_tunnels: stringList.optional(),
  ssh_public_key: z.union([z.string(), z.array(z.number())]).optional(),
  ssh_private_key: z.union([z.string(), z.array(z.number())]).optional(),
  ssh_interface: z
    .enum(['public_ip', 'private_ip', 'public_dns', 'private_dns', 'session_manager'])
    .optional(),
  session_manager_port: z.number().int().nonnegative().optional(),
  pause_before_ssm: goDuration.optional(),
  winrm_username: z.string().optional(),
  winrm_password: z.string().optional(),
  winrm_host: z.string().optional(),
  winrm_port: z.number().int().min(0).max(65535).optional(),
  winrm_timeout: goDuration.optional(),
  winrm_use_ssl: z.boolean().optional(),
  winrm_insecure: z.boolean().optional(),
  winrm_use_ntlm: z.boolean().optional(),
  winrm_no_proxy: z.boolean().optional(),
});

export type AmazonEbsConfig = z.infer<typeof amazonEbsSchema>;

/** True when a field holds something a user meant (not absent, false, "", [] or {}). */
function isSet(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/**
 * Packer fields kiln accepts but cannot carry out, each with what to do instead. Setting
 * one is an error at prepare (before anything is created), never silently dropped.
 */
export const UNSUPPORTED: Readonly<Record<string, string>> = {
  mfa_code:
    'kiln does not prompt for MFA; get a session with `aws sts get-session-token --token-code …` and pass access_key, secret_key and token (or a profile)',
  vault_aws_engine:
    'fetch credentials with `vault read aws/creds/<role>` and pass them as access_key/secret_key/token or AWS_* environment variables',
  shared_credentials_file:
    'set AWS_SHARED_CREDENTIALS_FILE to that path (and profile), which the SDK reads',
  insecure_skip_tls_verify:
    'kiln always verifies TLS; trust a private CA with AWS_CA_BUNDLE or NODE_EXTRA_CA_CERTS instead',
  temporary_iam_instance_profile_policy_document:
    'create the instance profile beforehand and name it in iam_instance_profile',
  spot_price:
    'kiln launches on-demand instances only; remove the spot_* fields (an on-demand build makes the same AMI)',
  spot_price_auto_product: 'kiln launches on-demand instances only; remove the spot_* fields',
  spot_instance_types: 'kiln launches on-demand instances only; remove the spot_* fields',
  spot_tags: 'kiln launches on-demand instances only; remove the spot_* fields',
  spot_tag: 'kiln launches on-demand instances only; remove the spot_* fields',
  block_duration_minutes: 'applies to spot instances, which kiln does not launch; remove it',
  skip_save_build_region:
    'kiln always keeps the AMI in the build region; remove the field, or deregister that AMI after the build',
  ami_product_codes:
    'kiln does not attach product codes; attach them with `aws ec2 modify-image-attribute --product-codes` after the build',
  ssh_password:
    "kiln's SSH authenticates with keys only; remove ssh_password (kiln makes a temporary key pair) or use ssh_keypair_name + ssh_private_key_file",
  ssh_agent_auth:
    "kiln's SSH authenticates with a key file only; use ssh_keypair_name + ssh_private_key_file",
  ssh_certificate_file: "kiln's SSH does not use certificates; use a key pair",
  ssh_ciphers: "kiln's SSH negotiates with ssh2's default (modern) ciphers; remove the field",
  ssh_key_exchange_algorithms:
    "kiln's SSH negotiates with ssh2's default (modern) key exchanges; remove the field",
  ssh_clear_authorized_keys:
    "kiln does not edit the image's authorized_keys; remove the build's key from ~/.ssh/authorized_keys in your last provisioner",
  ssh_bastion_host:
    'kiln connects directly; run kiln from inside the VPC (ssh_interface: "private_ip") or remove the bastion',
  ssh_proxy_host: 'kiln connects directly without a SOCKS proxy; remove ssh_proxy_*',
  ssh_read_write_timeout: 'use the provisioners\' own "timeout" to bound a command instead',
  ssh_remote_tunnels: 'kiln opens no SSH tunnels; remove the field',
  ssh_local_tunnels: 'kiln opens no SSH tunnels; remove the field',
  ssh_public_key: 'an internal Packer field; give your key with ssh_private_key_file',
  ssh_private_key: 'an internal Packer field; give your key with ssh_private_key_file',
  session_manager:
    'kiln connects over SSH only; use public_ip, private_ip, public_dns or private_dns',
};

// Packer's rule for AMI names (builder/amazon/common/ami_config.go).
const AMI_NAME = /^[a-zA-Z0-9().\-/_ '@[\]]{3,128}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** Cross-field rules (Packer's Prepare) and unsupported fields: every problem at once, as `key: message`. */
export function checkConfig(c: AmazonEbsConfig): Array<{ key?: string; message: string }> {
  const errors: Array<{ key?: string; message: string }> = [];
  const err = (key: string, message: string) => errors.push({ key, message });
  const ssh = (c.communicator ?? 'ssh') === 'ssh';

  for (const [key, hint] of Object.entries(UNSUPPORTED)) {
    if (key === 'session_manager') continue;
    const v = (c as Record<string, unknown>)[key];
    if (isSet(v)) err(key, `${key} is not supported by kiln: ${hint}`);
  }
  if (c.ssh_interface === 'session_manager')
    err(
      'ssh_interface',
      `"session_manager" is not supported by kiln: ${UNSUPPORTED.session_manager}`,
    );
  if (c.communicator === 'winrm')
    err(
      'communicator',
      '"winrm" is not supported by kiln: its communicators are "ssh" and "none" (Windows images are out of scope)',
    );

  if (!c.source_ami && !c.source_ami_filter)
    err('source_ami', 'a source_ami or source_ami_filter must be specified');
  if (c.source_ami && c.source_ami_filter)
    err('source_ami_filter', 'give source_ami or source_ami_filter, not both');
  if (c.source_ami_filter && !(c.source_ami_filter.owners?.length ?? 0))
    err(
      'source_ami_filter.owners',
      'owners must name at least one account, alias or "self" (an ownerless filter can pick anyone\'s image)',
    );
  if (!AMI_NAME.test(c.ami_name))
    err(
      'ami_name',
      "must be 3-128 characters of letters, digits, spaces and ( ) [ ] . / - ' @ _ (use {{ clean_resource_name }})",
    );
  if ((c.access_key && !c.secret_key) || (!c.access_key && c.secret_key))
    err('access_key', 'access_key and secret_key must be given together');
  if (isSet(c.assume_role) && !c.assume_role?.role_arn)
    err('assume_role.role_arn', 'required when assume_role is given');
  if (ssh && !c.ssh_username) err('ssh_username', 'required when communicator is "ssh"');
  if (c.force_delete_snapshot && !c.force_deregister)
    err('force_delete_snapshot', 'needs force_deregister: true');
  if (c.kms_key_id && !c.encrypt_boot) err('kms_key_id', 'needs encrypt_boot: true');
  for (const [i, cidr] of (c.temporary_security_group_source_cidrs ?? []).entries())
    if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(cidr) && !/^[0-9a-fA-F:]+\/\d{1,3}$/.test(cidr))
      err(`temporary_security_group_source_cidrs[${i}]`, `"${cidr}" is not a CIDR block`);
  if (!c.skip_region_validation) {
    if (!REGION.test(c.region))
      err(
        'region',
        `"${c.region}" is not an AWS region name (set skip_region_validation: true for a private one)`,
      );
    for (const [i, r] of (c.ami_regions ?? []).entries())
      if (!REGION.test(r)) err(`ami_regions[${i}]`, `"${r}" is not an AWS region name`);
  }
  for (const r of Object.keys(c.region_kms_key_ids ?? {})) {
    if (r !== c.region && !(c.ami_regions ?? []).includes(r))
      err(`region_kms_key_ids.${r}`, `region ${r} is not in ami_regions`);
    // The build region's AMI is only re-encrypted with encrypt_boot: the key would go unused.
    if (r === c.region && !c.encrypt_boot)
      err(`region_kms_key_ids.${r}`, 'a key for the build region needs encrypt_boot: true');
  }
  if (c.security_group_id && c.security_group_ids)
    err('security_group_id', 'give security_group_id or security_group_ids, not both');
  if (isSet(c.security_group_filter) && (c.security_group_id || isSet(c.security_group_ids)))
    err('security_group_filter', 'give security_group_filter or security_group_id(s), not both');
  if (c.user_data && c.user_data_file)
    err('user_data_file', 'only one of user_data or user_data_file can be specified');
  if (c.ssh_keypair_name && !c.ssh_private_key_file)
    err(
      'ssh_private_key_file',
      'ssh_keypair_name needs ssh_private_key_file: the private key of that key pair',
    );
  if (c.temporary_key_pair_name && (c.ssh_keypair_name || c.ssh_private_key_file))
    err(
      'temporary_key_pair_name',
      'no temporary key pair is made when ssh_keypair_name/ssh_private_key_file are given',
    );
  if (c.temporary_key_pair_bits && (c.temporary_key_pair_type ?? 'ed25519') !== 'rsa')
    err('temporary_key_pair_bits', 'only applies to temporary_key_pair_type: "rsa"');
  if (
    c.temporary_key_pair_bits &&
    (c.temporary_key_pair_bits < 2048 || c.temporary_key_pair_bits > 16384)
  )
    err('temporary_key_pair_bits', 'must be between 2048 and 16384');
  if (c.enable_t2_unlimited && !c.instance_type.startsWith('t2.'))
    err('enable_t2_unlimited', `only applies to t2 instance types, not ${c.instance_type}`);
  if (c.tenancy && c.placement?.tenancy && c.tenancy !== c.placement.tenancy)
    err('tenancy', 'tenancy and placement.tenancy disagree; give one');
  if (c.ssh_timeout && c.ssh_wait_timeout)
    err('ssh_wait_timeout', 'give ssh_timeout or its older name ssh_wait_timeout, not both');
  return errors;
}

/** Warnings for fields that are accepted and have no effect, as in Packer's amazon-ebs. */
export function configWarnings(c: AmazonEbsConfig): string[] {
  const w: string[] = [];
  if (c.ami_virtualization_type)
    w.push(
      "ami_virtualization_type has no effect in amazon-ebs (as in Packer): the AMI has the source AMI's virtualization type",
    );
  if (c.decode_authorization_messages)
    w.push(
      'decode_authorization_messages: kiln shows the encoded message as AWS sends it; decode it with `aws sts decode-authorization-message`',
    );
  return w;
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

/** A `tags` map merged with its HCL-style `tag` list (the list wins on equal keys, as later blocks do in Packer). */
export function mergedTags(
  map: Record<string, string> | undefined,
  list: Array<{ key: string; value: string }> | undefined,
): Record<string, string> {
  return { ...(map ?? {}), ...Object.fromEntries((list ?? []).map((t) => [t.key, t.value])) };
}

/** The AMI's tags: `tags` plus `tag` blocks. */
export function amiTags(c: AmazonEbsConfig): Record<string, string> {
  return mergedTags(c.tags, c.tag);
}

/** The snapshots' tags: `snapshot_tags` plus `snapshot_tag` blocks. */
export function snapshotTags(c: AmazonEbsConfig): Record<string, string> {
  return mergedTags(c.snapshot_tags, c.snapshot_tag);
}

/** The instance's tags: `run_tags` plus `run_tag` blocks. */
export function runTags(c: AmazonEbsConfig): Record<string, string> {
  return mergedTags(c.run_tags, c.run_tag);
}

/** The launch volumes' tags: `run_volume_tags` plus `run_volume_tag` blocks. */
export function runVolumeTags(c: AmazonEbsConfig): Record<string, string> {
  return mergedTags(
    c.run_volume_tags,
    c.run_volume_tag?.map((t) => ({ key: t.name, value: t.value })),
  );
}

/** The SSH wait budget: ssh_timeout, or its older name ssh_wait_timeout, else Packer's 5m. */
export function sshTimeout(c: AmazonEbsConfig): string {
  return c.ssh_timeout ?? c.ssh_wait_timeout ?? '5m';
}

/** The tenancy to launch with, from `tenancy` or `placement.tenancy`. */
export function tenancyOf(c: AmazonEbsConfig): string | undefined {
  return c.placement?.tenancy ?? c.tenancy;
}
