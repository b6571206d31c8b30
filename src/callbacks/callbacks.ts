import type { Queue } from '../queue/queue.js';
import type { PeerSignals } from '../runtime/peer-signals.js';
import type { Clock } from '../time/clock.js';
import { createOutboundHttp } from '../net/outbound-http.js';
import { CallbackSubscriptions } from './callback-subscriptions.js';
import { CallbackEmitter } from './callback-emitter.js';
import {
  DEFAULT_CALLBACK_RETRY,
  type CallbackDelivery,
  type CallbackRetryPolicy,
} from './callback-worker.js';

export interface CallbacksOptions {
  readonly queue: Queue;
  readonly clock: Clock;
  /** `config.outboundAllowCidrs`: internal networks receivers may be on. */
  readonly allowCidrs: readonly string[];
  /** Invalidations across threads and processes: the store's peer signals (or a channel name). */
  readonly channel?: PeerSignals | string;
  readonly retry?: Partial<CallbackRetryPolicy>;
  readonly parallelism?: number;
}

/** Everything status callbacks need in one thread: who wants what, emission and sending. */
export interface Callbacks {
  readonly subscriptions: CallbackSubscriptions;
  readonly emitter: CallbackEmitter;
  readonly delivery: CallbackDelivery;
  close(): Promise<void>;
}

/**
 * Receivers get short timeouts: a callback is a small POST answered by a queueing receiver,
 * and one that hangs must not hold a worker's lease.
 */
export const CALLBACK_TIMEOUTS = {
  connectMs: 5_000,
  headersMs: 10_000,
  bodyMs: 5_000,
  totalMs: 15_000,
};

export function createCallbacks(opts: CallbacksOptions): Callbacks {
  const subscriptions = new CallbackSubscriptions({
    clock: opts.clock,
    ...(opts.channel !== undefined ? { channel: opts.channel } : {}),
  });
  const http = createOutboundHttp({
    allowCidrs: opts.allowCidrs,
    timeouts: CALLBACK_TIMEOUTS,
    // Receivers' answers are only looked at for their status and Retry-After.
    maxResponseBytes: 4096,
    userAgent: 'Herald-Callbacks/1',
  });
  return {
    subscriptions,
    emitter: new CallbackEmitter(opts.queue, subscriptions),
    delivery: {
      http,
      retry: { ...DEFAULT_CALLBACK_RETRY, ...opts.retry },
      parallelism: opts.parallelism ?? 16,
    },
    async close() {
      subscriptions.close();
      await http.close();
    },
  };
}
