import type { Db, Tx } from '../store/database.js';
import type { DeadLettersTable } from '../store/schema.js';

export async function insertDeadLetters(tx: Tx, rows: readonly DeadLettersTable[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    await tx
      .insertInto('dead_letters')
      .values(rows.slice(i, i + 500))
      .execute();
  }
}

export interface DeadLetter {
  readonly id: string;
  readonly deliveryId: string;
  readonly messageId: string;
  readonly channel: string;
  readonly reason: string;
  readonly createdAt: number;
  readonly redrivenAt: number | null;
}

const toDeadLetter = (r: DeadLettersTable): DeadLetter => ({
  id: r.id,
  deliveryId: r.delivery_id,
  messageId: r.message_id,
  channel: r.channel,
  reason: r.reason,
  createdAt: Number(r.created_at),
  redrivenAt: r.redriven_at === null ? null : Number(r.redriven_at),
});

export async function listDeadLetters(
  db: Db,
  opts: { limit: number; before?: string; includeRedriven: boolean },
): Promise<DeadLetter[]> {
  let q = db.selectFrom('dead_letters').selectAll();
  if (!opts.includeRedriven) q = q.where('redriven_at', 'is', null);
  if (opts.before) q = q.where('id', '<', opts.before);
  const rows = await q.orderBy('id', 'desc').limit(opts.limit).execute();
  return rows.map(toDeadLetter);
}

export async function getDeadLetter(db: Db, id: string): Promise<DeadLetter | null> {
  const row = await db
    .selectFrom('dead_letters')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  return row ? toDeadLetter(row) : null;
}

/** Marks the dead letter re-driven and puts its delivery back to `queued` with fresh attempts. */
export async function markRedriven(
  tx: Tx,
  id: string,
  deliveryId: string,
  now: number,
): Promise<boolean> {
  const res = await tx
    .updateTable('dead_letters')
    .set({ redriven_at: now })
    .where('id', '=', id)
    .where('redriven_at', 'is', null)
    .executeTakeFirst();
  if (res.numUpdatedRows === 0n) return false;
  await tx
    .updateTable('deliveries')
    .set({ status: 'queued', reason: null, attempts: 0, updated_at: now, final_at: null })
    .where('id', '=', deliveryId)
    .where('status', '=', 'dead')
    .execute();
  return true;
}
