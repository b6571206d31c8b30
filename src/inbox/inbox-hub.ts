import { threadSignals, type PeerSignals } from '../runtime/peer-signals.js';

/** What changed in a user's inbox: a new item, or items marked read. */
export type InboxSignal = 'item' | 'read';

type Listener = (signal: InboxSignal) => void;

const TOPIC = 'inbox';

/**
 * Fan-in of inbox changes to the open SSE streams of this process. Only a wake-up: streams
 * read the items themselves (from their last sequence number), so nothing is lost or repeated
 * when a signal is missed, doubled or arrives out of order.
 *
 * Workers write inboxes wherever they run: publishes travel on the store's peer signals, so
 * streams in every thread (SQLite) or every process (PostgreSQL LISTEN/NOTIFY) hear them.
 */
export class InboxHub {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly signals: PeerSignals;
  private readonly ownsSignals: boolean;
  private readonly unsubscribe: () => void;

  /**
   * @param signals the store's peer signals; a name instead makes BroadcastChannels of that
   *   name (this process's threads); none: only this hub's own streams hear its publishes.
   */
  constructor(signals?: PeerSignals | string) {
    this.ownsSignals = typeof signals !== 'object';
    this.signals = typeof signals === 'object' ? signals : threadSignals(signals);
    this.unsubscribe = this.signals.subscribe(TOPIC, (message) => {
      if (message === null) {
        // The transport had a gap: every stream re-reads from where it is.
        for (const userId of [...this.listeners.keys()]) this.notify(userId, 'item');
        return;
      }
      const space = message.indexOf(' ');
      const signal = message.slice(0, space);
      if (signal === 'item' || signal === 'read') this.notify(message.slice(space + 1), signal);
    });
  }

  close(): void {
    this.unsubscribe();
    if (this.ownsSignals) void this.signals.close();
  }

  subscribe(userId: string, listener: Listener): () => void {
    let set = this.listeners.get(userId);
    if (!set) {
      set = new Set();
      this.listeners.set(userId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(userId);
    };
  }

  /** Wakes the user's streams here and wherever else they are open. */
  publish(userId: string, signal: InboxSignal): void {
    this.signals.publish(TOPIC, `${signal} ${userId}`);
  }

  private notify(userId: string, signal: InboxSignal): void {
    for (const l of this.listeners.get(userId) ?? []) l(signal);
  }

  connections(userId?: string): number {
    if (userId !== undefined) return this.listeners.get(userId)?.size ?? 0;
    let n = 0;
    for (const s of this.listeners.values()) n += s.size;
    return n;
  }
}
