import type { Channel } from './channel.js';
import type { ChannelProvider } from './channel-provider.js';
import type { CircuitState } from './resilience/circuit-breaker-provider.js';

export interface CircuitReport {
  readonly channel: Channel;
  readonly provider: string;
  readonly state: CircuitState;
}

/** Providers that come and go while Herald runs (operators configure them through the API). */
export interface ConfiguredProviderSource {
  /** The provider serving `channel` now, or null when none is configured for it. */
  providerFor(channel: Channel): ChannelProvider | null;
  /** Catches up with configuration changes; cheap when there are none. Never rejects. */
  refresh(): Promise<void>;
  /** Also checks on a timer, so that what is not a send (the fan-out) sees changes too. */
  watch(): void;
  /** Breaker state of each configured provider that has a breaker. */
  circuits(): CircuitReport[];
  close(): Promise<void>;
}

/**
 * Which provider serves each channel, first match wins:
 * 1. one `register`ed (a test's override);
 * 2. the enabled provider configurations of the channel (`useConfigured`);
 * 3. the built-in default (`setDefault`: in-app, the email relay of HERALD_SMTP_URL);
 * 4. the sandbox when it is on;
 * else none (deliveries on that channel are suppressed with `channel-not-configured`).
 */
export class ProviderRegistry {
  private readonly overrides = new Map<Channel, ChannelProvider>();
  private readonly defaults = new Map<Channel, ChannelProvider>();
  private configured: ConfiguredProviderSource | null = null;

  constructor(private readonly sandbox: ChannelProvider | null) {}

  /** Serves `channel` with `provider` whatever else is configured (tests inject doubles). */
  register(channel: Channel, provider: ChannelProvider): this {
    this.overrides.set(channel, provider);
    return this;
  }

  /** The provider of `channel` when no configuration names one. */
  setDefault(channel: Channel, provider: ChannelProvider): this {
    this.defaults.set(channel, provider);
    return this;
  }

  useConfigured(source: ConfiguredProviderSource): this {
    this.configured = source;
    return this;
  }

  providerFor(channel: Channel): ChannelProvider | null {
    return (
      this.overrides.get(channel) ??
      this.configured?.providerFor(channel) ??
      this.defaults.get(channel) ??
      this.sandbox
    );
  }

  /** Picks up provider configuration changes (the delivery worker calls it for every lease). */
  refresh(): Promise<void> {
    return this.configured?.refresh() ?? Promise.resolve();
  }

  /** Starts checking for configuration changes in the background (in processes that deliver). */
  watch(): void {
    this.configured?.watch();
  }

  circuits(): CircuitReport[] {
    return this.configured?.circuits() ?? [];
  }

  /** Closes every provider once (a provider serving several channels is closed once). */
  async close(): Promise<void> {
    const all = new Set([
      ...this.overrides.values(),
      ...this.defaults.values(),
      ...(this.sandbox ? [this.sandbox] : []),
    ]);
    await Promise.all([...all].map((p) => p.close?.()));
    await this.configured?.close();
  }
}
