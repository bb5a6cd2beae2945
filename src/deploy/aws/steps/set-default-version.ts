/**
 * Makes the run's version the launch template's default: what the group launches from.
 * Cleanup puts the previous default back when the run failed before a refresh started,
 * or was interrupted while one ran (start-refresh's cleanup has cancelled it by then). It
 * leaves it alone once settled, and after another failure during a refresh: the default
 * must then match what the running refresh rolls out.
 */
import type { Step } from '../../../core/steps.js';
import { setDefault } from '../asg.js';
import type { DeployAwsState } from '../state.js';

export const setDefaultVersion: Step<DeployAwsState> = {
  name: 'set-default-version',
  async run(state, { ui, signal }) {
    await setDefault(state.ec2!, state.launchTemplateId!, state.version!, signal);
    if (state.kind === 'deploy')
      ui.say(
        `Launch template ${state.launchTemplateId}: default version ${state.previous} → ${state.version}`,
      );
  },
  owes: (state, failed) =>
    restores(state, failed)
      ? `set launch template ${state.launchTemplateId}'s default version back to ${state.previous}`
      : undefined,
  async cleanup(state, { failed, signal }) {
    if (!restores(state, failed)) return;
    await setDefault(state.ec2!, state.launchTemplateId!, state.previous!, signal).catch(
      () => undefined,
    );
  },
};

/** Whether cleanup puts the previous default back (see the header). */
function restores(state: DeployAwsState, failed: boolean): boolean {
  return failed && !state.settled && (!state.refreshId || state.interrupted === true);
}
