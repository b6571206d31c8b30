import type { Db, Tx } from '../../store/database.js';
import type { SandboxOutboxTable } from '../../store/schema.js';

export async function insertOutbox(tx: Tx, rows: readonly SandboxOutboxTable[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    await tx
      .insertInto('sandbox_outbox')
      .values(rows.slice(i, i + 500))
      .execute();
  }
}

export interface OutboxEntry {
  readonly id: string;
  readonly deliveryId: string;
  readonly messageId: string;
  readonly channel: string;
  readonly recipient: string;
  readonly payload: Record<string, unknown>;
  readonly createdAt: number;
}

export async function listOutbox(
  db: Db,
  opts: { limit: number; before?: string; channel?: string; messageId?: string },
): Promise<OutboxEntry[]> {
  let q = db.selectFrom('sandbox_outbox').selectAll();
  if (opts.channel) q = q.where('channel', '=', opts.channel);
  if (opts.messageId) q = q.where('message_id', '=', opts.messageId);
  if (opts.before) q = q.where('id', '<', opts.before);
  const rows = await q.orderBy('id', 'desc').limit(opts.limit).execute();
  return rows.map((r) => ({
    id: r.id,
    deliveryId: r.delivery_id,
    messageId: r.message_id,
    channel: r.channel,
    recipient: r.recipient,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    createdAt: Number(r.created_at),
  }));
}
