import type { Logger } from 'pino';
import type { Db } from '../store/database.js';
import type { Channel } from '../channels/channel.js';
import type {
  ChannelProvider,
  OutboundMessage,
  SendOutcome,
} from '../channels/channel-provider.js';
import type { CircuitReport, ConfiguredProviderSource } from '../channels/provider-registry.js';
import { FailoverProvider } from '../channels/resilience/failover-provider.js';
import { guardedMember } from '../channels/resilience/resilient-provider.js';
import type { CircuitBreakerProvider } from '../channels/resilience/circuit-breaker-provider.js';
import { systemClock, type Clock } from '../channels/resilience/clock.js';
import { resilientMember, type ProviderFactory } from './provider-factory.js';
import {
  listProviderConfigs,
  readProvidersVersion,
  type ProviderConfig,
} from './providers-store.js';

export interface ConfiguredProvidersOptions {
  readonly db: Db;
  readonly factory: ProviderFactory;
  /** Longest time a change may go unnoticed without a signal (default 1 s). */
  readonly checkIntervalMs?: number;
  /**
   * Change signals from this process's other threads: checked at once instead of on time.
   * Closed with this.
   */
  readonly changes?: { subscribe(listener: () => void): () => void; close?(): void };
  readonly log?: Logger;
  /** For the resilience guards. */
  readonly clock?: Clock;
  readonly random?: () => number;
}

interface Member {
  readonly config: ProviderConfig;
  /**
   * The provider behind its guards, counted from the outside: a message waiting in a guard
   * (a concurrency slot) is in flight too, so a replaced member is not closed under it.
   */
  readonly guarded: DrainableProvider;
  readonly breaker: CircuitBreakerProvider | null;
}

/**
 * The providers operators configured (table `provider_configs`), kept in step with the
 * database while Herald runs. Per channel, the enabled configurations become one failover
 * over guarded members (rate limit, concurrency, timeout, breaker from their limits); a
 * channel with one configuration gets that guarded member alone.
 *
 * Staying current: every change bumps a version (settings `providers_version`) in its own
 * transaction. `refresh()` reads that version — at most once per `checkIntervalMs`, or at once
 * after a change signal — and reloads only when it moved. A reload rebuilds only members
 * whose configuration changed (kind, settings, secrets or limits): the others keep their
 * breaker and token-bucket state. A replaced or removed member is closed once the sends it
 * has in flight have finished.
 */
export class ConfiguredProviders implements ConfiguredProviderSource {
  private readonly members = new Map<string, Member>();
  private channels = new Map<Channel, ChannelProvider>();
  private version: string | null = null;
  private loaded = false;
  private checkedAt = -Infinity;
  private stale = true;
  private running: Promise<void> | null = null;
  private readonly retiring = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private readonly unsubscribe: (() => void) | null;
  private readonly interval: number;
  private readonly clock: Clock;
  private closed = false;

  constructor(private readonly options: ConfiguredProvidersOptions) {
    this.interval = options.checkIntervalMs ?? 1_000;
    this.clock = options.clock ?? systemClock;
    this.unsubscribe =
      options.changes?.subscribe(() => {
        this.stale = true;
        // Reload at once where providers are in use (watched); elsewhere on first use.
        if (this.timer) void this.refresh();
      }) ?? null;
  }

  providerFor(channel: Channel): ChannelProvider | null {
    return this.channels.get(channel) ?? null;
  }

  /**
   * Brings the providers up to date with the database if the check is due (or a change was
   * signalled). Cheap when nothing changed: one indexed read at most once per interval.
   * Never rejects: a failed check is logged and tried again next time.
   */
  refresh(): Promise<void> {
    if (this.closed) return Promise.resolve();
    // A change signalled while a check runs is covered by the check after it: wait for that.
    if (this.running) return this.stale ? this.running.then(() => this.refresh()) : this.running;
    if (!this.stale && Date.now() - this.checkedAt < this.interval) return Promise.resolve();
    this.running = this.check()
      .catch((err: unknown) => {
        // Tried again at the next interval (the version was not taken, so it still differs).
        this.options.log?.error({ err: safeError(err) }, 'provider configuration check failed');
      })
      .finally(() => {
        this.running = null;
        // A signal that came in during the check: check again.
        if (this.stale && !this.closed) void this.refresh();
      });
    return this.running;
  }

  /** Checks in the background every interval too, so the fan-out sees changes without sends. */
  watch(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.refresh(), this.interval);
    this.timer.unref();
  }

  /** Breaker state of every configured provider that has one (for metrics). */
  circuits(): CircuitReport[] {
    return [...this.members.values()].flatMap((m) =>
      m.breaker
        ? [{ channel: m.config.channel, provider: m.config.name, state: m.breaker.state }]
        : [],
    );
  }

  /** Stops watching and closes every provider (after retiring ones have drained). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    this.options.changes?.close?.();
    await this.running;
    const members = [...this.members.values()];
    this.members.clear();
    this.channels = new Map();
    await Promise.all([...this.retiring, ...members.map((m) => m.guarded.retire())]);
  }

  private async check(): Promise<void> {
    this.stale = false;
    this.checkedAt = Date.now();
    const version = await readProvidersVersion(this.options.db);
    if (this.loaded && version === this.version) return;
    const configs = (await listProviderConfigs(this.options.db)).filter((c) => c.enabled);
    if (this.closed) return;
    this.apply(configs);
    this.version = version;
    this.loaded = true;
  }

  private apply(configs: readonly ProviderConfig[]): void {
    const wanted = new Set(configs.map((c) => c.id));
    for (const [id, member] of this.members) {
      if (!wanted.has(id)) this.retire(id, member);
    }
    for (const config of configs) {
      const current = this.members.get(config.id);
      if (current && current.config.fingerprint === config.fingerprint) {
        // Same provider; priority and weight live in the failover, rebuilt below.
        this.members.set(config.id, { ...current, config });
        continue;
      }
      if (current) this.retire(config.id, current);
      const member = this.build(config);
      if (member) this.members.set(config.id, member);
    }
    const byChannel = new Map<Channel, Member[]>();
    for (const m of this.members.values()) {
      byChannel.set(m.config.channel, [...(byChannel.get(m.config.channel) ?? []), m]);
    }
    const channels = new Map<Channel, ChannelProvider>();
    for (const [channel, list] of byChannel) {
      channels.set(channel, this.channelProvider(list));
    }
    this.channels = channels;
    this.options.log?.info(
      { providers: [...this.members.values()].map((m) => m.config.name) },
      'provider configuration loaded',
    );
  }

  private build(config: ProviderConfig): Member | null {
    try {
      const raw = this.options.factory(config);
      const { provider, breaker } = guardedMember(resilientMember(config, raw), this.clock);
      return { config, guarded: new DrainableProvider(provider), breaker };
    } catch (err) {
      // Stored configurations are validated, so this is unexpected; the others still run.
      this.options.log?.error(
        { provider: config.name, err: safeError(err) },
        'provider could not be built; it is left out until its configuration changes',
      );
      return null;
    }
  }

  /**
   * One member: itself. Several: failover by priority, weighted within one priority. The
   * failover's memory of resting members starts afresh; the breakers keep theirs.
   */
  private channelProvider(list: readonly Member[]): ChannelProvider {
    if (list.length === 1) return list[0]!.guarded;
    const sorted = [...list].sort(
      (a, b) => a.config.priority - b.config.priority || cmp(a.config.name, b.config.name),
    );
    return new FailoverProvider(
      sorted.map((m) => ({
        provider: m.guarded,
        priority: m.config.priority,
        weight: m.config.weight,
      })),
      {
        name: `failover(${sorted.map((m) => m.config.name).join(',')})`,
        clock: this.clock,
        ...(this.options.random ? { random: this.options.random } : {}),
      },
    );
  }

  private retire(id: string, member: Member): void {
    this.members.delete(id);
    const done = member.guarded.retire().catch((err: unknown) => {
      this.options.log?.warn(
        { provider: member.config.name, err: safeError(err) },
        'closing a replaced provider failed',
      );
    });
    this.retiring.add(done);
    void done.finally(() => this.retiring.delete(done));
  }
}

/**
 * A provider that knows how many sends it has in flight, so a replaced one is closed only
 * after they finish. (A call that a timeout guard inside gave up on may still run; closing
 * the provider lets it end on the provider's own timeouts.)
 */
export class DrainableProvider implements ChannelProvider {
  readonly name: string;
  private inFlight = 0;
  private idle: (() => void)[] = [];
  private retired: Promise<void> | null = null;

  constructor(private readonly inner: ChannelProvider) {
    this.name = inner.name;
  }

  async send(batch: readonly OutboundMessage[]): Promise<SendOutcome[]> {
    this.inFlight++;
    try {
      return await this.inner.send(batch);
    } finally {
      if (--this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  close(): Promise<void> {
    return this.retire();
  }

  /** Waits until nothing is in flight, then closes the inner provider. Idempotent. */
  retire(): Promise<void> {
    this.retired ??= (async () => {
      if (this.inFlight > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
      await this.inner.close?.();
    })();
    return this.retired;
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Errors are logged by message only: a library error could quote a connection string. */
function safeError(err: unknown): { message: string } {
  const message = err instanceof Error ? err.message : String(err);
  return { message: message.replace(/\/\/[^@/\s]*@/g, '//***@') };
}
