import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import { freshDatabase, type FreshDatabase } from '../../test/support/fresh-db.js';
import { EmbeddedQueue } from '../queue/embedded/embedded-queue.js';
import type { LeasedJob } from '../queue/queue.js';
import { JobLoop } from './job-loop.js';

const log = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('JobLoop', () => {
  let fresh: FreshDatabase;
  let queue: EmbeddedQueue;
  let loop: JobLoop | null = null;

  beforeEach(async () => {
    fresh = await freshDatabase('job-loop');
    queue = new EmbeddedQueue(fresh.db, () => Date.now());
  });

  afterEach(async () => {
    await loop?.stop();
    loop = null;
    await queue.close();
    await fresh.close();
  });

  it('keeps the jobs of a slow handler leased: no other worker gets them meanwhile', async () => {
    await queue.enqueue([{ topic: 'slow', lane: 'normal', payload: { n: 1 } }]);
    const leaseMs = 300;
    let release!: () => void;
    const handled: LeasedJob[] = [];
    const started = new Promise<void>((resolveStarted) => {
      loop = new JobLoop({
        name: 'slow',
        queue,
        topics: ['slow'],
        maxJobs: 1,
        leaseMs,
        log,
        handle: async (jobs) => {
          handled.push(...jobs);
          resolveStarted();
          await new Promise<void>((r) => (release = r));
          await queue.ack(jobs);
        },
      });
      loop.start();
    });
    await started;
    // Four visibility timeouts later, a second worker still finds nothing to lease.
    for (let i = 0; i < 4; i++) {
      await sleep(leaseMs);
      assert.deepEqual(await queue.lease(['slow'], 10, leaseMs), [], `lease ${i + 1}`);
    }
    release();
    await loop!.stop();
    loop = null;
    assert.equal(handled.length, 1);
    assert.equal(handled[0]!.deliveries, 1);
    assert.deepEqual(await queue.depth(), { urgent: 0, normal: 0, bulk: 0 });
  });

  it('lets go of the jobs of a handler stuck past the longest hold, so another worker can take them', async () => {
    await queue.enqueue([{ topic: 'stuck', lane: 'normal', payload: {} }]);
    const leaseMs = 200;
    let release!: () => void;
    const started = new Promise<void>((resolveStarted) => {
      loop = new JobLoop({
        name: 'stuck',
        queue,
        topics: ['stuck'],
        maxJobs: 1,
        leaseMs,
        maxHoldMs: 400,
        log,
        handle: async () => {
          resolveStarted();
          await new Promise<void>((r) => (release = r));
        },
      });
      loop.start();
    });
    await started;
    let again: LeasedJob[] = [];
    const deadline = Date.now() + 5_000;
    while (again.length === 0 && Date.now() < deadline) {
      await sleep(50);
      again = await queue.lease(['stuck'], 1, 60_000);
    }
    assert.equal(again.length, 1, 'the job came back to the queue');
    assert.equal(again[0]!.deliveries, 2);
    release();
  });
});
