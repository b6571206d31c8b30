import { threadSignals, type PeerSignals } from '../runtime/peer-signals.js';

const TOPIC = 'providers';

/**
 * A wake-up for the provider registries on this database (the worker thread of `herald all`,
 * the other processes on PostgreSQL) after a configuration change: they check the version at
 * once instead of at their next interval. Only a hint — the version in the database is the
 * truth, so a missed signal costs at most one interval.
 */
export class ProviderChanges {
  private readonly signals: PeerSignals;
  private readonly ownsSignals: boolean;
  private readonly unsubscribe: () => void;
  private readonly listeners = new Set<() => void>();

  /**
   * @param signals the store's peer signals, or a name for BroadcastChannels of this process
   *   (the database file, so Herald instances in one process stay apart).
   */
  constructor(signals: PeerSignals | string) {
    this.ownsSignals = typeof signals === 'string';
    this.signals = typeof signals === 'string' ? threadSignals(signals) : signals;
    this.unsubscribe = this.signals.subscribe(TOPIC, () => {
      for (const listener of this.listeners) listener();
    });
  }

  /** Tells every registry on this database (those of this instance too) that something changed. */
  announce(): void {
    this.signals.publish(TOPIC, 'changed');
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.listeners.clear();
    this.unsubscribe();
    if (this.ownsSignals) void this.signals.close();
  }
}
