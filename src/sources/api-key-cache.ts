import { performance } from 'node:perf_hooks';
import { threadSignals, type PeerSignals } from '../runtime/peer-signals.js';
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

const TOPIC = 'api-keys';

export interface ApiKeyCacheOptions {
  readonly db: Db;
  /**
   * Where `invalidate()` is heard besides here: the store's peer signals (every process on
   * the PostgreSQL database, the threads of a SQLite one), or a name for BroadcastChannels
   * between this process's threads. Without it, only this instance forgets.
   */
  readonly signals?: PeerSignals | string;
  /** Default API_KEY_CACHE_TTL_MS. */
  readonly ttlMs?: number;
  /** Monotonic milliseconds (tests move it); default `performance.now`. */
  readonly now?: () => number;
  /** Keys kept at most; past it the cache starts over. Default 10,000. */
  readonly maxEntries?: number;
}

interface Entry {
  readonly row: ApiKeyWithSource;
  readonly loadedAt: number;
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
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #maxEntries: number;
  readonly #signals: PeerSignals | null;
  readonly #ownsSignals: boolean;
  readonly #unsubscribe: () => void;
  readonly #entries = new Map<string, Entry>();
  /** One read per prefix at a time; those who ask meanwhile wait for it. */
  readonly #loading = new Map<string, Promise<Entry | null>>();
  /** Bumped by every invalidation: a read begun before one is not kept. */
  #generation = 0;

  constructor(opts: ApiKeyCacheOptions) {
    this.#db = opts.db;
    this.#ttlMs = opts.ttlMs ?? API_KEY_CACHE_TTL_MS;
    this.#now = opts.now ?? (() => performance.now());
    this.#maxEntries = opts.maxEntries ?? 10_000;
    this.#ownsSignals = typeof opts.signals === 'string';
    this.#signals =
      typeof opts.signals === 'string' ? threadSignals(opts.signals) : (opts.signals ?? null);
    // A message, or null after a gap in the transport (anything may have changed): forget.
    this.#unsubscribe = this.#signals?.subscribe(TOPIC, () => this.#forget()) ?? (() => {});
  }

  /**
   * The key's source; null when the token is malformed, names no key, its secret does not
   * match, or the key is revoked.
   */
  async sourceOf(token: string): Promise<Source | null> {
    const prefix = apiKeyPrefix(token);
    if (!prefix) return null;
    const entry = await this.#entry(prefix);
    if (!entry || entry.row.revoked || !sameDigest(entry.row.hash, sha256(token))) return null;
    return entry.row.source;
  }

  /**
   * A key or a source changed (revoked, updated, deleted): forget everything here at once, and
   * have the other processes and threads on this database forget too.
   */
  invalidate(): void {
    this.#forget();
    this.#signals?.publish(TOPIC, 'changed');
  }

  close(): void {
    this.#unsubscribe();
    this.#forget();
    if (this.#ownsSignals) void this.#signals?.close();
  }

  #forget(): void {
    this.#generation++;
    this.#entries.clear();
    // Reads in flight may hold the old state: later requests start their own.
    this.#loading.clear();
  }

  #entry(prefix: string): Promise<Entry | null> {
    const now = this.#now();
    const cached = this.#entries.get(prefix);
    if (cached && now - cached.loadedAt < this.#ttlMs) return Promise.resolve(cached);
    const inFlight = this.#loading.get(prefix);
    if (inFlight) return inFlight;
    const generation = this.#generation;
    const load = findApiKeyWithSource(this.#db, prefix)
      .then((row) => {
        // Aged from when the read began, so the TTL bounds the staleness of what it saw.
        const entry = row ? { row, loadedAt: now } : null;
        if (generation === this.#generation) {
          if (entry) {
            if (this.#entries.size >= this.#maxEntries) this.#entries.clear();
            this.#entries.set(prefix, entry);
          } else {
            this.#entries.delete(prefix);
          }
        }
        return entry;
      })
      .finally(() => {
        if (this.#loading.get(prefix) === load) this.#loading.delete(prefix);
      });
    this.#loading.set(prefix, load);
    return load;
  }
}
