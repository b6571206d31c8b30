import { threadSignals, type PeerSignals } from '../runtime/peer-signals.js';
import type { Db } from '../store/database.js';
import type { Clock } from '../time/clock.js';
import { listCallbackSubscriptions } from '../sources/sources-store.js';
import { isCallbackEventType, type CallbackEventType } from './callback-events.js';

/** Source id → the event types it wants (null: all). Only sources with a callback URL. */
export type Subscriptions = ReadonlyMap<string, ReadonlySet<CallbackEventType> | null>;

export interface CallbackSubscriptionsOptions {
  readonly clock: Clock;
  /** Longest time a cached answer is used. Default 2 s. */
  readonly ttlMs?: number;
  /**
   * When set, an `invalidate()` here also invalidates the caches elsewhere on this database
   * (the API changes a callback, a worker thread or process emits): the store's peer signals,
   * or a name for BroadcastChannels between this process's threads.
   */
  readonly channel?: PeerSignals | string;
}

/**
 * Which sources want which callback events, cached so that emitting costs nothing per
 * delivery: a state change asks the cache (a map lookup) and only reads the database when the
 * answer is older than the TTL. Changes made through the API invalidate the cache at once in
 * this process; other processes see them within the TTL.
 */
export class CallbackSubscriptions {
  private cached: Subscriptions = new Map();
  private loadedAt = Number.NEGATIVE_INFINITY;
  private readonly ttlMs: number;
  private readonly peers: PeerSignals | null;
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: CallbackSubscriptionsOptions) {
    this.ttlMs = opts.ttlMs ?? 2_000;
    const channel = opts.channel;
    this.peers =
      channel === undefined || typeof channel === 'object'
        ? (channel ?? null)
        : threadSignals(channel);
    this.unsubscribe = this.peers?.subscribe('callbacks', () => this.markStale()) ?? (() => {});
  }

  /**
   * The current subscriptions, read through `db` (pass the open transaction: it is the
   * connection that may be used right now) when the cache is stale.
   */
  async current(db: Db): Promise<Subscriptions> {
    const now = this.opts.clock();
    if (now - this.loadedAt < this.ttlMs) return this.cached;
    const rows = await listCallbackSubscriptions(db);
    this.cached = new Map(
      rows.map((r) => [
        r.sourceId,
        r.events === null ? null : new Set(r.events.filter(isCallbackEventType)),
      ]),
    );
    this.loadedAt = now;
    return this.cached;
  }

  /** Forget the cached answer here and in the other threads: a callback was changed. */
  invalidate(): void {
    this.markStale();
    this.peers?.publish('callbacks', 'changed');
  }

  close(): void {
    this.unsubscribe();
    if (typeof this.opts.channel === 'string') void this.peers?.close();
  }

  private markStale(): void {
    this.loadedAt = Number.NEGATIVE_INFINITY;
  }
}

export const wants = (subs: Subscriptions, sourceId: string, type: CallbackEventType): boolean => {
  const types = subs.get(sourceId);
  return types === null || (types !== undefined && types.has(type));
};
