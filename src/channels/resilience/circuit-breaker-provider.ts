import type { ChannelProvider, OutboundMessage, SendOutcome } from '../channel-provider.js';
import { systemClock, type Clock } from './clock.js';
import { heldBackOutcome, isTransient, sendSafely } from './delivery-outcomes.js';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive transient outcomes (per message) that open the circuit. */
  readonly failureThreshold: number;
  /** How long the circuit stays open before one probe is let through. */
  readonly coolDownMs: number;
  readonly clock?: Clock;
}

/**
 * Stops calling a provider that keeps failing transiently. Closed: calls pass, each message's
 * outcome counts (transient +1, anything else resets — a permanent error is the vendor
 * answering, so it proves health). Open: every message is answered transient with
 * `retryAfterMs` = remaining open time, without calling the provider. After the cool-down
 * the next call sends its first message alone as a probe (the others, and concurrent calls,
 * are answered transient without `retryAfterMs`): a non-transient outcome closes the
 * circuit, a transient one re-opens it for another cool-down.
 */
export class CircuitBreakerProvider implements ChannelProvider {
  readonly name: string;
  private readonly clock: Clock;
  private mode: 'closed' | 'open' | 'probing' = 'closed';
  private failures = 0;
  private openUntil = 0;

  constructor(
    private readonly inner: ChannelProvider,
    private readonly options: CircuitBreakerOptions,
  ) {
    if (!(Number.isInteger(options.failureThreshold) && options.failureThreshold >= 1)) {
      throw new RangeError('failureThreshold must be an integer ≥ 1');
    }
    if (!(options.coolDownMs >= 0)) throw new RangeError('coolDownMs must be ≥ 0');
    this.name = inner.name;
    this.clock = options.clock ?? systemClock;
  }

  /** For metrics and tests: `half-open` once the cool-down is over or while probing. */
  get state(): CircuitState {
    if (this.mode === 'closed') return 'closed';
    if (this.mode === 'probing') return 'half-open';
    return this.clock.now() >= this.openUntil ? 'half-open' : 'open';
  }

  async send(batch: readonly OutboundMessage[]): Promise<SendOutcome[]> {
    const [first, ...rest] = batch;
    if (!first) return [];
    if (this.mode === 'probing') {
      return batch.map(() => heldBackOutcome(`${this.name} circuit half-open, probe in flight`));
    }
    if (this.mode === 'open') {
      const wait = this.openUntil - this.clock.now();
      if (wait > 0) return batch.map(() => heldBackOutcome(`${this.name} circuit open`, wait));
      return this.probe(first, rest);
    }
    const outcomes = await sendSafely(this.inner, batch);
    for (const outcome of outcomes) this.record(outcome);
    return outcomes;
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }

  private async probe(
    first: OutboundMessage,
    rest: readonly OutboundMessage[],
  ): Promise<SendOutcome[]> {
    this.mode = 'probing';
    const outcomes = await sendSafely(this.inner, [first]);
    if (outcomes.some(isTransient)) {
      this.open();
    } else {
      this.mode = 'closed';
      this.failures = 0;
    }
    const held = `${this.name} circuit half-open, one probe at a time`;
    return [...outcomes, ...rest.map(() => heldBackOutcome(held))];
  }

  private record(outcome: SendOutcome): void {
    if (this.mode !== 'closed') return;
    if (!isTransient(outcome)) {
      this.failures = 0;
    } else if (++this.failures >= this.options.failureThreshold) {
      this.open();
    }
  }

  private open(): void {
    this.mode = 'open';
    this.failures = 0;
    this.openUntil = this.clock.now() + this.options.coolDownMs;
  }
}
