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
    for (const l of this.listeners.get(userId) ?? []) l(signal);
  }

  connections(userId?: string): number {
    if (userId !== undefined) return this.listeners.get(userId)?.size ?? 0;
    let n = 0;
    for (const s of this.listeners.values()) n += s.size;
    return n;
  }
}
