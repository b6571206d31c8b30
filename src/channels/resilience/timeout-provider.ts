import type { ChannelProvider, OutboundMessage, SendOutcome } from '../channel-provider.js';
import { systemClock, type Clock } from './clock.js';
import { sendSafely, transientOutcome } from './delivery-outcomes.js';

/**
 * Cuts each inner call after `timeoutMs`: every message of that call gets a transient
 * `timeout` error (the vendor may still have accepted it, so the retry may duplicate: the
 * delivery id travels as the idempotency key for providers that honour one). The inner call
 * is not cancelled — the port has no signal — and its late result is ignored.
 */
export class TimeoutProvider implements ChannelProvider {
  readonly name: string;
  private readonly clock: Clock;

  constructor(
    private readonly inner: ChannelProvider,
    private readonly timeoutMs: number,
    clock: Clock = systemClock,
  ) {
    if (!(timeoutMs > 0)) throw new RangeError('timeoutMs must be > 0');
    this.name = inner.name;
    this.clock = clock;
  }

  send(batch: readonly OutboundMessage[]): Promise<SendOutcome[]> {
    if (batch.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      let settled = false;
      const cancel = this.clock.setTimer(() => {
        if (settled) return;
        settled = true;
        const message = `timeout after ${this.timeoutMs} ms waiting for ${this.name}`;
        resolve(batch.map(() => transientOutcome(message)));
      }, this.timeoutMs);
      void sendSafely(this.inner, batch).then((outcomes) => {
        if (settled) return;
        settled = true;
        cancel();
        resolve(outcomes);
      });
    });
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }
}
