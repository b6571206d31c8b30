import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import type { MessagesTable, Priority } from '../store/schema.js';
import type { Audience } from '../recipients/audience-types.js';

/** scheduled (sendAt in the future) → accepted → fanning_out → dispatched (all deliveries exist). */
export type MessageStatus = 'scheduled' | 'accepted' | 'fanning_out' | 'dispatched';

export interface StoredMessage {
  readonly id: string;
  readonly sourceId: string;
  readonly categoryKey: string;
  readonly priority: Priority;
  readonly audience: Audience;
  readonly data: Record<string, unknown>;
  readonly channels: string[] | null;
  readonly locale: string | null;
  readonly sendAt: number;
  readonly status: MessageStatus;
  readonly fanoutCursor: string | null;
  readonly recipientCount: number;
  readonly idempotencyKey: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export function toMessage(r: MessagesTable): StoredMessage {
  return {
    id: r.id,
    sourceId: r.source_id,
    categoryKey: r.category_key,
    priority: r.priority,
    audience: JSON.parse(r.audience) as Audience,
    data: JSON.parse(r.data) as Record<string, unknown>,
    channels: r.channels === null ? null : (JSON.parse(r.channels) as string[]),
    locale: r.locale,
    sendAt: Number(r.send_at),
    status: r.status as MessageStatus,
    fanoutCursor: r.fanout_cursor,
    recipientCount: Number(r.recipient_count),
    idempotencyKey: r.idempotency_key,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export async function insertMessages(db: Db, rows: readonly MessagesTable[]): Promise<void> {
  // 15 columns per row: stay far below SQLite's bound-parameter limit.
  for (let i = 0; i < rows.length; i += 500) {
    await db
      .insertInto('messages')
      .values(rows.slice(i, i + 500))
      .execute();
  }
}

export async function getMessage(db: Db, id: string): Promise<StoredMessage | null> {
  const row = await db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toMessage(row) : null;
}

export async function listMessages(
  db: Db,
  opts: { sourceId?: string; category?: string; limit: number; before?: string },
): Promise<StoredMessage[]> {
  let q = db.selectFrom('messages').selectAll();
  if (opts.sourceId) q = q.where('source_id', '=', opts.sourceId);
  if (opts.category) q = q.where('category_key', '=', opts.category);
  if (opts.before) q = q.where('id', '<', opts.before);
  const rows = await q.orderBy('id', 'desc').limit(opts.limit).execute();
  return rows.map(toMessage);
}

export async function setFanoutProgress(
  db: Db,
  id: string,
  patch: { status: MessageStatus; cursor: string | null; addRecipients: number },
  now: number,
): Promise<void> {
  await db
    .updateTable('messages')
    .set({
      status: patch.status,
      fanout_cursor: patch.cursor,
      recipient_count: sql`recipient_count + ${patch.addRecipients}`,
      updated_at: now,
    })
    .where('id', '=', id)
    .execute();
}

/** Delivery counts of a message per channel × status. */
export async function countDeliveries(
  db: Db,
  messageId: string,
): Promise<{ channel: string; status: string; count: number }[]> {
  const rows = await db
    .selectFrom('deliveries')
    .select(['channel', 'status', (eb) => eb.fn.countAll<number>().as('count')])
    .where('message_id', '=', messageId)
    .groupBy(['channel', 'status'])
    .execute();
  return rows.map((r) => ({ channel: r.channel, status: r.status, count: Number(r.count) }));
}
