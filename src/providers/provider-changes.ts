import { BroadcastChannel } from 'node:worker_threads';

/**
 * A wake-up for the provider registries of this process's threads (the worker thread of
 * `herald all`) after a configuration change: they check the version at once instead of at
 * their next interval. Only a hint — the version in the database is the truth, so a missed
 * signal costs at most one interval. The channel is named after the database file, so Herald
 * instances in one process stay apart.
 */
export class ProviderChanges {
  private readonly channel: BroadcastChannel;
  private readonly listeners = new Set<() => void>();

  constructor(name: string) {
    this.channel = new BroadcastChannel(`herald-providers:${name}`);
    this.channel.onmessage = () => {
      for (const listener of this.listeners) listener();
    };
    this.channel.unref();
  }

  /** Tells the other threads (and other instances in this thread) that something changed. */
  announce(): void {
    this.channel.postMessage('changed');
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.listeners.clear();
    this.channel.close();
  }
}
