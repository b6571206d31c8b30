import { sql, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Db } from '../store/database.js';
import { sqlDialectOf } from '../store/sql-dialect.js';
import type { Database, MessagesTable, Priority } from '../store/schema.js';
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
  /** `messages.sent_by`: who sent it on the source's behalf, null when the source did. */
  readonly sentBy: string | null;
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
    sentBy: r.sent_by ?? null,
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

/** Several messages by id, in one query per 500 (ids that name none are left out). */
export async function getMessages(
  db: Db,
  ids: Iterable<string>,
): Promise<Map<string, StoredMessage>> {
  const wanted = [...new Set(ids)];
  const found = new Map<string, StoredMessage>();
  for (let i = 0; i < wanted.length; i += 500) {
    const rows = await db
      .selectFrom('messages')
      .selectAll()
      .where('id', 'in', wanted.slice(i, i + 500))
      .execute();
    for (const r of rows) found.set(r.id, toMessage(r));
  }
  return found;
}

/** Message statuses as the API shows them: `completed` is `dispatched` with nothing queued. */
export type MessageViewStatus = MessageStatus | 'completed';

export interface MessageSearch {
  readonly limit: number;
  /** Cursor: the last id of the previous page (newest first, so older ids follow). */
  readonly before?: string | undefined;
  readonly sourceId?: string | undefined;
  readonly category?: string | undefined;
  readonly status?: MessageViewStatus | undefined;
  /** Created at or after (epoch ms). */
  readonly since?: number | undefined;
  /** Created before (epoch ms). */
  readonly until?: number | undefined;
  /** The message id, the Idempotency-Key, or a piece of the data's text (any case). */
  readonly text?: string | undefined;
}

/**
 * The smallest id made at or after `at`: ids are UUIDv7, whose first 48 bits are the creation
 * time, so a time range of messages is a range of the primary key.
 */
export function firstIdAt(at: number): string {
  const h = Math.max(0, Math.floor(at)).toString(16).padStart(12, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-0000-0000-000000000000`;
}

/** Messages newest first, keyset-paginated by id, with the search's conditions (all must hold). */
export async function listMessages(db: Db, opts: MessageSearch): Promise<StoredMessage[]> {
  let q = db.selectFrom('messages').selectAll();
  if (opts.sourceId) q = q.where('source_id', '=', opts.sourceId);
  if (opts.category) q = q.where('category_key', '=', opts.category);
  if (opts.before) q = q.where('id', '<', opts.before);
  if (opts.since !== undefined) q = q.where('id', '>=', firstIdAt(opts.since));
  if (opts.until !== undefined) q = q.where('id', '<', firstIdAt(opts.until));
  if (opts.status) {
    const queued = (eb: ExpressionBuilder<Database, 'messages'>) =>
      eb.exists(
        eb
          .selectFrom('deliveries')
          .select(sql`1`.as('one'))
          .whereRef('deliveries.message_id', '=', 'messages.id')
          .where('deliveries.status', '=', 'queued'),
      );
    if (opts.status === 'completed') {
      q = q.where('status', '=', 'dispatched').where((eb) => eb.not(queued(eb)));
    } else if (opts.status === 'dispatched') {
      q = q.where('status', '=', 'dispatched').where((eb) => queued(eb));
    } else {
      q = q.where('status', '=', opts.status);
    }
  }
  const text = opts.text?.trim();
  if (text) {
    const pattern = `%${text.replace(/[\\%_]/g, '\\$&')}%`;
    const like = sql.raw(sqlDialectOf(db).caseInsensitiveLike);
    q = q.where((eb) =>
      eb.or([
        eb('id', '=', text),
        eb('idempotency_key', '=', text),
        sql<SqlBool>`${eb.ref('data')} ${like} ${pattern} escape '\\'`,
      ]),
    );
  }
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

/**
 * Marks messages whose fan-out finished in one go `dispatched`, adding the users each newly
 * reached (message id → count): one statement per distinct count, not one per message. Their
 * fan-out cursor stays as it was (none): a dispatched message is never resumed.
 */
export async function setDispatched(
  db: Db,
  reached: ReadonlyMap<string, number>,
  now: number,
): Promise<void> {
  const byCount = new Map<number, string[]>();
  for (const [id, n] of reached) {
    const ids = byCount.get(n) ?? [];
    ids.push(id);
    byCount.set(n, ids);
  }
  for (const [n, ids] of byCount) {
    for (let i = 0; i < ids.length; i += 500) {
      await db
        .updateTable('messages')
        .set({
          status: 'dispatched',
          recipient_count: sql`recipient_count + ${n}`,
          updated_at: now,
        })
        .where('id', 'in', ids.slice(i, i + 500))
        .execute();
    }
  }
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

/** Delivery counts per channel × status of several messages, in one query. */
export async function countDeliveriesOf(
  db: Db,
  messageIds: readonly string[],
): Promise<Map<string, { channel: string; status: string; count: number }[]>> {
  const out = new Map<string, { channel: string; status: string; count: number }[]>();
  if (messageIds.length === 0) return out;
  const rows = await db
    .selectFrom('deliveries')
    .select(['message_id', 'channel', 'status', (eb) => eb.fn.countAll<number>().as('count')])
    .where('message_id', 'in', [...new Set(messageIds)])
    .groupBy(['message_id', 'channel', 'status'])
    .execute();
  for (const r of rows) {
    const list = out.get(r.message_id) ?? [];
    list.push({ channel: r.channel, status: r.status, count: Number(r.count) });
    out.set(r.message_id, list);
  }
  return out;
}
