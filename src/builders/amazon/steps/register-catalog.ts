/**
 * Records the AMI in kiln's catalog (format `ami`, no local files), with its source AMI as
 * parent when the catalog knows it — a release AMI's parent is its build AMI — and every
 * region copy in its metadata. Last step: a build whose record fails loses its AMIs too.
 */
import type { Step } from '../../../core/steps.js';
import type { AmazonState } from '../state.js';

export const registerCatalog: Step<AmazonState> = {
  name: 'register-catalog',
  async run(state) {
    const { config, ctx } = state;
    const id = state.amis[config.region]!;
    const { images } = ctx.catalog;
    const parent = state.sourceImage?.ImageId;
    const record = images.register({
      id,
      name: config.ami_name,
      builder: 'amazon-ebs',
      format: 'ami',
      files: [],
      ...(ctx.inputHash ? { inputHash: ctx.inputHash } : {}),
      ...(ctx.recipe ?? {}),
      ...(parent && images.get(parent) ? { parentId: parent } : {}),
      metadata: {
        region: config.region,
        regions: { ...state.amis },
        snapshots: { ...state.snapshots },
        sourceAmi: parent,
        runId: ctx.runId,
        build: ctx.buildName,
        ...(state.accountId ? { accountId: state.accountId } : {}),
        // The user data the AMI was made with (its content is also part of the input hash).
        ...(state.userDataFileSha256 ? { userDataFileSha256: state.userDataFileSha256 } : {}),
      },
    });
    state.catalogId = record.id;
  },
};
