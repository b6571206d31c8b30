import type { Channel } from './channel.js';
import type { ChannelProvider } from './channel-provider.js';

/**
 * Which provider serves each channel: the configured one, else the sandbox when it is on,
 * else none (deliveries on that channel are suppressed with `channel-not-configured`).
 */
export class ProviderRegistry {
  private readonly configured = new Map<Channel, ChannelProvider>();

  constructor(private readonly sandbox: ChannelProvider | null) {}

  register(channel: Channel, provider: ChannelProvider): this {
    this.configured.set(channel, provider);
    return this;
  }

  providerFor(channel: Channel): ChannelProvider | null {
    return this.configured.get(channel) ?? this.sandbox;
  }

  /** Closes every provider once (a provider serving several channels is closed once). */
  async close(): Promise<void> {
    const all = new Set([...this.configured.values(), ...(this.sandbox ? [this.sandbox] : [])]);
    await Promise.all([...all].map((p) => p.close?.()));
  }
}
