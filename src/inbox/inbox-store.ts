import { sql } from 'kysely';
import type { Db, Tx } from '../store/database.js';
import { inTransaction } from '../store/transaction.js';
import { sqlDialectOf } from '../store/sql-dialect.js';
import type { InboxItemsTable } from '../store/schema.js';

export interface InboxItem {
  readonly id: string;
  readonly userId: string;
  /** Per-user sequence number: SSE event id, strictly increasing in delivery order. */
  readonly seq: number;
  readonly messageId: string;
  readonly category: string;
  readonly source: { readonly key: string; readonly name: string };
  readonly title: string;
  readonly body: string;
  readonly url: string | null;
  readonly createdAt: number;
  readonly readAt: number | null;
}

export const toInboxItem = (r: InboxItemsTable): InboxItem => ({
  id: r.id,
  userId: r.user_id,
  seq: Number(r.seq),
  messageId: r.message_id,
  category: r.category_key,
  source: { key: r.source_key, name: r.source_name },
  title: r.title,
  body: r.body,
  url: r.url,
  createdAt: Number(r.created_at),
  readAt: r.read_at === null ? null : Number(r.read_at),
});

export type NewInboxItem = Omit<InboxItemsTable, 'seq' | 'read_at'>;

/**
 * Adds items to inboxes. Each user's sequence counter is bumped in the same transaction, so
 * sequence numbers are gap-free per commit order and SSE can resume from any of them. Items
 * whose delivery already has one (a retry after a crash) are returned as they are.
 */
export async function addInboxItems(
  tx: Tx,
  items: readonly NewInboxItem[],
): Promise<{ item: InboxItem; created: boolean }[]> {
  if (items.length === 0) return [];
  const existing = new Map<string, InboxItemsTable>();
  for (const r of await tx
    .selectFrom('inbox_items')
    .selectAll()
    .where(
      'delivery_id',
      'in',
      items.map((i) => i.delivery_id),
    )
    .execute()) {
    existing.set(r.delivery_id, r);
  }
  const fresh = items.filter((i) => !existing.has(i.delivery_id));
  const perUser = new Map<string, number>();
  for (const i of fresh) perUser.set(i.user_id, (perUser.get(i.user_id) ?? 0) + 1);
  // Reserve a block of sequence numbers per user: one statement per 500 users, whatever their
  // item counts. Where rows have locks (PostgreSQL) they are locked in id order first (a sorted
  // FOR UPDATE subquery): two workers writing to overlapping users then wait for each other in
  // turn; locked in any other order they could deadlock (and did, when the users with several
  // items were updated one by one after the others), failing a whole batch for a retry.
  const { skipLocked: rowLocks, typed } = sqlDialectOf(tx);
  const users = [...perUser.keys()].sort();
  const lastSeq = new Map<string, number>();
  for (let i = 0; i < users.length; i += 500) {
    const chunk = users.slice(i, i + 500);
    const byCount = new Map<number, string[]>();
    for (const u of chunk) {
      const n = perUser.get(u)!;
      if (n > 1) byCount.set(n, [...(byCount.get(n) ?? []), u]);
    }
    const increment =
      byCount.size === 0
        ? sql`1`
        : sql`case ${sql.join(
            [...byCount].map(
              ([n, ids]) => sql`when id in (${sql.join(ids)}) then ${typed(n, 'bigint')}`,
            ),
            sql` `,
          )} else 1 end`;
    const rows = await tx
      .updateTable('users')
      .set({ inbox_seq: sql`inbox_seq + ${increment}` })
      .where(
        'id',
        'in',
        rowLocks
          ? tx.selectFrom('users').select('id').where('id', 'in', chunk).orderBy('id').forUpdate()
          : chunk,
      )
      .returning(['id', 'inbox_seq'])
      .execute();
    for (const r of rows) lastSeq.set(r.id, Number(r.inbox_seq));
  }
  const next = new Map<string, number>();
  for (const [u, last] of lastSeq) next.set(u, last - perUser.get(u)! + 1);
  const rows: InboxItemsTable[] = fresh.map((i) => {
    const seq = next.get(i.user_id)!;
    next.set(i.user_id, seq + 1);
    return { ...i, seq, read_at: null };
  });
  for (let i = 0; i < rows.length; i += 500) {
    await tx
      .insertInto('inbox_items')
      .values(rows.slice(i, i + 500))
      .execute();
  }
  const byDelivery = new Map(rows.map((r) => [r.delivery_id, r]));
  return items.map((i) => {
    const prior = existing.get(i.delivery_id);
    return prior
      ? { item: toInboxItem(prior), created: false }
      : { item: toInboxItem(byDelivery.get(i.delivery_id)!), created: true };
  });
}

export async function listInbox(
  db: Db,
  userId: string,
  opts: { limit: number; beforeSeq?: number; unreadOnly?: boolean; category?: string },
): Promise<InboxItem[]> {
  let q = db.selectFrom('inbox_items').selectAll().where('user_id', '=', userId);
  if (opts.beforeSeq !== undefined) q = q.where('seq', '<', opts.beforeSeq);
  if (opts.unreadOnly) q = q.where('read_at', 'is', null);
  if (opts.category) q = q.where('category_key', '=', opts.category);
  const rows = await q.orderBy('seq', 'desc').limit(opts.limit).execute();
  return rows.map(toInboxItem);
}

/** Items after a sequence number, oldest first (SSE catch-up). */
export async function inboxAfter(
  db: Db,
  userId: string,
  afterSeq: number,
  limit: number,
): Promise<InboxItem[]> {
  const rows = await db
    .selectFrom('inbox_items')
    .selectAll()
    .where('user_id', '=', userId)
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map(toInboxItem);
}

export async function lastInboxSeq(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select('inbox_seq')
    .where('id', '=', userId)
    .executeTakeFirst();
  return row ? Number(row.inbox_seq) : 0;
}

export async function unreadCount(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom('inbox_items')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('read_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Called in the transaction that marks items read, with the items that just became read
 * (status callbacks are written there, so they exist iff the change committed).
 */
export type OnRead = (
  tx: Tx,
  items: readonly Pick<InboxItemsTable, 'message_id' | 'delivery_id' | 'user_id' | 'read_at'>[],
) => Promise<void>;

/** Marks one of the user's items read; null when the user has no such item. */
export async function markRead(
  db: Db,
  userId: string,
  itemId: string,
  now: number,
  onRead?: OnRead,
): Promise<InboxItem | null> {
  return inTransaction(db, async (tx) => {
    const changed = await tx
      .updateTable('inbox_items')
      .set({ read_at: now })
      .where('id', '=', itemId)
      .where('user_id', '=', userId)
      .where('read_at', 'is', null)
      .returningAll()
      .execute();
    if (changed.length > 0) {
      await onRead?.(tx, changed);
      return toInboxItem(changed[0]!);
    }
    const row = await tx
      .selectFrom('inbox_items')
      .selectAll()
      .where('id', '=', itemId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row ? toInboxItem(row) : null;
  });
}

export async function markAllRead(
  db: Db,
  userId: string,
  now: number,
  onRead?: OnRead,
): Promise<number> {
  if (!onRead) {
    const res = await db
      .updateTable('inbox_items')
      .set({ read_at: now })
      .where('user_id', '=', userId)
      .where('read_at', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  }
  return inTransaction(db, async (tx) => {
    const changed = await tx
      .updateTable('inbox_items')
      .set({ read_at: now })
      .where('user_id', '=', userId)
      .where('read_at', 'is', null)
      .returning(['message_id', 'delivery_id', 'user_id', 'read_at'])
      .execute();
    if (changed.length > 0) await onRead(tx, changed);
    return changed.length;
  });
}
