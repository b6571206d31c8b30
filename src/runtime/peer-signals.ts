import { BroadcastChannel } from 'node:worker_threads';
import type { Tx } from '../store/database.js';

/**
 * Receives one message of a topic, or null when messages may have been missed (the transport
 * reconnected): act as if anything could have changed.
 */
export type PeerListener = (message: string | null) => void;

/**
 * Wake-ups between the parts of Herald that share one database: queue consumers, inbox
 * streams, provider registries, callback caches. Only hints — the database holds the truth,
 * so a lost, doubled or late message costs latency, never correctness.
 *
 * Every subscriber of the topic hears a publish: in this instance, in the other threads and
 * (PostgreSQL) in the other processes. Implementations: `threadSignals` (BroadcastChannel,
 * the threads of one process on one SQLite file) and `PgPeerSignals` (LISTEN/NOTIFY).
 */
export interface PeerSignals {
  /** Sends a one-line message on `topic`. */
  publish(topic: string, message: string): void;
  /**
   * Sends it as part of `tx`, for a change `tx` makes: it goes out once the transaction has
   * committed (never if it rolls back), so no one is woken to look before the change is there.
   */
  publishInTransaction(tx: Tx, topic: string, message: string): Promise<void>;
  subscribe(topic: string, listener: PeerListener): () => void;
  close(): Promise<void>;
}

/** Subscribers per topic, shared by the implementations. */
export class PeerListeners {
  readonly #byTopic = new Map<string, Set<PeerListener>>();

  add(topic: string, listener: PeerListener): () => void {
    let set = this.#byTopic.get(topic);
    if (!set) {
      set = new Set();
      this.#byTopic.set(topic, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#byTopic.delete(topic);
    };
  }

  topics(): string[] {
    return [...this.#byTopic.keys()];
  }

  deliver(topic: string, message: string | null): void {
    for (const listener of [...(this.#byTopic.get(topic) ?? [])]) listener(message);
  }

  /** After a gap in the transport: every subscriber re-checks. */
  deliverGap(): void {
    for (const topic of this.topics()) this.deliver(topic, null);
  }

  clear(): void {
    this.#byTopic.clear();
  }
}

/**
 * Signals between the threads of this process (the worker thread of `herald all`), on
 * BroadcastChannels named after `name` — use the database file, so Herald instances in one
 * process stay apart. Without a name, only this instance's subscribers hear a publish.
 * Subscribers here hear it at once; other threads once the current synchronous work is done,
 * which lets a transaction in progress commit first (SQLite transactions do not yield to I/O).
 */
export function threadSignals(name?: string): PeerSignals {
  const listeners = new PeerListeners();
  const channels = new Map<string, BroadcastChannel>();
  let closed = false;
  const channel = (topic: string): BroadcastChannel | null => {
    if (name === undefined || closed) return null;
    let bc = channels.get(topic);
    if (!bc) {
      bc = new BroadcastChannel(`herald-${topic}:${name}`);
      bc.onmessage = (event) => listeners.deliver(topic, (event as { data: string }).data);
      bc.unref();
      channels.set(topic, bc);
    }
    return bc;
  };
  const publish = (topic: string, message: string): void => {
    listeners.deliver(topic, message);
    const bc = channel(topic);
    if (bc) setImmediate(() => !closed && bc.postMessage(message));
  };
  return {
    publish,
    async publishInTransaction(_tx, topic, message) {
      publish(topic, message);
    },
    subscribe(topic, listener) {
      channel(topic);
      return listeners.add(topic, listener);
    },
    async close() {
      closed = true;
      listeners.clear();
      for (const bc of channels.values()) bc.close();
      channels.clear();
    },
  };
}
