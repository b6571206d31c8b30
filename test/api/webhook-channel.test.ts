import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateSecret } from '../../src/webhooks/standard-webhooks.js';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  startTestHerald,
  type TestHerald,
} from '../support/test-herald.js';
import { behaviours, FakeProvider } from '../support/fake-provider.js';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';

type Call = ReturnType<typeof client>;

/** A webhook template for the demo's exam reminder, so the category can go out on `webhook`. */
async function webhookTemplate(admin: Call): Promise<void> {
  for (const locale of ['zh-CN', 'en']) {
    const res = await admin('PUT', `/v1/templates/exam.reminder/webhook/${locale}`, {
      title: '考试提醒：{{ data.course }}',
      body: '{{ recipient.name }}：《{{ data.course }}》{{ data.time }} 在 {{ data.room }}',
    });
    assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
  }
}

async function send(jwc: Call, users: string[] = ['2024010101']): Promise<string> {
  const res = await jwc('POST', '/v1/messages', {
    category: 'exam.reminder',
    to: { users },
    data: DEMO_EXAMPLES['exam.reminder'],
    channels: ['webhook'],
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res.body.id as string;
}

async function finalDeliveries(jwc: Call, messageId: string, count = 1) {
  return eventually(
    async () => {
      const list = await jwc('GET', `/v1/messages/${messageId}/deliveries`);
      const items = list.body.items as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
      return items.length === count && items.every((d) => d.status !== 'queued')
        ? items
        : undefined;
    },
    15_000,
    `final deliveries of ${messageId}`,
  );
}

async function finalDelivery(jwc: Call, messageId: string) {
  return (await finalDeliveries(jwc, messageId))[0]!;
}

/** Removes every configured provider, then creates these (secrets generated for webhooks). */
async function useProviders(
  admin: Call,
  ...configs: { body: Record<string, unknown>; fake: FakeProvider }[]
): Promise<void> {
  const list = await admin('GET', '/v1/providers');
  for (const p of list.body.items as { name: string }[]) {
    assert.equal((await admin('DELETE', `/v1/providers/${p.name}`)).status, 204);
  }
  for (const { body, fake } of configs) {
    const res = await admin('POST', '/v1/providers', {
      kind: 'webhook',
      settings: { url: fake.url },
      ...body,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    fake.secret = res.body.signingSecret as string;
  }
}

describe('webhook channel through Herald (worker thread) to a local receiver', () => {
  let t: TestHerald;
  let fake: FakeProvider;
  let backup: FakeProvider;
  let admin: Call;
  let jwc: Call;

  before(async () => {
    fake = await FakeProvider.start();
    backup = await FakeProvider.start();
    t = await startTestHerald({
      HERALD_OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
      HERALD_RETRY_BASE_MS: '20',
      HERALD_RETRY_CAP_MS: '100',
    });
    admin = client(t.url, ADMIN_TOKEN);
    jwc = client(t.url, t.keys.jwc);
    await webhookTemplate(admin);
  });
  after(async () => {
    await t.close();
    await fake.close();
    await backup.close();
  });
  beforeEach(() => {
    fake.clear();
    backup.clear();
  });

  it('POSTs the rendered message, signed, with the delivery id as webhook-id', async () => {
    await useProviders(admin, { body: { name: 'campus-app' }, fake });
    const id = await send(jwc);
    const d = await finalDelivery(jwc, id);
    assert.equal(d.status, 'sent');
    assert.equal(d.provider, 'campus-app');
    assert.equal(d.providerMessageId, 'fake-1');
    assert.equal(d.attempts, 1);

    assert.equal(fake.requests.length, 1);
    const r = fake.requests[0]!;
    assert.equal(r.signatureValid, true, 'the receiver verified the Standard Webhooks signature');
    assert.equal(r.method, 'POST');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['webhook-id'], d.id);
    assert.match(String(r.headers['webhook-timestamp']), /^\d{10}$/);
    assert.ok(Math.abs(Number(r.headers['webhook-timestamp']) - r.at / 1000) < 5);
    assert.match(String(r.headers['webhook-signature']), /^v1,/);
    const user = await admin('GET', '/v1/users/2024010101');
    const source = await admin('GET', '/v1/sources/jwc');
    const body = r.body as { timestamp: string };
    assert.match(body.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(body, {
      type: 'message.created',
      timestamp: body.timestamp,
      data: {
        deliveryId: d.id,
        messageId: id,
        category: 'exam.reminder',
        source: { key: 'jwc', name: source.body.name },
        locale: 'zh-CN',
        recipient: { id: user.body.id, externalId: '2024010101', name: user.body.name },
        content: {
          title: '考试提醒：植物生理学',
          body: `${user.body.name}：《植物生理学》2025-01-08 09:00–11:00 在 北区教学楼 A201`,
        },
      },
    });
  });

  it('makes no call before the Retry-After of a 429', async () => {
    await useProviders(admin, { body: { name: 'campus-app' }, fake });
    fake.next(behaviours.tooMany(1));
    const id = await send(jwc);
    const d = await finalDelivery(jwc, id);
    assert.equal(d.status, 'sent');
    assert.equal(d.attempts, 2);
    const [first, second] = fake.requestsFor(d.id);
    assert.equal(first!.answer, 429);
    assert.equal(second!.answer, 200);
    const waited = second!.at - first!.at;
    assert.ok(waited >= 1_000, `retried after ${waited} ms, Retry-After was 1 s`);
    const detail = await jwc('GET', `/v1/messages/${id}/deliveries/${d.id}`);
    assert.match(detail.body.attemptLog[0].error, /^HTTP 429 from .* \(Retry-After 1 s\)$/);
  });

  it('with a rate limit, a 429 pauses the whole provider until its Retry-After', async () => {
    await useProviders(admin, {
      body: { name: 'campus-app', limits: { ratePerSecond: 1000, burst: 1000 } },
      fake,
    });
    fake.next(behaviours.tooMany(1));
    const first = await send(jwc);
    // Once A's refused attempt is recorded, the provider knows about the pause.
    await eventually(async () => {
      const list = await jwc('GET', `/v1/messages/${first}/deliveries`);
      return list.body.items[0]?.attempts >= 1 ? true : undefined;
    });
    const second = await send(jwc, ['2024010102']);
    const a = await finalDelivery(jwc, first);
    const b = await finalDelivery(jwc, second);
    assert.deepEqual([a.status, b.status], ['sent', 'sent']);
    const refusedAt = fake.requests[0]!.at;
    const early = fake.requests.filter((r) => r.at > refusedAt && r.at < refusedAt + 1_000);
    assert.deepEqual(early, [], 'no request reached the receiver during the pause');
    // B was held back by the pause, which used none of its attempts.
    assert.equal(b.attempts, 1);
    const bLog = await jwc('GET', `/v1/messages/${second}/deliveries/${b.id}`);
    assert.deepEqual(
      bLog.body.attemptLog.map((a: { outcome: string }) => a.outcome),
      ['sent'],
    );
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /herald_delivery_attempts_total\{[^}]*outcome="held-back"[^}]*\} [1-9]/);
    assert.equal(fake.requestsFor(b.id).length, 1, 'B reached the receiver once, after the pause');
    assert.equal(fake.stats().accepted, 2);
  });

  it('never tries more often than the category allows, then dead-letters', async () => {
    await useProviders(admin, { body: { name: 'campus-app' }, fake });
    fake.steady(behaviours.status(500));
    const id = await send(jwc);
    const d = await finalDelivery(jwc, id);
    const category = await admin('GET', '/v1/categories/exam.reminder');
    assert.equal(d.status, 'dead');
    assert.equal(d.attempts, category.body.maxAttempts);
    assert.equal(fake.requestsFor(d.id).length, category.body.maxAttempts);
    assert.match(d.lastError, /^HTTP 500 from http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('opens the circuit of a failing primary and fails over to the secondary', async () => {
    await useProviders(
      admin,
      {
        body: {
          name: 'primary',
          priority: 0,
          limits: { breaker: { failures: 2, coolDownMs: 60_000 } },
        },
        fake,
      },
      { body: { name: 'secondary', priority: 1 }, fake: backup },
    );
    fake.steady(behaviours.status(503));
    const delivered = [];
    for (const user of ['2024010101', '2024010102', '2024010103', '2024010104']) {
      delivered.push(await finalDelivery(jwc, await send(jwc, [user])));
    }
    for (const d of delivered) {
      assert.equal(d.status, 'sent');
      assert.equal(d.attempts, 1, 'the failover happens within one attempt');
      assert.equal(d.provider, 'secondary', 'the member that sent it');
      assert.match(d.providerMessageId, /^fake-\d+$/);
    }
    assert.equal(fake.requests.length, 2, 'the primary is not called once its circuit is open');
    assert.equal(backup.stats().uniqueAccepted, 4);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(
      metrics,
      /herald_provider_circuit_state\{channel="webhook",provider="primary"\} 2/,
    );
    assert.match(
      metrics,
      /herald_provider_circuit_state\{channel="webhook",provider="secondary"\} 0/,
    );
  });

  it('cuts a hanging receiver at the timeout and retries', async () => {
    await useProviders(admin, { body: { name: 'campus-app', limits: { timeoutMs: 300 } }, fake });
    fake.next('hang');
    const id = await send(jwc);
    const d = await finalDelivery(jwc, id);
    assert.equal(d.status, 'sent');
    assert.equal(d.attempts, 2);
    const detail = await jwc('GET', `/v1/messages/${id}/deliveries/${d.id}`);
    assert.equal(detail.body.attemptLog[0].outcome, 'transient');
    assert.match(detail.body.attemptLog[0].error, /300 ms/);
    assert.deepEqual(
      fake.requestsFor(d.id).map((r) => r.answer),
      ['hang', 200],
    );
  });

  it('does not retry a 4xx', async () => {
    await useProviders(admin, { body: { name: 'campus-app' }, fake });
    fake.next(behaviours.status(404));
    const id = await send(jwc);
    const d = await finalDelivery(jwc, id);
    assert.equal(d.status, 'failed');
    assert.equal(d.reason, 'provider-rejected');
    assert.equal(d.attempts, 1);
    assert.match(d.lastError, /^HTTP 404 from http:\/\/127\.0\.0\.1:\d+$/);
    // A later message arriving proves the worker moved on; the first was still tried once.
    const later = await finalDelivery(jwc, await send(jwc));
    assert.equal(later.status, 'sent');
    assert.equal(fake.requestsFor(d.id).length, 1);
  });

  it('picks up configuration changes in the running worker thread, without a restart', async () => {
    await useProviders(admin, { body: { name: 'campus-app' }, fake });
    const before = await finalDelivery(jwc, await send(jwc));
    assert.equal(before.provider, 'campus-app');
    assert.equal(fake.requests.length, 1);

    // Point the same provider at another receiver.
    const moved = await admin('PATCH', '/v1/providers/campus-app', {
      settings: { url: backup.url },
    });
    assert.equal(moved.status, 200);
    backup.secret = fake.secret;
    const after = await finalDelivery(jwc, await send(jwc));
    assert.equal(after.status, 'sent');
    assert.equal(backup.requestsFor(after.id).length, 1);
    assert.equal(fake.requests.length, 1, 'the old URL is no longer used');

    // Disabled: the channel falls back to the sandbox of the demo.
    assert.equal(
      (await admin('PATCH', '/v1/providers/campus-app', { enabled: false })).status,
      200,
    );
    const sandboxed = await finalDelivery(jwc, await send(jwc));
    assert.equal(sandboxed.provider, 'sandbox');
    assert.equal(backup.requests.length, 1);
  });
});

describe('the example receiver of docs/providers.md', () => {
  let t: TestHerald;
  let receiver: ChildProcess;

  before(async () => {
    t = await startTestHerald({ HERALD_OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8' });
    await webhookTemplate(client(t.url, ADMIN_TOKEN));
  });
  after(async () => {
    receiver?.kill();
    await t.close();
  });

  it('verifies and prints what Herald sends, and rejects an unsigned request', async () => {
    const secret = generateSecret();
    receiver = spawn(process.execPath, ['docs/examples/webhook-receiver.mjs'], {
      env: { PATH: process.env.PATH ?? '', HERALD_WEBHOOK_SECRET: secret, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    receiver.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    receiver.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const url = await eventually(async () => /listening on (http:\/\/\S+)/.exec(err)?.[1]);
    const admin = client(t.url, ADMIN_TOKEN);
    const created = await admin('POST', '/v1/providers', {
      name: 'example-app',
      kind: 'webhook',
      settings: { url: `${url}/hook` },
      secrets: { signingSecret: secret },
    });
    assert.equal(created.status, 201);
    const jwc = client(t.url, t.keys.jwc);
    const d = await finalDelivery(jwc, await send(jwc));
    assert.equal(d.status, 'sent');
    assert.equal(d.providerMessageId, 'demo-1');
    const printed = out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, string>);
    assert.deepEqual(
      printed.map((p) => [p.deliveryId, p.user, p.title]),
      [[d.id, '2024010101', '考试提醒：植物生理学']],
    );
    const forged = await fetch(`${url}/hook`, { method: 'POST', body: '{"data":{}}' });
    assert.equal(forged.status, 401);
  });
});

describe('webhook channel without an outbound allow-list', () => {
  let t: TestHerald;
  let fake: FakeProvider;
  let admin: Call;

  before(async () => {
    fake = await FakeProvider.start();
    // The demo's sandbox stays on: the fan-out queues webhook deliveries whatever the
    // registry knows yet, and each lease catches up with the configuration first.
    t = await startTestHerald();
    admin = client(t.url, ADMIN_TOKEN);
    await webhookTemplate(admin);
  });
  after(async () => {
    await t.close();
    await fake.close();
  });

  it('refuses a loopback URL: the delivery fails with a clear error, nothing is sent', async () => {
    await useProviders(admin, { body: { name: 'campus-app' }, fake });
    const jwc = client(t.url, t.keys.jwc);
    const d = await finalDelivery(jwc, await send(jwc));
    assert.equal(d.status, 'failed');
    assert.equal(d.attempts, 1);
    assert.match(
      d.lastError,
      /^Refused to connect to 127\.0\.0\.1:\d+: 127\.0\.0\.1 is a loopback address \(outside the allow-list\); an operator can allow the network with HERALD_OUTBOUND_ALLOW_CIDRS$/,
    );
    assert.equal(fake.requests.length, 0);
  });
});
