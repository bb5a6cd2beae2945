/**
 * For `--rollback`, reads and changes nothing: the group's launch template (refusing one a
 * rollback cannot use), no refresh running, the default version now, and the release
 * before it (kiln's record, else the version's own description) with its AMI.
 */
import { DescribeLaunchTemplateVersionsCommand } from '@aws-sdk/client-ec2';
import type { Step } from '../../../core/steps.js';
import {
  defaultVersion,
  groupLaunchTemplate,
  previousRelease,
  refuseActiveRefresh,
} from '../asg.js';
import type { DeployAwsState } from '../state.js';

export const findPreviousRelease: Step<DeployAwsState> = {
  name: 'find-previous-release',
  async run(state, { ui }) {
    const o = state.target;
    const ec2 = state.ec2!;
    const lt = await groupLaunchTemplate(state.asg!, ec2, o);
    await refuseActiveRefresh(state.asg!, o);
    const current = await defaultVersion(ec2, lt.id, o.signal);
    const target = await previousRelease(ec2, o, lt.id, current);
    const versions = await ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateId: lt.id,
        Versions: [String(target)],
      }),
      { abortSignal: o.signal },
    );
    state.launchTemplateId = lt.id;
    state.previous = current;
    state.version = target;
    state.imageId = versions.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.ImageId ?? 'unknown';
    ui.say(
      `Rolling back ${o.asg}: launch template ${lt.id} default version ${current} → ${target} (${state.imageId})`,
    );
  },
};
