/** The registry cache's setting, apart from the cache itself: the CLI's help names it without loading it. */

/** The environment variable naming the cache repository (`host[:port]/repository`). */
export const CACHE_ENV = 'KILN_REGISTRY_CACHE';
