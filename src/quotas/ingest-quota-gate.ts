import type { Tx } from '../store/database.js';
import { Problem } from '../http/problem.js';
import { isChannel } from '../channels/channel.js';
import { hasQuotas, type Quotas } from './quotas.js';
import { usageOn } from './quota-usage-store.js';
import { nextQuotaReset, quotaDay } from './quota-day.js';

/** The sender of a message, as far as quotas go. */
export interface QuotaSubject {
  readonly sourceId: string;
  readonly sourceKey: string;
  readonly quotas: Quotas;
}

/** Today's usage of the quota-bound sources of one ingest batch. */
export interface QuotaSnapshot {
  readonly now: number;
  readonly day: string;
  readonly usage: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

/**
 * Refuses, at the door, messages that would use a channel on which their source's quota for
 * today is already used up: `429 quota-exceeded` with `Retry-After` until the campus midnight.
 *
 * The fan-out stays authoritative (it charges and suppresses per delivery); this is the early,
 * cheap answer for a runaway producer. Cost: nothing for sources without quotas, one
 * primary-key read per ingest batch otherwise. A message whose audience is larger than what
 * remains is accepted: its deliveries beyond the quota are suppressed `quota-exceeded`,
 * visible per recipient (the audience size is only known at fan-out).
 */
export class IngestQuotaGate {
  constructor(
    private readonly timezone: string,
    private readonly onExceeded: (source: string, channel: string) => void = () => {},
  ) {}

  async load(tx: Tx, subjects: readonly QuotaSubject[], now: number): Promise<QuotaSnapshot> {
    const day = quotaDay(now, this.timezone);
    const bound = subjects.filter((s) => hasQuotas(s.quotas));
    const sourceIds = [...new Set(bound.map((s) => s.sourceId))];
    const channels = [...new Set(bound.flatMap((s) => Object.keys(s.quotas)))];
    return { now, day, usage: await usageOn(tx, sourceIds, channels, day) };
  }

  /**
   * The problem to answer when `channels` include one whose quota is used up today; null when
   * the message may go on. A message scheduled for a later day is not judged on today's usage.
   */
  check(
    snapshot: QuotaSnapshot,
    subject: QuotaSubject,
    channels: readonly string[],
    sendAt: number,
  ): Problem | null {
    if (!hasQuotas(subject.quotas)) return null;
    if (sendAt > snapshot.now && quotaDay(sendAt, this.timezone) !== snapshot.day) return null;
    for (const channel of new Set(channels)) {
      if (!isChannel(channel)) continue;
      const limit = subject.quotas[channel];
      if (limit === undefined) continue;
      const used = snapshot.usage.get(subject.sourceId)?.get(channel) ?? 0;
      if (used < limit) continue;
      this.onExceeded(subject.sourceKey, channel);
      return quotaExceeded(subject.sourceKey, channel, limit, used, snapshot.now, this.timezone);
    }
    return null;
  }
}

export function quotaExceeded(
  source: string,
  channel: string,
  limit: number,
  used: number,
  now: number,
  timezone: string,
): Problem {
  const resetsAt = nextQuotaReset(now, timezone);
  const at = new Date(resetsAt).toISOString();
  return new Problem(
    'quota-exceeded',
    `Source "${source}" has used its daily ${channel} quota of ${limit} deliveries; it resets at ${at} (midnight ${timezone})`,
    { source, channel, limit, used, resetsAt: at },
    { 'Retry-After': String(Math.max(1, Math.ceil((resetsAt - now) / 1000))) },
  );
}
