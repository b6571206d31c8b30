import { BroadcastChannel } from 'node:worker_threads';
/** What changed in a user's inbox: a new item, or items marked read. */
export type InboxSignal = 'item' | 'read';

type Listener = (signal: InboxSignal) => void;

/**
 * In-process fan-in of inbox changes to open SSE streams. Only a wake-up: streams read the
 * items themselves (from their last sequence number), so nothing is lost or repeated when a
 * signal is missed, doubled or arrives out of order.
 */
export class InboxHub {
  private readonly listeners = new Map<string, Set<Listener>>();
  /** Carries signals between threads of this process (workers write inboxes, the API streams). */
  private readonly peers: BroadcastChannel | null;

  /** @param channel when set, hubs in other threads with the same channel name hear publishes. */
  constructor(channel?: string) {
    this.peers = channel ? new BroadcastChannel(`herald-inbox:${channel}`) : null;
    if (this.peers) {
      this.peers.onmessage = (event) => {
        const { userId, signal } = (event as { data: { userId: string; signal: InboxSignal } })
          .data;
        this.notify(userId, signal);
      };
      this.peers.unref();
    }
  }

  close(): void {
    this.peers?.close();
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

  publish(userId: string, signal: InboxSignal): void {
    this.notify(userId, signal);
    this.peers?.postMessage({ userId, signal });
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
