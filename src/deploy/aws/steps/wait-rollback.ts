/**
 * Watches a `--rollback`'s refresh to its end and records it; a refresh that does not
 * succeed fails the run (the default stays on the version rolled back to: the group's
 * instances are what needs checking).
 */

import type { Step } from '../../../core/steps.js';
import { SystemError } from '../../../lib/errors.js';
import { waitRefresh } from '../asg.js';
import { type DeployAwsState, deploymentRecord } from '../state.js';

export const waitRollback: Step<DeployAwsState> = {
  name: 'wait-rollback',
  async run(state, { ui, signal }) {
    const o = state.target;
    const done = await waitRefresh(state.asg!, { ...o, signal }, state.refreshId!);
    state.settled = true;
    o.catalog.deployments.record({
      ...deploymentRecord(state),
      status: done.Status === 'Successful' ? 'succeeded' : 'failed',
      ...(done.StatusReason ? { reason: done.StatusReason } : {}),
    });
    if (done.Status !== 'Successful')
      throw new SystemError(
        'RollbackFailed',
        `rollback refresh ${state.refreshId} ended ${done.Status}: ${done.StatusReason ?? 'no reason given'}`,
        {
          where: `${o.region}/${o.asg}`,
          hint: `the launch template default is version ${state.version}; check the group's instances`,
        },
      );
    ui.say(`Rolled back ${o.asg} to launch template version ${state.version}`);
  },
};
