import type { ChannelProvider, OutboundMessage, SendOutcome } from '../channel-provider.js';
import { systemClock, type Clock } from './clock.js';
import { heldBackOutcome, isTransient, sendSafely } from './delivery-outcomes.js';

export interface RateLimitOptions {
  /** Tokens added per second: the sustained messages/s. */
  readonly ratePerSecond: number;
  /** Bucket size: how many messages may go at once after a quiet period. */
  readonly burst: number;
  readonly clock?: Clock;
}

/**
 * A token bucket in front of a provider, plus the provider's own brake: a transient error
 * with `retryAfterMs` (429 + Retry-After) pauses every call until then.
 *
 * It never waits inside `send`: a message without a token, or during a pause, is answered
 * with a transient error whose `retryAfterMs` says when it could go, and the retry policy
 * re-queues it. A worker is therefore never stuck behind a slow bucket.
 */
export class RateLimitedProvider implements ChannelProvider {
  readonly name: string;
  private readonly clock: Clock;
  private tokens: number;
  private refilledAt: number;
  private pausedUntil = 0;

  constructor(
    private readonly inner: ChannelProvider,
    private readonly options: RateLimitOptions,
  ) {
    if (!(options.ratePerSecond > 0)) throw new RangeError('ratePerSecond must be > 0');
    if (!(options.burst >= 1)) throw new RangeError('burst must be ≥ 1');
    this.name = inner.name;
    this.clock = options.clock ?? systemClock;
    this.tokens = options.burst;
    this.refilledAt = this.clock.now();
  }

  async send(batch: readonly OutboundMessage[]): Promise<SendOutcome[]> {
    if (batch.length === 0) return [];
    const now = this.clock.now();
    if (now < this.pausedUntil) {
      const wait = this.pausedUntil - now;
      return batch.map(() => heldBackOutcome(`${this.name} asked to wait (Retry-After)`, wait));
    }
    this.refill(now);
    const allowed = Math.min(batch.length, Math.floor(this.tokens));
    this.tokens -= allowed;
    // The j-th refused message gets the time its own token arrives, spreading the retries.
    const perToken = 1000 / this.options.ratePerSecond;
    const refused = batch
      .slice(allowed)
      .map((_, j) =>
        heldBackOutcome(
          `${this.name} rate limit (${this.options.ratePerSecond}/s) reached`,
          Math.max(1, Math.ceil((j + 1 - this.tokens) * perToken)),
        ),
      );
    if (allowed === 0) return refused;
    const sent = await sendSafely(this.inner, batch.slice(0, allowed));
    this.notePause(sent);
    return [...sent, ...refused];
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }

  private refill(now: number): void {
    const earned = ((now - this.refilledAt) * this.options.ratePerSecond) / 1000;
    this.tokens = Math.min(this.options.burst, this.tokens + Math.max(0, earned));
    this.refilledAt = now;
  }

  private notePause(outcomes: readonly SendOutcome[]): void {
    const now = this.clock.now();
    for (const outcome of outcomes) {
      const wait = isTransient(outcome) ? outcome.error.retryAfterMs : undefined;
      if (wait !== undefined && wait > 0) {
        this.pausedUntil = Math.max(this.pausedUntil, now + wait);
      }
    }
  }
}
