/**
 * `kiln pull REF`: an image artifact that `kiln push` wrote becomes its chain of images in
 * this kiln home, each with the id and lineage it had where it was built; images the
 * catalog already has are neither fetched nor registered again. Every blob is verified
 * while it streams, every file is complete before it gets its name, and the chain is
 * registered in one transaction: a pull that fails or is interrupted anywhere leaves
 * nothing in the catalog and no file in the kiln home.
 */
import { randomBytes } from 'node:crypto';
import type { CatalogApi, ImageRecord } from '../catalog/types.js';
import type { BuildUi } from '../core/events.js';
import { openJournal } from '../core/journal-step.js';
import type { SavedStateTransfer } from '../core/plugin.js';
import { type RunStepsOptions, runSteps, type Step } from '../core/steps.js';
import { diskFullError } from '../lib/errors.js';
import { type ClientOptions, formatReference, type Reference } from '../registry/index.js';
import type { PullState } from './state.js';
import { connectRegistry } from './steps/connect-registry.js';
import { createScratchDir } from './steps/create-scratch-dir.js';
import { createWorkDirs } from './steps/create-work-dirs.js';
import { downloadLayers } from './steps/download-layers.js';
import { downloadState } from './steps/download-state.js';
import { fetchManifest } from './steps/fetch-manifest.js';
import { findState } from './steps/find-state.js';
import { installState } from './steps/install-state.js';
import { moveIntoPlace } from './steps/move-into-place.js';
import { rebaseOverlays } from './steps/rebase-overlays.js';
import { registerChain } from './steps/register-chain.js';

/** The steps of `kiln pull`, in order. */
export const PULL_STEPS: readonly Step<PullState>[] = [
  openJournal,
  connectRegistry,
  createScratchDir,
  fetchManifest,
  findState,
  createWorkDirs,
  downloadLayers,
  downloadState,
  moveIntoPlace,
  rebaseOverlays,
  registerChain,
  installState,
];

export interface PullOptions extends RunStepsOptions {
  catalog: CatalogApi;
  ref: Reference;
  clientOptions: ClientOptions;
  /** Also fetch the image's saved VM state (pushed with `--with-state`) and install it. */
  withState?: boolean;
  /** How images of a builder carry a saved state (the builder plugin's `savedState`). */
  stateTransfer?: (builder: string) => SavedStateTransfer | undefined;
  ui: BuildUi;
  signal: AbortSignal;
}

/** What a pull did. */
export interface PullResult {
  reference: string;
  digest: string;
  /** The chain, base first; `pulled` false for an image the catalog had. */
  images: Array<{ id: string; name: string; parentId: string | null; pulled: boolean }>;
  /** Compressed bytes fetched. */
  bytes: number;
  /** The pulled image (the top of the chain). */
  image: ImageRecord;
  /** The digest of the saved VM state installed with it (`withState`). */
  stateDigest?: string;
}

/** Pulls `ref` into the catalog; returns its chain. */
export async function pullImage(opts: PullOptions): Promise<PullResult> {
  const { catalog, ui, ref } = opts;
  const state: PullState = {
    catalog,
    runId: `pull-${randomBytes(8).toString('hex')}`,
    runDescription: `kiln pull ${formatReference(ref)}`,
    ref,
    clientOptions: opts.clientOptions,
    chain: [],
    bytesFetched: 0,
    withState: opts.withState === true,
    ...(opts.stateTransfer ? { stateTransfer: opts.stateTransfer } : {}),
  };
  ui.say(`Pulling ${formatReference(ref)}`);
  try {
    await runSteps(PULL_STEPS, state, { signal: opts.signal, ui }, opts);
  } catch (err) {
    // Whichever write met the full disk (a blob, a layer, a qcow2 header, the catalog).
    throw diskFullError(err, `the images of ${formatReference(ref)}`, catalog.home);
  }
  const images = state.chain.map((c) => catalog.images.get(c.link.id)!);
  const top = images.at(-1)!;
  const fetched = state.chain.filter((c) => !c.present).length;
  ui.say(
    `${top.id} (${top.name}): ${fetched} of ${images.length} images fetched, ${(state.bytesFetched / 1e6).toFixed(1)} MB`,
  );
  return {
    reference: formatReference(ref),
    digest: state.manifestDigest!,
    images: state.chain.map((c, i) => ({
      id: c.link.id,
      name: images[i]!.name,
      parentId: images[i]!.parentId,
      pulled: !c.present,
    })),
    bytes: state.bytesFetched,
    image: top,
    ...(state.stateInstalled ? { stateDigest: state.savedState!.digest } : {}),
  };
}
