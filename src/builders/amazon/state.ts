/** What the amazon-ebs steps share while a build runs (Packer's state bag, typed). */
import type { EC2Client, Image, Instance, Tag } from '@aws-sdk/client-ec2';
import type { Polling } from '../../aws/retry.js';
import type { BuildContext, ProvisionHook } from '../../core/plugin.js';
import type { AmazonEbsConfig } from './config.js';

export interface AmazonState {
  config: AmazonEbsConfig;
  ctx: BuildContext;
  hook: ProvisionHook;
  polling: Polling;
  /** An EC2 client per region, made on first use. */
  ec2(region?: string): EC2Client;
  /** A client in the build region that does not retry: RunInstances retries itself (see run-source-instance). */
  ec2NoRetry: EC2Client;
  /** The run's id in the local journal (set by open-lease), where each AWS resource is named before it is made. */
  journalRun?: string;
  /** Renews the run's lease (`kiln:expires`) on what it made while it runs; stopped by open-lease's cleanup. */
  heartbeat?: ReturnType<typeof setInterval>;
  /** kiln's ownership tags for this run (run id, created time, lease). */
  ownTags: Tag[];
  /** `ownTags` plus the cache tags (input hash, format version) that every AMI of the run carries. */
  imageTags: Tag[];
  accountId?: string;
  sourceImage?: Image;
  /** Where the instance runs: given, or found by vpc_filter / subnet_filter (network-info). */
  vpcId?: string;
  subnetId?: string;
  availabilityZone?: string;
  /** Where the temporary security group lets SSH in from (ssh-source). */
  sshCidrs?: string[];
  /** Groups found by security_group_filter. */
  filteredGroupIds?: string[];
  /** The key pair the instance launches with; `createdKeyName` only when kiln imported it (and deletes it). */
  keyName?: string;
  createdKeyName?: string;
  /** The imported key pair's id (`key-…`), for renewing its lease tag. */
  createdKeyPairId?: string;
  privateKeyFile?: string;
  keyDir?: string;
  /** Groups the instance uses; `createdGroupId` is the one kiln made (and deletes). */
  securityGroupIds: string[];
  createdGroupId?: string;
  instanceId?: string;
  instance?: Instance;
  /** The address SSH uses. */
  host?: string;
  /** The AMI in each region, as soon as it exists (so cleanup can remove a half-made one). */
  amis: Record<string, string>;
  snapshots: Record<string, string[]>;
  /** Every AMI this run made (also replaced ones), by the step that made it: what cleanup removes on failure. */
  made: Array<{ region: string; id: string; snapshots: string[]; by: string }>;
  /** sha256 of the user_data_file content the instance launched with (recorded with the image). */
  userDataFileSha256?: string;
  /** The catalog id once registered. */
  catalogId?: string;
}
