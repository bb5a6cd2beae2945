/**
 * A temporary security group (unless security_group_ids are given) that opens SSH to the
 * sources ssh-source chose (the caller's address, the VPC, or the given CIDRs) only. Its cleanup retries while AWS still counts the group as in use
 * by the terminating instance (DependencyViolation), and names the group if it gives up.
 */
import { randomBytes } from 'node:crypto';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
} from '@aws-sdk/client-ec2';
import { awsCode, explainAwsError, leftoverError } from '../../../aws/errors.js';
import { retryOn } from '../../../aws/retry.js';
import type { Step } from '../../../core/steps.js';
import type { AmazonState } from '../state.js';
import { journalAws } from './open-lease.js';

export const securityGroup: Step<AmazonState> = {
  name: 'security-group',
  async run(state, { signal, ui }) {
    const { config, ctx } = state;
    const given =
      state.filteredGroupIds ??
      config.security_group_ids ??
      (config.security_group_id ? [config.security_group_id] : []);
    if (given.length > 0) {
      state.securityGroupIds = given;
      return;
    }
    // ssh-source decided where SSH may come from, before anything was created.
    const cidrs = state.sshCidrs ?? [];
    const ec2 = state.ec2();
    // network-info found the VPC (given, by filter, or the subnet's).
    const vpcId = state.vpcId;
    try {
      const name = `kiln_${ctx.runId}_${randomBytes(3).toString('hex')}`;
      ui.say('Creating temporary security group for this instance: ' + name);
      journalAws(state, 'aws-security-group', name, { region: config.region, name });
      const res = await ec2.send(
        new CreateSecurityGroupCommand({
          GroupName: name,
          Description: `Temporary group for kiln run ${ctx.runId}`,
          ...(vpcId ? { VpcId: vpcId } : {}),
          TagSpecifications: [{ ResourceType: 'security-group', Tags: state.ownTags }],
        }),
        { abortSignal: signal },
      );
      state.createdGroupId = res.GroupId;
      journalAws(state, 'aws-security-group', name, {
        region: config.region,
        name,
        ...(res.GroupId ? { id: res.GroupId } : {}),
      });
      state.securityGroupIds = [res.GroupId!];
      if (cidrs.length > 0) {
        ui.say(
          `Authorizing access to port ${config.ssh_port ?? 22} from ${cidrs.join(', ')} in the temporary security group...`,
        );
        await retryOn(
          () =>
            ec2.send(
              new AuthorizeSecurityGroupIngressCommand({
                GroupId: res.GroupId,
                IpPermissions: [
                  {
                    IpProtocol: 'tcp',
                    FromPort: config.ssh_port ?? 22,
                    ToPort: config.ssh_port ?? 22,
                    IpRanges: cidrs.filter((c) => !c.includes(':')).map((CidrIp) => ({ CidrIp })),
                    Ipv6Ranges: cidrs
                      .filter((c) => c.includes(':'))
                      .map((CidrIpv6) => ({ CidrIpv6 })),
                  },
                ],
              }),
              { abortSignal: signal },
            ),
          { codes: ['InvalidGroup.NotFound'], attempts: 6, signal },
        );
      }
    } catch (err) {
      throw explainAwsError(err, 'CreateSecurityGroup');
    }
  },
  async cleanup(state, { signal, ui }) {
    const id = state.createdGroupId;
    if (!id) return;
    ui.say('Deleting temporary security group...');
    try {
      await retryOn(
        () =>
          state
            .ec2()
            .send(new DeleteSecurityGroupCommand({ GroupId: id }), { abortSignal: signal }),
        {
          codes: ['DependencyViolation'],
          // The instance's network interface lets go of the group a while after termination.
          attempts: Math.min(10, state.polling.maxAttempts),
          delayMs: 500,
          maxDelayMs: 15_000,
          signal,
          onRetry: (_err, attempt) =>
            ui.message(`security group ${id} still in use (attempt ${attempt}); retrying`),
        },
      );
    } catch (err) {
      if (awsCode(err) === 'InvalidGroup.NotFound') return;
      throw leftoverError('security group', id, err);
    }
  },
};
