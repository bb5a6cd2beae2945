/**
 * What the steps of `kiln deploy local` share: a typed object in place of Packer's state
 * bag. Everything in it up to `slots` is decided before any step runs.
 */
import type { CatalogApi, ImageRecord } from '../../catalog/types.js';
import type { BuildUi } from '../../core/events.js';
import type { JournalState } from '../../core/journal-step.js';
import type { RunStepsOptions } from '../../core/steps.js';
import type { InstanceStatus } from '../status.js';

/** What `deployLocal` is asked. */
export interface DeployLocalOptions extends RunStepsOptions {
  catalog: CatalogApi;
  /** Image reference (id, prefix, tag or name). */
  image: string;
  group: string;
  /** How many members the group has afterwards. */
  count: number;
  /** Host ports from `basePort`, forwarding to `guestPort`; default: the group's current plan. */
  port?: { basePort: number; guestPort: number };
  /** Default: the group's current path, else `/`. */
  healthPath?: string;
  expectStatus?: number;
  expectBody?: string | RegExp;
  /** How long each new member has to answer its health check. */
  timeoutMs: number;
  /** Put the previous image back on members already replaced when a later one fails (default true). */
  rollback?: boolean;
  memoryMb?: number;
  cpus?: number;
  signal?: AbortSignal;
  ui?: BuildUi;
}

/** What a deploy did. */
export interface DeployLocalResult {
  group: string;
  imageId: string;
  /** Members now serving IMAGE, with their host ports. */
  started: Array<{ id: string; port: number }>;
  /** Old members stopped (or exited ones cleared). */
  stopped: string[];
  deploymentId: number;
  elapsedMs: number;
}

export interface DeployLocalState extends JournalState {
  catalog: CatalogApi;
  opts: DeployLocalOptions;
  image: ImageRecord;
  /** The group's members before the deploy, running or not. */
  members: InstanceStatus[];
  port: { basePort: number; guestPort: number };
  healthPath: string;
  /** The group's host ports: BASEPORT … BASEPORT+count. */
  slots: number[];
  /** The lock file, once this run holds it. */
  lockFile?: string;
  /** Old members stopped (or exited ones cleared). */
  stopped: string[];
  result?: DeployLocalResult;
}
