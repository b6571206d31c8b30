import type { Db, Tx } from '../store/database.js';

/**
 * Charges up to `wanted` deliveries to a source's quota on a channel for a day, never past
 * `limit`, and returns how many were granted. Must run inside the transaction that writes
 * those deliveries, so a charge and its deliveries commit (or vanish) together.
 *
 * The first statement creates the row if needed and, being a write, locks it (PostgreSQL
 * row lock; SQLite's transactions already hold the write lock), so the read of `used` and
 * the increment cannot interleave with another charge.
 */
export async function chargeQuota(
  tx: Tx,
  key: { sourceId: string; channel: string; day: string },
  wanted: number,
  limit: number,
): Promise<number> {
  const row = await tx
    .insertInto('quota_usage')
    .values({ source_id: key.sourceId, channel: key.channel, day: key.day, used: 0 })
    .onConflict((oc) =>
      oc
        .columns(['source_id', 'channel', 'day'])
        .doUpdateSet((eb) => ({ used: eb.ref('quota_usage.used') })),
    )
    .returning('used')
    .executeTakeFirstOrThrow();
  const granted = Math.max(0, Math.min(wanted, limit - Number(row.used)));
  if (granted > 0) {
    await tx
      .updateTable('quota_usage')
      .set((eb) => ({ used: eb('used', '+', granted) }))
      .where('source_id', '=', key.sourceId)
      .where('channel', '=', key.channel)
      .where('day', '=', key.day)
      .execute();
  }
  return granted;
}

/**
 * Deliveries charged on `day` to the given sources on the given channels, by source id then
 * channel (nothing charged yet: absent). Exact primary-key lookups, however old the table.
 */
export async function usageOn(
  db: Db,
  sourceIds: readonly string[],
  channels: readonly string[],
  day: string,
): Promise<Map<string, Map<string, number>>> {
  const usage = new Map<string, Map<string, number>>();
  if (sourceIds.length === 0 || channels.length === 0) return usage;
  const rows = await db
    .selectFrom('quota_usage')
    .select(['source_id', 'channel', 'used'])
    .where('source_id', 'in', [...sourceIds])
    .where('channel', 'in', [...channels])
    .where('day', '=', day)
    .execute();
  for (const r of rows) {
    const bySource = usage.get(r.source_id) ?? new Map<string, number>();
    bySource.set(r.channel, Number(r.used));
    usage.set(r.source_id, bySource);
  }
  return usage;
}
