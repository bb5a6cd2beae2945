/**
 * The pipeline's last step: hands one environment's tested release to the deploy target —
 * a local group (the runtime's rolling replacement with health checks) or an AWS Auto
 * Scaling group (launch template version + instance refresh, rolled back on failure).
 */

import type { CatalogApi } from '../catalog/types.js';
import type { BuildUi } from '../core/events.js';
import type { RunStepsOptions } from '../core/steps.js';
import { parseGoDurationMs } from '../lib/duration.js';
import { deployLocal, listInstanceStatuses } from '../runtime/index.js';
import type { PipelineConfig } from './pipeline-file.js';

export interface DeployReleaseOptions extends RunStepsOptions {
  deploy: NonNullable<PipelineConfig['deploy']>;
  imageId: string;
  /** The port the service listens on in the guest (local deploys forward to it). */
  guestPort: number;
  /** Roll the group even when it already runs this image (`--no-cache`). */
  force?: boolean;
  catalog: CatalogApi;
  ui: BuildUi;
  signal?: AbortSignal;
}

/** Deploys the image; resolves once the target serves it, throws why not (the old release keeps serving). */
export async function deployRelease(o: DeployReleaseOptions): Promise<{ alreadyServing: boolean }> {
  const { deploy } = o;
  const steps: RunStepsOptions = {
    ...(o.onError ? { onError: o.onError } : {}),
    ...(o.cleanupSignal ? { cleanupSignal: o.cleanupSignal } : {}),
    ...(o.onCleanupPending ? { onCleanupPending: o.onCleanupPending } : {}),
  };
  if (deploy.aws) {
    const { deployAmi } = await import('../deploy/aws/deploy.js');
    await deployAmi({
      ...steps,
      region: deploy.aws.region,
      asg: deploy.aws.asg,
      imageId: o.imageId,
      catalog: o.catalog,
      ui: o.ui,
      ...(o.signal ? { signal: o.signal } : {}),
      minHealthy: 90,
      warmupSeconds: 60,
    });
    return { alreadyServing: false };
  }
  const local = deploy.local!;
  const { catalog } = o;
  // A rerun with nothing changed must not roll a group that already serves this release.
  const members = listInstanceStatuses(catalog, { group: local.group });
  const serving = members.filter((m) => m.state === 'running' && m.instance.imageId === o.imageId);
  if (!o.force && members.length === local.count && serving.length === local.count) {
    o.ui.say(
      `${local.group} already runs ${o.imageId} on ${local.count} member(s): nothing to deploy`,
    );
    return { alreadyServing: true };
  }
  const result = await deployLocal({
    ...steps,
    catalog,
    image: o.imageId,
    group: local.group,
    count: local.count,
    port: { basePort: local.port, guestPort: o.guestPort },
    healthPath: local.health_path,
    timeoutMs: parseGoDurationMs(local.timeout),
    ui: o.ui,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  o.ui.say(
    `${local.group} serves ${o.imageId} on ${result.started.map((m) => `127.0.0.1:${m.port}`).join(', ')}`,
  );
  return { alreadyServing: false };
}
