/**
 * Throughput of the embedded queue on a real SQLite file (WAL, synchronous=FULL): enqueue 10,000
 * jobs in batches of 500, then drain them with lease 200 + ack 200 rounds.
 * Run: node --import tsx bench/queue-embedded.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedQueue } from '../src/queue/embedded/embedded-queue.js';
import { migrateToLatest } from '../src/store/migrate.js';
import { sqliteDialect } from '../src/store/sql-dialect.js';
import { openSqlite } from '../src/store/sqlite/open-sqlite.js';

const JOBS = 10_000;
const BATCH = 500;
const LEASE = 200;

const dir = mkdtempSync(join(tmpdir(), 'herald-bench-queue-'));
const { db } = openSqlite(join(dir, 'bench.sqlite'));
try {
  await migrateToLatest(db, sqliteDialect);
  const queue = new EmbeddedQueue(db);
  const payload = {
    messageId: '0191c1d6-3f1a-7c3e-9f7e-3b1f2a9c8d7e',
    userId: 'u-000000',
    channel: 'in_app',
  };

  let started = performance.now();
  for (let sent = 0; sent < JOBS; sent += BATCH) {
    await queue.enqueue(
      Array.from({ length: BATCH }, (_, i) => ({
        topic: 'deliver.in_app',
        lane: 'bulk' as const,
        payload: { ...payload, i: sent + i },
      })),
    );
  }
  const enqueueMs = performance.now() - started;

  started = performance.now();
  let drained = 0;
  let rounds = 0;
  let leaseMs = 0;
  for (;;) {
    const t = performance.now();
    const jobs = await queue.lease(['deliver.in_app'], LEASE, 30_000);
    leaseMs += performance.now() - t;
    if (jobs.length === 0) break;
    await queue.ack(jobs);
    drained += jobs.length;
    rounds++;
  }
  const drainMs = performance.now() - started;
  await queue.close();

  const perSec = (n: number, ms: number): string =>
    `${Math.round((n / ms) * 1000).toLocaleString('en')} jobs/s`;
  console.log(
    `enqueue   ${JOBS} jobs in batches of ${BATCH}: ${enqueueMs.toFixed(0)} ms (${perSec(JOBS, enqueueMs)}, ${(enqueueMs / (JOBS / BATCH)).toFixed(1)} ms a batch)`,
  );
  console.log(
    `lease+ack ${drained} jobs, ${rounds} rounds of ${LEASE}: ${drainMs.toFixed(0)} ms (${perSec(drained, drainMs)}, ${(drainMs / rounds).toFixed(1)} ms a round, lease ${(leaseMs / rounds).toFixed(1)} ms of it)`,
  );
} finally {
  await db.destroy();
  rmSync(dir, { recursive: true, force: true });
}
