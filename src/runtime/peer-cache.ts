import { performance } from 'node:perf_hooks';
import { threadSignals, type PeerSignals } from './peer-signals.js';

export interface PeerCacheOptions {
  /** The peer-signal topic whose messages make every cache on it forget. */
  readonly topic: string;
  /**
   * Where `invalidate()` is heard besides here: the store's peer signals (every process on
   * the PostgreSQL database, the threads of a SQLite one), or a name for BroadcastChannels
   * between this process's threads. Without it, only this instance forgets.
   */
  readonly signals?: PeerSignals | string;
  /** Longest time an entry is used without reading it again. */
  readonly ttlMs: number;
  /** Monotonic milliseconds (tests move it); default `performance.now`. */
  readonly now?: () => number;
  /** Entries kept at most; past it the cache starts over. Default 10,000. */
  readonly maxEntries?: number;
}

interface Entry<V> {
  readonly value: V;
  readonly loadedAt: number;
}

/**
 * A read-through cache of rows that change rarely (API keys, sources, categories, templates),
 * kept fresh by peer signals: `invalidate()` empties it here at once and, through the signals,
 * in the other threads and processes on this database. A lost signal (or a change made by hand
 * in the database) is noticed within the TTL, the bound on staleness. What is absent is not
 * cached: a row created later is seen at once.
 *
 * A read begun before an invalidation is not kept (it may have seen the old row), and a
 * request after the invalidation never joins it.
 */
export class PeerCache<V> {
  readonly #topic: string;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #maxEntries: number;
  readonly #signals: PeerSignals | null;
  readonly #ownsSignals: boolean;
  readonly #unsubscribe: () => void;
  readonly #entries = new Map<string, Entry<V>>();
  /** One read per key at a time (`get`); those who ask meanwhile wait for it. */
  readonly #loading = new Map<string, Promise<V | undefined>>();
  /** Bumped by every invalidation: a read begun before one is not kept. */
  #generation = 0;

  constructor(opts: PeerCacheOptions) {
    this.#topic = opts.topic;
    this.#ttlMs = opts.ttlMs;
    this.#now = opts.now ?? (() => performance.now());
    this.#maxEntries = opts.maxEntries ?? 10_000;
    this.#ownsSignals = typeof opts.signals === 'string';
    this.#signals =
      typeof opts.signals === 'string' ? threadSignals(opts.signals) : (opts.signals ?? null);
    // A message, or null after a gap in the transport (anything may have changed): forget.
    this.#unsubscribe = this.#signals?.subscribe(this.#topic, () => this.forget()) ?? (() => {});
  }

  /** The value of `key`, read with `load` (undefined: there is none) unless cached. */
  get(key: string, load: (key: string) => Promise<V | undefined>): Promise<V | undefined> {
    const now = this.#now();
    const cached = this.#fresh(key, now);
    if (cached) return Promise.resolve(cached.value);
    const inFlight = this.#loading.get(key);
    if (inFlight) return inFlight;
    const generation = this.#generation;
    const read = load(key)
      .then((value) => {
        if (generation === this.#generation) {
          if (value === undefined) this.#entries.delete(key);
          else this.#keep(key, value, now);
        }
        return value;
      })
      .finally(() => {
        if (this.#loading.get(key) === read) this.#loading.delete(key);
      });
    this.#loading.set(key, read);
    return read;
  }

  /**
   * The values of `keys` (absent ones left out): the cached ones, and the others with ONE call
   * of `load`.
   */
  async getMany(
    keys: Iterable<string>,
    load: (missing: string[]) => Promise<ReadonlyMap<string, V>>,
  ): Promise<Map<string, V>> {
    const now = this.#now();
    const found = new Map<string, V>();
    const missing: string[] = [];
    for (const key of new Set(keys)) {
      const cached = this.#fresh(key, now);
      if (cached) found.set(key, cached.value);
      else missing.push(key);
    }
    if (missing.length === 0) return found;
    const generation = this.#generation;
    const loaded = await load(missing);
    const keep = generation === this.#generation;
    for (const key of missing) {
      const value = loaded.get(key);
      if (value === undefined) continue;
      found.set(key, value);
      if (keep) this.#keep(key, value, now);
    }
    return found;
  }

  /** Something changed: forget here at once, and have the others on this database forget. */
  invalidate(): void {
    this.forget();
    this.#signals?.publish(this.#topic, 'changed');
  }

  /** Forgets everything here only. */
  forget(): void {
    this.#generation++;
    this.#entries.clear();
    this.#loading.clear();
  }

  close(): void {
    this.#unsubscribe();
    this.forget();
    if (this.#ownsSignals) void this.#signals?.close();
  }

  #fresh(key: string, now: number): Entry<V> | undefined {
    const entry = this.#entries.get(key);
    return entry && now - entry.loadedAt < this.#ttlMs ? entry : undefined;
  }

  /** Aged from when its read began, so the TTL bounds the staleness of what the read saw. */
  #keep(key: string, value: V, loadedAt: number): void {
    if (this.#entries.size >= this.#maxEntries) this.#entries.clear();
    this.#entries.set(key, { value, loadedAt });
  }
}
