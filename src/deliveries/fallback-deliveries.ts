import type { Db } from '../store/database.js';
import type { DeliveriesTable } from '../store/schema.js';
import type { Category } from '../categories/categories-store.js';
import type { Recipient } from '../recipients/audience-types.js';
import { preferencesFor } from '../preferences/preferences-store.js';
import { isChannel, type Channel } from '../channels/channel.js';
import { deliveryRow, planChannel } from '../fanout/plan-deliveries.js';

/** A delivery that just failed for good, with what deciding its fallback needs. */
export interface FailedDelivery {
  readonly delivery: DeliveriesTable;
  readonly category: Category | undefined;
  readonly recipient: Recipient | undefined;
}

/**
 * The deliveries to create because others failed permanently: for a failed delivery on X in
 * a category that falls back X → Y, one on Y for the same user and message (`fallback_from`
 * X). None when the failed delivery is itself a fallback (one hop), when the user's channel
 * choice for the category leaves Y out or they turned it off since (mandatory categories
 * ignore both), or when the recipient is gone. A Y the user cannot be reached on is written
 * `suppressed` (no-address / channel-not-configured), so the attempt shows per recipient.
 *
 * Only permanent failures (`failed`) fall back, not `dead` deliveries: those ran out of
 * retries on transient errors, stay re-drivable from the dead letters, and a fallback next to
 * a re-drive would reach the user twice.
 *
 * A Y delivery that already exists for this user and message is left alone by the insert.
 */
export async function fallbackDeliveries(
  db: Db,
  failed: readonly FailedDelivery[],
  channelServed: (channel: Channel) => boolean,
  now: number,
): Promise<DeliveriesTable[]> {
  const candidates = failed.flatMap(({ delivery, category, recipient }) => {
    if (delivery.fallback_from !== null || !category || !recipient) return [];
    const from = delivery.channel;
    if (!isChannel(from)) return [];
    const to = category.channelFallbacks[from];
    return to === undefined ? [] : [{ delivery, category, recipient, from, to }];
  });
  if (candidates.length === 0) return [];

  const byCategory = new Map<string, string[]>();
  for (const c of candidates) {
    if (c.category.mandatory) continue;
    const users = byCategory.get(c.category.key) ?? [];
    users.push(c.recipient.id);
    byCategory.set(c.category.key, users);
  }
  const prefs = new Map<string, Awaited<ReturnType<typeof preferencesFor>>>();
  for (const [key, users] of byCategory) prefs.set(key, await preferencesFor(db, users, key));

  const rows: DeliveriesTable[] = [];
  for (const { delivery, category, recipient, from, to } of candidates) {
    if (!category.mandatory) {
      const pref = prefs.get(category.key)?.get(recipient.id);
      if (pref && (!pref.enabled || (pref.channels !== null && !pref.channels.includes(to)))) {
        continue;
      }
    }
    const planned = planChannel(to, recipient, channelServed, delivery.locale, from);
    rows.push(deliveryRow(delivery.message_id, delivery.user_id, planned, now));
  }
  return rows;
}
