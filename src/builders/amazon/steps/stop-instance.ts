/**
 * Stops the source instance so the AMI is made from a quiet disk, and waits until it is
 * stopped. With `disable_stop_instance` kiln sends no stop and only waits: a provisioner
 * (e.g. sysprep's shutdown) is expected to stop the machine, as in Packer.
 */
import { DescribeInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { explainAwsError } from '../../../aws/errors.js';
import { retryOn } from '../../../aws/retry.js';
import type { Step } from '../../../core/steps.js';
import { SystemError } from '../../../lib/errors.js';
import { sleep } from '../../../lib/sleep.js';
import type { AmazonState } from '../state.js';

export const stopInstance: Step<AmazonState> = {
  name: 'stop-instance',
  async run(state, { signal, ui }) {
    const id = state.instanceId!;
    const ec2 = state.ec2();
    try {
      if (state.config.disable_stop_instance) {
        ui.say('Automatic instance stop disabled. Please stop instance manually.');
      } else {
        ui.say('Stopping the source instance...');
        await retryOn(
          () => ec2.send(new StopInstancesCommand({ InstanceIds: [id] }), { abortSignal: signal }),
          {
            codes: ['InvalidInstanceID.NotFound'],
            signal,
          },
        );
      }
      ui.say('Waiting for the instance to stop...');
      for (let i = 0; i < state.polling.maxAttempts; i++) {
        const res = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }), {
          abortSignal: signal,
        });
        const name = res.Reservations?.[0]?.Instances?.[0]?.State?.Name;
        if (name === 'stopped') return;
        if (name === 'terminated')
          throw new SystemError('InstanceDied', `instance ${id} terminated while stopping`, {
            where: id,
          });
        await sleep(state.polling.delayMs, signal);
      }
    } catch (err) {
      throw explainAwsError(err, 'StopInstances');
    }
    throw new SystemError('InstanceTimeout', `instance ${id} did not stop in time`, {
      where: id,
      hint: 'raise aws_polling.max_attempts',
    });
  },
};
