/**
 * The SQL of the broker outbox (`broker_outbox`, migration 004), portable between SQLite and
 * PostgreSQL: plain INSERT/UPDATE/DELETE with RETURNING, which both speak.
 */
import type { Insertable, Selectable } from 'kysely';
import type { Db, Tx } from '../../store/database.js';
import type { BrokerOutboxTable } from '../../store/schema.js';
import type { Lane, LaneDepth } from '../queue.js';
import type { JobRecord } from './job-message.js';

export type OutboxRow = Selectable<BrokerOutboxTable>;
export type NewOutboxRow = Insertable<BrokerOutboxTable>;

/** 12 parameters a row: 500 rows stay far below both databases' limits. */
const ROWS_PER_INSERT = 500;
const IDS_PER_STATEMENT = 1_000;

/** Inserts rows in `h` (the caller's transaction, or a fresh one) and returns them with ids. */
export async function insertOutbox(h: Tx, rows: readonly NewOutboxRow[]): Promise<OutboxRow[]> {
  const inserted: OutboxRow[] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    const part = rows.slice(i, i + ROWS_PER_INSERT);
    inserted.push(...(await h.insertInto('broker_outbox').values(part).returningAll().execute()));
  }
  return inserted.sort((a, b) => Number(a.id) - Number(b.id));
}

/**
 * Claims up to `limit` rows nobody holds (never claimed, or their claim ran out), oldest
 * first, for `claimMs`. The claim condition is repeated on the outer UPDATE so that on
 * PostgreSQL a concurrent relay that blocked on the same rows re-checks it and skips them.
 */
export async function claimOutbox(
  db: Db,
  token: string,
  limit: number,
  now: number,
  claimMs: number,
): Promise<OutboxRow[]> {
  const rows = await db
    .updateTable('broker_outbox')
    .set({ claim_token: token, claimed_until: now + claimMs })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('broker_outbox')
        .select('id')
        .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
        .orderBy('id')
        .limit(limit),
    )
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
    .returningAll()
    .execute();
  return rows.sort((a, b) => Number(a.id) - Number(b.id));
}

/** Deletes published rows, as long as the claim is still ours. */
export async function deleteOutbox(db: Db, ids: readonly number[], token: string): Promise<void> {
  for (let i = 0; i < ids.length; i += IDS_PER_STATEMENT) {
    await db
      .deleteFrom('broker_outbox')
      .where('id', 'in', ids.slice(i, i + IDS_PER_STATEMENT))
      .where('claim_token', '=', token)
      .execute();
  }
}

/** Gives claimed rows back at once (their publication failed), instead of at claim expiry. */
export async function releaseOutbox(db: Db, ids: readonly number[], token: string): Promise<void> {
  for (let i = 0; i < ids.length; i += IDS_PER_STATEMENT) {
    await db
      .updateTable('broker_outbox')
      .set({ claim_token: null, claimed_until: null })
      .where('id', 'in', ids.slice(i, i + IDS_PER_STATEMENT))
      .where('claim_token', '=', token)
      .execute();
  }
}

/** Rows waiting in the outbox per lane (not yet published to the broker). */
export async function outboxDepth(db: Db): Promise<LaneDepth> {
  const rows = await db
    .selectFrom('broker_outbox')
    .select(['lane', (eb) => eb.fn.countAll<number | string>().as('n')])
    .groupBy('lane')
    .execute();
  const depth: LaneDepth = { urgent: 0, normal: 0, bulk: 0 };
  for (const row of rows) if (row.lane in depth) depth[row.lane] = Number(row.n);
  return depth;
}

export function outboxRowToJob(row: OutboxRow): JobRecord {
  return {
    id: String(row.job_id ?? row.id),
    topic: row.topic,
    lane: row.lane as Lane,
    payload: row.payload,
    availableAt: Number(row.available_at),
    maxDeliveries: Number(row.max_deliveries),
    deliveries: Number(row.deliveries),
    createdAt: Number(row.created_at),
    lastError: row.last_error,
  };
}
