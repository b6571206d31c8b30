import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import { openSqlite } from '../store/sqlite/open-sqlite.js';
import { freshDatabase, type FreshDatabase } from '../../test/support/fresh-db.js';
import { EmbeddedQueue } from './embedded/embedded-queue.js';
import { queueContract } from './queue.contract.js';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const crashChild = join(projectRoot, 'test/fixtures/queue-crash-child.ts');

queueContract('EmbeddedQueue', { transactions: true }, async () => {
  const fresh = await freshDatabase('queue');
  const clock = { now: Date.UTC(2025, 8, 1, 8, 0, 0) };
  const queue = new EmbeddedQueue(fresh.db, () => clock.now);
  return {
    queue,
    now: () => clock.now,
    advanceClock: (ms) => {
      clock.now += ms;
    },
    transaction: (fn) => fresh.db.transaction().execute(fn),
    async close() {
      await queue.close();
      await fresh.close();
    },
  };
});

describe('EmbeddedQueue', () => {
  let fresh: FreshDatabase;
  let queue: EmbeddedQueue;
  const now = Date.UTC(2025, 8, 1, 8, 0, 0);

  beforeEach(async () => {
    fresh = await freshDatabase('queue');
    queue = new EmbeddedQueue(fresh.db, () => now);
  });

  afterEach(async () => {
    await queue.close();
    await fresh.close();
  });

  it('an enqueue joins the caller’s transaction: the job commits or rolls back with the rows it refers to', async () => {
    const { db } = fresh;
    await assert.rejects(
      db.transaction().execute(async (tx) => {
        await tx.insertInto('settings').values({ key: 'tx-test', value: 'rolled back' }).execute();
        await queue.enqueue([{ topic: 'tx', lane: 'normal', payload: { setting: 'tx-test' } }], tx);
        throw new Error('rollback');
      }),
      /rollback/,
    );
    assert.equal(await setting(db, 'tx-test'), undefined);
    assert.deepEqual(await queue.lease(['tx'], 10, 1_000), []);

    await db.transaction().execute(async (tx) => {
      await tx.insertInto('settings').values({ key: 'tx-test', value: 'committed' }).execute();
      await queue.enqueue([{ topic: 'tx', lane: 'normal', payload: { setting: 'tx-test' } }], tx);
    });

    assert.equal(await setting(db, 'tx-test'), 'committed');
    const [leased] = await queue.lease(['tx'], 10, 1_000);
    assert.deepEqual(leased?.payload, { setting: 'tx-test' });

    await assert.rejects(
      db.transaction().execute(async (tx) => {
        await queue.ack([leased], tx);
        await tx
          .updateTable('settings')
          .set({ value: 'acked' })
          .where('key', '=', 'tx-test')
          .execute();
        throw new Error('rollback');
      }),
    );
    assert.equal(await setting(db, 'tx-test'), 'committed');
    assert.equal(await jobCount(db), 1, 'the rolled-back ack left the job in place');

    await db.transaction().execute(async (tx) => {
      await queue.ack([leased], tx);
      await tx
        .updateTable('settings')
        .set({ value: 'acked' })
        .where('key', '=', 'tx-test')
        .execute();
    });
    assert.equal(await setting(db, 'tx-test'), 'acked');
    assert.equal(await jobCount(db), 0);
  });

  it('a batch spanning several INSERT statements is still all-or-none', async () => {
    const { db } = fresh;
    // 8 parameters a row, 30,000 a statement: 9,000 rows take three statements. The database
    // refuses the last row, so the first two statements have already run when the batch fails.
    const batch = Array.from({ length: 9_000 }, (_, i) => ({
      topic: 'multi',
      lane: 'bulk' as const,
      payload: { i },
    }));
    await sql`CREATE TEMP TRIGGER refuse_last BEFORE INSERT ON queue_jobs
      WHEN NEW.payload = '{"i":8999}' BEGIN SELECT RAISE(ABORT, 'refused by test'); END`.execute(
      db,
    );
    try {
      await assert.rejects(queue.enqueue(batch), /refused by test/);
      assert.equal(await jobCount(db), 0);
    } finally {
      await sql`DROP TRIGGER temp.refuse_last`.execute(db);
    }

    await queue.enqueue(batch);
    assert.equal(await jobCount(db), 9_000);
  });

  it('a job with an unknown lane fails its batch before anything is written', async () => {
    const batch = [
      { topic: 'lanes', lane: 'urgent' as const, payload: 1 },
      { topic: 'lanes', lane: 'sideways' as 'bulk', payload: 2 },
    ];

    await assert.rejects(queue.enqueue(batch), /unknown lane "sideways"/);
    assert.equal(await jobCount(fresh.db), 0);
  });

  it('job ids are the integer row ids, kept when a job is dead-lettered', async () => {
    await queue.enqueue([{ topic: 'ids', lane: 'urgent', payload: 1 }]);
    const [leased] = await queue.lease(['ids'], 1, 1_000);
    assert.ok(leased);
    assert.match(leased.id, /^[1-9][0-9]*$/);

    await queue.deadLetter(leased, 'checking ids');

    const [dead] = await queue.deadLetters(1);
    assert.equal(dead?.id, leased.id);
    assert.equal(dead.deadAt, now);
  });

  it('jobs enqueued before a kill -9 are all there afterwards, and no batch is half there', async () => {
    const crash = await freshDatabase('queue');
    await crash.db.destroy(); // migrated; the child gets the file to itself
    const perBatch = 5_000; // two INSERT statements (3,750 rows each at most)
    const freezeIn = 3;
    try {
      const resolved = await killMidBatch(crash.file, perBatch, freezeIn);
      assert.equal(resolved, freezeIn, 'the child reported every batch before the frozen one');

      const { db } = openSqlite(crash.file);
      try {
        const integrity = await sql<{ integrity_check: string }>`PRAGMA integrity_check`.execute(
          db,
        );
        assert.deepEqual(integrity.rows, [{ integrity_check: 'ok' }]);
        const batches = await sql<{ batch: number; n: number }>`
          SELECT json_extract(payload, '$.batch') AS batch, count(*) AS n
          FROM queue_jobs GROUP BY batch ORDER BY batch`.execute(db);
        // The resolved batches whole; of the frozen one (first INSERT run, not committed) nothing.
        assert.deepEqual(
          batches.rows,
          [0, 1, 2].map((batch) => ({ batch, n: perBatch })),
        );
      } finally {
        await db.destroy();
      }
    } finally {
      await crash.close();
    }
  });
});

async function setting(db: Db, key: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('settings')
    .select('value')
    .where('key', '=', key)
    .executeTakeFirst();
  return row?.value;
}

async function jobCount(db: Db): Promise<number> {
  const row = await db
    .selectFrom('queue_jobs')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Runs the crash child until it freezes in the middle of batch `freezeIn`, SIGKILLs it, and
 * returns how many batches it reported resolved.
 */
async function killMidBatch(file: string, perBatch: number, freezeIn: number): Promise<number> {
  const args = ['--import', 'tsx', crashChild, file, String(perBatch), String(freezeIn)];
  const child = spawn(process.execPath, args, {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );
  const frozen = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`crash child did not freeze within 8 s: ${stdout} ${stderr}`)),
      8_000,
    );
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('frozen ')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`crash child exited before freezing: ${stdout} ${stderr}`));
    });
  });
  try {
    await frozen;
  } finally {
    child.kill('SIGKILL');
  }
  assert.equal(await exited, 'SIGKILL');
  assert.ok(stdout.endsWith(`frozen ${freezeIn}\n`), stdout);
  return stdout.split('\n').filter((line) => line.startsWith('resolved ')).length;
}
