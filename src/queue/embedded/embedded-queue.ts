/**
 * The queue kept in Herald's own database (SQLite or PostgreSQL), SQS-style: a job row is leasable when
 * `available_at <= now`; a lease pushes `available_at` forward by the visibility timeout and
 * stamps a fresh `lease_token`. An unacked job therefore reappears by itself, and a late
 * ack/retry/deadLetter of an expired lease — whose job another worker has re-leased under a new
 * token — matches no row and does nothing.
 *
 * All SQL goes through Kysely on the app's database handle, or through the caller's `tx`.
 * Consequence for callers: inside a transaction, pass that `tx` to every queue call; on SQLite
 * (one shared connection) a call without it waits for the connection the transaction holds,
 * forever.
 *
 * Several processes may share the queue on PostgreSQL: a lease takes its rows with
 * `FOR UPDATE SKIP LOCKED`, so concurrent leases pick different jobs without waiting on each
 * other, and wake-ups reach the other processes through the store's peer signals
 * (LISTEN/NOTIFY, sent when the enqueuing transaction commits).
 */
import { randomBytes } from 'node:crypto';
import type { Expression, ExpressionBuilder, Insertable, Selectable, SqlBool } from 'kysely';
import { sql } from 'kysely';
import type { Db, Tx } from '../../store/database.js';
import type { Database, QueueJobsTable } from '../../store/schema.js';
import { rowsPerStatement, sqlDialectOf, type SqlDialect } from '../../store/sql-dialect.js';
import { threadSignals, type PeerSignals } from '../../runtime/peer-signals.js';
import { systemClock, type Clock } from '../../time/clock.js';
import type { DeadJob, JobInput, Lane, LaneDepth, LeasedJob, Queue } from '../queue.js';
import { serialiseJobPayload } from '../job-payload.js';

const DEFAULT_MAX_DELIVERIES = 20;
/** Bound parameters per row `enqueue` inserts (the keys of `toRow`'s result). */
const INSERT_PARAMETERS_PER_JOB = 8;
/** The peer-signal topic of "jobs may be available". */
const WAKE_TOPIC = 'queue';
/** `lane_rank` orders the lanes in the `queue_jobs_next` index. */
const LANE_RANK: Readonly<Record<Lane, number>> = { urgent: 0, normal: 1, bulk: 2 };
const ALL_RANKS = Object.values(LANE_RANK);

type JobRow = Selectable<QueueJobsTable>;
type JobFilter = (eb: ExpressionBuilder<Database, 'queue_jobs'>) => Expression<SqlBool>;

export class EmbeddedQueue implements Queue {
  readonly #db: Db;
  readonly #dialect: SqlDialect;
  readonly #clock: Clock;
  /** Resolvers of pending `waitForWork` calls; each clears its own timer. */
  readonly #waiters = new Set<() => void>();
  #closed = false;
  /** Wakes the queues on the same database elsewhere: other threads, other processes. */
  readonly #signals: PeerSignals;
  /** Set when the signals were made here (from a channel name), so close() closes them. */
  readonly #ownsSignals: boolean;
  readonly #unsubscribe: () => void;
  readonly #jobsPerInsert: number;
  readonly #idsPerStatement: number;

  /**
   * @param signals wake-ups shared with the other queues on this database (the store's
   *   `signals`); a name instead makes BroadcastChannels of that name (this process's threads);
   *   none: only this queue's own waiters are woken.
   */
  constructor(db: Db, clock: Clock = systemClock, signals?: PeerSignals | string) {
    this.#db = db;
    this.#dialect = sqlDialectOf(db);
    this.#clock = clock;
    this.#ownsSignals = typeof signals !== 'object';
    this.#signals = typeof signals === 'object' ? signals : threadSignals(signals);
    this.#unsubscribe = this.#signals.subscribe(WAKE_TOPIC, () => this.#wakeLocal());
    this.#jobsPerInsert = rowsPerStatement(this.#dialect, INSERT_PARAMETERS_PER_JOB);
    this.#idsPerStatement = rowsPerStatement(this.#dialect, 1);
  }

  async enqueue(jobs: readonly JobInput[], tx?: Tx): Promise<void> {
    if (jobs.length === 0) return;
    const now = this.#clock();
    // Serialise everything before the first write, so a bad payload fails the batch cleanly.
    const rows = jobs.map((job, index) => toRow(job, index, now));
    const chunks = chunk(rows, this.#jobsPerInsert);
    const insert = async (h: Tx): Promise<void> => {
      for (const part of chunks) await h.insertInto('queue_jobs').values(part).execute();
    };
    if (tx) await insert(tx);
    else if (chunks.length === 1)
      await insert(this.#db); // one statement is atomic by itself
    else await this.#db.transaction().execute(insert);
    await this.#wake(tx);
  }

  async lease(topics: readonly string[], max: number, visibilityMs: number): Promise<LeasedJob[]> {
    if (topics.length === 0 || max <= 0) return [];
    const now = this.#clock();
    const token = randomBytes(12).toString('base64url');
    const dialect = this.#dialect;
    const rows = await this.#db.transaction().execute(async (trx) => {
      // A write first, so the transaction holds SQLite's write lock from its first statement
      // and cannot fail to upgrade if another process shares the file.
      await moveToDeadJobs(trx, dialect, exhaustedAt(now), 'max-deliveries', now);
      let select = trx
        .selectFrom('queue_jobs')
        .select('id')
        // `lane_rank IN (…)` lets SQLite seek each lane's range of the (lane_rank,
        // available_at, id) index in order instead of scanning past leased and future jobs.
        .where('lane_rank', 'in', ALL_RANKS)
        .where('available_at', '<=', now)
        .where('topic', 'in', topics)
        .whereRef('deliveries', '<', 'max_deliveries')
        .orderBy('lane_rank')
        .orderBy('available_at')
        .orderBy('id')
        .limit(max);
      // Several processes (PostgreSQL): each takes rows no one else holds, without waiting.
      if (dialect.skipLocked) select = select.forUpdate().skipLocked();
      const next = await select.execute();
      // Selected, then updated by id (same transaction, so nothing moves in between) because
      // SQLite returns UPDATE … RETURNING rows in no particular order, and the lease must hand
      // them out best lane first, oldest first.
      const leased: JobRow[] = [];
      for (const part of chunk(
        next.map((r) => r.id),
        this.#idsPerStatement,
      )) {
        const updated = await trx
          .updateTable('queue_jobs')
          .set((eb) => ({
            available_at: now + visibilityMs,
            lease_token: token,
            deliveries: eb('deliveries', '+', 1),
          }))
          .where('id', 'in', part)
          .returningAll()
          .execute();
        leased.push(...updated);
      }
      const position = new Map(next.map((r, i) => [r.id, i]));
      return leased.sort((a, b) => position.get(a.id)! - position.get(b.id)!);
    });
    return rows.map((row) => ({
      id: String(row.id),
      topic: row.topic,
      lane: row.lane,
      payload: JSON.parse(row.payload) as unknown,
      deliveries: row.deliveries,
      leaseToken: token,
    }));
  }

  async ack(jobs: readonly LeasedJob[], tx?: Tx): Promise<void> {
    if (jobs.length === 0) return;
    // Two parameters per job at most (id, and its token when it differs from the previous).
    const statements = chunk(jobs, Math.floor(this.#idsPerStatement / 2)).map(
      (part) => (h: Tx) => h.deleteFrom('queue_jobs').where(heldLeases(part)).execute(),
    );
    if (tx || statements.length === 1) {
      for (const run of statements) await run(tx ?? this.#db);
    } else {
      await this.#db.transaction().execute(async (trx) => {
        for (const run of statements) await run(trx);
      });
    }
  }

  async extendLease(job: LeasedJob, visibilityMs: number): Promise<boolean> {
    const res = await this.#db
      .updateTable('queue_jobs')
      .set({ available_at: this.#clock() + visibilityMs })
      .where(heldLeases([job]))
      .executeTakeFirst();
    return res.numUpdatedRows > 0n;
  }

  async retryAt(job: LeasedJob, at: number, error: string, tx?: Tx): Promise<void> {
    await (tx ?? this.#db)
      .updateTable('queue_jobs')
      .set({ available_at: at, lease_token: null, last_error: error })
      .where(heldLeases([job]))
      .execute();
    await this.#wake(tx);
  }

  async deadLetter(job: LeasedJob, reason: string, tx?: Tx): Promise<void> {
    const now = this.#clock();
    const move = (h: Tx) => moveToDeadJobs(h, this.#dialect, heldLeases([job]), reason, now);
    if (tx) await move(tx);
    else await this.#db.transaction().execute(move);
  }

  async depth(): Promise<LaneDepth> {
    const now = this.#clock();
    const rows = await this.#db
      .selectFrom('queue_jobs')
      .select(['lane', (eb) => eb.fn.countAll<number>().as('n')])
      // Not leased right now: never leased, given back by retryAt, or lease expired.
      .where((eb) => eb.or([eb('lease_token', 'is', null), eb('available_at', '<=', now)]))
      // Exhausted jobs will be dead-lettered, not leased: they are not waiting.
      .whereRef('deliveries', '<', 'max_deliveries')
      .groupBy('lane')
      .execute();
    const depth: LaneDepth = { urgent: 0, normal: 0, bulk: 0 };
    for (const row of rows) if (row.lane in depth) depth[row.lane] = Number(row.n);
    return depth;
  }

  async deadLetters(limit: number): Promise<DeadJob[]> {
    if (limit <= 0) return [];
    const rows = await this.#db
      .selectFrom('queue_dead_jobs')
      .selectAll()
      .orderBy('dead_at', 'desc')
      // Insertion order breaks ties within a millisecond (`id` is the job's, not the death's).
      .orderBy(sql`rowid`, 'desc')
      .limit(limit)
      .execute();
    return rows.map((row) => ({
      id: String(row.id),
      topic: row.topic,
      lane: row.lane,
      payload: JSON.parse(row.payload) as unknown,
      deliveries: row.deliveries,
      reason: row.reason,
      deadAt: row.dead_at,
    }));
  }

  waitForWork(maxWaitMs: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, maxWaitMs));
      this.#waiters.add(done);
    });
  }

  /** Releases waiting workers; the database handle belongs to the app and stays open. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe();
    if (this.#ownsSignals) await this.#signals.close();
    this.#wakeLocal();
  }

  /**
   * Tells every queue on this database (this one included) that jobs may be available — with
   * `tx`, once it has committed, so no one leases before the jobs are visible.
   */
  async #wake(tx?: Tx): Promise<void> {
    if (this.#closed) return;
    if (tx) await this.#signals.publishInTransaction(tx, WAKE_TOPIC, '');
    else this.#signals.publish(WAKE_TOPIC, '');
  }

  #wakeLocal(): void {
    for (const done of [...this.#waiters]) done();
  }
}

function toRow(job: JobInput, index: number, now: number): Insertable<QueueJobsTable> {
  const rank = Object.hasOwn(LANE_RANK, job.lane) ? LANE_RANK[job.lane] : undefined;
  if (rank === undefined) {
    throw new TypeError(
      `Job ${index} (${job.topic}) has unknown lane "${String(job.lane)}"; nothing was enqueued`,
    );
  }
  const maxDeliveries = job.maxDeliveries ?? DEFAULT_MAX_DELIVERIES;
  if (!Number.isInteger(maxDeliveries) || maxDeliveries < 1) {
    throw new TypeError(
      `Job ${index} (${job.topic}) has maxDeliveries ${maxDeliveries}; use an integer ≥ 1. Nothing was enqueued`,
    );
  }
  return {
    topic: job.topic,
    lane: job.lane,
    lane_rank: rank,
    payload: serialiseJobPayload(job, index),
    deliveries: 0,
    max_deliveries: maxDeliveries,
    available_at: job.availableAt ?? now,
    created_at: now,
  };
}

/** Available again after being leased `max_deliveries` times without an ack. */
function exhaustedAt(now: number): JobFilter {
  // Matches the partial index queue_jobs_exhausted, so the check costs nothing when none are.
  return (eb) =>
    eb.and([eb('deliveries', '>=', eb.ref('max_deliveries')), eb('available_at', '<=', now)]);
}

/** The jobs whose lease is still the one the caller holds. */
function heldLeases(jobs: readonly LeasedJob[]): JobFilter {
  const idsByToken = new Map<string, number[]>();
  for (const job of jobs) {
    const ids = idsByToken.get(job.leaseToken) ?? [];
    ids.push(rowId(job.id));
    idsByToken.set(job.leaseToken, ids);
  }
  return (eb) =>
    eb.or(
      [...idsByToken].map(([token, ids]) =>
        eb.and([eb('lease_token', '=', token), eb('id', 'in', ids)]),
      ),
    );
}

const DEAD_COLUMNS = [
  'id',
  'topic',
  'lane',
  'payload',
  'deliveries',
  'reason',
  'created_at',
  'dead_at',
] as const;

/** Moves the jobs matching `filter` to the dead letters. */
async function moveToDeadJobs(
  h: Tx,
  dialect: SqlDialect,
  filter: JobFilter,
  reason: string,
  now: number,
): Promise<void> {
  const reasonValue = dialect.typed(reason, 'text').as('reason');
  const deadAt = dialect.typed(now, 'bigint').as('dead_at');
  if (dialect.writableCte) {
    // One statement: a job deleted here is the job inserted, even while another process
    // moves the same exhausted jobs (it waits for our row locks, then finds them gone).
    await h
      .with('moved', (db) =>
        db
          .deleteFrom('queue_jobs')
          .where(filter)
          .returning(['id', 'topic', 'lane', 'payload', 'deliveries', 'created_at']),
      )
      .insertInto('queue_dead_jobs')
      .columns(DEAD_COLUMNS)
      .expression((eb) =>
        eb
          .selectFrom('moved')
          .select([
            'id',
            'topic',
            'lane',
            'payload',
            'deliveries',
            reasonValue,
            'created_at',
            deadAt,
          ]),
      )
      .execute();
    return;
  }
  // SQLite: one writer at a time, so nothing changes between the two statements.
  await h
    .insertInto('queue_dead_jobs')
    .columns(DEAD_COLUMNS)
    .expression(
      h
        .selectFrom('queue_jobs')
        .where(filter)
        .select([
          'id',
          'topic',
          'lane',
          'payload',
          'deliveries',
          reasonValue,
          'created_at',
          deadAt,
        ]),
    )
    .execute();
  await h.deleteFrom('queue_jobs').where(filter).execute();
}

function rowId(id: string): number {
  const n = Number(id);
  if (!Number.isSafeInteger(n))
    throw new TypeError(`"${id}" is not a job id of the embedded queue`);
  return n;
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const parts: T[][] = [];
  for (let i = 0; i < items.length; i += size) parts.push(items.slice(i, i + size));
  return parts;
}
