import type { Tx } from '../store/database.js';
import { isChannel } from '../channels/channel.js';
import type { Quotas } from './quotas.js';
import { chargeQuota } from './quota-usage-store.js';

/** Whose quota a delivery counts against. */
export interface QuotaOwner {
  readonly sourceId: string;
  readonly sourceKey: string;
  readonly quotas: Quotas;
}

/** Deliveries refused on one source × channel by one enforcement. */
export interface QuotaExceeded {
  readonly source: string;
  readonly channel: string;
  readonly limit: number;
  readonly count: number;
}

export const QUOTA_EXCEEDED_REASON = 'quota-exceeded';

/**
 * Charges just-created `queued` deliveries to their sources' daily quotas, in the transaction
 * that created them, and turns those beyond the quota into `suppressed` (`quota-exceeded`).
 * Deliveries are granted in the order given (the fan-out's: message, then user id).
 *
 * `created` is updated in place, so what the caller enqueues and counts afterwards is what
 * was committed. Only channels the source has a quota on are charged; suppressed deliveries
 * never are. Returns what was refused, for the metric.
 */
export async function enforceQuotas(
  tx: Tx,
  created: { id: string; channel: string; status: string }[],
  ownerOf: (deliveryId: string) => QuotaOwner | undefined,
  day: string,
  now: number,
): Promise<QuotaExceeded[]> {
  const groups = new Map<
    string,
    { owner: QuotaOwner; channel: string; limit: number; rows: typeof created }
  >();
  for (const d of created) {
    if (d.status !== 'queued' || !isChannel(d.channel)) continue;
    const owner = ownerOf(d.id);
    const limit = owner?.quotas[d.channel];
    if (!owner || limit === undefined) continue;
    const key = `${owner.sourceId}\u0000${d.channel}`;
    const group = groups.get(key) ?? { owner, channel: d.channel, limit, rows: [] };
    group.rows.push(d);
    groups.set(key, group);
  }
  const exceeded: QuotaExceeded[] = [];
  const refused: string[] = [];
  for (const { owner, channel, limit, rows } of groups.values()) {
    const granted = await chargeQuota(
      tx,
      { sourceId: owner.sourceId, channel, day },
      rows.length,
      limit,
    );
    if (granted === rows.length) continue;
    for (const d of rows.slice(granted)) {
      d.status = 'suppressed';
      refused.push(d.id);
    }
    exceeded.push({ source: owner.sourceKey, channel, limit, count: rows.length - granted });
  }
  for (let i = 0; i < refused.length; i += 500) {
    await tx
      .updateTable('deliveries')
      .set({ status: 'suppressed', reason: QUOTA_EXCEEDED_REASON, updated_at: now, final_at: now })
      .where('id', 'in', refused.slice(i, i + 500))
      .execute();
  }
  return exceeded;
}
