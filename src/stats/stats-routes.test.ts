import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_AUTH, routeHarness, type RouteHarness } from '../../test/support/route-harness.js';
import { EmbeddedQueue } from '../queue/embedded/embedded-queue.js';
import { newId } from '../store/ids.js';
import type { DeliveryStatus } from '../store/schema.js';
import { DashboardStats } from './dashboard-stats.js';
import { statsRoutes } from './stats-routes.js';

const at = (hhmm: string) => Date.parse(`2026-01-01T${hhmm}:00.000Z`);

describe('GET /v1/stats/overview', () => {
  let h: RouteHarness;
  let queue: EmbeddedQueue;
  let now = at('10:30');
  const deliveryIds: Record<string, string> = {};

  async function message(createdAt: number): Promise<string> {
    const id = newId(createdAt);
    await h.db
      .insertInto('messages')
      .values({
        id,
        source_id: 'src-1',
        category_key: 'exam.reminder',
        priority: 'normal',
        audience: '{"all":true}',
        data: '{}',
        channels: null,
        locale: null,
        send_at: createdAt,
        status: 'dispatched',
        fanout_cursor: null,
        recipient_count: 1,
        idempotency_key: null,
        created_at: createdAt,
        updated_at: createdAt,
      })
      .execute();
    return id;
  }

  async function delivery(
    name: string,
    messageId: string,
    channel: string,
    status: DeliveryStatus,
    createdAt: number,
    latencyMs: number | null = null,
  ): Promise<void> {
    const id = newId(createdAt);
    deliveryIds[name] = id;
    const final = status === 'queued' ? null : createdAt + (latencyMs ?? 0);
    await h.db
      .insertInto('deliveries')
      .values({
        id,
        message_id: messageId,
        user_id: `user-${name}`,
        channel,
        status,
        reason: null,
        locale: 'zh-CN',
        attempts: 1,
        last_error: null,
        provider: null,
        provider_message_id: null,
        created_at: createdAt,
        updated_at: final ?? createdAt,
        final_at: final,
        fallback_from: null,
      })
      .execute();
  }

  before(async () => {
    h = await routeHarness({
      name: 'stats',
      clock: () => now,
      register: (app, deps) => {
        queue = new EmbeddedQueue(deps.db, deps.clock);
        statsRoutes(app, {
          guards: deps.guards,
          stats: new DashboardStats(deps.db, queue, deps.clock),
        });
      },
    });
    await h.db
      .insertInto('sources')
      .values({
        id: 'src-1',
        key: 'jwc',
        name: '教务处',
        categories: '[]',
        quotas: '{}',
        created_at: 0,
        updated_at: 0,
      })
      .execute();
    const old = await message(at('07:59'));
    await delivery('old', old, 'in_app', 'delivered', at('07:59'), 10);
    const m8 = await message(at('08:10'));
    await delivery('a', m8, 'in_app', 'delivered', at('08:10'), 30);
    await delivery('b', m8, 'in_app', 'delivered', at('08:10'), 70);
    await delivery('c', m8, 'sms', 'failed', at('08:10'));
    await delivery('d', m8, 'sms', 'dead', at('08:10'));
    const m9 = await message(at('09:59'));
    await delivery('e', m9, 'sms', 'sent', at('09:59'), 2000);
    await delivery('f', m9, 'wechat', 'suppressed', at('09:59'));
    const m10 = await message(at('10:05'));
    await delivery('g', m10, 'in_app', 'queued', at('10:05'));
    await delivery('h', m10, 'email', 'delivered', at('10:05'), 100);
    for (const [id, redriven] of [
      ['dl-1', null],
      ['dl-2', at('09:00')],
    ] as const) {
      await h.db
        .insertInto('dead_letters')
        .values({
          id,
          delivery_id: deliveryIds.d!,
          message_id: m8,
          channel: 'sms',
          reason: 'gave up',
          created_at: at('08:20'),
          redriven_at: redriven,
        })
        .execute();
    }
    await queue.enqueue([
      { topic: 'deliver.sms', lane: 'normal', payload: {} },
      { topic: 'deliver.sms', lane: 'normal', payload: {} },
      { topic: 'deliver.in_app', lane: 'urgent', payload: {} },
    ]);
  });
  after(async () => {
    await queue.close();
    await h.close();
  });

  const overview = async (query = '?hours=3') =>
    h.app.inject({ method: 'GET', url: `/v1/stats/overview${query}`, headers: ADMIN_AUTH });

  it('counts the deliveries created in the window per channel, by what became of them', async () => {
    const res = await overview();
    assert.equal(res.statusCode, 200, res.body);
    const o = res.json();
    assert.equal(o.hours, 3);
    assert.equal(o.from, '2026-01-01T08:00:00.000Z', 'the clock hour 2 hours before the current');
    assert.equal(o.to, '2026-01-01T10:30:00.000Z');
    assert.equal(o.messages.accepted, 3, 'the message of 07:59 is outside');
    const byChannel = Object.fromEntries(
      o.channels.map((c: { channel: string }) => [c.channel, c]),
    );
    assert.deepEqual(
      o.channels.map((c: { channel: string }) => c.channel),
      ['email', 'in_app', 'sms', 'wechat'],
    );
    const pick = (c: Record<string, unknown>) => ({
      accepted: c.accepted,
      delivered: c.delivered,
      failed: c.failed,
      suppressed: c.suppressed,
      pending: c.pending,
    });
    assert.deepEqual(pick(byChannel.in_app), {
      accepted: 3,
      delivered: 2,
      failed: 0,
      suppressed: 0,
      pending: 1,
    });
    assert.deepEqual(byChannel.sms.byStatus, { failed: 1, dead: 1, sent: 1 });
    assert.deepEqual(pick(byChannel.sms), {
      accepted: 3,
      delivered: 1,
      failed: 2,
      suppressed: 0,
      pending: 0,
    });
    assert.deepEqual(pick(o.totals), {
      accepted: 8,
      delivered: 4,
      failed: 2,
      suppressed: 1,
      pending: 1,
    });
    assert.equal(byChannel.wechat.latency, null, 'nothing sent on wechat');
  });

  it('estimates latency percentiles from buckets, with the exact mean', async () => {
    const o = (await overview()).json();
    const inApp = o.channels.find((c: { channel: string }) => c.channel === 'in_app');
    assert.equal(inApp.latency.count, 2);
    assert.equal(inApp.latency.meanMs, 50);
    assert.ok(inApp.latency.p50Ms >= 25 && inApp.latency.p50Ms <= 50, `${inApp.latency.p50Ms}`);
    assert.ok(inApp.latency.p95Ms >= 50 && inApp.latency.p95Ms <= 75, `${inApp.latency.p95Ms}`);
    assert.equal(o.totals.latency.count, 4);
    assert.equal(o.totals.latency.meanMs, Math.round((30 + 70 + 2000 + 100) / 4));
    assert.ok(o.totals.latency.p95Ms >= 1500 && o.totals.latency.p95Ms <= 2500);
  });

  it('has an hourly series, oldest first, ending with the current hour', async () => {
    const o = (await overview()).json();
    assert.deepEqual(
      o.series.map((s: Record<string, unknown>) => [s.from, s.accepted, s.delivered, s.failed]),
      [
        ['2026-01-01T08:00:00.000Z', 4, 2, 2],
        ['2026-01-01T09:00:00.000Z', 2, 1, 0],
        ['2026-01-01T10:00:00.000Z', 2, 1, 0],
      ],
    );
  });

  it('shows the queue depth and the dead letters not re-driven', async () => {
    const o = (await overview()).json();
    assert.deepEqual(o.queue, { urgent: 1, normal: 2, bulk: 0, total: 3 });
    assert.deepEqual(o.deadLetters, { open: 1 });
  });

  it('reads the current hour every time, finished hours at most once a minute', async () => {
    await overview();
    await h.db
      .updateTable('deliveries')
      .set({ status: 'delivered', final_at: at('10:06') })
      .where('id', '=', deliveryIds.g!)
      .execute();
    await h.db
      .updateTable('deliveries')
      .set({ status: 'sent', final_at: at('08:11') })
      .where('id', '=', deliveryIds.c!)
      .execute();
    let o = (await overview()).json();
    assert.equal(o.series[2].pending, 0, 'the current hour is fresh');
    assert.equal(o.series[0].failed, 2, 'a finished hour is reused');
    now += 61_000;
    o = (await overview()).json();
    assert.equal(o.series[0].failed, 1, 'and read again after a minute');
  });

  it('a longer window reaches further back; hours must be 1–168', async () => {
    const o = (await overview('?hours=24')).json();
    assert.equal(o.series.length, 24);
    assert.equal(o.messages.accepted, 4);
    assert.equal(o.totals.accepted, 9);
    for (const bad of ['?hours=0', '?hours=169', '?hours=x']) {
      const res = await overview(bad);
      assert.equal(res.statusCode, 400, bad);
      assert.equal(res.json().code, 'validation-failed');
    }
  });

  it('is for the admin and operators only', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/v1/stats/overview' });
    assert.equal(res.statusCode, 401);
    assert.match(res.headers['content-type'] as string, /application\/problem\+json/);
  });
});
