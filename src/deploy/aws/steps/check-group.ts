/**
 * Reads, changes nothing: the group's launch template (refusing a group a deploy cannot
 * roll back), no refresh running, the AMI available in the region, and the template's
 * default version — what a failure puts back.
 */
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { awsCode, explainAwsError } from '../../../aws/errors.js';
import type { Step } from '../../../core/steps.js';
import { UserError } from '../../../lib/errors.js';
import { defaultVersion, groupLaunchTemplate, refuseActiveRefresh } from '../asg.js';
import type { DeployAwsState } from '../state.js';

export const checkGroup: Step<DeployAwsState> = {
  name: 'check-group',
  async run(state) {
    const { target: o } = state;
    const ec2 = state.ec2!;
    const lt = await groupLaunchTemplate(state.asg!, ec2, o);
    await refuseActiveRefresh(state.asg!, o);
    const image = await ec2
      .send(new DescribeImagesCommand({ ImageIds: [state.imageId!] }), { abortSignal: o.signal })
      .catch((err) => {
        if (/InvalidAMIID/.test(awsCode(err) ?? '')) return { Images: [] };
        throw explainAwsError(err, 'DescribeImages');
      });
    if (image.Images?.[0]?.State !== 'available')
      throw new UserError(
        'AmiNotAvailable',
        `${state.imageId} is not an available AMI in ${o.region}`,
        {
          hint: 'check the region (--region) and that the build finished',
        },
      );
    state.launchTemplateId = lt.id;
    state.previous = await defaultVersion(ec2, lt.id, o.signal);
  },
};
