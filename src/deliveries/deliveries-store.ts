import { sql, type SqlBool } from 'kysely';
import type { Db, Tx } from '../store/database.js';
import { sqlDialectOf } from '../store/sql-dialect.js';
import type { DeliveriesTable, DeliveryAttemptsTable, DeliveryStatus } from '../store/schema.js';

export const FINAL_STATUSES: readonly DeliveryStatus[] = [
  'sent',
  'delivered',
  'failed',
  'dead',
  'suppressed',
];

/**
 * Inserts planned deliveries; rows that already exist for (message, user, channel) are left
 * alone. Returns the rows this call created, so a resumed fan-out enqueues only those.
 */
export async function insertDeliveries(
  tx: Tx,
  rows: readonly DeliveriesTable[],
): Promise<{ id: string; channel: string; status: string }[]> {
  const created: { id: string; channel: string; status: string }[] = [];
  for (let i = 0; i < rows.length; i += 500) {
    const res = await tx
      .insertInto('deliveries')
      .values(rows.slice(i, i + 500))
      .onConflict((oc) => oc.columns(['message_id', 'user_id', 'channel']).doNothing())
      .returning(['id', 'channel', 'status'])
      .execute();
    created.push(...res);
  }
  return created;
}

export async function queuedDeliveries(db: Db, ids: readonly string[]): Promise<DeliveriesTable[]> {
  if (ids.length === 0) return [];
  return db
    .selectFrom('deliveries')
    .selectAll()
    .where('id', 'in', ids)
    .where('status', '=', 'queued')
    .execute();
}

export interface DeliveryUpdate {
  readonly id: string;
  readonly status: DeliveryStatus;
  readonly reason: string | null;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly provider: string | null;
  readonly providerMessageId: string | null;
  /** The locale of the template actually used, when one was rendered. */
  readonly locale: string | null;
}

/**
 * Writes outcomes, 500 rows per statement (UPDATE … FROM VALUES, which SQLite and PostgreSQL
 * both speak). Only deliveries still `queued` change, so a late duplicate cannot regress a
 * final one. Returns the ids that did change: what follows from an outcome (its callback
 * event, dead letter, fallback) must follow only from one that was recorded.
 */
export async function applyDeliveryUpdates(
  tx: Tx,
  updates: readonly DeliveryUpdate[],
  now: number,
): Promise<Set<string>> {
  const applied = new Set<string>();
  const final = sql.join(FINAL_STATUSES.map((s) => sql.lit(s)));
  // PostgreSQL types VALUES columns and CASE results from their contents: an untyped
  // parameter would be text there, and text is not stored in integer or bigint columns.
  const { typed } = sqlDialectOf(tx);
  for (let i = 0; i < updates.length; i += 500) {
    const rows = sql.join(
      updates
        .slice(i, i + 500)
        .map(
          (u) =>
            sql`(${u.id}, ${u.status}, ${u.reason}, ${typed(u.attempts, 'integer')}, ${u.lastError}, ${u.provider}, ${u.providerMessageId}, ${u.locale})`,
        ),
    );
    const res = await sql<{ id: string }>`
      update deliveries set
        status = v.column2,
        reason = v.column3,
        attempts = v.column4,
        last_error = v.column5,
        provider = v.column6,
        provider_message_id = v.column7,
        locale = coalesce(v.column8, deliveries.locale),
        updated_at = ${now},
        final_at = case when v.column2 in (${final}) then ${typed(now, 'bigint')} else null end
      from (values ${rows}) as v
      where deliveries.id = v.column1 and deliveries.status = 'queued'
      returning deliveries.id`.execute(tx);
    for (const row of res.rows) applied.add(row.id);
  }
  return applied;
}

export async function insertAttempts(
  tx: Tx,
  rows: readonly DeliveryAttemptsTable[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    await tx
      .insertInto('delivery_attempts')
      .values(rows.slice(i, i + 500))
      .execute();
  }
}

export interface DeliveryView {
  readonly id: string;
  readonly recipient: { readonly externalId: string; readonly name: string };
  readonly channel: string;
  readonly status: string;
  readonly reason: string | null;
  readonly locale: string;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly provider: string | null;
  readonly providerMessageId: string | null;
  /** The channel this delivery replaces (channel fallback), else null. */
  readonly fallbackFrom: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly finalAt: number | null;
}

function deliveryViews(db: Db) {
  return db
    .selectFrom('deliveries as d')
    .innerJoin('users as u', 'u.id', 'd.user_id')
    .select([
      'd.id',
      'd.channel',
      'd.status',
      'd.reason',
      'd.locale',
      'd.attempts',
      'd.last_error',
      'd.provider',
      'd.provider_message_id',
      'd.fallback_from',
      'd.created_at',
      'd.updated_at',
      'd.final_at',
      'u.external_id',
      'u.name',
    ]);
}

type DeliveryViewRow = Awaited<ReturnType<ReturnType<typeof deliveryViews>['execute']>>[number];

function toDeliveryView(r: DeliveryViewRow): DeliveryView {
  return {
    id: r.id,
    recipient: { externalId: r.external_id, name: r.name },
    channel: r.channel,
    status: r.status,
    reason: r.reason,
    locale: r.locale,
    attempts: Number(r.attempts),
    lastError: r.last_error,
    provider: r.provider,
    providerMessageId: r.provider_message_id,
    fallbackFrom: r.fallback_from,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    finalAt: r.final_at === null ? null : Number(r.final_at),
  };
}

export async function getDelivery(
  db: Db,
  messageId: string,
  deliveryId: string,
): Promise<DeliveryView | null> {
  const row = await deliveryViews(db)
    .where('d.message_id', '=', messageId)
    .where('d.id', '=', deliveryId)
    .executeTakeFirst();
  return row ? toDeliveryView(row) : null;
}

export async function listDeliveries(
  db: Db,
  messageId: string,
  opts: {
    limit: number;
    after?: string;
    channel?: string;
    status?: string;
    /** The recipient's external id, exactly. */
    recipient?: string;
    /** Any part of the recipient's name or external id, in any case. */
    recipientText?: string;
  },
): Promise<DeliveryView[]> {
  let q = deliveryViews(db).where('d.message_id', '=', messageId);
  const text = opts.recipientText?.trim();
  if (text) {
    const pattern = `%${text.replace(/[\\%_]/g, '\\$&')}%`;
    const like = sql.raw(sqlDialectOf(db).caseInsensitiveLike);
    q = q.where((eb) =>
      eb.or([
        sql<SqlBool>`${eb.ref('u.name')} ${like} ${pattern} escape '\\'`,
        sql<SqlBool>`${eb.ref('u.external_id')} ${like} ${pattern} escape '\\'`,
      ]),
    );
  }
  if (opts.after) q = q.where('d.id', '>', opts.after);
  if (opts.channel) q = q.where('d.channel', '=', opts.channel);
  if (opts.status) q = q.where('d.status', '=', opts.status as DeliveryStatus);
  if (opts.recipient) q = q.where('u.external_id', '=', opts.recipient);
  const rows = await q.orderBy('d.id').limit(opts.limit).execute();
  return rows.map(toDeliveryView);
}

export async function attemptsOf(
  db: Db,
  deliveryIds: readonly string[],
): Promise<DeliveryAttemptsTable[]> {
  if (deliveryIds.length === 0) return [];
  return db
    .selectFrom('delivery_attempts')
    .selectAll()
    .where('delivery_id', 'in', deliveryIds)
    .orderBy('delivery_id')
    .orderBy('attempt')
    .execute();
}
