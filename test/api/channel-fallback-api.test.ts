import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  startTestHerald,
  type TestHerald,
} from '../support/test-herald.js';
import { ScriptedProvider, type Step } from '../support/scripted-provider.js';
import { DeliveryError, type ChannelProvider } from '../../src/channels/channel-provider.js';

type Delivery = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('per-category channel fallback (wechat → sms)', () => {
  let t: TestHerald;
  let admin: ReturnType<typeof client>;
  let dorm: ReturnType<typeof client>;
  let wechat: ScriptedProvider;
  let sms: ScriptedProvider;

  /** Fresh providers for a test: wechat plays `script`, sms always answers ok. */
  function providers(script: Step[] = []) {
    wechat = new ScriptedProvider('test-wechat', script);
    sms = new ScriptedProvider('test-sms');
    t.herald.providers.register('wechat', wechat).register('sms', sms);
  }

  before(async () => {
    // The providers live in this thread, so the workers must too.
    t = await startTestHerald(
      { HERALD_WORKER_THREAD: 'false', HERALD_DEMO: 'false' },
      { retry: { baseMs: 10, capMs: 20 } },
    );
    admin = client(t.url, ADMIN_TOKEN);
    const ok = (res: { status: number; body: unknown }, status: number) =>
      assert.equal(res.status, status, JSON.stringify(res.body));
    ok(
      await admin('POST', '/v1/categories', {
        key: 'dorm.notice',
        name: { 'zh-CN': '宿舍通知' },
        defaultChannels: ['wechat'],
        maxAttempts: 2,
        channelFallbacks: { wechat: 'sms' },
      }),
      201,
    );
    for (const channel of ['wechat', 'sms']) {
      ok(
        await admin('PUT', `/v1/templates/dorm.notice/${channel}/zh-CN`, {
          body: '{{ recipient.name }}：{{ data.text }}',
        }),
        201,
      );
    }
    // F001 has no WeChat openid; F002 has both; F003 has neither.
    ok(await admin('PUT', '/v1/users/F001', { name: '甲', phone: '13800000001' }), 201);
    ok(
      await admin('PUT', '/v1/users/F002', {
        name: '乙',
        phone: '13800000002',
        wechatOpenId: 'o-f002',
      }),
      201,
    );
    ok(await admin('PUT', '/v1/users/F003', { name: '丙' }), 201);
    ok(
      await admin('POST', '/v1/sources', {
        key: 'hq',
        name: '后勤处',
        categories: ['dorm.notice'],
      }),
      201,
    );
    dorm = client(t.url, (await admin('POST', '/v1/sources/hq/api-keys')).body.secret);
  });
  after(() => t.close());

  async function send(user: string): Promise<string> {
    const res = await dorm('POST', '/v1/messages', {
      category: 'dorm.notice',
      to: { users: [user] },
      data: { text: '今晚22:00停水' },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  }

  /** The message's deliveries by channel, once `count` exist and all are final. */
  async function settled(messageId: string, count: number): Promise<Record<string, Delivery>> {
    const items = await eventually(async () => {
      const res = await dorm('GET', `/v1/messages/${messageId}/deliveries`);
      const items = res.body.items as Delivery[];
      return items.length === count && items.every((d) => d.status !== 'queued')
        ? items
        : undefined;
    });
    return Object.fromEntries(items.map((d) => [d.channel, d]));
  }

  it('shows the fallback on the category', async () => {
    const res = await admin('GET', '/v1/categories/dorm.notice');
    assert.deepEqual(res.body.channelFallbacks, { wechat: 'sms' });
  });

  it('delivers by sms to a user without a WeChat openid, saying it is a fallback', async () => {
    providers();
    const id = await send('F001');
    const d = await settled(id, 2);
    assert.equal(d.wechat!.status, 'suppressed');
    assert.equal(d.wechat!.reason, 'no-address');
    assert.equal(d.sms!.status, 'sent');
    assert.equal(d.sms!.fallbackFrom, 'wechat');
    assert.equal(d.sms!.provider, 'test-sms');
    assert.equal(wechat.received, 0);
    assert.equal(sms.received, 1);
    assert.deepEqual(sms.calls[0]!.ids, [d.sms!.id]);
  });

  it('after a permanent WeChat failure, creates an sms delivery and sends it', async () => {
    providers(['permanent']);
    const id = await send('F002');
    const d = await settled(id, 2);
    assert.equal(d.wechat!.status, 'failed');
    assert.equal(d.wechat!.reason, 'provider-rejected');
    assert.equal(d.wechat!.attempts, 1);
    assert.equal(d.sms!.status, 'sent');
    assert.equal(d.sms!.fallbackFrom, 'wechat');
    assert.equal(wechat.received, 1);
    assert.equal(sms.received, 1);
    const detail = await dorm('GET', `/v1/messages/${id}/deliveries/${d.sms!.id}`);
    assert.equal(detail.body.fallbackFrom, 'wechat');
  });

  it('does not fall back from a delivery that died of transient errors (it can be re-driven)', async () => {
    providers(['transient', 'transient']);
    const id = await send('F002');
    const d = await settled(id, 1);
    assert.equal(d.wechat!.status, 'dead');
    await new Promise((r) => setTimeout(r, 200));
    const again = await dorm('GET', `/v1/messages/${id}/deliveries`);
    assert.equal(again.body.items.length, 1, 'no sms delivery');
    assert.equal(sms.received, 0);
  });

  it('a failure that comes after another worker already finished the delivery changes nothing', async () => {
    // Stands in for a second worker whose lease ran out: while this one is still sending,
    // the other records the delivery `sent`. Its late permanent failure must not fall back.
    sms = new ScriptedProvider('test-sms');
    const late: ChannelProvider = {
      name: 'late-wechat',
      async send(batch) {
        await t.herald.db
          .updateTable('deliveries')
          .set({ status: 'sent', provider: 'other-worker', final_at: Date.now() })
          .where(
            'id',
            'in',
            batch.map((m) => m.deliveryId),
          )
          .execute();
        return batch.map(() => ({ ok: false, error: new DeliveryError('400', 'permanent') }));
      },
    };
    t.herald.providers.register('wechat', late).register('sms', sms);
    const id = await send('F002');
    // The worker is done once the delivery has its attempt recorded.
    const wechatDelivery = await eventually(async () => {
      const items = (await dorm('GET', `/v1/messages/${id}/deliveries`)).body.items as Delivery[];
      const d = items.find((i) => i.channel === 'wechat');
      return d && d.status !== 'queued' ? d : undefined;
    });
    await eventually(async () => {
      const res = await dorm('GET', `/v1/messages/${id}/deliveries/${wechatDelivery.id}`);
      return res.body.attemptLog?.length > 0 ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 200));
    const items = (await dorm('GET', `/v1/messages/${id}/deliveries`)).body.items as Delivery[];
    assert.deepEqual(
      items.map((i) => [i.channel, i.status, i.provider]),
      [['wechat', 'sent', 'other-worker']],
      'the sent delivery stays as recorded; no sms fallback',
    );
    assert.equal(sms.received, 0);
  });

  it('shows a fallback the user cannot be reached on either, and goes no further', async () => {
    providers();
    const id = await send('F003');
    const d = await settled(id, 2);
    assert.equal(d.wechat!.reason, 'no-address');
    assert.equal(d.sms!.status, 'suppressed');
    assert.equal(d.sms!.reason, 'no-address');
    assert.equal(d.sms!.fallbackFrom, 'wechat');
  });

  it('charges fallback deliveries to the quota too', async () => {
    providers(['permanent']);
    assert.equal((await admin('PATCH', '/v1/sources/hq', { quotas: { sms: 1 } })).status, 200);
    // F001: the planned fallback takes the one sms of the day.
    const first = await settled(await send('F001'), 2);
    assert.equal(first.sms!.status, 'sent');
    // F002: wechat fails for good; its sms fallback finds the quota used up.
    const second = await settled(await send('F002'), 2);
    assert.equal(second.wechat!.status, 'failed');
    assert.equal(second.sms!.status, 'suppressed');
    assert.equal(second.sms!.reason, 'quota-exceeded');
    assert.equal(second.sms!.fallbackFrom, 'wechat');
    assert.equal(sms.received, 1);
    const usage = await admin('GET', '/v1/sources/hq/quota-usage');
    assert.deepEqual(usage.body.channels, { sms: { limit: 1, used: 1, remaining: 0 } });
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /^herald_quota_exceeded_total\{source="hq",channel="sms"\} 1$/m);
  });
});
