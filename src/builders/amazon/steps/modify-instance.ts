/**
 * ena_support / sriov_support: set on the stopped instance before the AMI is made, so the
 * image inherits them (Packer's StepModifyEBSBackedInstance). An explicit `ena_support:
 * false` is sent too: it turns off what the source AMI had.
 */
import { ModifyInstanceAttributeCommand } from '@aws-sdk/client-ec2';
import { explainAwsError } from '../../../aws/errors.js';
import { retryOn } from '../../../aws/retry.js';
import type { Step } from '../../../core/steps.js';
import type { AmazonState } from '../state.js';

export const modifyInstance: Step<AmazonState> = {
  name: 'modify-instance',
  async run(state, { signal, ui }) {
    const { config } = state;
    const id = state.instanceId!;
    const ec2 = state.ec2();
    const send = (input: ConstructorParameters<typeof ModifyInstanceAttributeCommand>[0]) =>
      retryOn(() => ec2.send(new ModifyInstanceAttributeCommand(input), { abortSignal: signal }), {
        codes: ['InvalidInstanceID.NotFound'],
        signal,
      });
    try {
      // SR-IOV cannot be turned off once on (EC2 has no value for that): only `true` is sent.
      if (config.sriov_support) {
        ui.say('Enabling Enhanced Networking (SR-IOV)...');
        await send({ InstanceId: id, SriovNetSupport: { Value: 'simple' } });
      }
      if (config.ena_support !== undefined) {
        ui.say(`${config.ena_support ? 'Enabling' : 'Disabling'} Enhanced Networking (ENA)...`);
        await send({ InstanceId: id, EnaSupport: { Value: config.ena_support } });
      }
    } catch (err) {
      throw explainAwsError(err, 'ModifyInstanceAttribute');
    }
  },
};
