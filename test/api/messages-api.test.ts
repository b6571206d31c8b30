import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  startTestHerald,
  type TestHerald,
} from '../support/test-herald.js';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';

describe('POST /v1/messages and message status', () => {
  let t: TestHerald;
  let jwc: ReturnType<typeof client>;
  let admin: ReturnType<typeof client>;
  const exam = (users: string[] = ['2024010101']) => ({
    category: 'exam.reminder',
    to: { users },
    data: DEMO_EXAMPLES['exam.reminder'],
  });

  async function messageCount(): Promise<number> {
    let n = 0;
    let cursor: string | null = null;
    do {
      const res = await admin('GET', `/v1/messages?limit=200${cursor ? `&cursor=${cursor}` : ''}`);
      n += res.body.items.length;
      cursor = res.body.nextCursor;
    } while (cursor);
    return n;
  }

  before(async () => {
    t = await startTestHerald();
    jwc = client(t.url, t.keys.jwc);
    admin = client(t.url, ADMIN_TOKEN);
  });
  after(() => t.close());

  it('accepts a message with 202, its id and a Location, and delivers it to the inbox', async () => {
    const res = await jwc('POST', '/v1/messages', exam());
    assert.equal(res.status, 202);
    assert.equal(res.body.status, 'accepted');
    assert.match(res.body.id, /^[0-9a-f-]{36}$/);
    assert.equal(res.headers.get('location'), `/v1/messages/${res.body.id}`);
    const done = await eventually(async () => {
      const m = await jwc('GET', `/v1/messages/${res.body.id}`);
      return m.body.status === 'completed' ? m.body : undefined;
    });
    assert.equal(done.recipients, 1);
    assert.equal(done.counts.in_app.delivered, 1);
    assert.equal(done.counts.sms.sent, 1, 'the demo sends SMS to the sandbox');
    const deliveries = await jwc('GET', `/v1/messages/${res.body.id}/deliveries`);
    assert.equal(deliveries.status, 200);
    const inApp = deliveries.body.items.find((d: { channel: string }) => d.channel === 'in_app');
    assert.equal(inApp.recipient.externalId, '2024010101');
    assert.equal(inApp.attempts, 1);
    assert.equal(inApp.provider, 'in-app');
    // Delivery ran in the worker thread; /metrics still counts it.
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /^herald_deliveries_total\{channel="in_app",status="delivered"\} [1-9]/m);
    assert.match(metrics, /^herald_messages_accepted_total [1-9]/m);
    assert.equal(
      metrics.match(/^herald_process_cpu_seconds_total /gm)?.length,
      1,
      'process metrics once',
    );
  });

  describe('idempotency (Stripe semantics)', () => {
    it('replays the first answer for the same key and body', async () => {
      const first = await jwc('POST', '/v1/messages', exam(), { 'idempotency-key': 'exam-1' });
      const again = await jwc('POST', '/v1/messages', exam(), { 'idempotency-key': 'exam-1' });
      assert.equal(first.status, 202);
      assert.equal(first.headers.get('idempotency-replay'), null);
      assert.equal(again.status, 202);
      assert.equal(again.headers.get('idempotency-replay'), 'true');
      assert.deepEqual(again.body, first.body);
    });

    it('treats the same JSON with another key order as the same body', async () => {
      const body = exam();
      const first = await jwc('POST', '/v1/messages', body, { 'idempotency-key': 'exam-order' });
      const reordered = { data: body.data, to: body.to, category: body.category };
      const again = await jwc('POST', '/v1/messages', reordered, {
        'idempotency-key': 'exam-order',
      });
      assert.equal(again.body.id, first.body.id);
    });

    it('refuses the same key with a different body with 422', async () => {
      await jwc('POST', '/v1/messages', exam(), { 'idempotency-key': 'exam-2' });
      const res = await jwc('POST', '/v1/messages', exam(['2024010102']), {
        'idempotency-key': 'exam-2',
      });
      assert.equal(res.status, 422);
      assert.equal(res.body.code, 'idempotency-key-reused');
      assert.match(res.headers.get('content-type')!, /application\/problem\+json/);
    });

    it('keys are per source: another source may use the same key', async () => {
      const a = await jwc('POST', '/v1/messages', exam(), { 'idempotency-key': 'shared-key' });
      const hq = client(t.url, t.keys.hq);
      const b = await hq(
        'POST',
        '/v1/messages',
        {
          category: 'canteen.menu',
          to: { users: ['2024010101'] },
          data: DEMO_EXAMPLES['canteen.menu'],
        },
        { 'idempotency-key': 'shared-key' },
      );
      assert.equal(b.status, 202);
      assert.notEqual(a.body.id, b.body.id);
    });

    it('50 concurrent requests with one key create exactly one message', async () => {
      const before = await messageCount();
      const results = await Promise.all(
        Array.from({ length: 50 }, () =>
          jwc('POST', '/v1/messages', exam(), { 'idempotency-key': 'burst' }),
        ),
      );
      const accepted = results.filter((r) => r.status === 202);
      const conflicts = results.filter((r) => r.status === 409);
      assert.equal(accepted.length + conflicts.length, 50);
      assert.equal(
        new Set(accepted.map((r) => r.body.id)).size,
        1,
        'every 202 names the same message',
      );
      assert.equal(
        accepted.filter((r) => r.headers.get('idempotency-replay') !== 'true').length,
        1,
      );
      for (const c of conflicts) {
        assert.equal(c.body.code, 'idempotency-in-progress');
        assert.equal(c.headers.get('retry-after'), '1');
      }
      assert.equal(await messageCount(), before + 1);
    });

    it('refuses a key longer than 255 characters', async () => {
      const res = await jwc('POST', '/v1/messages', exam(), { 'idempotency-key': 'k'.repeat(256) });
      assert.equal(res.status, 400);
      assert.equal(res.body.code, 'validation-failed');
    });
  });

  describe('bad input gets a problem+json with its code and writes nothing', () => {
    const cases: [
      string,
      () => Promise<{ status: number; body: Record<string, unknown> }>,
      number,
      string,
    ][] = [
      [
        'malformed JSON',
        () => jwc('POST', '/v1/messages', '{"category": "exam.reminder",'),
        400,
        'malformed-json',
      ],
      [
        'a wrong content type',
        () => jwc('POST', '/v1/messages', 'hello', { 'content-type': 'text/plain' }),
        415,
        'unsupported-media-type',
      ],
      [
        'an unknown field',
        () => jwc('POST', '/v1/messages', { ...exam(), priority: 'urgent' }),
        400,
        'validation-failed',
      ],
      [
        'a missing audience',
        () => jwc('POST', '/v1/messages', { category: 'exam.reminder', data: {} }),
        400,
        'validation-failed',
      ],
      [
        'an empty audience',
        () => jwc('POST', '/v1/messages', { category: 'exam.reminder', to: {} }),
        400,
        'validation-failed',
      ],
      [
        'an unknown channel',
        () => jwc('POST', '/v1/messages', { ...exam(), channels: ['pigeon'] }),
        400,
        'validation-failed',
      ],
      [
        'a bad sendAt',
        () => jwc('POST', '/v1/messages', { ...exam(), sendAt: 'tomorrow' }),
        400,
        'validation-failed',
      ],
      [
        'an unknown category',
        () => jwc('POST', '/v1/messages', { ...exam(), category: 'no.such' }),
        422,
        'unknown-category',
      ],
      [
        'a category the source may not send',
        () => jwc('POST', '/v1/messages', { ...exam(), category: 'canteen.menu' }),
        403,
        'category-not-allowed',
      ],
      [
        'unknown users',
        () => jwc('POST', '/v1/messages', exam(['2024010101', 'nobody-1'])),
        422,
        'unknown-recipients',
      ],
      [
        'an unknown group',
        () => jwc('POST', '/v1/messages', { ...exam(), to: { groups: ['no-such-group'] } }),
        422,
        'unknown-recipients',
      ],
      [
        'a body over the limit',
        () => jwc('POST', '/v1/messages', { ...exam(), data: { blob: 'x'.repeat(300_000) } }),
        413,
        'body-too-large',
      ],
      [
        'no credentials',
        () => client(t.url)('POST', '/v1/messages', exam()),
        401,
        'unauthenticated',
      ],
      [
        'a wrong API key',
        () => client(t.url, 'hk_000000000000_' + 'A'.repeat(43))('POST', '/v1/messages', exam()),
        401,
        'unauthenticated',
      ],
      [
        'the admin token without the source it sends as',
        () => admin('POST', '/v1/messages', exam()),
        400,
        'validation-failed',
      ],
      [
        'the admin token sending as a source that does not exist',
        () => admin('POST', '/v1/messages', { ...exam(), source: 'nope' }),
        422,
        'unknown-source',
      ],
      [
        'a source key naming another source',
        () => jwc('POST', '/v1/messages', { ...exam(), source: 'hq' }),
        403,
        'forbidden',
      ],
    ];
    for (const [name, send, status, code] of cases) {
      it(`${name} → ${status} ${code}`, async () => {
        const before = await messageCount();
        const res = await send();
        assert.equal(res.status, status, JSON.stringify(res.body));
        assert.equal(res.body.code, code);
        assert.equal(res.body.status, status);
        assert.equal(typeof res.body.title, 'string');
        assert.ok(!JSON.stringify(res.body).includes('    at '), 'no stack trace');
        assert.equal(await messageCount(), before, 'nothing written');
      });
    }

    it('checks credentials before it looks at the body', async () => {
      const res = await client(t.url)('POST', '/v1/messages', { nonsense: true });
      assert.equal(res.status, 401);
      assert.equal(res.body.code, 'unauthenticated');
    });

    it('answers a request Node cannot parse (raw UTF-8 in the URL) with problem+json', async () => {
      const { connect } = await import('node:net');
      const url = new URL(t.url);
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(url.port), url.hostname, () => {
          socket.write(
            Buffer.from(`GET /v1/users?orgPrefix=农学院 HTTP/1.1\r\nHost: x\r\n\r\n`, 'utf8'),
          );
        });
        let data = '';
        socket.on('data', (c: Buffer) => (data += c.toString()));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
      });
      const [head, body = ''] = raw.split('\r\n\r\n');
      const res = {
        status: Number(/^HTTP\/1\.1 (\d+)/.exec(head!)?.[1]),
        type: /content-type: ([^\r\n]+)/i.exec(head!)?.[1] ?? '',
        body,
      };
      assert.equal(res.status, 400);
      assert.match(res.type, /application\/problem\+json/);
      assert.equal(JSON.parse(res.body).code, 'validation-failed');
    });

    it('names the unknown recipients', async () => {
      const res = await jwc('POST', '/v1/messages', exam(['2024010101', 'nobody-1', 'nobody-2']));
      assert.deepEqual(res.body.unknownUsers, ['nobody-1', 'nobody-2']);
    });

    it('a revoked API key stops working at once', async () => {
      const created = await admin('POST', '/v1/sources/jwc/api-keys');
      assert.equal(created.status, 201);
      const fresh = client(t.url, created.body.secret);
      assert.equal((await fresh('POST', '/v1/messages', exam())).status, 202);
      assert.equal(
        (await admin('DELETE', `/v1/sources/jwc/api-keys/${created.body.id}`)).status,
        204,
      );
      const res = await fresh('POST', '/v1/messages', exam());
      assert.equal(res.status, 401);
      const keys = await admin('GET', '/v1/sources/jwc/api-keys');
      assert.ok(
        keys.body.items.every((k: Record<string, unknown>) => !('secret' in k) && !('hash' in k)),
      );
    });
  });

  it('a source sees only its own messages', async () => {
    const sent = await jwc('POST', '/v1/messages', exam());
    const lib = client(t.url, t.keys.lib);
    assert.equal((await lib('GET', `/v1/messages/${sent.body.id}`)).status, 404);
    assert.equal((await lib('GET', `/v1/messages/${sent.body.id}/deliveries`)).status, 404);
    const list = await lib('GET', '/v1/messages');
    assert.ok(list.body.items.every((m: { source: string }) => m.source === 'lib'));
    assert.equal((await admin('GET', `/v1/messages/${sent.body.id}`)).status, 200);
  });

  it("falls back from the message's locale to the recipient's own language", async () => {
    const res = await jwc('POST', '/v1/messages', {
      ...exam(['2024010102']),
      locale: 'fr',
      channels: ['in_app'],
    });
    const id = res.body.id;
    const d = await eventually(async () => {
      const list = await jwc('GET', `/v1/messages/${id}/deliveries`);
      return list.body.items[0]?.status === 'delivered' ? list.body.items[0] : undefined;
    });
    assert.equal(d.locale, 'en', '2024010102 reads English; there is no French template');
  });

  it('holds a message with a future sendAt until then', async () => {
    const sendAt = new Date(Date.now() + 3600_000).toISOString();
    const res = await jwc('POST', '/v1/messages', { ...exam(), sendAt });
    assert.equal(res.status, 202);
    assert.equal(res.body.status, 'scheduled');
    await new Promise((r) => setTimeout(r, 300));
    const m = await jwc('GET', `/v1/messages/${res.body.id}`);
    assert.equal(m.body.status, 'scheduled');
    assert.deepEqual(m.body.totals, {});
    assert.equal(m.body.sendAt, sendAt);
  });
});
