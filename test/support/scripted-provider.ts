import {
  DeliveryError,
  type ChannelProvider,
  type OutboundMessage,
  type SendOutcome,
} from '../../src/channels/channel-provider.js';
import type { Clock } from '../../src/channels/resilience/clock.js';

/**
 * Test support. What one call answers for every message of its batch: `hang` never settles,
 * `held` settles (ok) when the test calls `release()`.
 */
export type Step =
  'ok' | 'transient' | 'permanent' | 'hang' | 'held' | { readonly retryAfterMs: number };

/** Test support: a provider that plays a script, one step per call, then `fallback`. */
export class ScriptedProvider implements ChannelProvider {
  readonly calls: { at: number; ids: string[] }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private readonly held: (() => void)[] = [];
  private ids = 0;

  constructor(
    readonly name: string,
    private readonly script: Step[] = [],
    private readonly clock?: Clock,
    private readonly fallback: Step = 'ok',
  ) {}

  /** Number of messages received over all calls. */
  get received(): number {
    return this.calls.reduce((n, c) => n + c.ids.length, 0);
  }

  /** Settles the oldest `held` call; false when none is waiting. */
  release(): boolean {
    const next = this.held.shift();
    next?.();
    return next !== undefined;
  }

  async send(batch: readonly OutboundMessage[]): Promise<SendOutcome[]> {
    this.calls.push({ at: this.clock?.now() ?? 0, ids: batch.map((m) => m.deliveryId) });
    const step = this.script.shift() ?? this.fallback;
    this.inFlight += batch.length;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (step === 'hang') await new Promise<never>(() => {});
      if (step === 'held') await new Promise<void>((resolve) => this.held.push(resolve));
      return batch.map(() => this.outcome(step));
    } finally {
      this.inFlight -= batch.length;
    }
  }

  private outcome(step: Step): SendOutcome {
    if (step === 'ok' || step === 'held' || step === 'hang') {
      return { ok: true, status: 'sent', providerMessageId: `m${++this.ids}` };
    }
    if (step === 'transient') return { ok: false, error: new DeliveryError('503', 'transient') };
    if (step === 'permanent') return { ok: false, error: new DeliveryError('400', 'permanent') };
    return { ok: false, error: new DeliveryError('429', 'transient', step.retryAfterMs) };
  }
}

export function testMessages(count: number, prefix = 'd'): OutboundMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    deliveryId: `${prefix}${i + 1}`,
    messageId: 'msg-1',
    channel: 'sms',
    userId: `u${i + 1}`,
    recipient: { externalId: `2024${String(i + 1).padStart(6, '0')}`, name: `Student ${i + 1}` },
    address: `+8613800000${String(i).padStart(3, '0')}`,
    category: 'notice',
    source: { key: 'registrar', name: 'Registrar' },
    locale: 'zh-CN',
    content: { body: 'hello' },
  }));
}
