import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateSecret, verify } from '../../webhooks/standard-webhooks.js';
import { behaviours, FakeProvider } from '../../../test/support/fake-provider.js';
import { testMessages } from '../../../test/support/scripted-provider.js';
import type { OutboundMessage, SendOutcome } from '../channel-provider.js';
import { WebhookProvider, type WebhookProviderOptions } from './webhook-provider.js';

const LOOPBACK = ['127.0.0.0/8'];

describe('webhook provider against a local receiver', () => {
  const secret = generateSecret();
  let fake: FakeProvider;
  const open: WebhookProvider[] = [];

  before(async () => {
    fake = await FakeProvider.start({ secret });
  });
  after(async () => {
    await Promise.all(open.map((p) => p.close()));
    await fake.close();
  });
  beforeEach(() => fake.clear());

  function provider(options: Partial<WebhookProviderOptions> = {}): WebhookProvider {
    const p = new WebhookProvider({
      name: 'campus-app',
      url: fake.url,
      signingSecret: secret,
      allowCidrs: LOOPBACK,
      timeoutMs: 2_000,
      ...options,
    });
    open.push(p);
    return p;
  }

  const message: OutboundMessage = {
    ...testMessages(1)[0]!,
    deliveryId: '0192f0c1-7d4e-7a00-8000-000000000001',
    messageId: '0192f0c1-7d4e-7a00-8000-0000000000aa',
    channel: 'webhook',
    userId: 'u-17',
    address: 'u-17',
    recipient: { externalId: '2024010101', name: '张三' },
    category: 'exam.reminder',
    source: { key: 'jwc', name: '教务处' },
    locale: 'zh-CN',
    content: {
      title: '考试提醒',
      body: '植物生理学 明天 09:00',
      url: 'https://jw.example.edu.cn/x',
    },
  };

  async function one(p: WebhookProvider, m: OutboundMessage = message): Promise<SendOutcome> {
    const [outcome] = await p.send([m]);
    return outcome!;
  }

  it('POSTs the message as signed JSON with the delivery id as webhook-id', async () => {
    // A fixed moment (now, so the receiver's replay window accepts it).
    const at = Math.floor(Date.now() / 1000) * 1000 + 250;
    const outcome = await one(provider({ now: () => at }));
    assert.deepEqual(outcome, { ok: true, status: 'sent', providerMessageId: 'fake-1' });
    assert.equal(fake.requests.length, 1);
    const r = fake.requests[0]!;
    assert.equal(r.method, 'POST');
    assert.equal(r.path, '/hook');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['user-agent'], 'Herald-Webhooks/1');
    assert.equal(r.headers['webhook-id'], message.deliveryId);
    assert.equal(r.headers['webhook-timestamp'], String(Math.floor(at / 1000)));
    assert.match(String(r.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]+=*$/);
    // Verified with the receiver's own algorithm, at the time of sending.
    assert.deepEqual(verify({ headers: r.headers, body: r.rawBody, secret, now: new Date(at) }), {
      id: message.deliveryId,
      timestamp: Math.floor(at / 1000),
    });
    assert.deepEqual(r.body, {
      type: 'message.created',
      timestamp: new Date(at).toISOString(),
      data: {
        deliveryId: message.deliveryId,
        messageId: message.messageId,
        category: 'exam.reminder',
        source: { key: 'jwc', name: '教务处' },
        locale: 'zh-CN',
        recipient: { id: 'u-17', externalId: '2024010101', name: '张三' },
        content: {
          title: '考试提醒',
          body: '植物生理学 明天 09:00',
          url: 'https://jw.example.edu.cn/x',
        },
      },
    });
  });

  it('signs with the current time, so a real receiver accepts it', async () => {
    await one(provider());
    assert.equal(fake.requests[0]!.signatureValid, true);
  });

  it('a receiver holding another secret rejects the signature: 401 is permanent', async () => {
    const outcome = await one(provider({ signingSecret: generateSecret() }));
    assert.equal(fake.requests[0]!.signatureValid, false);
    assert.equal(outcome.ok, false);
    assert.equal(!outcome.ok && outcome.error.kind, 'permanent');
    assert.match(!outcome.ok ? outcome.error.message : '', /^HTTP 401 from http:\/\/127\.0\.0\.1:/);
  });

  it('takes no id from a 2xx without one', async () => {
    fake.next({ ok: true, id: null, status: 202 });
    assert.deepEqual(await one(provider()), { ok: true, status: 'sent', providerMessageId: null });
  });

  it('classifies answers: 429 and 5xx transient with Retry-After, other 4xx and 3xx permanent', async () => {
    const p = provider();
    const cases: [ReturnType<typeof behaviours.status>, 'transient' | 'permanent', number?][] = [
      [behaviours.tooMany(7), 'transient', 7_000],
      [behaviours.status(503, '2'), 'transient', 2_000],
      [behaviours.status(500), 'transient'],
      [behaviours.status(502), 'transient'],
      [behaviours.status(408), 'transient'],
      [behaviours.status(425), 'transient'],
      [behaviours.status(400), 'permanent'],
      [behaviours.status(404), 'permanent'],
      [behaviours.status(410), 'permanent'],
      [behaviours.status(301), 'permanent'],
      [behaviours.status(307), 'permanent'],
    ];
    for (const [b, kind, wait] of cases) {
      fake.next(b);
      const outcome = await one(p);
      assert.equal(outcome.ok, false, JSON.stringify(b));
      if (outcome.ok) continue;
      assert.equal(outcome.error.kind, kind, JSON.stringify(b));
      assert.equal(outcome.error.retryAfterMs, wait, JSON.stringify(b));
    }
    fake.next(behaviours.status(302));
    const redirect = await one(p);
    assert.match(!redirect.ok ? redirect.error.message : '', /redirects are not followed/);
  });

  it('reads Retry-After as an HTTP date too', async () => {
    const now = Math.floor(Date.now() / 1000) * 1000;
    fake.next(behaviours.tooMany(new Date(now + 30_000).toUTCString()));
    const outcome = await one(provider({ now: () => now }));
    assert.equal(!outcome.ok && outcome.error.retryAfterMs, 30_000);
  });

  it('a dropped connection is transient', async () => {
    fake.next('reset');
    const outcome = await one(provider());
    assert.equal(!outcome.ok && outcome.error.kind, 'transient');
    assert.match(!outcome.ok ? outcome.error.message : '', /broke|reach/);
  });

  it('cuts a receiver that never answers after timeoutMs: transient', async () => {
    fake.next('hang');
    const started = Date.now();
    const outcome = await one(provider({ timeoutMs: 300 }));
    const took = Date.now() - started;
    assert.equal(!outcome.ok && outcome.error.kind, 'transient');
    assert.match(!outcome.ok ? outcome.error.message : '', /within 300 ms/);
    assert.ok(took >= 250 && took < 2_000, `took ${took} ms`);
  });

  it('refuses a loopback URL without an allow-list, permanently, before connecting', async () => {
    const outcome = await one(provider({ allowCidrs: [] }));
    assert.equal(outcome.ok, false);
    if (outcome.ok) return;
    assert.equal(outcome.error.kind, 'permanent');
    assert.match(outcome.error.message, /Refused to connect to 127\.0\.0\.1:\d+/);
    assert.match(outcome.error.message, /HERALD_OUTBOUND_ALLOW_CIDRS/);
    assert.equal(fake.requests.length, 0);
  });

  it('sends a batch with bounded parallelism, one outcome per message in order', async () => {
    fake.steady(behaviours.slow(60));
    const batch = testMessages(7).map((m) => ({ ...m, channel: 'webhook' as const }));
    const outcomes = await provider({ parallelism: 3 }).send(batch);
    assert.equal(outcomes.length, 7);
    assert.ok(outcomes.every((o) => o.ok));
    assert.deepEqual(
      fake.requests.map((r) => r.webhookId).sort(),
      batch.map((m) => m.deliveryId).sort(),
    );
    assert.equal(fake.maxInFlight, 3);
  });

  it('answers transient after close instead of calling', async () => {
    const p = provider();
    await p.close();
    const outcome = await one(p);
    assert.equal(!outcome.ok && outcome.error.kind, 'transient');
    assert.equal(fake.requests.length, 0);
  });
});
