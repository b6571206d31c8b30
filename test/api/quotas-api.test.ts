import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  startTestHerald,
  type TestHerald,
} from '../support/test-herald.js';
import { ScriptedProvider } from '../support/scripted-provider.js';

/** Campus time runs at the real pace from 23:00 in Shanghai; a test may jump it forward. */
const T0 = Date.parse('2025-09-01T15:00:00Z');
const MIDNIGHT = Date.parse('2025-09-01T16:00:00Z');

describe('daily quotas per source and channel', () => {
  let t: TestHerald;
  let admin: ReturnType<typeof client>;
  let cwc: ReturnType<typeof client>;
  let jumped = 0;
  const startedAt = Date.now();
  const clock = () => T0 + (Date.now() - startedAt) + jumped;
  const sms = new ScriptedProvider('test-sms');
  const students = ['Q001', 'Q002', 'Q003', 'Q004', 'Q005'];

  before(async () => {
    // The provider lives in this thread, so the workers must too.
    t = await startTestHerald(
      { HERALD_WORKER_THREAD: 'false', HERALD_DEMO: 'false', HERALD_TIMEZONE: 'Asia/Shanghai' },
      { clock },
    );
    t.herald.providers.register('sms', sms);
    admin = client(t.url, ADMIN_TOKEN);
    const ok = (res: { status: number; body: unknown }, ...codes: number[]) =>
      assert.ok(codes.includes(res.status), JSON.stringify(res.body));
    ok(
      await admin('POST', '/v1/categories', {
        key: 'fee.due',
        name: { 'zh-CN': '缴费提醒' },
        defaultChannels: ['sms'],
      }),
      201,
    );
    ok(
      await admin('PUT', '/v1/templates/fee.due/sms/zh-CN', {
        body: '{{ recipient.name }}，请于 {{ data.date }} 前缴清学费。',
      }),
      201,
    );
    for (const [i, id] of students.entries()) {
      ok(
        await admin('PUT', `/v1/users/${id}`, {
          name: `学生${i + 1}`,
          phone: `1380000000${i}`,
        }),
        201,
      );
    }
    ok(
      await admin('POST', '/v1/sources', {
        key: 'cwc',
        name: '财务处',
        categories: ['fee.due'],
        quotas: { sms: 3 },
      }),
      201,
    );
    cwc = client(t.url, (await admin('POST', '/v1/sources/cwc/api-keys')).body.secret);
  });
  after(() => t.close());

  const send = (users: string[]) =>
    cwc('POST', '/v1/messages', {
      category: 'fee.due',
      to: { users },
      data: { date: '9月10日' },
    });

  async function finalDeliveries(messageId: string, count: number) {
    return eventually(async () => {
      const res = await cwc('GET', `/v1/messages/${messageId}/deliveries`);
      const items = res.body.items as { status: string }[];
      return items.length === count && items.every((d) => d.status !== 'queued')
        ? (res.body.items as Record<string, any>[]) // eslint-disable-line @typescript-eslint/no-explicit-any
        : undefined;
    });
  }

  const exceededMetric = async () => {
    const text = await (await fetch(`${t.url}/metrics`)).text();
    const m = /^herald_quota_exceeded_total\{source="cwc",channel="sms"\} (\d+)/m.exec(text);
    return m ? Number(m[1]) : 0;
  };

  it('shows the quota and an untouched day before anything is sent', async () => {
    const source = await admin('GET', '/v1/sources/cwc');
    assert.deepEqual(source.body.quotas, { sms: 3 });
    const usage = await admin('GET', '/v1/sources/cwc/quota-usage');
    assert.equal(usage.status, 200);
    assert.deepEqual(usage.body, {
      source: 'cwc',
      day: '2025-09-01',
      timezone: 'Asia/Shanghai',
      resetsAt: '2025-09-01T16:00:00.000Z',
      channels: { sms: { limit: 3, used: 0, remaining: 3 } },
    });
  });

  it('charges exactly the deliveries it creates and suppresses those beyond the quota', async () => {
    const res = await send(students);
    assert.equal(res.status, 202, 'the quota was not used up yet: accepted');
    const deliveries = await finalDeliveries(res.body.id, 5);
    const byUser = Object.fromEntries(
      deliveries.map((d) => [
        d.recipient.externalId,
        `${d.status}${d.reason ? `:${d.reason}` : ''}`,
      ]),
    );
    assert.deepEqual(byUser, {
      Q001: 'sent',
      Q002: 'sent',
      Q003: 'sent',
      Q004: 'suppressed:quota-exceeded',
      Q005: 'suppressed:quota-exceeded',
    });
    assert.equal(sms.received, 3, 'the provider got the three granted ones only');

    const usage = await admin('GET', '/v1/sources/cwc/quota-usage');
    assert.deepEqual(usage.body.channels, { sms: { limit: 3, used: 3, remaining: 0 } });
    // Charged = created and not refused, counted in the database itself.
    const charged = await t.herald.db.selectFrom('quota_usage').select(['day', 'used']).execute();
    const created = await t.herald.db
      .selectFrom('deliveries')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('channel', '=', 'sms')
      .where('status', '!=', 'suppressed')
      .executeTakeFirstOrThrow();
    assert.deepEqual(charged, [{ day: '2025-09-01', used: 3 }]);
    assert.equal(Number(created.n), 3);
    assert.equal(await exceededMetric(), 2, 'two deliveries refused');
  });

  it('answers the next message with 429 quota-exceeded until the campus midnight', async () => {
    const before = await exceededMetric();
    const res = await send(['Q001']);
    assert.equal(res.status, 429);
    assert.match(res.headers.get('content-type')!, /^application\/problem\+json/);
    assert.equal(res.body.code, 'quota-exceeded');
    assert.equal(res.body.source, 'cwc');
    assert.equal(res.body.channel, 'sms');
    assert.equal(res.body.limit, 3);
    assert.equal(res.body.resetsAt, '2025-09-01T16:00:00.000Z');
    assert.match(res.body.detail, /"cwc" .* sms quota of 3 .* 2025-09-01T16:00:00\.000Z/);
    const retryAfter = Number(res.headers.get('retry-after'));
    const expected = Math.ceil((MIDNIGHT - clock()) / 1000);
    assert.ok(
      Math.abs(retryAfter - expected) <= 2,
      `Retry-After ${retryAfter} ≈ ${expected} s to midnight`,
    );
    assert.equal(await exceededMetric(), before + 1, 'the alert metric counts the refusal');
    const list = await cwc('GET', '/v1/messages');
    assert.equal(list.body.items.length, 1, 'nothing was stored for the refused message');
  });

  it('lets a source read its own usage, and only its own', async () => {
    assert.equal((await cwc('GET', '/v1/sources/cwc/quota-usage')).body.channels.sms.used, 3);
    assert.equal((await cwc('GET', '/v1/sources/other/quota-usage')).status, 404);
    assert.equal((await admin('GET', '/v1/sources/nope/quota-usage')).status, 404);
  });

  it('resets at the next campus day', async () => {
    jumped += MIDNIGHT - clock() + 1000; // one second past midnight in Shanghai
    const usage = await admin('GET', '/v1/sources/cwc/quota-usage');
    assert.equal(usage.body.day, '2025-09-02');
    assert.deepEqual(usage.body.channels, { sms: { limit: 3, used: 0, remaining: 3 } });
    assert.equal(usage.body.resetsAt, '2025-09-02T16:00:00.000Z');

    const res = await send(['Q004', 'Q005']);
    assert.equal(res.status, 202);
    const deliveries = await finalDeliveries(res.body.id, 2);
    assert.ok(deliveries.every((d) => d.status === 'sent'));
    const after = await admin('GET', '/v1/sources/cwc/quota-usage');
    assert.deepEqual(after.body.channels, { sms: { limit: 3, used: 2, remaining: 1 } });
  });

  it('lifting a quota (PATCH without the channel) makes the channel unlimited', async () => {
    const patched = await admin('PATCH', '/v1/sources/cwc', { quotas: {} });
    assert.equal(patched.status, 200);
    assert.deepEqual(patched.body.quotas, {});
    const res = await send(students);
    assert.equal(res.status, 202);
    const deliveries = await finalDeliveries(res.body.id, 5);
    assert.ok(deliveries.every((d) => d.status === 'sent'));
  });

  it('refuses bad quotas and senders with a clear problem, writing nothing', async () => {
    const base = { key: 'bad', name: '坏', categories: ['fee.due'] };
    for (const [body, path] of [
      [{ ...base, quotas: { sms: -1 } }, 'body/quotas/sms'],
      [{ ...base, quotas: { sms: 1.5 } }, 'body/quotas/sms'],
      [{ ...base, quotas: { pigeon: 5 } }, 'body/quotas/pigeon'],
      [{ ...base, quotas: { sms: 1_000_000_001 } }, 'body/quotas/sms'],
      [{ ...base, emailFrom: 'cwc@example.edu\r\nBcc: all@example.edu' }, 'body/emailFrom'],
      [{ ...base, emailReplyTo: 'two@example.edu, three@example.edu' }, 'body/emailReplyTo'],
    ] as const) {
      const res = await admin('POST', '/v1/sources', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.code, 'validation-failed');
      assert.ok(
        (res.body.errors as { path: string }[]).some((e) => e.path === path),
        `${JSON.stringify(res.body.errors)} names ${path}`,
      );
    }
    assert.equal((await admin('GET', '/v1/sources/bad')).status, 404);
    const patch = await admin('PATCH', '/v1/sources/cwc', { emailFrom: 'x@example.edu\n' });
    assert.equal(patch.status, 400);
    assert.equal((await admin('GET', '/v1/sources/cwc')).body.emailFrom, null);
  });

  it('keeps a per-source sender, and clears it with null', async () => {
    const set = await admin('PATCH', '/v1/sources/cwc', {
      emailFrom: '财务处 <cwc@example.edu>',
      emailReplyTo: 'help@example.edu',
    });
    assert.equal(set.status, 200);
    assert.equal(set.body.emailFrom, '财务处 <cwc@example.edu>');
    assert.equal(set.body.emailReplyTo, 'help@example.edu');
    const cleared = await admin('PATCH', '/v1/sources/cwc', { emailFrom: null });
    assert.equal(cleared.body.emailFrom, null);
    assert.equal(cleared.body.emailReplyTo, 'help@example.edu');
  });
});
