/**
 * The `amazon-ebs` builder: launch an instance from a source AMI, provision it over SSH,
 * stop it and save an AMI (copied to `ami_regions`), with Packer's field names and
 * artifact. Every temporary resource carries kiln's run tag from creation, and every step
 * removes what it made when the build fails or is interrupted.
 */
import { removeImage } from '../../aws/ami.js';
import { ec2Client, ec2ClientsByRegion } from '../../aws/clients.js';
import { leaseFor } from '../../aws/lease.js';
import { cacheTags, kilnTags } from '../../aws/tags.js';
import { IMAGE_FORMAT_VERSION } from '../../core/input-hash.js';
import type { Artifact, BuildContext, ProvisionHook } from '../../core/plugin.js';
import { runSteps } from '../../core/steps.js';
import { amiArtifact } from './artifact.js';
import { type AmazonEbsConfig, polling } from './config.js';
import type { AmazonState } from './state.js';
import { renderBuildInfo } from './steps/build-info.js';
import { copyRegions } from './steps/copy-regions.js';
import { createAmi } from './steps/create-ami.js';
import { deregisterExisting } from './steps/deregister-existing.js';
import { keyPair } from './steps/key-pair.js';
import { markArtifact } from './steps/mark-artifact.js';
import { modifyAmiAttributes } from './steps/modify-ami-attributes.js';
import { modifyInstance } from './steps/modify-instance.js';
import { networkInfo } from './steps/network-info.js';
import { openLease } from './steps/open-lease.js';
import { preValidate } from './steps/pre-validate.js';
import { provision } from './steps/provision.js';
import { registerCatalog } from './steps/register-catalog.js';
import { runSourceInstance } from './steps/run-source-instance.js';
import { securityGroup } from './steps/security-group.js';
import { sourceAmi } from './steps/source-ami.js';
import { sshSource } from './steps/ssh-source.js';
import { stopInstance } from './steps/stop-instance.js';
import { sweepOrphans } from './steps/sweep-orphans.js';
import { tagSnapshots } from './steps/tag-snapshots.js';
import { waitInstance } from './steps/wait-instance.js';

/** The steps in Packer's order, after kiln's own two: the run's lease and the sweep of dead runs' leftovers. */
export const AMAZON_EBS_STEPS = [
  openLease,
  sweepOrphans,
  preValidate,
  sourceAmi,
  renderBuildInfo,
  networkInfo,
  sshSource,
  keyPair,
  securityGroup,
  runSourceInstance,
  waitInstance,
  provision,
  stopInstance,
  modifyInstance,
  deregisterExisting,
  createAmi,
  copyRegions,
  modifyAmiAttributes,
  tagSnapshots,
  markArtifact,
  registerCatalog,
] as const;

/** Runs one amazon-ebs build: the steps above with their cleanups; the registry entry (plugin.ts) loads this lazily. */
export async function runAmazonEbs(
  config: AmazonEbsConfig,
  ctx: BuildContext,
  hook: ProvisionHook,
): Promise<Artifact> {
  // Secrets first, before any step can print.
  for (const s of [
    config.secret_key,
    config.token,
    config.access_key,
    config.ssh_password,
    config.winrm_password,
    config.ssh_bastion_password,
    config.ssh_proxy_password,
  ])
    ctx.secrets.add(s);
  const clients = ec2ClientsByRegion(config);
  const now = new Date();
  const lease = leaseFor(process.pid, now);
  const state: AmazonState = {
    config,
    ctx,
    hook,
    polling: polling(config),
    ec2: (region = config.region) => clients.get(region),
    ec2NoRetry: ec2Client(config, config.region, 1),
    ownTags: kilnTags(ctx.runId, now, lease),
    imageTags: [
      ...kilnTags(ctx.runId, now, lease),
      ...(ctx.inputHash ? cacheTags(ctx.inputHash, IMAGE_FORMAT_VERSION) : []),
    ],
    securityGroupIds: [],
    amis: {},
    snapshots: {},
    made: [],
  };
  try {
    await runSteps(
      AMAZON_EBS_STEPS,
      state,
      { signal: ctx.signal, ui: ctx.ui },
      {
        onError: ctx.onError,
        ...(ctx.cleanupSignal ? { cleanupSignal: ctx.cleanupSignal } : {}),
        ...(ctx.onCleanupPending ? { onCleanupPending: ctx.onCleanupPending } : {}),
      },
    );
  } finally {
    clients.destroy();
    state.ec2NoRetry.destroy();
  }
  const amis = { ...state.amis };
  const artifact = amiArtifact(amis, {
    image: state.catalogId,
    snapshots: { ...state.snapshots },
  });
  artifact.destroy = async () => {
    for (const [region, id] of Object.entries(amis)) {
      const ec2 = ec2Client(config, region);
      try {
        await removeImage(ec2, id, state.snapshots[region] ?? []);
      } finally {
        ec2.destroy();
      }
    }
    const { images } = ctx.catalog;
    if (state.catalogId && images.get(state.catalogId)) images.remove(state.catalogId);
  };
  return artifact;
}
