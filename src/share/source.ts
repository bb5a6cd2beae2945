/**
 * `-var source_image=REF`: a build whose source image is named by a registry reference
 * pulls what this kiln home lacks of it (as `kiln run REF` and `docker run` do) before the
 * template's builds are prepared, and then builds on the pulled image's id. Text the
 * catalog resolves (an id, a name, a tag) is always the local image, never a reference.
 */
import type { CatalogApi } from '../catalog/types.js';
import type { BuildUi } from '../core/events.js';
import type { RunStepsOptions } from '../core/steps.js';
import { KilnError } from '../lib/errors.js';
import { type ClientOptions, parseReference, type Reference } from '../registry/index.js';
import { pullImage } from './pull.js';

/** A registry reference, or undefined for text that is a catalog image or no reference at all. */
export function sourceReference(catalog: CatalogApi, text: string): Reference | undefined {
  if (!text.includes('/')) return undefined;
  try {
    catalog.images.resolve(text);
    return undefined;
  } catch (err) {
    if (!(err instanceof KilnError)) throw err;
  }
  try {
    return parseReference(text);
  } catch {
    // Not a reference either: the builder's own check says the image is not found.
    return undefined;
  }
}

/** The `fetchSource` of loadTemplate: pulls a source image named by a registry reference, returns its id. */
export function sourceFetcher(
  opts: RunStepsOptions & {
    catalog: CatalogApi;
    clientOptions: ClientOptions;
    ui: BuildUi;
    signal: AbortSignal;
  },
): (text: string) => Promise<string | undefined> {
  return async (text) => {
    const ref = sourceReference(opts.catalog, text);
    if (!ref) return undefined;
    const pulled = await pullImage({ ...opts, ref });
    return pulled.image.id;
  };
}
