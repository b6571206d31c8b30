import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  startTestHerald,
  type TestHerald,
} from '../support/test-herald.js';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';
import {
  DeliveryError,
  type ChannelProvider,
  type OutboundMessage,
  type SendOutcome,
} from '../../src/channels/channel-provider.js';

/** An SMS provider whose behaviour each test scripts, recording every call it gets. */
class ScriptedProvider implements ChannelProvider {
  readonly name = 'scripted-sms';
  calls: OutboundMessage[] = [];
  behave: (callNo: number) => SendOutcome = () => ({
    ok: true,
    status: 'sent',
    providerMessageId: 'p-1',
  });
  async send(batch: readonly OutboundMessage[]): Promise<SendOutcome[]> {
    return batch.map((m) => {
      this.calls.push(m);
      return this.behave(this.calls.length);
    });
  }
}

describe('delivery: attempts, retries, permanent failures and dead letters', () => {
  let t: TestHerald;
  let jwc: ReturnType<typeof client>;
  let admin: ReturnType<typeof client>;
  const sms = new ScriptedProvider();

  before(async () => {
    // The scripted provider lives in this thread, so the workers must too.
    t = await startTestHerald(
      { HERALD_WORKER_THREAD: 'false' },
      { retry: { baseMs: 20, capMs: 100 } },
    );
    t.herald.providers.register('sms', sms);
    jwc = client(t.url, t.keys.jwc);
    admin = client(t.url, ADMIN_TOKEN);
  });
  after(() => t.close());
  beforeEach(() => {
    sms.calls = [];
  });

  async function sendSms(data: Record<string, unknown> = DEMO_EXAMPLES['exam.reminder']) {
    const res = await jwc('POST', '/v1/messages', {
      category: 'exam.reminder',
      to: { users: ['2024010101'] },
      data,
      channels: ['sms'],
    });
    assert.equal(res.status, 202);
    return res.body.id as string;
  }

  async function finalDelivery(messageId: string) {
    return eventually(async () => {
      const list = await jwc('GET', `/v1/messages/${messageId}/deliveries`);
      const d = list.body.items[0];
      return d && d.status !== 'queued' ? d : undefined;
    });
  }

  it('retries transient failures with backoff and records every attempt', async () => {
    sms.behave = (n) =>
      n < 3
        ? { ok: false, error: new DeliveryError('gateway busy', 'transient') }
        : { ok: true, status: 'sent', providerMessageId: 'biz-42' };
    const id = await sendSms();
    const d = await finalDelivery(id);
    assert.equal(d.status, 'sent');
    assert.equal(d.attempts, 3);
    assert.equal(d.provider, 'scripted-sms');
    assert.equal(d.providerMessageId, 'biz-42');
    const detail = await jwc('GET', `/v1/messages/${id}/deliveries/${d.id}`);
    assert.deepEqual(
      detail.body.attemptLog.map((a: { outcome: string; error: string | null }) => [
        a.outcome,
        a.error,
      ]),
      [
        ['transient', 'gateway busy'],
        ['transient', 'gateway busy'],
        ['sent', null],
      ],
    );
    assert.equal(sms.calls.length, 3);
    assert.ok(
      sms.calls.every((c) => c.deliveryId === d.id),
      'every try carries the same delivery id',
    );
    const user = await admin('GET', '/v1/users/2024010101');
    assert.equal(sms.calls[0]!.address, user.body.phone);
    assert.equal(sms.calls[0]!.locale, 'zh-CN');
    assert.match(sms.calls[0]!.content.body, /^【.+】.*植物生理学/);
  });

  it('fails a permanent error at once, without a retry', async () => {
    sms.behave = () => ({
      ok: false,
      error: new DeliveryError('isv.MOBILE_NUMBER_ILLEGAL', 'permanent'),
    });
    const id = await sendSms();
    const d = await finalDelivery(id);
    assert.equal(d.status, 'failed');
    assert.equal(d.reason, 'provider-rejected');
    assert.equal(d.attempts, 1);
    assert.equal(d.lastError, 'isv.MOBILE_NUMBER_ILLEGAL');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(sms.calls.length, 1);
  });

  it('takes a provider that answers the wrong number of outcomes as a transient failure', async () => {
    let calls = 0;
    const miscounting: ChannelProvider = {
      name: 'miscounting-sms',
      async send(batch) {
        calls++;
        if (calls === 1) return []; // a provider bug: no outcome for the message
        return batch.map(() => ({ ok: true, status: 'sent', providerMessageId: 'p-2' }));
      },
    };
    t.herald.providers.register('sms', miscounting);
    try {
      const id = await sendSms();
      const d = await finalDelivery(id);
      assert.equal(d.status, 'sent');
      assert.equal(d.attempts, 2);
      const detail = await jwc('GET', `/v1/messages/${id}/deliveries/${d.id}`);
      assert.equal(detail.body.attemptLog[0].outcome, 'transient');
      assert.match(detail.body.attemptLog[0].error, /returned 0 outcomes for 1 messages/);
    } finally {
      t.herald.providers.register('sms', sms);
    }
  });

  it('fails a delivery whose template cannot render, naming the problem, and never calls the provider', async () => {
    const id = await sendSms({ room: 'A201' });
    const d = await finalDelivery(id);
    assert.equal(d.status, 'failed');
    assert.equal(d.reason, 'render-error');
    assert.match(d.lastError, /template error: .*course/);
    assert.equal(sms.calls.length, 0);
  });

  it('dead-letters after maxAttempts, and a re-drive delivers it', async () => {
    sms.behave = () => ({ ok: false, error: new DeliveryError('timeout', 'transient') });
    const id = await sendSms();
    const d = await finalDelivery(id);
    const category = await admin('GET', '/v1/categories/exam.reminder');
    assert.equal(d.status, 'dead');
    assert.equal(d.attempts, category.body.maxAttempts);
    assert.equal(sms.calls.length, category.body.maxAttempts, 'attempts never exceed the limit');

    const dead = await admin('GET', '/v1/dead-letters');
    const letter = dead.body.items.find((l: { deliveryId: string }) => l.deliveryId === d.id);
    assert.ok(letter, 'listed in the dead letters');
    assert.match(letter.reason, /gave up after \d+ attempts: timeout/);

    sms.behave = () => ({ ok: true, status: 'sent', providerMessageId: 'late' });
    const redrive = await admin('POST', `/v1/dead-letters/${letter.id}/redrive`);
    assert.equal(redrive.status, 202);
    const after = await finalDelivery(id);
    assert.equal(after.status, 'sent');
    assert.equal((await admin('POST', `/v1/dead-letters/${letter.id}/redrive`)).status, 409);
    const remaining = await admin('GET', '/v1/dead-letters');
    assert.ok(!remaining.body.items.some((l: { id: string }) => l.id === letter.id));
  });

  it('only the admin may see or re-drive dead letters', async () => {
    assert.equal((await jwc('GET', '/v1/dead-letters')).status, 403);
    assert.equal((await client(t.url)('GET', '/v1/dead-letters')).status, 401);
  });

  it('exposes metrics in Prometheus text', async () => {
    const res = await fetch(`${t.url}/metrics`);
    const text = await res.text();
    assert.match(text, /^herald_messages_accepted_total \d+/m);
    assert.match(text, /^herald_deliveries_total\{channel="sms",status="dead"\} [1-9]/m);
    assert.match(text, /^herald_queue_depth\{lane="urgent"\} \d+/m);
    assert.match(text, /^herald_delivery_latency_seconds_bucket\{le="[^"]+",channel="sms"\} \d+/m);
  });
});
