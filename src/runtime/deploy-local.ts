/**
 * `kiln deploy local`: a rolling replacement of a named group of local instances. Each
 * member has its own host port: a group of N uses BASEPORT … BASEPORT+N (N+1 ports, one
 * spare so that a new member can come up before an old one goes). The port plan is kept
 * in each member's metadata, so the next deploy of the group needs no `-p`. Every deploy
 * (and rollback) is recorded in the catalog's deploy history with backend `local`.
 */
import { randomBytes } from 'node:crypto';
import { BuildUi, MemoryUi } from '../core/events.js';
import { openJournal } from '../core/journal-step.js';
import { Secrets } from '../core/secrets.js';
import { runSteps, type Step } from '../core/steps.js';
import { UserError } from '../lib/errors.js';
import { clearExited } from './deploy/clear-exited.js';
import { lockGroup } from './deploy/lock-group.js';
import { rollOut } from './deploy/roll-out.js';
import type { DeployLocalOptions, DeployLocalResult, DeployLocalState } from './deploy/state.js';
import { listInstanceStatuses, metaOf } from './status.js';

/** The steps of a local deploy, in order (each removes what it made in its cleanup). */
export const DEPLOY_LOCAL_STEPS: readonly Step<DeployLocalState>[] = [
  openJournal,
  lockGroup,
  clearExited,
  rollOut,
];

export type { DeployLocalOptions, DeployLocalResult } from './deploy/state.js';

const GROUP = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/**
 * Rolls the group onto the image, one member at a time. On a failed health check the new
 * member is stopped, the deploy ends, old members keep serving, members already replaced
 * go back to the previous image (unless `rollback: false`), and a SystemError naming the
 * image is thrown. Recorded in the deploy history either way.
 */
export async function deployLocal(opts: DeployLocalOptions): Promise<DeployLocalResult> {
  const { catalog, ui, group } = opts;
  const t0 = Date.now();
  if (!GROUP.test(group))
    throw new UserError('InvalidGroup', `"${group}" is not a valid group name`, {
      hint: 'use letters, digits, `_`, `.` or `-`, starting with a letter or digit',
    });
  if (!Number.isInteger(opts.count) || opts.count < 1 || opts.count > 32)
    throw new UserError(
      'InvalidOption',
      `--count ${opts.count} must be a whole number from 1 to 32`,
    );
  const image = catalog.images.resolve(opts.image);
  if (image.status === 'failed')
    ui?.error(
      `${image.id} is marked failed in the catalog (a smoke test failed); deploying it anyway`,
    );
  const members = listInstanceStatuses(catalog, { all: true, group });
  const plan = members.map((s) => metaOf(s.instance).deploy).find((d) => d !== undefined);
  const port =
    opts.port ?? (plan ? { basePort: plan.basePort, guestPort: plan.guestPort } : undefined);
  if (!port)
    throw new UserError('NoPortPlan', `group "${group}" has no port plan yet`, {
      hint: 'give -p BASEPORT:GUEST (members get BASEPORT, BASEPORT+1, …)',
    });
  if (
    !Number.isInteger(port.basePort) ||
    port.basePort < 1 ||
    port.basePort + opts.count > 65535 ||
    !Number.isInteger(port.guestPort) ||
    port.guestPort < 1 ||
    port.guestPort > 65535
  )
    throw new UserError(
      'InvalidPort',
      `-p ${port.basePort}:${port.guestPort} is out of range for ${opts.count} member(s)`,
      {
        hint: `a group of ${opts.count} uses ports BASEPORT … BASEPORT+${opts.count}, all within 1–65535`,
      },
    );
  const healthPath = opts.healthPath ?? plan?.healthPath ?? '/';
  if (!healthPath.startsWith('/'))
    throw new UserError('InvalidOption', `health path "${healthPath}" must start with /`);
  const slots = Array.from({ length: opts.count + 1 }, (_, i) => port.basePort + i);

  const state: DeployLocalState = {
    catalog,
    runId: `deploy-${group}-${randomBytes(6).toString('hex')}`,
    runDescription: `kiln deploy local --group ${group} ${image.id}`,
    opts,
    image,
    members,
    port,
    healthPath,
    slots,
    stopped: [],
  };
  await runSteps(
    DEPLOY_LOCAL_STEPS,
    state,
    {
      signal: opts.signal ?? new AbortController().signal,
      ui: ui ?? new BuildUi(new MemoryUi(new Secrets()), 'deploy'),
    },
    opts,
  );
  return { ...state.result!, elapsedMs: Date.now() - t0 };
}
