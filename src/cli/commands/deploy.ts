/**
 * `kiln deploy aws --asg NAME IMAGE`: roll an AMI out to an Auto Scaling group through a
 * new launch template version and an instance refresh, rolling back on failure;
 * `kiln deploy aws --rollback --asg NAME` returns to the previous release. IMAGE is an
 * AMI id, a Packer artifact id (`us-east-1:ami-…[,…]`) or a catalog reference.
 */
import { type Command, Option } from 'commander';
import { lazyAction } from '../lazy-action.js';
import { registerDeployLocal } from './deploy-local.js';

/** Registers `kiln deploy` with its `aws` subcommand. */
export function registerDeploy(program: Command): void {
  const deploy = program
    .command('deploy')
    .description(
      'put an image into service: a group of local instances, or an AWS Auto Scaling group',
    );
  deploy
    .command('aws')
    .description(
      'deploy an AMI to an Auto Scaling group: new launch template version + instance refresh, rollback on failure',
    )
    .argument(
      '[image]',
      'ami-…, a Packer artifact id (us-east-1:ami-…), or a catalog image reference',
    )
    .requiredOption('--asg <name>', 'the Auto Scaling group')
    .option(
      '--region <region>',
      'AWS region (default: AWS_REGION when the image is there, else the image’s only region)',
    )
    .option('--min-healthy <percent>', 'minimum healthy percentage during the refresh', '90')
    .option('--warmup <seconds>', 'instance warm-up in seconds', '60')
    .option('--checkpoints <list>', 'checkpoint percentages, e.g. 50,100')
    .option('--checkpoint-delay <seconds>', 'wait at each checkpoint')
    .option(
      '--preferences <json>',
      'instance refresh preferences by their AWS API names, as JSON or file://path (as `aws autoscaling start-instance-refresh --preferences`): MinHealthyPercentage, MaxHealthyPercentage, InstanceWarmup, CheckpointPercentages, CheckpointDelay, SkipMatching, AutoRollback, AlarmSpecification, ScaleInProtectedInstances, StandbyInstances, BakeTime',
    )
    .option('--rollback', 'return the group to the release before the current one')
    .option(
      '--launch-template-version <n>',
      'base the new version on this one (a number or $Default; never $Latest)',
    )
    .addOption(
      new Option('--poll-interval <duration>', 'how often to check the refresh')
        .default('15s')
        .hideHelp(),
    )
    .addHelpText(
      'after',
      `
Example:
  kiln deploy aws --asg web ami-0abc --preferences '{"MinHealthyPercentage":50,"MaxHealthyPercentage":150,"AutoRollback":true,"AlarmSpecification":{"Alarms":["web-5xx"]}}'

Testing: moto (the AWS stand-in kiln's tests use) has no instance refresh, so kiln's tests
answer Start/Describe/Cancel/RollbackInstanceRefresh with the project's fault proxy
(test/helpers/fault-proxy.ts); launch templates and groups are moto's.`,
    )
    .action(lazyAction(() => import('../actions/deploy.js'), 'deployAws'));
  registerDeployLocal(deploy);
}
