/**
 * What the RabbitMQ queue does beyond the shared contract: the delay ladder's timing, the
 * broker's own delivery limit, deliveries counted across crashes, a connection the broker
 * drops, and a broker outage while producers keep enqueueing. Each test has its own name
 * prefix and SQLite outbox and deletes its broker objects at the end.
 *
 * The outage test stops the broker's application for about two seconds (`rabbitmqctl
 * stop_app` / `start_app`): other suites using the broker at that moment see their
 * connections drop and come back.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import pino from 'pino';
import { inTransaction } from '../../store/transaction.js';
import { freshDatabase, type FreshDatabase } from '../../../test/support/fresh-db.js';
import { deleteBrokerObjects, uniqueBrokerPrefix } from '../../../test/support/broker.js';
import { skipUnless, TEST_BROKER_URL } from '../../../test/support/services.js';
import type { LeasedJob } from '../queue.js';
import { RabbitMqQueue, type RabbitMqQueueOptions } from './rabbitmq-queue.js';

const run = promisify(execFile);
const RABBITMQCTL = '/usr/sbin/rabbitmqctl';
const skip = await skipUnless('rabbitmq');

describe('RabbitMqQueue on a real broker', { skip }, () => {
  let fresh: FreshDatabase;
  let prefix: string;
  const queues: RabbitMqQueue[] = [];

  beforeEach(async () => {
    fresh = await freshDatabase('rabbitmq');
    prefix = uniqueBrokerPrefix();
  });

  afterEach(async () => {
    for (const q of queues.splice(0)) {
      await q.close();
      await deleteBrokerObjects(q.declaredNames());
    }
    await fresh.close();
  });

  function open(more: Partial<RabbitMqQueueOptions> = {}): RabbitMqQueue {
    const queue = new RabbitMqQueue({
      url: TEST_BROKER_URL,
      db: fresh.db,
      log: pino({ level: 'silent' }),
      prefix,
      name: `herald-test ${prefix}`,
      declareLadder: false,
      relayPollMs: 200,
      ...more,
    });
    queues.push(queue);
    return queue;
  }

  /**
   * Leases `topic` (acking what it gets) until `count` distinct jobs came, or fails after
   * `timeoutMs`. Returns every lease, duplicates included.
   */
  async function collect(
    queue: RabbitMqQueue,
    topic: string,
    count: number,
    timeoutMs: number,
  ): Promise<{ job: LeasedJob; at: number }[]> {
    const got: { job: LeasedJob; at: number }[] = [];
    const ids = new Set<string>();
    const deadline = Date.now() + timeoutMs;
    while (ids.size < count) {
      assert.ok(Date.now() < deadline, `only ${ids.size} of ${count} jobs within ${timeoutMs} ms`);
      const jobs = await queue.lease([topic], 100, 60_000);
      const at = Date.now();
      for (const job of jobs) {
        got.push({ job, at });
        ids.add(job.id);
      }
      await queue.ack(jobs);
      if (jobs.length === 0) await queue.waitForWork(50);
    }
    return got;
  }

  /** A consumer that takes one delivery of `queueName` and dies without acking it. */
  async function crashOnce(queueName: string): Promise<void> {
    const connection = await connect(TEST_BROKER_URL);
    try {
      const channel = await connection.createChannel();
      await channel.prefetch(1);
      await new Promise<void>((resolve, reject) => {
        channel.consume(queueName, (m) => m && resolve(), { noAck: false }).catch(reject);
      });
    } finally {
      // Closing without an ack: the broker takes the delivery back and counts it.
      await connection.close();
    }
  }

  it('delayed jobs come out of the ladder in the order they fall due, none early, each soon after its time', async () => {
    const queue = open();
    const topic = 'ladder';
    await queue.settled([topic]);
    const t0 = Date.now();
    const delays = [1_500, 300, 0, 900, 40];
    await queue.enqueue(
      delays.map((d) => ({ topic, lane: 'normal' as const, payload: d, availableAt: t0 + d })),
    );

    const got = await collect(queue, topic, delays.length, 10_000);

    assert.deepEqual(
      got.map((g) => g.job.payload),
      [0, 40, 300, 900, 1_500],
    );
    for (const { job, at } of got) {
      const due = t0 + (job.payload as number);
      assert.ok(at >= due - 5, `job due at +${job.payload} ms was leased ${due - at} ms early`);
      assert.ok(at - due < 300, `job due at +${job.payload} ms was leased ${at - due} ms late`);
      assert.equal(job.deliveries, 1, 'climbing down the ladder is not a delivery');
    }
  });

  it('a job the broker returns more than x-delivery-limit times is dead-lettered and recorded with reason max-deliveries', async () => {
    const queue = open({ deliveryLimit: 2 });
    // This process consumes another topic only: the crashing consumer below gets the job.
    await queue.settled(['elsewhere']);
    await queue.enqueue([
      { topic: 'poison', lane: 'bulk', payload: { crash: true }, maxDeliveries: 2 },
    ]);
    await queue.settled(['elsewhere']); // published
    const jobQueue = queue.topology.jobQueue('poison', 'bulk');

    for (let i = 0; i < 3; i++) await crashOnce(jobQueue);

    let dead = await queue.deadLetters(10);
    for (let i = 0; dead.length === 0 && i < 100; i++) {
      await sleep(50);
      dead = await queue.deadLetters(10);
    }
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.reason, 'max-deliveries');
    assert.equal(dead[0]!.topic, 'poison');
    assert.equal(dead[0]!.lane, 'bulk');
    assert.equal(dead[0]!.deliveries, 3);
    assert.deepEqual(dead[0]!.payload, { crash: true });
    assert.deepEqual(await queue.depth(), { urgent: 0, normal: 0, bulk: 0 });
  });

  it('a delivery held by a consumer that crashed counts: past maxDeliveries the job is dead, not leased', async () => {
    const queue = open({ deliveryLimit: 10 });
    await queue.enqueue([{ topic: 'fragile', lane: 'urgent', payload: 'x', maxDeliveries: 1 }]);
    await queue.settled(); // published

    await crashOnce(queue.topology.jobQueue('fragile', 'urgent'));
    await queue.settled(['fragile']);

    assert.deepEqual(await queue.lease(['fragile'], 10, 60_000), []);
    const dead = await queue.deadLetters(10);
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.reason, 'max-deliveries');
    assert.equal(dead[0]!.deliveries, 1);
  });

  it('when the broker drops the consumer connection, held leases are forgotten, the jobs come back and consuming resumes', async () => {
    const queue = open();
    await queue.enqueue([{ topic: 'dropped', lane: 'normal', payload: 'held' }]);
    await queue.settled(['dropped']);
    const [held] = await queue.lease(['dropped'], 10, 60_000);
    assert.ok(held);

    const { stdout } = await run(RABBITMQCTL, [
      '-q',
      'list_connections',
      'pid',
      'client_properties',
    ]);
    const line = stdout.split('\n').find((l) => l.includes(`herald-test ${prefix} consumer`));
    assert.ok(line, `consumer connection not listed:\n${stdout}`);
    await run(RABBITMQCTL, ['-q', 'close_connection', line.split('\t')[0]!, 'test: dropped']);

    const [again] = (await collect(queue, 'dropped', 1, 15_000)).map((g) => g.job);
    assert.equal(again?.id, held.id);
    assert.equal(again.deliveries, 2, 'the drop counted as a delivery');
    assert.equal(await queue.extendLease(held, 60_000), false, 'the old lease is gone');
    await queue.ack([held]); // a stale ack changes nothing
    await queue.enqueue([{ topic: 'dropped', lane: 'normal', payload: 'after' }]);
    assert.deepEqual(
      (await collect(queue, 'dropped', 1, 10_000)).map((g) => g.job.payload),
      ['after'],
    );
  });

  it(
    'a broker outage while producers enqueue: every enqueue succeeds, the outbox holds the jobs, and all of them arrive once the broker is back',
    { skip: existsSync(RABBITMQCTL) ? false : 'rabbitmqctl is not installed here' },
    async (t) => {
      const queue = open();
      const topic = 'outage';
      await queue.settled([topic]);
      const total = 120;
      let enqueued = 0;
      let maxOutbox = 0;
      const producer = (async () => {
        for (let i = 0; i < total; i++) {
          // As the API does: the job is written with the rows it refers to, in one transaction.
          await inTransaction(fresh.db, async (tx) => {
            await tx
              .insertInto('settings')
              .values({ key: `outage-${i}`, value: String(i) })
              .execute();
            await queue.enqueue([{ topic, lane: 'normal', payload: i }], tx);
          });
          enqueued++;
          maxOutbox = Math.max(maxOutbox, await queue.outboxSize());
          await sleep(25);
        }
      })();

      await sleep(500);
      const down = Date.now();
      await run(RABBITMQCTL, ['-q', 'stop_app']);
      try {
        await sleep(2_000);
      } finally {
        await run(RABBITMQCTL, ['-q', 'start_app']);
      }
      const up = Date.now();
      await producer;

      assert.equal(enqueued, total, 'no enqueue failed while the broker was down');
      assert.ok(maxOutbox > 0, 'the outbox held jobs during the outage');
      const got = await collect(queue, topic, total, 60_000);
      const seen = new Set(got.map((g) => g.job.payload));
      assert.equal(seen.size, total, 'every job arrived');
      assert.equal(await queue.outboxSize(), 0, 'the outbox drained');
      const duplicates = got.length - seen.size;
      t.diagnostic(
        `broker down ${up - down} ms; outbox peaked at ${maxOutbox} jobs; all ${total} jobs in ${Date.now() - up} ms after start_app; ${duplicates} duplicates`,
      );
      // At-least-once: a publication confirmed as the broker went down may come twice.
      assert.ok(duplicates <= 5, `${duplicates} duplicates`);
    },
  );
});
