/**
 * What the steps of a smoke test share: a typed object in place of Packer's state bag.
 */
import type { CatalogApi, InstanceRecord } from '../catalog/types.js';
import type { BuildUi } from '../core/events.js';
import type { JournalState } from '../core/journal-step.js';
import type { RunStepsOptions } from '../core/steps.js';

/** What a smoke test is asked. */
export interface SmokeTestOptions extends RunStepsOptions {
  catalog: CatalogApi;
  imageId: string;
  /** The port the service listens on inside the guest. */
  guestPort: number;
  path: string;
  expectStatus: number;
  expectBody?: string;
  /** Go duration: how long the image gets to boot and answer. */
  timeout: string;
  ui: BuildUi;
  signal?: AbortSignal;
  /** Boot and check even when this check passed before. */
  force?: boolean;
  /** Instance name prefix. */
  name: string;
}

export interface SmokeState extends JournalState {
  catalog: CatalogApi;
  opts: SmokeTestOptions;
  /** The check's identity: a pass is remembered under it. */
  check: { image: string; port: number; path: string; status: number; body: string | null };
  /** `<kiln home>/pipeline/smoke/<image>-<key>.json`: written once the image passed. */
  marker: string;
  /** The throwaway instance, once booted. */
  instance?: InstanceRecord;
}
