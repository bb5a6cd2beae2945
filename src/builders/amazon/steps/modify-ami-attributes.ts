/**
 * ami_users / ami_groups: launch permissions on the AMI in every region; snapshot_users /
 * snapshot_groups (and, as before, ami_users): volume permission on its snapshots.
 */
import { ModifyImageAttributeCommand, ModifySnapshotAttributeCommand } from '@aws-sdk/client-ec2';
import { IMAGE_NOT_FOUND } from '../../../aws/ami.js';
import { explainAwsError } from '../../../aws/errors.js';
import { retryOn } from '../../../aws/retry.js';
import type { Step } from '../../../core/steps.js';
import type { AmazonState } from '../state.js';

export const modifyAmiAttributes: Step<AmazonState> = {
  name: 'modify-ami-attributes',
  async run(state, { signal, ui }) {
    const { config } = state;
    const users = config.ami_users ?? [];
    const groups = config.ami_groups ?? [];
    const snapUsers = [...new Set([...users, ...(config.snapshot_users ?? [])])];
    const snapGroups = config.snapshot_groups ?? [];
    if (users.length + groups.length + snapUsers.length + snapGroups.length === 0) return;
    const add = [
      ...users.map((UserId) => ({ UserId })),
      ...groups.map((Group) => ({ Group: Group as 'all' })),
    ];
    try {
      for (const [region, id] of Object.entries(state.amis)) {
        const ec2 = state.ec2(region);
        if (add.length > 0) {
          ui.say(`Modifying attributes on AMI (${id})...`);
          await retryOn(
            () =>
              ec2.send(
                new ModifyImageAttributeCommand({ ImageId: id, LaunchPermission: { Add: add } }),
                { abortSignal: signal },
              ),
            { codes: IMAGE_NOT_FOUND, signal },
          );
        }
        if (snapUsers.length + snapGroups.length === 0) continue;
        for (const snap of state.snapshots[region] ?? []) {
          ui.say(`Modifying attributes on snapshot (${snap})...`);
          await retryOn(
            () =>
              ec2.send(
                new ModifySnapshotAttributeCommand({
                  SnapshotId: snap,
                  Attribute: 'createVolumePermission',
                  OperationType: 'add',
                  ...(snapUsers.length > 0 ? { UserIds: snapUsers } : {}),
                  ...(snapGroups.length > 0 ? { GroupNames: snapGroups as 'all'[] } : {}),
                }),
                { abortSignal: signal },
              ),
            { codes: IMAGE_NOT_FOUND, signal },
          );
        }
      }
    } catch (err) {
      throw explainAwsError(err, 'ModifyImageAttribute');
    }
  },
};
