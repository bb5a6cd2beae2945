/**
 * A new launch template version with the AMI, based on the default version (or the one
 * `--launch-template-version` names). It is what the refresh rolls out, and stays as the
 * record of the deploy once one started; when the run fails before any refresh started,
 * cleanup deletes it (with few attempts: the user is waiting to hear about the failure).
 */
import {
  CreateLaunchTemplateVersionCommand,
  DeleteLaunchTemplateVersionsCommand,
} from '@aws-sdk/client-ec2';
import { ec2Client } from '../../../aws/clients.js';
import { describeAwsError, explainAwsError } from '../../../aws/errors.js';
import type { Step } from '../../../core/steps.js';
import type { DeployAwsState } from '../state.js';

export const createTemplateVersion: Step<DeployAwsState> = {
  name: 'create-template-version',
  async run(state, { ui }) {
    const o = state.target;
    const lt = state.launchTemplateId!;
    const previous = state.previous!;
    const source =
      state.sourceVersion && state.sourceVersion !== '$Default'
        ? Number(state.sourceVersion)
        : previous;
    ui.say(`Creating launch template ${lt} version with ${state.imageId} (from version ${source})`);
    const created = await state
      .ec2!.send(
        new CreateLaunchTemplateVersionCommand({
          LaunchTemplateId: lt,
          SourceVersion: String(source),
          VersionDescription: `kiln deploy ${state.imageId} (previous default ${previous})`,
          LaunchTemplateData: { ImageId: state.imageId },
        }),
        { abortSignal: o.signal },
      )
      .catch((err) => {
        throw explainAwsError(err, 'CreateLaunchTemplateVersion');
      });
    state.version = created.LaunchTemplateVersion!.VersionNumber!;
    state.created = true;
  },
  owes: (state, failed) =>
    failed && state.created && !state.refreshId
      ? `delete launch template ${state.launchTemplateId} version ${state.version}`
      : undefined,
  async cleanup(state, { ui, failed, signal }) {
    if (!failed || !state.created || state.refreshId) return;
    const o = state.target;
    const lt = state.launchTemplateId!;
    const undo = ec2Client(o.access ?? {}, o.region, 3);
    await undo
      .send(
        new DeleteLaunchTemplateVersionsCommand({
          LaunchTemplateId: lt,
          Versions: [String(state.version)],
        }),
        { abortSignal: signal },
      )
      .then((res) => {
        const bad = res.UnsuccessfullyDeletedLaunchTemplateVersions?.[0];
        if (bad) throw new Error(`${bad.ResponseError?.Code}: ${bad.ResponseError?.Message}`);
      })
      .catch((e) =>
        ui.error(
          `could not delete launch template ${lt} version ${state.version}: ${describeAwsError(e)}`,
        ),
      )
      .finally(() => undo.destroy());
    state.created = false;
  },
};
