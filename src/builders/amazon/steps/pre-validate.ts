/**
 * Before anything is created: who we are (and that the credentials work at all, unless
 * skip_credential_validation), and that no AMI in any target region already has the name,
 * unless force_deregister will remove it.
 */
import { DescribeImagesCommand, type Image } from '@aws-sdk/client-ec2';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { stsClient } from '../../../aws/clients.js';
import { explainAwsError } from '../../../aws/errors.js';
import type { Step } from '../../../core/steps.js';
import { UserError } from '../../../lib/errors.js';
import { targetRegions } from '../config.js';
import type { AmazonState } from '../state.js';

export const preValidate: Step<AmazonState> = {
  name: 'pre-validate',
  async run(state, { signal, ui }) {
    const { config } = state;
    ui.say('Prevalidating any provided VPC information');
    if (!config.skip_credential_validation)
      try {
        const id = await stsClient(config, config.region).send(new GetCallerIdentityCommand({}), {
          abortSignal: signal,
        });
        state.accountId = id.Account;
      } catch (err) {
        throw explainAwsError(err, 'GetCallerIdentity');
      }
    ui.say(`Prevalidating AMI Name: ${config.ami_name}`);
    if (config.force_deregister) return;
    for (const region of targetRegions(config)) {
      let found: Image | undefined;
      try {
        const res = await state.ec2(region).send(
          new DescribeImagesCommand({
            Owners: ['self'],
            Filters: [{ Name: 'name', Values: [config.ami_name] }],
          }),
          { abortSignal: signal },
        );
        found = res.Images?.[0];
      } catch (err) {
        throw explainAwsError(err, 'DescribeImages');
      }
      if (found)
        throw new UserError(
          'AmiNameTaken',
          `AMI Name: '${config.ami_name}' is used by an existing AMI: ${found.ImageId} (${region})`,
          {
            where: 'ami_name',
            hint: 'choose another ami_name (e.g. add {{timestamp}}) or set force_deregister: true',
          },
        );
    }
  },
};
