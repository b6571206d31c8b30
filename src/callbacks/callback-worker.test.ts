import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import { freshDatabase, type FreshDatabase } from '../../test/support/fresh-db.js';
import { CallbackReceiver } from '../../test/support/callback-receiver.js';
import { EmbeddedQueue } from '../queue/embedded/embedded-queue.js';
import { Metrics } from '../ops/metrics.js';
import { createOutboundHttp, type OutboundHttp } from '../net/outbound-http.js';
import { generateSecret } from '../webhooks/standard-webhooks.js';
import { newId } from '../store/ids.js';
import { clearSourceCallback, insertSource, setSourceCallback } from '../sources/sources-store.js';
import { CALLBACK_TOPIC, type CallbackEvent, type CallbackJobPayload } from './callback-events.js';
import { sendCallbackJobs, type CallbackWorkerDeps } from './callback-worker.js';

const log = pino({ level: 'silent' });
const RETRY = { baseMs: 60_000, capMs: 3_600_000, maxAttempts: 4 };

describe('sendCallbackJobs', () => {
  let fresh: FreshDatabase;
  let queue: EmbeddedQueue;
  let receiver: CallbackReceiver;
  let http: OutboundHttp;
  let metrics: Metrics;
  let sourceId: string;
  let deps: CallbackWorkerDeps;

  beforeEach(async () => {
    fresh = await freshDatabase('callback-worker');
    queue = new EmbeddedQueue(fresh.db);
    receiver = await CallbackReceiver.start();
    http = createOutboundHttp({ allowCidrs: ['127.0.0.0/8'], timeouts: { totalMs: 2_000 } });
    metrics = new Metrics({ queue: null, processMetrics: false });
    sourceId = (await insertSource(fresh.db, { key: 'jwc', name: '教务处', categories: [] }, 1)).id;
    receiver.secret = generateSecret();
    await setSourceCallback(
      fresh.db,
      sourceId,
      { url: receiver.url, events: null },
      receiver.secret,
      1,
    );
    deps = {
      db: fresh.db,
      queue,
      clock: () => Date.now(),
      http,
      retry: RETRY,
      parallelism: 1, // in order, so "the rest of a failing receiver's events" is well defined
      metrics,
      log,
    };
  });

  afterEach(async () => {
    await http.close();
    await receiver.close();
    await queue.close();
    await fresh.close();
  });

  function events(n: number): CallbackEvent[] {
    return Array.from({ length: n }, (_, i) => ({
      id: newId(),
      type: 'message.accepted' as const,
      timestamp: new Date().toISOString(),
      data: { messageId: `m-${i}`, status: 'accepted' },
    }));
  }

  /** Enqueues one callback job and runs one lease of the callback loop over it. */
  async function runJob(payload: CallbackJobPayload): Promise<void> {
    await queue.enqueue([{ topic: CALLBACK_TOPIC, lane: 'normal', payload }]);
    const leased = await queue.lease([CALLBACK_TOPIC], 10, 30_000);
    assert.equal(leased.length, 1);
    await sendCallbackJobs(deps, leased);
  }

  async function waiting(): Promise<{ payload: CallbackJobPayload; availableAt: number }[]> {
    const rows = await fresh.db
      .selectFrom('queue_jobs')
      .select(['payload', 'available_at'])
      .where('topic', '=', CALLBACK_TOPIC)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      payload: JSON.parse(r.payload) as CallbackJobPayload,
      availableAt: Number(r.available_at),
    }));
  }

  async function counted(outcome: string): Promise<number> {
    const { values } = await metrics.callbackEvents.get();
    return values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  }

  it('sends each event once, signed, with its id as webhook-id, and acks the job', async () => {
    const sent = events(3);
    await runJob({ sourceId, attempt: 0, events: sent });
    assert.deepEqual(
      receiver.received.map((r) => r.id),
      sent.map((e) => e.id),
    );
    for (const [i, r] of receiver.received.entries()) {
      assert.equal(r.verifyError, null);
      assert.deepEqual(r.event, {
        type: sent[i]!.type,
        timestamp: sent[i]!.timestamp,
        data: sent[i]!.data,
      });
    }
    assert.deepEqual(await waiting(), []);
    assert.equal(await counted('delivered'), 3);
  });

  it('re-enqueues only the events still to send; the successes are not sent again', async () => {
    const sent = events(3);
    // The second event gets a 503: the third is then not tried now (the receiver is struggling).
    receiver.respond = (r) => ({ status: r.id === sent[1]!.id ? 503 : 200 });
    const before = Date.now();
    await runJob({ sourceId, attempt: 0, events: sent });
    assert.deepEqual(
      receiver.received.map((r) => [r.id, r.answered]),
      [
        [sent[0]!.id, 200],
        [sent[1]!.id, 503],
      ],
    );
    const jobs = await waiting();
    assert.deepEqual(
      jobs.map((j) => [j.payload.attempt, j.payload.events.map((e) => e.id)]),
      [
        [0, [sent[2]!.id]], // never tried: its attempt count stays
        [1, [sent[1]!.id]],
      ],
    );
    for (const j of jobs) {
      // Backoff after the first attempt: between half and all of baseMs.
      assert.ok(j.availableAt >= before + RETRY.baseMs / 2, 'waits the backoff');
      assert.ok(j.availableAt <= Date.now() + RETRY.baseMs);
    }
    assert.equal(await counted('delivered'), 1);
    assert.equal(await counted('retried'), 1);
  });

  it('waits at least as long as a 429 Retry-After asks', async () => {
    receiver.respond = () => ({ status: 429, headers: { 'retry-after': '7200' } });
    const before = Date.now();
    await runJob({ sourceId, attempt: 0, events: events(1) });
    const [job] = await waiting();
    assert.ok(job!.availableAt >= before + 7_200_000);
  });

  it('gives up on an event the receiver rejects with a 4xx, without retrying it', async () => {
    const sent = events(2);
    receiver.respond = (r) => ({ status: r.id === sent[0]!.id ? 400 : 204 });
    await runJob({ sourceId, attempt: 0, events: sent });
    assert.equal(receiver.received.length, 2, 'a rejection does not stop the other events');
    assert.deepEqual(await waiting(), []);
    assert.deepEqual(await queue.deadLetters(10), []);
    assert.equal(await counted('rejected'), 1);
    assert.equal(await counted('delivered'), 1);
  });

  it('dead-letters events whose last attempt failed, with the reason', async () => {
    receiver.respond = () => ({ status: 500 });
    const sent = events(2);
    deps = { ...deps, parallelism: 2 }; // both are tried before either fails
    await runJob({ sourceId, attempt: RETRY.maxAttempts - 1, events: sent });
    assert.deepEqual(await waiting(), []);
    const [dead] = await queue.deadLetters(10);
    assert.ok(dead);
    assert.match(
      dead.reason,
      /^callback to http:\/\/127\.0\.0\.1:\d+ failed 4 times, last: HTTP 500$/,
    );
    assert.deepEqual(
      (dead.payload as CallbackJobPayload).events.map((e) => e.id),
      sent.map((e) => e.id),
    );
    assert.equal(await counted('dead'), 2);
    assert.equal(await counted('retried'), 0, 'a last attempt is counted as dead, not retried');
  });

  it('dead-letters only the failed events when others of the job succeeded', async () => {
    const sent = events(2);
    receiver.respond = (r) => ({ status: r.id === sent[1]!.id ? 502 : 204 });
    await runJob({ sourceId, attempt: RETRY.maxAttempts - 1, events: sent });
    // The failed one waits in a job of its own that is buried as soon as it is leased.
    const leased = await queue.lease([CALLBACK_TOPIC], 10, 30_000);
    assert.equal(leased.length, 1);
    await sendCallbackJobs(deps, leased);
    const [dead] = await queue.deadLetters(10);
    assert.deepEqual(
      (dead!.payload as CallbackJobPayload).events.map((e) => e.id),
      [sent[1]!.id],
    );
    assert.match(dead!.reason, /failed 4 times, last: HTTP 502/);
    assert.equal(receiver.received.length, 2, 'burying sends nothing');
    assert.deepEqual(await waiting(), []);
  });

  it('gives up, sending nothing, when the SSRF policy refuses the URL', async () => {
    const guarded = createOutboundHttp({ timeouts: { totalMs: 2_000 } }); // no allow-list
    try {
      deps = { ...deps, http: guarded };
      await runJob({ sourceId, attempt: 0, events: events(3) });
    } finally {
      await guarded.close();
    }
    assert.equal(receiver.received.length, 0);
    assert.deepEqual(await waiting(), []);
    assert.deepEqual(await queue.deadLetters(10), []);
    assert.equal(await counted('refused'), 3);
  });

  it('drops the events of a source whose callback was removed meanwhile', async () => {
    await clearSourceCallback(fresh.db, sourceId, 2);
    await runJob({ sourceId, attempt: 0, events: events(2) });
    assert.equal(receiver.received.length, 0);
    assert.deepEqual(await waiting(), []);
    assert.equal(await counted('dropped'), 2);
  });

  it('signs each attempt with the secret current at sending time', async () => {
    const rotated = generateSecret();
    await fresh.db
      .updateTable('sources')
      .set({ callback_secret: rotated })
      .where('id', '=', sourceId)
      .execute();
    receiver.secret = rotated;
    await runJob({ sourceId, attempt: 0, events: events(1) });
    assert.equal(receiver.received[0]!.verifyError, null);
  });
});
