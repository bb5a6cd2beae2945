/** Sharing images through an OCI registry: `kiln push` and `kiln pull` as step lists. */

export { CACHE_ENV, cacheTag, parseCacheRepository, registryCache } from './cache.js';
export { type PullOptions, type PullResult, pullImage } from './pull.js';
export { type PushOptions, type PushResult, pushImage } from './push.js';
export { sourceFetcher, sourceReference } from './source.js';
