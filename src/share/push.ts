/**
 * `kiln push IMAGE REF`: the image's chain (base → … → image) as one OCI image artifact,
 * one layer per file of each image, with the catalog's records in its config. Everything
 * that can be refused is refused before anything is sent: an image that is not local, a
 * file that is gone, a saved state asked for that was never saved.
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import type { CatalogApi, ImageRecord } from '../catalog/types.js';
import type { BuildUi } from '../core/events.js';
import { openJournal } from '../core/journal-step.js';
import type { SavedStateTransfer } from '../core/plugin.js';
import { type RunStepsOptions, runSteps, type Step } from '../core/steps.js';
import { UserError } from '../lib/errors.js';
import { type ClientOptions, formatReference, type Reference } from '../registry/index.js';
import { fileName } from './portable.js';
import type { BlobOutcome, OutgoingImage, PushState } from './state.js';
import { connectRegistry } from './steps/connect-registry.js';
import { createScratchDir } from './steps/create-scratch-dir.js';
import { pushLayers } from './steps/push-layers.js';
import { pushManifest } from './steps/push-manifest.js';
import { pushState } from './steps/push-state.js';

/** The steps of `kiln push`, in order. */
export const PUSH_STEPS: readonly Step<PushState>[] = [
  openJournal,
  connectRegistry,
  createScratchDir,
  pushLayers,
  pushManifest,
  pushState,
];

export interface PushOptions extends RunStepsOptions {
  catalog: CatalogApi;
  /** Image id, prefix, tag or name. */
  image: string;
  ref: Reference;
  clientOptions: ClientOptions;
  /** Also push the image's saved VM state: the build VM's memory (explicit opt-in only). */
  withState: boolean;
  /** How images of a builder carry a saved state (the builder plugin's `savedState`). */
  stateTransfer?: (builder: string) => SavedStateTransfer | undefined;
  ui: BuildUi;
  signal: AbortSignal;
}

/** What a push did. */
export interface PushResult {
  reference: string;
  digest: string;
  images: Array<{ id: string; name: string }>;
  blobs: BlobOutcome[];
  stateDigest?: string;
}

/** The chain of `image` as files to push, checked: a UserError for what cannot be pushed. */
function outgoing(catalog: CatalogApi, image: ImageRecord): OutgoingImage[] {
  const chain = catalog.images.lineage(image.id).reverse();
  return chain.map((img) => {
    if (img.id.startsWith('ami-') || img.files.length === 0)
      throw new UserError(
        'NotLocalImage',
        `image ${img.id} (${img.name}) has no local disk to push`,
        {
          hint: 'kiln push sends local images (qemu, base, import); an AMI stays in its AWS account',
        },
      );
    if (img.status !== 'ready')
      throw new UserError('ImageNotReady', `image ${img.id} (${img.name}) is ${img.status}`, {
        hint: img.status === 'missing' ? 'its disk is gone: rebuild it' : 'push a ready image',
      });
    const names = new Set<string>();
    const files = img.files.map((path) => {
      if (!statSync(path, { throwIfNoEntry: false })?.isFile())
        throw new UserError('ImageFileMissing', `file ${path} of image ${img.id} is gone`, {
          hint: 'rebuild the image',
        });
      const name = fileName(path);
      if (names.has(name) || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(name))
        throw new UserError(
          'UnpushableImage',
          `image ${img.id} has a file kiln cannot name in a registry: ${path}`,
        );
      names.add(name);
      return { path, name };
    });
    return { image: img, disk: files[0]!, others: files.slice(1) };
  });
}

/** Pushes the image's chain to `ref`; returns its digest and what each blob took. */
export async function pushImage(opts: PushOptions): Promise<PushResult> {
  const { catalog, ui, ref } = opts;
  if (ref.digest)
    throw new UserError(
      'BadReference',
      `kiln push needs a tag, not a digest (${formatReference(ref)})`,
      {
        hint: 'the registry names what is pushed by its digest; push to host/repo:tag',
      },
    );
  const image = catalog.images.resolve(opts.image);
  const chain = outgoing(catalog, image);
  const transfer = opts.withState ? opts.stateTransfer?.(image.builder) : undefined;
  if (opts.withState && !transfer?.has(image))
    throw new UserError('NoSavedState', `image ${image.id} (${image.name}) has no saved VM state`, {
      hint: 'kiln saves one at the end of a build, never for a template with sensitive variables or with KILN_WARM=0; push without --with-state',
    });
  const state: PushState = {
    catalog,
    runId: `push-${randomBytes(8).toString('hex')}`,
    runDescription: `kiln push ${image.id} ${formatReference(ref)}`,
    ref,
    clientOptions: opts.clientOptions,
    chain,
    withState: opts.withState,
    ...(transfer ? { stateTransfer: transfer } : {}),
    blobs: [],
  };
  ui.say(`Pushing ${image.id} (${chain.length} images) to ${formatReference(ref)}`);
  await runSteps(PUSH_STEPS, state, { signal: opts.signal, ui }, opts);
  const count = (how: string) => state.blobs.filter((b) => b.how === how).length;
  const sent = state.blobs.reduce((n, b) => n + b.bytesSent, 0);
  ui.say(
    `${chain.length} images, ${state.blobs.length} blobs: ${count('uploaded')} uploaded (${(sent / 1e6).toFixed(1)} MB), ${count('mounted')} mounted from another repository, ${count('exists')} already there`,
  );
  return {
    reference: formatReference(ref),
    digest: state.artifact!.descriptor.digest,
    images: chain.map((c) => ({ id: c.image.id, name: c.image.name })),
    blobs: state.blobs,
    ...(state.stateDigest ? { stateDigest: state.stateDigest } : {}),
  };
}
