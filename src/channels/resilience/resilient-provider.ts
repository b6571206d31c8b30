import type { ChannelProvider } from '../channel-provider.js';
import { CircuitBreakerProvider } from './circuit-breaker-provider.js';
import { systemClock, type Clock } from './clock.js';
import { ConcurrencyLimitedProvider } from './concurrency-limited-provider.js';
import { FailoverProvider } from './failover-provider.js';
import { RateLimitedProvider } from './rate-limited-provider.js';
import { TimeoutProvider } from './timeout-provider.js';

export interface ResilientMember {
  readonly provider: ChannelProvider;
  /** Lower is preferred. */
  readonly priority: number;
  readonly weight?: number;
  /** Messages per second (token bucket). */
  readonly rate?: number;
  /** Bucket size; default `max(1, rate)`. */
  readonly burst?: number;
  /** Messages in flight at once. */
  readonly concurrency?: number;
  readonly timeoutMs?: number;
  readonly breaker?: { readonly failures: number; readonly coolDownMs: number };
}

export interface ResilientProviderConfig {
  readonly name: string;
  readonly providers: readonly ResilientMember[];
  readonly clock?: Clock;
  readonly random?: () => number;
}

/** Failover across `providers`, each wrapped by `guardedProvider`. */
export function resilientProvider(config: ResilientProviderConfig): FailoverProvider {
  const clock = config.clock ?? systemClock;
  return new FailoverProvider(
    config.providers.map((member) => ({
      provider: guardedProvider(member, clock),
      priority: member.priority,
      weight: member.weight,
    })),
    { name: config.name, clock, random: config.random },
  );
}

/**
 * One provider with the guards it is configured for, inside out:
 * - timeout innermost, so a hang becomes a transient failure the breaker counts;
 * - breaker next, counting timeouts and vendor failures (an answer while open still costs a
 *   token: it errs on the side of sending less);
 * - rate limit, which also sees the vendor's 429 + Retry-After through the breaker;
 * - concurrency outermost, so messages waiting for a slot hold no token yet.
 * Every wrapper keeps the inner provider's name.
 */
export function guardedProvider(member: ResilientMember, clock: Clock): ChannelProvider {
  return guardedMember(member, clock).provider;
}

/** {@link guardedProvider}, also handing out its circuit breaker (for metrics), if it has one. */
export function guardedMember(
  member: ResilientMember,
  clock: Clock,
): { provider: ChannelProvider; breaker: CircuitBreakerProvider | null } {
  let provider = member.provider;
  let breaker: CircuitBreakerProvider | null = null;
  if (member.timeoutMs !== undefined) {
    provider = new TimeoutProvider(provider, member.timeoutMs, clock);
  }
  if (member.breaker) {
    provider = breaker = new CircuitBreakerProvider(provider, {
      failureThreshold: member.breaker.failures,
      coolDownMs: member.breaker.coolDownMs,
      clock,
    });
  }
  if (member.rate !== undefined) {
    const burst = member.burst ?? Math.max(1, member.rate);
    provider = new RateLimitedProvider(provider, { ratePerSecond: member.rate, burst, clock });
  }
  if (member.concurrency !== undefined) {
    provider = new ConcurrencyLimitedProvider(provider, member.concurrency);
  }
  return { provider, breaker };
}
