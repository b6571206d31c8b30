import type { Db } from '../store/database.js';
import { getCategoriesByKeys, type Category } from '../categories/categories-store.js';
import { getSourcesByIds, type Source } from '../sources/sources-store.js';
import { SOURCES_TOPIC } from '../sources/api-key-cache.js';
import { resolveTemplate, type StoredTemplate } from '../templates/templates-store.js';
import type { PeerSignals } from './peer-signals.js';
import { PeerCache } from './peer-cache.js';

/**
 * The rows fan-out and delivery read for every lease and that change rarely: categories,
 * sources, templates. `directLookups` reads them each time; `CachedLookups` keeps them.
 */
export interface Lookups {
  /** The categories among `keys` that exist, by key. */
  categories(db: Db, keys: Iterable<string>): Promise<Map<string, Category>>;
  /** The sources among `ids` that exist, by id. */
  sources(db: Db, ids: Iterable<string>): Promise<Map<string, Source>>;
  /** The current template of the first of `locales` that has one (see resolveTemplate). */
  template(
    db: Db,
    category: string,
    channel: string,
    locales: readonly string[],
  ): Promise<StoredTemplate | null>;
}

export const directLookups: Lookups = {
  async categories(db, keys) {
    return new Map((await getCategoriesByKeys(db, [...new Set(keys)])).map((c) => [c.key, c]));
  },
  sources: getSourcesByIds,
  template: resolveTemplate,
};

/**
 * Longest time a cached category, source or template is used without reading it again, when
 * the change signal did not arrive: a change applies to the deliveries planned and rendered
 * after at most this long (normally milliseconds).
 */
export const LOOKUP_CACHE_TTL_MS = 2_000;

export type LookupKind = 'categories' | 'templates' | 'sources';

/**
 * `Lookups` cached per process. A change made through the API calls `invalidate(kind)` (sources
 * through `ApiKeyCache.invalidate`, same topic): every cache on the database forgets that kind
 * when the peer signal arrives, and without it within LOOKUP_CACHE_TTL_MS.
 */
export class CachedLookups implements Lookups {
  readonly #categories: PeerCache<Category>;
  readonly #sources: PeerCache<Source>;
  readonly #templates: PeerCache<StoredTemplate>;

  constructor(opts: { signals?: PeerSignals | string; ttlMs?: number; now?: () => number } = {}) {
    const common = {
      ttlMs: opts.ttlMs ?? LOOKUP_CACHE_TTL_MS,
      ...(opts.signals !== undefined ? { signals: opts.signals } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    };
    this.#categories = new PeerCache({ topic: 'categories', ...common });
    this.#sources = new PeerCache({ topic: SOURCES_TOPIC, ...common });
    this.#templates = new PeerCache({ topic: 'templates', ...common });
  }

  categories(db: Db, keys: Iterable<string>): Promise<Map<string, Category>> {
    return this.#categories.getMany(keys, (missing) => directLookups.categories(db, missing));
  }

  sources(db: Db, ids: Iterable<string>): Promise<Map<string, Source>> {
    return this.#sources.getMany(ids, (missing) => getSourcesByIds(db, missing));
  }

  async template(
    db: Db,
    category: string,
    channel: string,
    locales: readonly string[],
  ): Promise<StoredTemplate | null> {
    const key = `${category}\u0000${channel}\u0000${locales.join('\u0000')}`;
    const found = await this.#templates.get(
      key,
      async () => (await resolveTemplate(db, category, channel, locales)) ?? undefined,
    );
    return found ?? null;
  }

  /** Rows of `kind` changed: forget them here at once and in every process on the database. */
  invalidate(kind: LookupKind): void {
    const cache =
      kind === 'categories'
        ? this.#categories
        : kind === 'sources'
          ? this.#sources
          : this.#templates;
    cache.invalidate();
  }

  close(): void {
    this.#categories.close();
    this.#sources.close();
    this.#templates.close();
  }
}
