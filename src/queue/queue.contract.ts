/**
 * What every `Queue` must do, as one suite each implementation runs against itself
 * (`queue.embedded.test.ts`, `queue.rabbitmq.test.ts`, …). Implementations with an
 * injected clock let the suite move time; the others are driven in real time with short
 * visibility timeouts (their fixture says how short, and how much slack real time needs).
 * Tests that need a capability an implementation lacks are skipped with the reason.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Tx } from '../store/database.js';
import type { JobInput, LeasedJob, Queue } from './queue.js';

export interface QueueFixture {
  /** A fresh, empty queue: nothing enqueued, no dead letters. */
  readonly queue: Queue;
  /** The time as the queue sees it (epoch ms). */
  now(): number;
  /**
   * Moves the queue's clock forward. Only for implementations that read an injected clock;
   * without it the suite waits in real time.
   */
  readonly advanceClock?: (ms: number) => void;
  /**
   * Runs `fn` in a store transaction that commits iff `fn` resolves. Required when the
   * implementation declares the `transactions` capability.
   */
  readonly transaction?: <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>;
  /**
   * For implementations whose effects become visible asynchronously (a broker pushes jobs to
   * consumers): resolves once everything done so far can be observed, in particular by a
   * lease of `topics`. The suite calls it before every lease, depth and deadLetters, so that
   * "not leased" means "not leasable", not "not arrived yet".
   */
  readonly settle?: (topics?: readonly string[]) => Promise<void>;
  /** The short visibility timeout (and delay unit) of the real-time tests; default 100 ms. */
  readonly visibilityMs?: number;
  /** What real time adds to every wait on top of the time that must pass; default 20 ms. */
  readonly realTimeSlackMs?: number;
  /** Frees everything the fixture opened. */
  close(): Promise<void>;
}

/**
 * What an implementation can do beyond the common core. Declared up front, not read from the
 * fixture, so that the tests it lacks are skipped before any fixture is opened.
 */
export interface QueueCapabilities {
  /** `tx` arguments make the effect part of a store transaction (natively or via an outbox). */
  readonly transactions: boolean;
}

/** Short, so that real-time implementations keep the suite fast. */
const DEFAULT_VISIBILITY_MS = 100;
/** Long enough that no test lets it pass by accident. */
const LONG_VISIBILITY_MS = 60_000;

class Rollback extends Error {}

export function queueContract(
  name: string,
  capabilities: QueueCapabilities,
  makeFixture: () => Promise<QueueFixture>,
): void {
  describe(`Queue contract: ${name}`, () => {
    let f: QueueFixture;
    let q: Queue;
    /** Unique per test, so a shared broker cannot mix tests up. */
    let topic: string;
    let VISIBILITY_MS = DEFAULT_VISIBILITY_MS;

    beforeEach(async () => {
      f = await makeFixture();
      q = settlingReads(f);
      topic = `contract.${randomUUID().slice(0, 8)}`;
      VISIBILITY_MS = f.visibilityMs ?? DEFAULT_VISIBILITY_MS;
    });

    afterEach(async () => {
      await f.close();
    });

    /** Lets `ms` pass for the queue: moves its clock, or waits (with a margin) in real time. */
    async function elapse(ms: number): Promise<void> {
      if (f.advanceClock) f.advanceClock(ms);
      else await sleep(ms + (f.realTimeSlackMs ?? 20));
    }

    function job(payload: unknown, more: Partial<JobInput> = {}): JobInput {
      return { topic, lane: 'normal', payload, ...more };
    }

    async function leaseAll(max = 100, visibilityMs = LONG_VISIBILITY_MS): Promise<LeasedJob[]> {
      return q.lease([topic], max, visibilityMs);
    }

    const payloads = (jobs: readonly { payload: unknown }[]): unknown[] =>
      jobs.map((j) => j.payload);

    describe('enqueue and lease', () => {
      it('a leased job carries its topic, lane, payload, a first delivery and a lease token', async () => {
        const payload = { text: '明天停课', n: 1.5, list: [1, null, true], nested: { to: ['u1'] } };
        await q.enqueue([job(payload, { lane: 'urgent' })]);

        const [leased, ...rest] = await leaseAll();

        assert.equal(rest.length, 0);
        assert.ok(leased);
        assert.equal(leased.topic, topic);
        assert.equal(leased.lane, 'urgent');
        assert.deepEqual(leased.payload, payload);
        assert.equal(leased.deliveries, 1);
        assert.equal(typeof leased.id, 'string');
        assert.ok(leased.leaseToken.length > 0);
      });

      it('payloads that are plain strings, numbers or null come back as they went in', async () => {
        await q.enqueue([job('just text'), job(42), job(null)]);

        assert.deepEqual(payloads(await leaseAll()), ['just text', 42, null]);
      });

      it('each job gets its own id', async () => {
        await q.enqueue([job(1), job(2), job(3)]);

        const ids = (await leaseAll()).map((j) => j.id);

        assert.equal(new Set(ids).size, 3);
      });

      it('enqueue of an empty batch does nothing', async () => {
        await q.enqueue([]);

        assert.deepEqual(await leaseAll(), []);
        assert.deepEqual(await q.depth(), { urgent: 0, normal: 0, bulk: 0 });
      });

      it('lease filters by topic', async () => {
        const other = `${topic}.other`;
        const third = `${topic}.third`;
        await q.enqueue([
          job('a1'),
          job('b1', { topic: other }),
          job('c1', { topic: third }),
          job('a2'),
        ]);

        const first = await q.lease([topic, third], 10, LONG_VISIBILITY_MS);
        const second = await q.lease([other], 10, LONG_VISIBILITY_MS);

        assert.deepEqual(payloads(first), ['a1', 'c1', 'a2']);
        assert.deepEqual(payloads(second), ['b1']);
        assert.deepEqual(await q.lease([`${topic}.none`], 10, LONG_VISIBILITY_MS), []);
      });

      it('lease returns at most max jobs', async () => {
        await q.enqueue([1, 2, 3, 4, 5].map((n) => job(n)));

        assert.deepEqual(payloads(await leaseAll(2)), [1, 2]);
        assert.deepEqual(payloads(await leaseAll(10)), [3, 4, 5]);
        assert.deepEqual(await leaseAll(10), []);
      });

      it('a job is not leased before its availableAt', async () => {
        await q.enqueue([job('later', { availableAt: f.now() + 2 * VISIBILITY_MS })]);

        assert.deepEqual(await leaseAll(), []);
        await elapse(2 * VISIBILITY_MS);
        assert.deepEqual(payloads(await leaseAll()), ['later']);
      });

      it('a large batch arrives whole, in order', async () => {
        const count = 5_000;
        await q.enqueue(Array.from({ length: count }, (_, i) => job({ i }, { lane: 'bulk' })));

        assert.deepEqual(await q.depth(), { urgent: 0, normal: 0, bulk: count });
        // A broker hands out at most its prefetch window per lease: lease and ack until done.
        const leased: LeasedJob[] = [];
        while (leased.length < count) {
          const got = await leaseAll(count - leased.length);
          assert.ok(got.length > 0, `a lease found nothing after ${leased.length} jobs`);
          leased.push(...got);
          await q.ack(got);
        }
        assert.equal(leased.length, count);
        assert.deepEqual(
          leased.map((j) => (j.payload as { i: number }).i),
          Array.from({ length: count }, (_, i) => i),
        );
      });

      it('enqueue of a batch is all-or-none: one unserialisable payload fails the whole batch', async () => {
        const batch = [job('fine'), job({ big: 10n }), job('also fine')];

        await assert.rejects(q.enqueue(batch));

        assert.deepEqual(await leaseAll(), []);
        assert.deepEqual(await q.depth(), { urgent: 0, normal: 0, bulk: 0 });
      });
    });

    describe('visibility and acknowledgement', () => {
      it('a leased job is invisible until its visibility timeout passes', async () => {
        await q.enqueue([job('x')]);
        const [first] = await leaseAll(10, VISIBILITY_MS);
        assert.ok(first);

        assert.deepEqual(await leaseAll(10, VISIBILITY_MS), []);
        if (f.advanceClock) {
          f.advanceClock(VISIBILITY_MS - 1);
          assert.deepEqual(await leaseAll(10, VISIBILITY_MS), [], 'still invisible 1 ms before');
          f.advanceClock(1);
        } else {
          await elapse(VISIBILITY_MS);
        }
        const [again, ...rest] = await leaseAll(10, VISIBILITY_MS);

        assert.equal(rest.length, 0);
        assert.equal(again?.id, first.id);
        assert.equal(again.payload, 'x');
        assert.equal(again.deliveries, 2);
        assert.notEqual(again.leaseToken, first.leaseToken);
      });

      it('extendLease keeps a job invisible for another timeout from now', async () => {
        await q.enqueue([job('long')]);
        const [held] = await leaseAll(1, VISIBILITY_MS);
        assert.ok(held);
        await elapse(VISIBILITY_MS / 2);
        assert.equal(await q.extendLease(held, VISIBILITY_MS), true);
        await elapse(VISIBILITY_MS / 2 + 1);
        assert.deepEqual(await leaseAll(1, VISIBILITY_MS), [], 'still held past the first timeout');
        await elapse(VISIBILITY_MS);
        const [again] = await leaseAll(1, VISIBILITY_MS);
        assert.equal(again?.id, held.id, 'leasable once the extension runs out');
      });

      it('extendLease of a lost lease says so and does not steal the job back', async () => {
        await q.enqueue([job('lost')]);
        const [stale] = await leaseAll(1, VISIBILITY_MS);
        assert.ok(stale);
        await elapse(VISIBILITY_MS);
        const [current] = await leaseAll(1, VISIBILITY_MS);
        assert.equal(current?.id, stale.id);
        assert.equal(await q.extendLease(stale, VISIBILITY_MS * 10), false);
        await q.ack([current]);
        assert.deepEqual(await leaseAll(), []);
      });

      it('an acked job is never leased again', async () => {
        await q.enqueue([job('done'), job('kept')]);
        const [done, kept] = await leaseAll(10, VISIBILITY_MS);
        assert.ok(done && kept);

        await q.ack([done]);
        await elapse(VISIBILITY_MS);

        assert.deepEqual(payloads(await leaseAll()), ['kept']);
        await elapse(VISIBILITY_MS);
        assert.deepEqual(await leaseAll(), [], 'nor after another timeout');
      });

      it('ack removes a whole batch of jobs in one call', async () => {
        await q.enqueue([1, 2, 3].map((n) => job(n)));
        const leased = await leaseAll(10, VISIBILITY_MS);
        assert.equal(leased.length, 3);

        await q.ack(leased);
        await elapse(VISIBILITY_MS);

        assert.deepEqual(await leaseAll(), []);
        assert.deepEqual(await q.depth(), { urgent: 0, normal: 0, bulk: 0 });
      });

      it('ack with an expired lease token does not remove the job re-leased by another worker', async () => {
        await q.enqueue([job('contested')]);
        const [stale] = await leaseAll(1, VISIBILITY_MS);
        assert.ok(stale);
        await elapse(VISIBILITY_MS);
        const [current] = await leaseAll(1, VISIBILITY_MS);
        assert.equal(current?.id, stale.id);

        await q.ack([stale]);
        await elapse(VISIBILITY_MS);

        const [afterStaleAck] = await leaseAll(1, VISIBILITY_MS);
        assert.equal(afterStaleAck?.id, stale.id, 'the job survived the stale ack');
        assert.equal(afterStaleAck.deliveries, 3);
        await q.ack([afterStaleAck]);
        await elapse(VISIBILITY_MS);
        assert.deepEqual(await leaseAll(), [], 'the current token does remove it');
      });
    });

    describe('lanes and order', () => {
      it('urgent jobs are leased before waiting bulk jobs even when the bulk jobs are older', async () => {
        await q.enqueue([job('bulk-1', { lane: 'bulk' }), job('bulk-2', { lane: 'bulk' })]);
        await q.enqueue([job('normal-1', { lane: 'normal' })]);
        await q.enqueue([job('urgent-1', { lane: 'urgent' })]);

        const leased = await leaseAll(10);

        assert.deepEqual(payloads(leased), ['urgent-1', 'normal-1', 'bulk-1', 'bulk-2']);
        assert.deepEqual(
          leased.map((j) => j.lane),
          ['urgent', 'normal', 'bulk', 'bulk'],
        );
      });

      it('an urgent job enqueued behind a bulk backlog is the next one leased', async () => {
        await q.enqueue([1, 2, 3].map((n) => job(`bulk-${n}`, { lane: 'bulk' })));
        assert.deepEqual(payloads(await leaseAll(1)), ['bulk-1']);

        await q.enqueue([job('urgent', { lane: 'urgent' })]);

        assert.deepEqual(payloads(await leaseAll(1)), ['urgent']);
        assert.deepEqual(payloads(await leaseAll(10)), ['bulk-2', 'bulk-3']);
      });

      it('within a lane jobs leave in FIFO order', async () => {
        await q.enqueue([0, 1, 2, 3, 4].map((n) => job(n)));
        await q.enqueue([job(5), job(6)]);

        const first = await leaseAll(2);
        const rest = await leaseAll(10);

        assert.deepEqual(payloads([...first, ...rest]), [0, 1, 2, 3, 4, 5, 6]);
      });

      it('a delayed job joins its lane when it becomes available, behind jobs already waiting', async () => {
        await q.enqueue([job('delayed', { availableAt: f.now() + VISIBILITY_MS })]);
        await q.enqueue([job('early')]);
        await elapse(VISIBILITY_MS);
        await q.enqueue([job('late')]);

        assert.deepEqual(payloads(await leaseAll()), ['early', 'delayed', 'late']);
      });
    });

    describe('retries and dead letters', () => {
      it('retryAt hides the job until the given time and keeps its delivery count', async () => {
        await q.enqueue([job('flaky')]);
        const [leased] = await leaseAll(1, LONG_VISIBILITY_MS);
        assert.ok(leased);

        await q.retryAt(leased, f.now() + 2 * VISIBILITY_MS, 'SMS gateway timed out');

        assert.deepEqual(await leaseAll(), []);
        await elapse(2 * VISIBILITY_MS);
        const [again] = await leaseAll();
        assert.equal(again?.id, leased.id);
        assert.equal(again.payload, 'flaky');
        assert.equal(again.deliveries, 2);
      });

      it('a job given back with retryAt counts as waiting, not leased', async () => {
        await q.enqueue([job('flaky', { lane: 'bulk' })]);
        const [leased] = await leaseAll(1, LONG_VISIBILITY_MS);
        assert.ok(leased);
        assert.deepEqual(await q.depth(), { urgent: 0, normal: 0, bulk: 0 });

        await q.retryAt(leased, f.now() + LONG_VISIBILITY_MS, 'busy');

        assert.deepEqual(await q.depth(), { urgent: 0, normal: 0, bulk: 1 });
      });

      it('retryAt with an expired lease token leaves the re-leased job alone', async () => {
        await q.enqueue([job('contested')]);
        const [stale] = await leaseAll(1, VISIBILITY_MS);
        assert.ok(stale);
        await elapse(VISIBILITY_MS);
        const [current] = await leaseAll(1, LONG_VISIBILITY_MS);
        assert.equal(current?.id, stale.id);

        await q.retryAt(stale, f.now(), 'late worker');

        assert.deepEqual(await leaseAll(), [], 'still held by the current lease');
      });

      it('a job leased more than maxDeliveries times is dead-lettered with reason max-deliveries', async () => {
        await q.enqueue([job({ poison: true }, { lane: 'urgent', maxDeliveries: 2 })]);
        const [first] = await leaseAll(1, VISIBILITY_MS);
        assert.equal(first?.deliveries, 1);
        await elapse(VISIBILITY_MS);
        const [second] = await leaseAll(1, VISIBILITY_MS);
        assert.equal(second?.deliveries, 2);
        await elapse(VISIBILITY_MS);

        assert.deepEqual(await leaseAll(), [], 'not leased a third time');
        const dead = await q.deadLetters(10);
        assert.equal(dead.length, 1);
        assert.equal(dead[0]?.id, first.id);
        assert.equal(dead[0].reason, 'max-deliveries');
        assert.equal(dead[0].topic, topic);
        assert.equal(dead[0].lane, 'urgent');
        assert.equal(dead[0].deliveries, 2);
        assert.deepEqual(dead[0].payload, { poison: true });
        assert.deepEqual(await q.depth(), { urgent: 0, normal: 0, bulk: 0 });
      });

      it('deadLetter removes the job from the live queue and lists it', async () => {
        await q.enqueue([job({ to: 'nobody' }, { lane: 'bulk' }), job('other', { lane: 'bulk' })]);
        const [doomed] = await leaseAll(1, VISIBILITY_MS);
        assert.ok(doomed);

        await q.deadLetter(doomed, 'recipient has no phone number');
        await elapse(VISIBILITY_MS);

        assert.deepEqual(payloads(await leaseAll()), ['other']);
        const dead = await q.deadLetters(10);
        assert.equal(dead.length, 1);
        assert.equal(dead[0]?.id, doomed.id);
        assert.equal(dead[0].reason, 'recipient has no phone number');
        assert.equal(dead[0].lane, 'bulk');
        assert.equal(dead[0].deliveries, 1);
        assert.deepEqual(dead[0].payload, { to: 'nobody' });
        assert.ok(dead[0].deadAt >= f.now() - 60_000 && dead[0].deadAt <= f.now());
      });

      it('deadLetter with an expired lease token leaves the re-leased job alone', async () => {
        await q.enqueue([job('contested')]);
        const [stale] = await leaseAll(1, VISIBILITY_MS);
        assert.ok(stale);
        await elapse(VISIBILITY_MS);
        const [current] = await leaseAll(1, VISIBILITY_MS);
        assert.ok(current);

        await q.deadLetter(stale, 'late worker');

        assert.deepEqual(await q.deadLetters(10), []);
        await q.ack([current]);
        await elapse(VISIBILITY_MS);
        assert.deepEqual(await leaseAll(), []);
      });

      it('deadLetters lists the newest first and honours the limit', async () => {
        await q.enqueue([job('a'), job('b'), job('c')]);
        const [a, b, c] = await leaseAll(3);
        assert.ok(a && b && c);

        await q.deadLetter(b, 'first');
        await elapse(5);
        await q.deadLetter(a, 'second');
        await elapse(5);
        await q.deadLetter(c, 'third');

        assert.deepEqual(
          (await q.deadLetters(10)).map((d) => [d.payload, d.reason]),
          [
            ['c', 'third'],
            ['a', 'second'],
            ['b', 'first'],
          ],
        );
        assert.deepEqual(payloads(await q.deadLetters(2)), ['c', 'a']);
      });
    });

    describe('depth', () => {
      it('depth counts waiting jobs per lane, zeros included', async () => {
        assert.deepEqual(await q.depth(), { urgent: 0, normal: 0, bulk: 0 });

        await q.enqueue([
          job('u', { lane: 'urgent' }),
          job('n1', { lane: 'normal' }),
          job('n2', { lane: 'normal', availableAt: f.now() + LONG_VISIBILITY_MS }),
        ]);

        assert.deepEqual(
          await q.depth(),
          { urgent: 1, normal: 2, bulk: 0 },
          'delayed jobs wait too',
        );
      });

      it('depth leaves out leased jobs and counts them again once their lease expires', async () => {
        await q.enqueue([job('u', { lane: 'urgent' }), job('b', { lane: 'bulk' })]);
        const [urgent] = await leaseAll(1, VISIBILITY_MS);
        assert.equal(urgent?.lane, 'urgent');

        assert.deepEqual(await q.depth(), { urgent: 0, normal: 0, bulk: 1 });
        await elapse(VISIBILITY_MS);
        assert.deepEqual(await q.depth(), { urgent: 1, normal: 0, bulk: 1 });
      });
    });

    describe('waiting for work', () => {
      it('waitForWork resolves on enqueue', async () => {
        const started = performance.now();
        const waiting = q.waitForWork(10_000);

        await q.enqueue([job('wake up')]);
        await waiting;

        assert.ok(performance.now() - started < 1_000, 'woke long before the timeout');
      });

      it('waitForWork resolves on retryAt', async () => {
        await q.enqueue([job('again')]);
        const [leased] = await leaseAll(1);
        assert.ok(leased);
        const started = performance.now();
        const waiting = q.waitForWork(10_000);

        await q.retryAt(leased, f.now(), 'try again');
        await waiting;

        assert.ok(performance.now() - started < 1_000, 'woke long before the timeout');
      });

      it('waitForWork resolves on timeout when nothing happens', async () => {
        const started = performance.now();

        await q.waitForWork(50);

        const waited = performance.now() - started;
        assert.ok(waited >= 45, `waited ${waited} ms`);
        assert.ok(waited < 1_000, `waited ${waited} ms`);
      });

      it('waitForWork leaves no timer running once it has resolved', async () => {
        const timers = (): number =>
          process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
        const before = timers();

        const waiting = q.waitForWork(60_000);
        await q.enqueue([job('wake up')]);
        await waiting;

        assert.equal(timers(), before);
      });

      it('close releases pending waiters, and later waits return at once', async () => {
        const started = performance.now();
        const waiting = q.waitForWork(10_000);

        await q.close();
        await waiting;
        await q.waitForWork(10_000);

        assert.ok(performance.now() - started < 1_000, 'no wait ran to its timeout');
      });
    });

    describe('store transactions', () => {
      const skip = capabilities.transactions
        ? false
        : 'the queue does not take part in store transactions';

      async function inTx<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
        if (!f.transaction)
          throw new Error(`${name} declares transactions but its fixture has no transaction()`);
        return f.transaction(fn);
      }

      it('jobs enqueued in a committed transaction appear', { skip }, async () => {
        await inTx((tx) => q.enqueue([job('committed')], tx));

        assert.deepEqual(payloads(await leaseAll()), ['committed']);
      });

      it('jobs enqueued in a rolled-back transaction never appear', { skip }, async () => {
        await assert.rejects(
          inTx(async (tx) => {
            await q.enqueue([job('one'), job('two')], tx);
            throw new Rollback();
          }),
          Rollback,
        );

        assert.deepEqual(await leaseAll(), []);
        assert.deepEqual(await q.depth(), { urgent: 0, normal: 0, bulk: 0 });
      });

      it(
        'an ack in a rolled-back transaction leaves the job to be leased again',
        { skip },
        async () => {
          await q.enqueue([job('unfinished')]);
          const [leased] = await leaseAll(1, VISIBILITY_MS);
          assert.ok(leased);

          await assert.rejects(
            inTx(async (tx) => {
              await q.ack([leased], tx);
              throw new Rollback();
            }),
            Rollback,
          );
          await elapse(VISIBILITY_MS);

          const [again] = await leaseAll();
          assert.equal(again?.id, leased.id);
        },
      );

      it(
        'a retryAt and a deadLetter in a committed transaction take effect',
        { skip },
        async () => {
          await q.enqueue([job('retry'), job('dead')]);
          const [retry, dead] = await leaseAll(2);
          assert.ok(retry && dead);

          await inTx(async (tx) => {
            await q.retryAt(retry, f.now(), 'again', tx);
            await q.deadLetter(dead, 'gave up', tx);
          });

          assert.deepEqual(payloads(await leaseAll()), ['retry']);
          assert.deepEqual(payloads(await q.deadLetters(10)), ['dead']);
        },
      );
    });
  });
}

/** The fixture's queue, settling (see `QueueFixture.settle`) before every read. */
function settlingReads(f: QueueFixture): Queue {
  const { queue, settle } = f;
  if (!settle) return queue;
  return {
    enqueue: (jobs, tx) => queue.enqueue(jobs, tx),
    lease: async (topics, max, visibilityMs) => {
      await settle(topics);
      return queue.lease(topics, max, visibilityMs);
    },
    ack: (jobs, tx) => queue.ack(jobs, tx),
    extendLease: (job, visibilityMs) => queue.extendLease(job, visibilityMs),
    retryAt: (job, at, error, tx) => queue.retryAt(job, at, error, tx),
    deadLetter: (job, reason, tx) => queue.deadLetter(job, reason, tx),
    depth: async () => {
      await settle();
      return queue.depth();
    },
    deadLetters: async (limit) => {
      await settle();
      return queue.deadLetters(limit);
    },
    waitForWork: (maxWaitMs) => queue.waitForWork(maxWaitMs),
    close: () => queue.close(),
  };
}
