import {
  DeliveryError,
  type ChannelProvider,
  type OutboundMessage,
  type SendOutcome,
} from '../channel-provider.js';
import { systemClock, type Clock } from './clock.js';
import { isTransient, sendSafely } from './delivery-outcomes.js';

export interface FailoverMember {
  readonly provider: ChannelProvider;
  /** Lower is preferred (like MX records). */
  readonly priority: number;
  /** Share among healthy members of equal priority; default 1. */
  readonly weight?: number;
}

export interface FailoverOptions {
  /** Default `failover(a,b,…)`. */
  readonly name?: string;
  readonly clock?: Clock;
  /** In [0, 1); injectable so weighted choice is reproducible in tests. */
  readonly random?: () => number;
}

/**
 * Several providers for one channel. Each call tries members best first: healthy ones by
 * priority (weighted random order within a priority), then resting ones. Messages that fail
 * transiently — including a circuit-open or rate-limit answer — go to the next member in the
 * same call; a permanent error is final and never offered elsewhere.
 *
 * A member is "resting" after it answered transient with `retryAfterMs`, until that time
 * (an open circuit, a 429, an empty bucket): the failover learns health from outcomes alone,
 * so the wrappers below it need no extra interface.
 *
 * Which member sent a message: the port has no provider field, so a success's
 * `providerMessageId` is `${member.name}:${id}` (just the name when the member gave no id);
 * `splitProviderMessageId` reverses it. Errors are prefixed with the member's name.
 */
export class FailoverProvider implements ChannelProvider {
  readonly name: string;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly restingUntil = new Map<FailoverMember, number>();

  constructor(
    private readonly members: readonly FailoverMember[],
    options: FailoverOptions = {},
  ) {
    if (members.length === 0) throw new RangeError('failover needs at least one provider');
    this.name = options.name ?? `failover(${members.map((m) => m.provider.name).join(',')})`;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
  }

  async send(batch: readonly OutboundMessage[]): Promise<SendOutcome[]> {
    const results: SendOutcome[] = new Array<SendOutcome>(batch.length);
    const failures: { member: string; error: DeliveryError }[][] = batch.map(() => []);
    let pending = batch.map((_, i) => i);
    for (const member of this.order()) {
      if (pending.length === 0) break;
      const { name } = member.provider;
      const outcomes = await sendSafely(
        member.provider,
        pending.map((i) => batch[i] as OutboundMessage),
      );
      this.noteHealth(member, outcomes);
      const still: number[] = [];
      outcomes.forEach((outcome, k) => {
        const i = pending[k] as number;
        if (outcome.ok) {
          const id = outcome.providerMessageId;
          results[i] = { ...outcome, providerMessageId: id === null ? name : `${name}:${id}` };
        } else if (outcome.error.kind === 'permanent') {
          results[i] = { ok: false, error: prefixed(name, outcome.error) };
        } else {
          failures[i]?.push({ member: name, error: outcome.error });
          still.push(i);
        }
      });
      pending = still;
    }
    for (const i of pending) results[i] = { ok: false, error: exhausted(failures[i] ?? []) };
    return results;
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => m.provider.close?.()));
  }

  /** Trial order for one call. */
  private order(): FailoverMember[] {
    const now = this.clock.now();
    const resting = (m: FailoverMember) => (this.restingUntil.get(m) ?? 0) > now;
    const priorities = [...new Set(this.members.map((m) => m.priority))].sort((a, b) => a - b);
    const healthy = priorities.flatMap((p) =>
      this.weightedOrder(this.members.filter((m) => m.priority === p && !resting(m))),
    );
    const byPriority = [...this.members].sort((a, b) => a.priority - b.priority);
    return [...healthy, ...byPriority.filter(resting)];
  }

  /** Repeated weighted draws without replacement. */
  private weightedOrder(group: FailoverMember[]): FailoverMember[] {
    const pool = [...group];
    const order: FailoverMember[] = [];
    while (pool.length > 0) {
      const weights = pool.map((m) => Math.max(0, m.weight ?? 1));
      const total = weights.reduce((a, b) => a + b, 0);
      let index = 0;
      if (total > 0) {
        let r = this.random() * total;
        index = weights.findIndex((w) => (r -= w) < 0);
        if (index < 0) index = pool.length - 1;
      }
      order.push(...pool.splice(index, 1));
    }
    return order;
  }

  private noteHealth(member: FailoverMember, outcomes: readonly SendOutcome[]): void {
    const waits = outcomes.flatMap((o) =>
      isTransient(o) && o.error.retryAfterMs !== undefined ? [o.error.retryAfterMs] : [],
    );
    if (waits.length > 0) {
      this.restingUntil.set(member, this.clock.now() + Math.min(...waits));
    } else if (outcomes.some((o) => o.ok)) {
      this.restingUntil.delete(member);
    }
  }
}

/** `aliyun-sms:abc` → `{ provider: 'aliyun-sms', id: 'abc' }`; a bare name has `id: null`. */
export function splitProviderMessageId(value: string): { provider: string; id: string | null } {
  const colon = value.indexOf(':');
  if (colon < 0) return { provider: value, id: null };
  return { provider: value.slice(0, colon), id: value.slice(colon + 1) };
}

function prefixed(member: string, error: DeliveryError): DeliveryError {
  return new DeliveryError(`${member}: ${error.message}`, error.kind, error.retryAfterMs, {
    cause: error,
    notAttempted: error.notAttempted,
  });
}

/**
 * Every member failed transiently. Retry when the earliest member could take the message —
 * unless one gave no hint, then the retry policy's own backoff decides.
 */
function exhausted(failures: readonly { member: string; error: DeliveryError }[]): DeliveryError {
  const waits = failures.map((f) => f.error.retryAfterMs);
  const retryAfterMs = waits.every((w) => w !== undefined) ? Math.min(...waits) : undefined;
  const message = failures.map((f) => `${f.member}: ${f.error.message}`).join('; ');
  return new DeliveryError(message || 'no provider tried', 'transient', retryAfterMs, {
    cause: failures.at(-1)?.error,
    // Held back by every member's guards: no provider saw it, so no attempt was used.
    notAttempted: failures.length > 0 && failures.every((f) => f.error.notAttempted),
  });
}
