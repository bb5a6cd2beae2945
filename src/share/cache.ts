/**
 * A registry as the build cache shared between machines: the image a build made is pushed
 * to `<repository>:kiln-cache-<input hash>`, and a build whose inputs hash the same pulls
 * it instead of building. Image ids travel with a pull, so a build on a pulled image hashes
 * the same on every machine. Never the saved VM state: only what `kiln push` sends by default.
 */
import type { CatalogApi } from '../catalog/types.js';
import type { RemoteImageCache } from '../core/build.js';
import { KilnError, UserError } from '../lib/errors.js';
import { type ClientOptions, parseReference, type Reference } from '../registry/index.js';
import { pullImage } from './pull.js';
import { pushImage } from './push.js';

export { CACHE_ENV } from './cache-env.js';

/** The tag an input hash is stored under. */
export function cacheTag(inputHash: string): string {
  return `kiln-cache-${inputHash.replace(/^sha256:/, '')}`;
}

/** Parses a cache setting: a repository without tag or digest; `where` names the setting. */
export function parseCacheRepository(text: string, where: string): Reference {
  const ref = parseReference(text);
  if (ref.tag || ref.digest)
    throw new UserError('BadCacheSetting', `${where}: "${text}" names a tag or digest`, {
      hint: 'give the repository only (host[:port]/repository): kiln tags each image by its input hash',
    });
  return ref;
}

/** The registry cache over `repository` for builds recording into `catalog`. */
export function registryCache(
  catalog: CatalogApi,
  repository: Reference,
  clientOptions: ClientOptions,
): RemoteImageCache {
  const at = (hash: string): Reference => ({ ...repository, tag: cacheTag(hash) });
  return {
    name: `registry cache ${repository.registry}/${repository.repository}`,
    async fetch(hash, ui, signal) {
      try {
        const r = await pullImage({ catalog, ref: at(hash), clientOptions, ui, signal });
        return r.image.id;
      } catch (err) {
        if (err instanceof KilnError && err.code === 'ManifestUnknown') return undefined;
        throw err;
      }
    },
    async store(imageId, hash, ui, signal) {
      await pushImage({
        catalog,
        image: imageId,
        ref: at(hash),
        clientOptions,
        withState: false,
        ui,
        signal,
      });
    },
  };
}
