/**
 * Before this build makes anything: removes what dead kiln runs left in the build's regions
 * (and wherever the local journal says a dead run was making something) — instances, key
 * pairs, security groups, half-made AMIs and their snapshots. Dead means its lease expired,
 * or its process on this machine is gone; a live run's resources are never touched (see
 * aws/gc.ts). A sweep that cannot finish is said and the build goes on: only credentials
 * AWS refuses stop it here, as they would stop the next step.
 */

import { isCredentialError } from '../../../aws/errors.js';
import { describeGcAwsAction, sweepAwsLeftovers } from '../../../aws/gc.js';
import type { BuildUi } from '../../../core/events.js';
import type { BuildContext } from '../../../core/plugin.js';
import type { Step } from '../../../core/steps.js';
import { KilnError } from '../../../lib/errors.js';
import { type AmazonEbsConfig, targetRegions } from '../config.js';
import type { AmazonState } from '../state.js';

export const sweepOrphans: Step<AmazonState> = {
  name: 'sweep-orphans',
  async run(state, { signal, ui }) {
    await sweepDeadRuns(state.config, state.ctx, signal, ui);
  },
};

/** The sweep itself, also run by a build that reuses an AMI (cache.ts) and so runs no steps. */
export async function sweepDeadRuns(
  config: AmazonEbsConfig,
  ctx: BuildContext,
  signal: AbortSignal,
  ui: BuildUi,
): Promise<void> {
  try {
    await sweepAwsLeftovers({
      access: config,
      regions: targetRegions(config),
      journal: ctx.catalog.journal,
      signal,
      onAction: (a) => ui.say(`Left by a dead kiln run: ${describeGcAwsAction(a)}`),
    });
  } catch (err) {
    const credentials =
      err instanceof KilnError && ['AwsCredentials', 'AwsNoCredentials'].includes(err.code);
    if (signal.aborted || credentials || isCredentialError(err)) throw err;
    ui.error(
      `could not remove what dead kiln runs left (the build goes on; \`kiln gc aws\` retries): ${(err as Error).message}`,
    );
  }
}
