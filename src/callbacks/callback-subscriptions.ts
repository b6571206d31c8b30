import { BroadcastChannel } from 'node:worker_threads';
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
   * When set, an `invalidate()` here also invalidates the caches of other threads of this
   * process with the same channel name (the API changes a callback, the worker thread emits).
   */
  readonly channel?: string;
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
  private readonly peers: BroadcastChannel | null;

  constructor(private readonly opts: CallbackSubscriptionsOptions) {
    this.ttlMs = opts.ttlMs ?? 2_000;
    this.peers = opts.channel ? new BroadcastChannel(`herald-callbacks:${opts.channel}`) : null;
    if (this.peers) {
      this.peers.onmessage = () => this.markStale();
      this.peers.unref();
    }
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
    this.peers?.postMessage('changed');
  }

  close(): void {
    this.peers?.close();
  }

  private markStale(): void {
    this.loadedAt = Number.NEGATIVE_INFINITY;
  }
}

export const wants = (subs: Subscriptions, sourceId: string, type: CallbackEventType): boolean => {
  const types = subs.get(sourceId);
  return types === null || (types !== undefined && types.has(type));
};
