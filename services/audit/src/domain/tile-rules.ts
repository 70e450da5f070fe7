/**
 * How the log is served as static tiles (c2sp.org/tlog-tiles): the caching each kind of
 * resource gets. The spec: the checkpoint is mutable and "SHOULD prevent caching beyond
 * a few seconds"; tiles and entry bundles are immutable, "caching headers SHOULD be
 * long-lived". A partial tile's bytes never change either, but the log may stop serving
 * it once the full tile exists, so caches keep it only briefly.
 */
export const CHECKPOINT_CACHE_CONTROL = 'public, max-age=2';
/** Full tiles and bundles: a year, and `immutable` so browsers do not revalidate. */
export const FULL_TILE_CACHE_CONTROL = 'public, max-age=31536000, immutable';
export const PARTIAL_TILE_CACHE_CONTROL = 'public, max-age=60';
/** Errors (a tile not yet in the tree becomes one later): never cached. */
export const ERROR_CACHE_CONTROL = 'no-store';
/** The longest request path served: the longest tile path is about 50 characters. */
export const MAX_TILE_REQUEST_PATH = 128;
