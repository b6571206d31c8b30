import { PeerCache } from '../runtime/peer-cache.js';
import type { PeerSignals } from '../runtime/peer-signals.js';
import type { Db } from '../store/database.js';
import { sameDigest, sha256 } from '../auth/secrets.js';
import {
  apiKeyPrefix,
  findApiKeyWithSource,
  type ApiKeyWithSource,
  type Source,
} from './sources-store.js';

/**
 * Longest time a cached API key or source is used without reading it again: the bound on how
 * late another process notices a revoked key or a changed source when the change signal did
 * not reach it (its LISTEN connection was down). Normally the signal arrives within
 * milliseconds; the process that made the change forgets at once.
 */
export const API_KEY_CACHE_TTL_MS = 2_000;

/** The peer-signal topic of changes to sources and their API keys. */
export const SOURCES_TOPIC = 'sources';

export interface ApiKeyCacheOptions {
  readonly db: Db;
  /** Where `invalidate()` is heard besides here (see PeerCacheOptions.signals). */
  readonly signals?: PeerSignals | string;
  /** Default API_KEY_CACHE_TTL_MS. */
  readonly ttlMs?: number;
  /** Monotonic milliseconds (tests move it); default `performance.now`. */
  readonly now?: () => number;
  /** Keys kept at most; past it the cache starts over. Default 10,000. */
  readonly maxEntries?: number;
}

/**
 * The source an API key (`hk_<prefix>_<secret>`) belongs to, cached per key prefix so that a
 * request pays no database round trip for its authentication (it paid two). What is cached is
 * the key's row and its source as the database had them; each request still checks its
 * secret against the row's hash (constant-time) and the row's revocation.
 *
 * Freshness: `invalidate()` (called after a key is revoked or a source changed or deleted)
 * empties this cache before the change is answered, so the next request of this process reads
 * the database again, and tells the other processes and threads through the peer signals; a
 * lost signal (or a change made by hand in the database) is noticed within the TTL. Unknown
 * prefixes are not cached: a new key works at once, and guessing costs what it did.
 */
export class ApiKeyCache {
  readonly #db: Db;
  readonly #cache: PeerCache<ApiKeyWithSource>;

  constructor(opts: ApiKeyCacheOptions) {
    this.#db = opts.db;
    this.#cache = new PeerCache({
      topic: SOURCES_TOPIC,
      ttlMs: opts.ttlMs ?? API_KEY_CACHE_TTL_MS,
      ...(opts.signals !== undefined ? { signals: opts.signals } : {}),
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.maxEntries !== undefined ? { maxEntries: opts.maxEntries } : {}),
    });
  }

  /**
   * The key's source; null when the token is malformed, names no key, its secret does not
   * match, or the key is revoked.
   */
  async sourceOf(token: string): Promise<Source | null> {
    const prefix = apiKeyPrefix(token);
    if (!prefix) return null;
    const row = await this.#cache.get(
      prefix,
      async (p) => (await findApiKeyWithSource(this.#db, p)) ?? undefined,
    );
    if (!row || row.revoked || !sameDigest(row.hash, sha256(token))) return null;
    return row.source;
  }

  /**
   * A key or a source changed (revoked, updated, deleted): forget everything here at once, and
   * have the other processes and threads on this database forget too.
   */
  invalidate(): void {
    this.#cache.invalidate();
  }

  close(): void {
    this.#cache.close();
  }
}
