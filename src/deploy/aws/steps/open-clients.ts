/**
 * The EC2 and Auto Scaling clients of the deploy's region (SDK v3, default credential
 * chain and retry, AWS_ENDPOINT_URL honoured). Cleanup destroys whichever were made.
 */
import { autoScalingClient, ec2Client } from '../../../aws/clients.js';
import type { Step } from '../../../core/steps.js';
import type { DeployAwsState } from '../state.js';

export const openClients: Step<DeployAwsState> = {
  name: 'open-clients',
  async run(state) {
    const t = state.target;
    state.ec2 = ec2Client(t.access ?? {}, t.region);
    state.asg = autoScalingClient(t.access ?? {}, t.region);
  },
  // Closing clients leaves nothing behind.
  owes: () => undefined,
  async cleanup(state) {
    state.ec2?.destroy();
    state.asg?.destroy();
    state.ec2 = undefined;
    state.asg = undefined;
  },
};
