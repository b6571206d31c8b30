import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import { freshDatabase, type FreshDatabase } from '../../test/support/fresh-db.js';
import { EmbeddedQueue } from '../queue/embedded/embedded-queue.js';
import { ProviderRegistry } from '../channels/provider-registry.js';
import type { ChannelProvider } from '../channels/channel-provider.js';
import { insertCategory } from '../categories/categories-store.js';
import { insertSource } from '../sources/sources-store.js';
import { upsertUsers } from '../recipients/users-store.js';
import { createGroup } from '../recipients/groups-store.js';
import { insertMessages } from '../messages/messages-store.js';
import { FANOUT_TOPIC } from '../messages/ingest.js';
import type { Audience } from '../recipients/audience-types.js';
import { newId } from '../store/ids.js';
import { fanOutJobs, type FanoutDeps } from './fanout-worker.js';

const log = pino({ level: 'silent' });
const LEASE_MS = 30_000;

describe('fanOutJobs: one bad message fails only its own job', () => {
  let fresh: FreshDatabase;
  let queue: EmbeddedQueue;
  let now: number;
  let deps: FanoutDeps;
  let sourceId: string;

  beforeEach(async () => {
    fresh = await freshDatabase('fanout-worker');
    now = 1_800_000_000_000;
    const clock = () => now;
    queue = new EmbeddedQueue(fresh.db, clock);
    // Fan-out only asks whether a channel is served; nothing is sent here.
    const inApp: ChannelProvider = { name: 'in-app', send: async () => [] };
    deps = {
      db: fresh.db,
      queue,
      clock,
      providers: new ProviderRegistry(null).register('in_app', inApp),
      log,
      leaseMs: LEASE_MS,
      timezone: 'Asia/Shanghai',
    };
    sourceId = (await insertSource(fresh.db, { key: 'jwc', name: '教务处', categories: [] }, 1)).id;
    await insertCategory(
      fresh.db,
      {
        key: 'course.change',
        name: { 'zh-CN': '调课' },
        priority: 'normal',
        mandatory: false,
        defaultChannels: ['in_app'],
        maxAttempts: 3,
      },
      1,
    );
    await upsertUsers(
      fresh.db,
      ['s1', 's2', 's3', 's4'].map((externalId) => ({
        externalId,
        name: externalId,
        orgPath: `农学院/${externalId}`,
      })),
      1,
    );
    await createGroup(
      fresh.db,
      { key: 'broken', name: '坏', filter: { orgPrefix: '农学院/s4' } },
      1,
    );
    // A stored filter that no longer parses: resolving the audience throws.
    await fresh.db.updateTable('groups').set({ filter: '{"orgPrefix": ' }).execute();
  });

  afterEach(async () => {
    await queue.close();
    await fresh.close();
  });

  /** Accepted messages with their fan-out jobs, as ingest leaves them. */
  async function accept(audiences: readonly Audience[], maxDeliveries?: number): Promise<string[]> {
    const ids = audiences.map(() => newId(now));
    await insertMessages(
      fresh.db,
      audiences.map((audience, i) => ({
        id: ids[i]!,
        source_id: sourceId,
        category_key: 'course.change',
        priority: 'normal',
        audience: JSON.stringify(audience),
        data: '{}',
        channels: null,
        locale: null,
        send_at: now,
        status: 'accepted',
        fanout_cursor: null,
        recipient_count: 0,
        idempotency_key: null,
        created_at: now,
        updated_at: now,
      })),
    );
    await queue.enqueue(
      ids.map((messageId) => ({
        topic: FANOUT_TOPIC,
        lane: 'normal' as const,
        payload: { messageId },
        ...(maxDeliveries ? { maxDeliveries } : {}),
      })),
    );
    return ids;
  }

  async function deliveriesOf(messageId: string): Promise<string[]> {
    const rows = await fresh.db
      .selectFrom('deliveries')
      .innerJoin('users', 'users.id', 'deliveries.user_id')
      .select(['users.external_id', 'deliveries.channel'])
      .where('deliveries.message_id', '=', messageId)
      .execute();
    return rows.map((r) => `${r.external_id}:${r.channel}`).sort();
  }

  async function statusOf(messageId: string): Promise<string> {
    const row = await fresh.db
      .selectFrom('messages')
      .select('status')
      .where('id', '=', messageId)
      .executeTakeFirstOrThrow();
    return row.status;
  }

  async function fanOutLease(): Promise<string[]> {
    const leased = await queue.lease([FANOUT_TOPIC], 64, LEASE_MS);
    await fanOutJobs(deps, leased);
    return leased.map((job) => (job.payload as { messageId: string }).messageId);
  }

  it('commits the good messages of the lease once and gives the bad one back alone', async () => {
    const [good1, bad, good2, good3] = await accept([
      { users: ['s1'] },
      { groups: ['broken'] },
      { users: ['s2'] },
      { users: ['s1', 's3'] },
    ]);
    assert.deepEqual((await fanOutLease()).length, 4, 'all four in one lease');

    assert.deepEqual(await deliveriesOf(good1!), ['s1:in_app']);
    assert.deepEqual(await deliveriesOf(good2!), ['s2:in_app']);
    assert.deepEqual(await deliveriesOf(good3!), ['s1:in_app', 's3:in_app']);
    for (const id of [good1!, good2!, good3!]) assert.equal(await statusOf(id), 'dispatched');
    assert.deepEqual(await deliveriesOf(bad!), []);
    assert.equal(await statusOf(bad!), 'accepted');

    // Only the bad message's job is left, given back with its error, after a backoff.
    const left = await fresh.db
      .selectFrom('queue_jobs')
      .select(['payload', 'available_at', 'lease_token', 'last_error'])
      .where('topic', '=', FANOUT_TOPIC)
      .execute();
    assert.equal(left.length, 1);
    assert.deepEqual(JSON.parse(left[0]!.payload), { messageId: bad });
    assert.equal(left[0]!.lease_token, null);
    assert.ok(Number(left[0]!.available_at) > now, 'retried later, not at once');
    assert.match(left[0]!.last_error ?? '', /JSON/);
    assert.deepEqual(await fanOutLease(), [], 'not leased again before its backoff');

    // Repaired, the retry fans the bad message out; the good ones are not touched again.
    await fresh.db
      .updateTable('groups')
      .set({ filter: JSON.stringify({ orgPrefix: '农学院/s4' }) })
      .execute();
    now += 60 * 60_000;
    assert.deepEqual(await fanOutLease(), [bad]);
    assert.deepEqual(await deliveriesOf(bad!), ['s4:in_app']);
    assert.equal(await statusOf(bad!), 'dispatched');
    assert.deepEqual(await deliveriesOf(good1!), ['s1:in_app']);
    assert.deepEqual(await deliveriesOf(good3!), ['s1:in_app', 's3:in_app']);
    const deliverJobs = await fresh.db
      .selectFrom('queue_jobs')
      .select('payload')
      .where('topic', '=', 'deliver.in_app')
      .execute();
    const queued = deliverJobs.flatMap(
      (j) => (JSON.parse(j.payload) as { deliveryIds: string[] }).deliveryIds,
    );
    assert.equal(queued.length, 5, 'one delivery job entry per delivery, none twice');
    assert.equal(new Set(queued).size, 5);
  });

  it('dead-letters a message that keeps failing, alone, after its leases', async () => {
    const [good, bad] = await accept([{ users: ['s2'] }, { groups: ['broken'] }], 2);
    await fanOutLease();
    now += 60 * 60_000;
    assert.deepEqual(await fanOutLease(), [bad], 'second lease: the bad one alone');
    now += 60 * 60_000;
    assert.deepEqual(await fanOutLease(), [], 'no third lease');
    const dead = await queue.deadLetters(10);
    assert.deepEqual(
      dead.map((d) => d.payload),
      [{ messageId: bad }],
    );
    assert.equal(await statusOf(good!), 'dispatched');
    assert.deepEqual(await deliveriesOf(good!), ['s2:in_app']);
  });
});
