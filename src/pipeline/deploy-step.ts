/**
 * The pipeline's last step: hands one environment's tested release to the deploy target —
 * a local group (the runtime's rolling replacement with health checks) or an AWS Auto
 * Scaling group (launch template version + instance refresh, rolled back on failure).
 */

import { SystemError } from '../core/errors.js';
import type { BuildUi } from '../core/events.js';
import { deployAmi } from '../deploy/aws/deploy.js';
import * as runtime from '../runtime/index.js';
import type { PipelineConfig } from './pipeline-file.js';

export interface DeployReleaseOptions {
  deploy: NonNullable<PipelineConfig['deploy']>;
  imageId: string;
  /** The release's variables (for a future port lookup; unused by the targets today). */
  variables: Record<string, string>;
  kilnHome: string;
  ui: BuildUi;
  signal?: AbortSignal;
}

/** What the runtime's local rolling deploy takes (`kiln deploy local` as a library call). */
type DeployLocal = (o: {
  kilnHome: string;
  image: string;
  group: string;
  count: number;
  port: number;
  healthPath: string;
  ui: BuildUi;
  signal?: AbortSignal;
}) => Promise<unknown>;

/** Deploys the image; resolves once the target serves it, throws why not (the old release keeps serving). */
export async function deployRelease(o: DeployReleaseOptions): Promise<void> {
  const { deploy } = o;
  if (deploy.aws) {
    await deployAmi({
      region: deploy.aws.region,
      asg: deploy.aws.asg,
      imageId: o.imageId,
      kilnHome: o.kilnHome,
      ui: o.ui,
      ...(o.signal ? { signal: o.signal } : {}),
      minHealthy: 90,
      warmupSeconds: 60,
    });
    return;
  }
  const local = deploy.local!;
  const deployLocal = (runtime as unknown as { deployLocal?: DeployLocal }).deployLocal;
  if (typeof deployLocal !== 'function') {
    throw new SystemError('DeployUnavailable', 'local deploy is not available in this kiln build', {
      hint: 'the runtime does not export deployLocal yet; deploy with `kiln deploy local` by hand',
    });
  }
  await deployLocal({
    kilnHome: o.kilnHome,
    image: o.imageId,
    group: local.group,
    count: local.count,
    port: local.port,
    healthPath: local.health_path,
    ui: o.ui,
    ...(o.signal ? { signal: o.signal } : {}),
  });
}
