import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import { firstIdAt } from '../messages/messages-store.js';

/**
 * The dashboard's SQL: range reads of the `deliveries_window` index (migration 006) and a
 * primary-key range of `messages`. Nothing here reads a table row of `deliveries`, so the
 * cost grows with the deliveries of the window, not with the table.
 */

/** Upper bounds (ms, exclusive) of the latency buckets; the last bucket is open-ended. */
export const LATENCY_BOUNDS_MS: readonly number[] = [
  10, 25, 50, 75, 100, 150, 250, 400, 600, 1_000, 1_500, 2_500, 4_000, 6_000, 10_000, 15_000,
  30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000,
  86_400_000,
];

export interface WindowCount {
  readonly channel: string;
  readonly status: string;
  /**
   * For `sent`/`delivered`: index into LATENCY_BOUNDS_MS of the latency bucket
   * (`LATENCY_BOUNDS_MS.length` is the open-ended last one); -1 for the other statuses.
   */
  readonly bucket: number;
  readonly count: number;
  /** Sum of the latencies counted, ms (for the mean); 0 when `bucket` is -1. */
  readonly latencySumMs: number;
}

/**
 * Deliveries created in [from, to), counted per channel × status, those that reached
 * `sent`/`delivered` also per latency bucket. Latency is the time from the delivery's
 * creation (fan-out) to that status. One range read of the covering index
 * `deliveries_window`; callers keep ranges short (an hour) so that no single statement holds
 * SQLite's one connection for long.
 */
export async function deliveryCounts(db: Db, from: number, to: number): Promise<WindowCount[]> {
  const latency = sql`(${sql.ref('final_at')} - ${sql.ref('created_at')})`;
  const reached = sql`${sql.ref('status')} in ('sent', 'delivered') and ${sql.ref('final_at')} is not null`;
  const bucket = sql<number>`case when not (${reached}) then -1 ${sql.join(
    LATENCY_BOUNDS_MS.map(
      (bound, i) => sql`when ${latency} < ${sql.lit(bound)} then ${sql.lit(i)}`,
    ),
    sql` `,
  )} else ${sql.lit(LATENCY_BOUNDS_MS.length)} end`;
  const rows = await db
    .selectFrom('deliveries')
    .select([
      'channel',
      'status',
      bucket.as('bucket'),
      (eb) => eb.fn.countAll<number>().as('n'),
      sql<number>`sum(case when ${reached} then ${latency} else 0 end)`.as('total'),
    ])
    .where('created_at', '>=', from)
    .where('created_at', '<', to)
    .groupBy(['channel', 'status', bucket])
    .execute();
  return rows.map((r) => ({
    channel: r.channel,
    status: r.status,
    bucket: Number(r.bucket),
    count: Number(r.n),
    latencySumMs: Number(r.total),
  }));
}

/** Messages accepted since `since` (scheduled ones included), by the primary key's range. */
export async function messagesAcceptedSince(db: Db, since: number): Promise<number> {
  const row = await db
    .selectFrom('messages')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('id', '>=', firstIdAt(since))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Dead letters not re-driven yet: what an operator still has to look at. */
export async function openDeadLetters(db: Db): Promise<number> {
  const row = await db
    .selectFrom('dead_letters')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('redriven_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
