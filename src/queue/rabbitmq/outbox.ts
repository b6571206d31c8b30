/**
 * The SQL of the broker outbox (`broker_outbox`, migration 004), portable between SQLite and
 * PostgreSQL: plain INSERT/UPDATE/DELETE with RETURNING, which both speak — except the claim
 * under a presence, which only PostgreSQL has.
 */
import { sql, type Insertable, type RawBuilder, type Selectable } from 'kysely';
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

/** What a claim under a presence needs of it (src/store/presence.ts). */
export interface ClaimPresence {
  /**
   * The claim's token: the presence's own (`prefix…`, held now), or a token of the relay's
   * own without the prefix — a timed claim, which nobody takes before it runs out, made
   * while the presence holds no token (OutboxRelay).
   */
  readonly token: string;
  readonly prefix: string;
  /** SQL selecting the column `token` of every token held now. */
  readonly held: RawBuilder<unknown>;
}

/**
 * Claims like claimOutbox, and also takes rows whose claim is still running but whose holder
 * is gone: claimed under a presence token (`prefix…`) that PostgreSQL no longer shows. A
 * holder PostgreSQL shows keeps its rows until their claim runs out — which for claims under
 * a presence is ten claim periods (OutboxRelay), the bound for a process that is wedged with
 * its session open. Claims under other tokens (SQLite's, a relay without presence) are taken
 * only once they ran out. Safe against a relay that is alive:
 *
 * - Nothing is claimed under a presence token unless that token itself is held (checked in
 *   this statement): a relay whose session just died, and does not know yet, claims nothing
 *   — others would see its token gone and take the rows from under it. A claim under a token
 *   without the prefix needs no such check: nobody takes it before it runs out.
 * - A token is held before any row names it (the presence shows it before handing it out)
 *   and never again once lost (a lost session comes back under a new one). So a token seen
 *   on a row of this statement's snapshot but missing from `pg_stat_activity` (read after the
 *   snapshot) is gone for good.
 * - The UPDATE takes a row only in the version that was judged (same token and expiry):
 *   a row another relay claimed meanwhile — perhaps under a token too new for the
 *   `pg_stat_activity` read above — is skipped, not stolen.
 */
export async function claimOutboxWithPresence(
  db: Db,
  presence: ClaimPresence,
  limit: number,
  now: number,
  claimMs: number,
): Promise<OutboxRow[]> {
  const { token, prefix, held } = presence;
  const mayClaim = token.startsWith(prefix)
    ? sql`exists (select 1 from held where held.token = ${token})`
    : sql`true`;
  const { rows } = await sql<OutboxRow>`
    with held as materialized (${held}),
    picked as materialized (
      select id, claim_token, claimed_until from broker_outbox
      where ${mayClaim}
        and (claimed_until is null
          or claimed_until < ${now}
          or (starts_with(claim_token, ${prefix})
            and claim_token not in (select held.token from held)))
      order by id
      limit ${limit}
    )
    update broker_outbox as o
    set claim_token = ${token}, claimed_until = ${now + claimMs}
    from picked as p
    where o.id = p.id
      and o.claim_token is not distinct from p.claim_token
      and o.claimed_until is not distinct from p.claimed_until
    returning o.*`.execute(db);
  return [...rows].sort((a, b) => Number(a.id) - Number(b.id));
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
