import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { freshDatabase, type FreshDatabase } from '../../test/support/fresh-db.js';
import { EmbeddedQueue } from '../queue/embedded/embedded-queue.js';
import type { DeliveriesTable, MessagesTable } from '../store/schema.js';
import type { DeliveryUpdate } from '../deliveries/deliveries-store.js';
import { insertSource, setSourceCallback } from '../sources/sources-store.js';
import { upsertUsers } from '../recipients/users-store.js';
import { insertMessages } from '../messages/messages-store.js';
import { newId } from '../store/ids.js';
import { CallbackSubscriptions } from './callback-subscriptions.js';
import { CallbackEmitter, EVENTS_PER_JOB } from './callback-emitter.js';
import { CALLBACK_TOPIC, type CallbackJobPayload } from './callback-events.js';

const NOW = Date.parse('2025-01-06T08:00:00Z');
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

describe('CallbackEmitter', () => {
  let fresh: FreshDatabase;
  let queue: EmbeddedQueue;
  let now: number;
  let subscriptions: CallbackSubscriptions;
  let emitter: CallbackEmitter;
  let jwc: string;
  let hq: string;
  let users: Map<string, string>; // external id → user id

  beforeEach(async () => {
    fresh = await freshDatabase('callback-emitter');
    now = NOW;
    queue = new EmbeddedQueue(fresh.db, () => now);
    subscriptions = new CallbackSubscriptions({ clock: () => now, ttlMs: 2_000 });
    emitter = new CallbackEmitter(queue, subscriptions);
    jwc = (await insertSource(fresh.db, { key: 'jwc', name: '教务处', categories: [] }, NOW)).id;
    hq = (await insertSource(fresh.db, { key: 'hq', name: '后勤处', categories: [] }, NOW)).id;
    await upsertUsers(
      fresh.db,
      [
        { externalId: '2024010101', name: '张三' },
        { externalId: '2024010102', name: '李四' },
      ],
      NOW,
    );
    const rows = await fresh.db.selectFrom('users').select(['id', 'external_id']).execute();
    users = new Map(rows.map((r) => [r.external_id, r.id]));
  });

  afterEach(async () => {
    subscriptions.close();
    await queue.close();
    await fresh.close();
  });

  function message(sourceId: string): MessagesTable {
    return {
      id: newId(NOW),
      source_id: sourceId,
      category_key: 'exam.reminder',
      priority: 'normal',
      audience: '{"users":["2024010101"]}',
      data: '{}',
      channels: null,
      locale: null,
      send_at: NOW,
      status: 'accepted',
      fanout_cursor: null,
      recipient_count: 0,
      idempotency_key: null,
      created_at: NOW,
      updated_at: NOW,
    };
  }

  function delivery(m: MessagesTable, externalId: string, over: Partial<DeliveriesTable> = {}) {
    return {
      id: newId(NOW),
      message_id: m.id,
      user_id: users.get(externalId)!,
      channel: 'in_app',
      status: 'queued',
      reason: null,
      locale: 'zh-CN',
      attempts: 0,
      last_error: null,
      provider: null,
      provider_message_id: null,
      created_at: NOW,
      updated_at: NOW,
      final_at: null,
      fallback_from: null,
      ...over,
    } as DeliveriesTable;
  }

  async function callbackJobs(): Promise<CallbackJobPayload[]> {
    const rows = await fresh.db
      .selectFrom('queue_jobs')
      .select('payload')
      .where('topic', '=', CALLBACK_TOPIC)
      .orderBy('id')
      .execute();
    return rows.map((r) => JSON.parse(r.payload) as CallbackJobPayload);
  }

  async function subscribe(sourceId: string, events: string[] | null) {
    await setSourceCallback(
      fresh.db,
      sourceId,
      { url: 'https://example.edu/cb', events },
      SECRET,
      now,
    );
    subscriptions.invalidate();
  }

  it('writes nothing when no source has a callback', async () => {
    const m = message(jwc);
    await fresh.db.transaction().execute(async (tx) => {
      await insertMessages(tx, [m]);
      await emitter.messagesAccepted(tx, [m]);
    });
    assert.deepEqual(await callbackJobs(), []);
  });

  it('enqueues one job per source with the events it wants, data filled in from the database', async () => {
    await subscribe(jwc, null);
    await subscribe(hq, ['delivery.delivered']);
    const mJwc = message(jwc);
    const mHq = message(hq);
    await insertMessages(fresh.db, [mJwc, mHq]);
    const dAlice = delivery(mJwc, '2024010101');
    const dBob = delivery(mJwc, '2024010102', { channel: 'sms' });
    const dHq = delivery(mHq, '2024010101');
    const dHqFailed = delivery(mHq, '2024010102');
    const updates: DeliveryUpdate[] = [
      {
        id: dAlice.id,
        status: 'delivered',
        reason: null,
        attempts: 1,
        lastError: null,
        provider: 'in-app',
        providerMessageId: 'inbox-1',
        locale: 'zh-CN',
      },
      {
        id: dBob.id,
        status: 'dead',
        reason: 'max-attempts',
        attempts: 5,
        lastError: 'gateway timeout',
        provider: 'sms-a',
        providerMessageId: null,
        locale: 'zh-CN',
      },
      {
        id: dHq.id,
        status: 'delivered',
        reason: null,
        attempts: 2,
        lastError: null,
        provider: 'in-app',
        providerMessageId: null,
        locale: 'zh-CN',
      },
      // hq does not want failures; a queued (retry) outcome is no event at all.
      {
        id: dHqFailed.id,
        status: 'failed',
        reason: 'provider-rejected',
        attempts: 1,
        lastError: 'no',
        provider: 'in-app',
        providerMessageId: null,
        locale: 'zh-CN',
      },
      {
        id: dHq.id,
        status: 'queued',
        reason: null,
        attempts: 1,
        lastError: 'busy',
        provider: 'in-app',
        providerMessageId: null,
        locale: 'zh-CN',
      },
    ];
    await fresh.db.transaction().execute(async (tx) => {
      await emitter.deliveriesUpdated(tx, [dAlice, dBob, dHq, dHqFailed], updates, NOW + 500);
    });

    const jobs = await callbackJobs();
    assert.equal(jobs.length, 2);
    const forJwc = jobs.find((j) => j.sourceId === jwc)!;
    const forHq = jobs.find((j) => j.sourceId === hq)!;
    assert.equal(forJwc.attempt, 0);
    assert.deepEqual(
      forJwc.events.map((e) => ({ type: e.type, timestamp: e.timestamp, data: e.data })),
      [
        {
          type: 'delivery.delivered',
          timestamp: new Date(NOW + 500).toISOString(),
          data: {
            messageId: mJwc.id,
            userId: dAlice.user_id,
            recipient: { externalId: '2024010101' },
            deliveryId: dAlice.id,
            channel: 'in_app',
            status: 'delivered',
            attempts: 1,
            provider: 'in-app',
            providerMessageId: 'inbox-1',
          },
        },
        {
          type: 'delivery.failed',
          timestamp: new Date(NOW + 500).toISOString(),
          data: {
            messageId: mJwc.id,
            userId: dBob.user_id,
            recipient: { externalId: '2024010102' },
            deliveryId: dBob.id,
            channel: 'sms',
            status: 'dead',
            attempts: 5,
            reason: 'max-attempts',
            provider: 'sms-a',
            error: 'gateway timeout',
          },
        },
      ],
    );
    assert.deepEqual(
      forHq.events.map((e) => [e.type, e.data.deliveryId]),
      [['delivery.delivered', dHq.id]],
    );
    const ids = [...forJwc.events, ...forHq.events].map((e) => e.id);
    assert.equal(new Set(ids).size, 3, 'every event has its own id');
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  });

  it('uses what the caller knows (source, campus id) instead of reading it again', async () => {
    await subscribe(hq, null);
    const mJwc = message(jwc);
    const mHq = message(hq);
    // Neither message is in the database: only the hints can tell whose they are.
    const dJwc = delivery(mJwc, '2024010101');
    const dHq = delivery(mHq, '2024010101');
    const sent = (id: string): DeliveryUpdate => ({
      id,
      status: 'sent',
      reason: null,
      attempts: 1,
      lastError: null,
      provider: 'sms-a',
      providerMessageId: null,
      locale: 'zh-CN',
    });
    const sourceOf = new Map([
      [mJwc.id, jwc],
      [mHq.id, hq],
    ]);
    await fresh.db.transaction().execute(async (tx) => {
      await emitter.deliveriesUpdated(tx, [dJwc, dHq], [sent(dJwc.id), sent(dHq.id)], NOW, {
        sourceOf: (id) => sourceOf.get(id),
        externalIdOf: () => 'from-the-hint',
      });
    });
    const jobs = await callbackJobs();
    assert.deepEqual(
      jobs.map((j) => [j.sourceId, j.events.map((e) => [e.data.deliveryId, e.data.recipient])]),
      [[hq, [[dHq.id, { externalId: 'from-the-hint' }]]]],
    );
  });

  it('writes no event when the transaction that recorded the change rolls back', async () => {
    await subscribe(jwc, null);
    const m = message(jwc);
    await assert.rejects(
      fresh.db.transaction().execute(async (tx) => {
        await insertMessages(tx, [m]);
        await emitter.messagesAccepted(tx, [m]);
        throw new Error('disk full');
      }),
      /disk full/,
    );
    assert.deepEqual(await callbackJobs(), []);

    await fresh.db.transaction().execute(async (tx) => {
      await insertMessages(tx, [m]);
      await emitter.messagesAccepted(tx, [m]);
    });
    const [job] = await callbackJobs();
    assert.deepEqual(job!.events[0]!.data, {
      messageId: m.id,
      status: 'accepted',
      category: 'exam.reminder',
    });
  });

  it('reports suppressed deliveries with their reason, quota suppressions included', async () => {
    await subscribe(jwc, ['delivery.suppressed']);
    const m = message(jwc);
    await insertMessages(fresh.db, [m]);
    const optedOut = delivery(m, '2024010101', { status: 'suppressed', reason: 'opted-out' });
    const overQuota = delivery(m, '2024010102', { channel: 'sms' });
    const queued = delivery(m, '2024010102');
    await fresh.db.transaction().execute(async (tx) => {
      // As committed: the queued sms delivery was over its source's daily quota.
      await emitter.deliveriesCreated(
        tx,
        [optedOut, overQuota, queued],
        [
          { id: optedOut.id, status: 'suppressed' },
          { id: overQuota.id, status: 'suppressed' },
          { id: queued.id, status: 'queued' },
        ],
      );
    });
    const [job] = await callbackJobs();
    assert.deepEqual(
      job!.events.map((e) => [e.type, e.data.deliveryId, e.data.reason]),
      [
        ['delivery.suppressed', optedOut.id, 'opted-out'],
        ['delivery.suppressed', overQuota.id, 'quota-exceeded'],
      ],
    );
  });

  it('reports inbox reads', async () => {
    await subscribe(jwc, ['delivery.read']);
    const m = message(jwc);
    await insertMessages(fresh.db, [m]);
    const d = delivery(m, '2024010101', { status: 'delivered' });
    await fresh.db.transaction().execute(async (tx) => {
      await emitter.inboxRead(
        tx,
        [{ message_id: m.id, delivery_id: d.id, user_id: d.user_id, read_at: NOW + 9_000 }],
        NOW + 9_000,
      );
    });
    const [job] = await callbackJobs();
    assert.deepEqual(job!.events[0]!.type, 'delivery.read');
    assert.deepEqual(job!.events[0]!.data, {
      messageId: m.id,
      userId: d.user_id,
      recipient: { externalId: '2024010101' },
      deliveryId: d.id,
      channel: 'in_app',
      status: 'read',
    });
    assert.equal(job!.events[0]!.timestamp, new Date(NOW + 9_000).toISOString());
  });

  it(`splits a large batch of one source into jobs of ${EVENTS_PER_JOB} events`, async () => {
    await subscribe(jwc, ['message.accepted']);
    const messages = Array.from({ length: EVENTS_PER_JOB * 2 + 1 }, () => message(jwc));
    await fresh.db.transaction().execute(async (tx) => {
      await insertMessages(tx, messages);
      await emitter.messagesAccepted(tx, messages);
    });
    const jobs = await callbackJobs();
    assert.deepEqual(
      jobs.map((j) => j.events.length),
      [EVENTS_PER_JOB, EVENTS_PER_JOB, 1],
    );
    assert.deepEqual(
      jobs.flatMap((j) => j.events.map((e) => e.data.messageId)),
      messages.map((m) => m.id),
      'in emission order',
    );
  });
});

describe('CallbackSubscriptions', () => {
  let fresh: FreshDatabase;
  afterEach(() => fresh.close());

  it('answers from its cache until the TTL passes or it is invalidated', async () => {
    fresh = await freshDatabase('callback-subscriptions');
    let now = NOW;
    const subs = new CallbackSubscriptions({ clock: () => now, ttlMs: 2_000 });
    const jwc = (await insertSource(fresh.db, { key: 'jwc', name: 'x', categories: [] }, NOW)).id;
    const hq = (await insertSource(fresh.db, { key: 'hq', name: 'y', categories: [] }, NOW)).id;
    assert.equal((await subs.current(fresh.db)).size, 0);

    await setSourceCallback(
      fresh.db,
      jwc,
      { url: 'https://a.example/x', events: null },
      SECRET,
      NOW,
    );
    assert.equal((await subs.current(fresh.db)).size, 0, 'cached: the database is not read');
    now += 2_000;
    assert.deepEqual(
      [...(await subs.current(fresh.db))],
      [[jwc, null]],
      'read again after the TTL',
    );

    await setSourceCallback(
      fresh.db,
      hq,
      { url: 'https://b.example/x', events: ['delivery.read', 'not.a.type'] },
      SECRET,
      NOW,
    );
    subs.invalidate();
    const current = await subs.current(fresh.db);
    assert.deepEqual([...current.get(hq)!], ['delivery.read'], 'unknown types are ignored');
    subs.close();
  });
});
