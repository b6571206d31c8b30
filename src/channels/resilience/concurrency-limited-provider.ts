import type { ChannelProvider, OutboundMessage, SendOutcome } from '../channel-provider.js';
import { sendSafely } from './delivery-outcomes.js';

/**
 * At most `maxInFlight` messages inside the inner provider at any time, across concurrent
 * `send` calls. A batch is split into chunks as slots free up; waiting callers are served in
 * arrival order (FIFO) and wake on a release, never by polling. Outcomes keep batch order.
 *
 * No clock: it reacts only to calls finishing. Placed outside a `TimeoutProvider`, a slot is
 * freed when the timeout fires even if the vendor call still runs in the background.
 */
export class ConcurrencyLimitedProvider implements ChannelProvider {
  readonly name: string;
  private inFlight = 0;
  private readonly waiting: { want: number; grant: (n: number) => void }[] = [];

  constructor(
    private readonly inner: ChannelProvider,
    private readonly maxInFlight: number,
  ) {
    if (!(Number.isInteger(maxInFlight) && maxInFlight >= 1)) {
      throw new RangeError('maxInFlight must be an integer ≥ 1');
    }
    this.name = inner.name;
  }

  async send(batch: readonly OutboundMessage[]): Promise<SendOutcome[]> {
    const chunks: Promise<SendOutcome[]>[] = [];
    let offset = 0;
    while (offset < batch.length) {
      const granted = await this.acquire(batch.length - offset);
      chunks.push(this.run(batch.slice(offset, offset + granted)));
      offset += granted;
    }
    return (await Promise.all(chunks)).flat();
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }

  private async run(chunk: readonly OutboundMessage[]): Promise<SendOutcome[]> {
    try {
      return await sendSafely(this.inner, chunk);
    } finally {
      this.release(chunk.length);
    }
  }

  /** Resolves with 1…`want` slots, as many as are free when this caller's turn comes. */
  private acquire(want: number): Promise<number> {
    const free = this.maxInFlight - this.inFlight;
    if (this.waiting.length === 0 && free > 0) {
      const granted = Math.min(want, free);
      this.inFlight += granted;
      return Promise.resolve(granted);
    }
    return new Promise((grant) => this.waiting.push({ want, grant }));
  }

  private release(count: number): void {
    this.inFlight -= count;
    while (this.inFlight < this.maxInFlight) {
      const next = this.waiting.shift();
      if (!next) return;
      const granted = Math.min(next.want, this.maxInFlight - this.inFlight);
      this.inFlight += granted;
      next.grant(granted);
    }
  }
}
