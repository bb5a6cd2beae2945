/**
 * Starts the instance refresh that replaces the group's instances (rolling, with the
 * minimum healthy percentage, warm-up and checkpoints). When a deploy is interrupted while
 * the refresh runs, cleanup cancels it and records the deploy as cancelled, before
 * set-default-version's cleanup puts the previous default back.
 */
import { CancelInstanceRefreshCommand } from '@aws-sdk/client-auto-scaling';
import type { Step } from '../../../core/steps.js';
import { startRefresh as start } from '../asg.js';
import { type DeployAwsState, deploymentRecord } from '../state.js';

export const startRefresh: Step<DeployAwsState> = {
  name: 'start-refresh',
  async run(state, { signal }) {
    state.refreshId = await start(state.asg!, { ...state.target, signal }, state.target);
  },
  owes: (state) =>
    state.interrupted && state.refreshId ? `cancel instance refresh ${state.refreshId}` : undefined,
  async cleanup(state, { ui, signal }) {
    if (!state.interrupted || !state.refreshId) return;
    ui.error(
      `Cancelled: stopping instance refresh ${state.refreshId} and restoring launch template version ${state.previous}`,
    );
    await state
      .asg!.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: state.target.asg }), {
        abortSignal: signal,
      })
      .catch(() => undefined);
    state.target.catalog.deployments.record({
      ...deploymentRecord(state),
      status: 'cancelled',
      reason: 'interrupted',
    });
  },
};
