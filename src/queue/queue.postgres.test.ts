/**
 * The SQL queue on PostgreSQL: the shared contract, then what only several processes on one
 * database can show — leases that never overlap (FOR UPDATE SKIP LOCKED), exhausted jobs moved
 * once however many leases race for them, and wake-ups that cross processes (LISTEN/NOTIFY).
 * Each "process" here is its own pool and its own listening connection on the same schema.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openPostgres } from '../store/postgres/open-postgres.js';
import { PgPeerSignals } from '../store/postgres/pg-peer-signals.js';
import type { Db } from '../store/database.js';
import { freshPostgres, type FreshPostgres } from '../../test/support/fresh-postgres.js';
import { skipUnless } from '../../test/support/services.js';
import { EmbeddedQueue } from './embedded/embedded-queue.js';
import { queueContract } from './queue.contract.js';
import type { JobInput } from './queue.js';

const skip = await skipUnless('postgres');

describe('SQL queue on PostgreSQL', { skip }, () => {
  let fresh: FreshPostgres;
  let signals: PgPeerSignals;

  before(async () => {
    fresh = await freshPostgres();
    signals = new PgPeerSignals({
      db: fresh.db,
      newClient: fresh.newClient,
      namespace: fresh.schema,
    });
    await signals.start();
  });

  after(async () => {
    await signals?.close();
    await fresh?.close();
  });

  async function empty(db: Db): Promise<void> {
    await sql`truncate queue_jobs, queue_dead_jobs`.execute(db);
  }

  queueContract('EmbeddedQueue on PostgreSQL', { transactions: true }, async () => {
    await empty(fresh.db);
    const clock = { now: Date.UTC(2025, 8, 1, 8, 0, 0) };
    const queue = new EmbeddedQueue(fresh.db, () => clock.now, signals);
    return {
      queue,
      now: () => clock.now,
      advanceClock: (ms) => {
        clock.now += ms;
      },
      transaction: (fn) => fresh.db.transaction().execute(fn),
      close: () => queue.close(),
    };
  });

  describe('several processes on one database', () => {
    /** A second process: its own pool and its own LISTEN connection. */
    async function otherProcess() {
      const { db, newClient } = openPostgres(fresh.url, {
        poolSize: 4,
        statementTimeoutMs: 30_000,
      });
      const theirSignals = new PgPeerSignals({ db, newClient, namespace: fresh.schema });
      await theirSignals.start();
      return {
        db,
        signals: theirSignals,
        async close() {
          await theirSignals.close();
          await db.destroy();
        },
      };
    }

    const jobs = (n: number, topic = 'race'): JobInput[] =>
      Array.from({ length: n }, (_, i) => ({ topic, lane: 'normal', payload: { i } }));

    it('concurrent leases from two processes never hand out the same job', async () => {
      await empty(fresh.db);
      const other = await otherProcess();
      try {
        const a = new EmbeddedQueue(fresh.db, Date.now, signals);
        const b = new EmbeddedQueue(other.db, Date.now, other.signals);
        await a.enqueue(jobs(2_000));

        const seen: string[] = [];
        const drain = async (q: EmbeddedQueue) => {
          for (;;) {
            const leased = await q.lease(['race'], 25, 60_000);
            if (leased.length === 0) return;
            seen.push(...leased.map((j) => j.id));
            await q.ack(leased);
          }
        };
        await Promise.all([drain(a), drain(b), drain(a), drain(b)]);

        assert.equal(seen.length, 2_000, 'every job leased');
        assert.equal(new Set(seen).size, 2_000, 'no job leased twice');
        await a.close();
        await b.close();
      } finally {
        await other.close();
      }
    });

    it('an enqueue in one process wakes a waiting worker in another, once the transaction commits', async () => {
      await empty(fresh.db);
      const other = await otherProcess();
      try {
        const producer = new EmbeddedQueue(fresh.db, Date.now, signals);
        const consumer = new EmbeddedQueue(other.db, Date.now, other.signals);

        let woken = false;
        const waiting = consumer.waitForWork(10_000).then(() => (woken = true));
        let leasedInside: unknown[] = [];
        const started = performance.now();
        await fresh.db.transaction().execute(async (tx) => {
          await producer.enqueue(jobs(1, 'wake'), tx);
          await new Promise((resolve) => setTimeout(resolve, 200));
          assert.equal(woken, false, 'not woken before the commit');
          leasedInside = await consumer.lease(['wake'], 10, 60_000);
        });
        await waiting;

        assert.ok(performance.now() - started < 2_000, 'woke long before the 10 s timeout');
        assert.deepEqual(
          leasedInside,
          [],
          'the uncommitted job was invisible to the other process',
        );
        assert.equal((await consumer.lease(['wake'], 10, 60_000)).length, 1);
        await producer.close();
        await consumer.close();
      } finally {
        await other.close();
      }
    });

    it('exhausted jobs are dead-lettered exactly once while two processes lease at the same time', async () => {
      await empty(fresh.db);
      const other = await otherProcess();
      const clock = { now: Date.UTC(2025, 8, 1, 8, 0, 0) };
      try {
        const a = new EmbeddedQueue(fresh.db, () => clock.now, signals);
        const b = new EmbeddedQueue(other.db, () => clock.now, other.signals);
        await a.enqueue(
          Array.from({ length: 300 }, (_, i) => ({
            topic: 'poison',
            lane: 'bulk' as const,
            payload: i,
            maxDeliveries: 1,
          })),
        );
        assert.equal((await a.lease(['poison'], 300, 1_000)).length, 300);
        clock.now += 1_000;

        const results = await Promise.all([
          a.lease(['poison'], 10, 1_000),
          b.lease(['poison'], 10, 1_000),
          a.lease(['poison'], 10, 1_000),
          b.lease(['poison'], 10, 1_000),
        ]);

        assert.deepEqual(
          results.map((r) => r.length),
          [0, 0, 0, 0],
        );
        const dead = await a.deadLetters(1_000);
        assert.equal(dead.length, 300);
        assert.equal(new Set(dead.map((d) => d.id)).size, 300);
        assert.ok(dead.every((d) => d.reason === 'max-deliveries'));
        await a.close();
        await b.close();
      } finally {
        await other.close();
      }
    });

    it('a batch larger than one statement’s parameters arrives whole, or not at all', async () => {
      await empty(fresh.db);
      const queue = new EmbeddedQueue(fresh.db, Date.now, signals);
      // 8 parameters a row: 20,000 rows need three statements under PostgreSQL's 65,535.
      await queue.enqueue(jobs(20_000, 'big'));
      const count = async () =>
        Number(
          (
            await fresh.db
              .selectFrom('queue_jobs')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
      assert.equal(await count(), 20_000);

      // The database refuses the last row: the first two statements have run by then.
      await empty(fresh.db);
      await sql`alter table queue_jobs add constraint refuse_last check (payload <> '{"i":19999}')`.execute(
        fresh.db,
      );
      try {
        await assert.rejects(queue.enqueue(jobs(20_000, 'big')), /refuse_last/);
        assert.equal(await count(), 0);
      } finally {
        await sql`alter table queue_jobs drop constraint refuse_last`.execute(fresh.db);
      }
      await queue.close();
    });
  });
});
