/**
 * Watches the deploy's refresh to its end. Success is recorded and settles the default
 * version. A refresh that fails or is cancelled by AWS is rolled back here, as part of the
 * run (its outcome belongs in the error): the previous default is restored and a second
 * refresh, not cancellable, brings the old instances back; then the deploy fails naming
 * both. An interrupt while waiting is left to the cleanups of start-refresh (cancel the
 * refresh) and set-default-version (restore the default).
 */
import { describeAwsError } from '../../../aws/errors.js';
import type { Step } from '../../../core/steps.js';
import { CancelledError, SystemError } from '../../../lib/errors.js';
import type { RefreshPreferences } from '../asg.js';
import { setDefault, startRefresh, waitRefresh as wait } from '../asg.js';
import { type DeployAwsState, deploymentRecord } from '../state.js';

export const waitRefresh: Step<DeployAwsState> = {
  name: 'wait-refresh',
  async run(state, { ui, signal }) {
    const o = state.target;
    const lt = state.launchTemplateId!;
    const { previous, version } = state;
    const final = await wait(state.asg!, { ...o, signal }, state.refreshId!).catch((err) => {
      if (err instanceof CancelledError) state.interrupted = true;
      throw err;
    });
    if (final.Status === 'Successful') {
      state.settled = true;
      o.catalog.deployments.record(deploymentRecord(state));
      ui.say(`Deployed ${state.imageId} to ${o.asg} (launch template ${lt} version ${version})`);
      return;
    }

    const reason = final.StatusReason ?? 'no reason given';
    ui.error(`Instance refresh ${state.refreshId} ${final.Status}: ${reason}`);
    ui.say(`Rolling back: launch template ${lt} default version ${version} → ${previous}`);
    await setDefault(state.ec2!, lt, previous!, undefined);
    state.settled = true;
    let rolledBack = false;
    let rollbackNote = '';
    // With AutoRollback, AWS brought the old instances back itself: no second refresh.
    if (final.Status === 'RollbackSuccessful' || final.Status === 'RollbackFailed') {
      rolledBack = final.Status === 'RollbackSuccessful';
      if (!rolledBack) rollbackNote = "; AWS's automatic rollback failed";
    } else
      try {
        const back = await startRefresh(state.asg!, { ...o, signal: undefined }, wayBack(o));
        const done = await wait(state.asg!, { ...o, signal: undefined }, back);
        rolledBack = done.Status === 'Successful';
        if (!rolledBack)
          rollbackNote = `; the rollback refresh ${back} ended ${done.Status}: ${done.StatusReason ?? ''}`;
      } catch (err) {
        rollbackNote = `; the rollback refresh could not run: ${describeAwsError(err)}`;
      }
    o.catalog.deployments.record({
      ...deploymentRecord(state),
      status: rolledBack ? 'failed' : 'rollback-failed',
      reason,
    });
    throw new SystemError(
      'DeployFailed',
      `deploy of ${state.imageId} to ${o.asg} failed: instance refresh ${final.Status}: ${reason}${rolledBack ? `; rolled back to launch template version ${previous}` : rollbackNote}`,
      {
        where: `${o.region}/${o.asg}`,
        hint: rolledBack
          ? 'the group runs the previous release again; fix the image and deploy again'
          : 'the launch template default is back to the previous version; check the group in the AWS console',
      },
    );
  },
};

/** The refresh back to the previous release: plain — no checkpoints, alarms or automatic rollback of its own. */
function wayBack(p: RefreshPreferences): RefreshPreferences {
  const {
    AutoRollback: _rollback,
    AlarmSpecification: _alarms,
    CheckpointPercentages: _checkpoints,
    CheckpointDelay: _delay,
    ...rest
  } = p.preferences ?? {};
  return { minHealthy: p.minHealthy, warmupSeconds: p.warmupSeconds, preferences: rest };
}
