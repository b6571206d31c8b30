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

describe('the console searches messages and follows one message', () => {
  let t: TestHerald;
  let admin: ReturnType<typeof client>;
  let jwc: ReturnType<typeof client>;
  const ids: Record<string, string> = {};
  let startedAt: string;

  const idsOf = (res: { body: Record<string, unknown> }) =>
    (res.body.items as { id: string }[]).map((m) => m.id);

  before(async () => {
    t = await startTestHerald();
    admin = client(t.url, ADMIN_TOKEN);
    jwc = client(t.url, t.keys.jwc);
    const hq = client(t.url, t.keys.hq);
    startedAt = new Date().toISOString();
    ids.exam = (
      await jwc(
        'POST',
        '/v1/messages',
        {
          category: 'exam.reminder',
          to: { groups: ['class-2024-agronomy-1'] },
          data: DEMO_EXAMPLES['exam.reminder'],
        },
        { 'idempotency-key': 'notice-4711' },
      )
    ).body.id;
    ids.menu = (
      await hq('POST', '/v1/messages', {
        category: 'canteen.menu',
        to: { users: ['2024010101'] },
        data: DEMO_EXAMPLES['canteen.menu'],
      })
    ).body.id;
    ids.later = (
      await jwc('POST', '/v1/messages', {
        category: 'course.change',
        to: { users: ['2024010101'] },
        data: DEMO_EXAMPLES['course.change'],
        sendAt: new Date(Date.now() + 3600_000).toISOString(),
      })
    ).body.id;
    await eventually(async () => {
      const m = await admin('GET', `/v1/messages/${ids.exam}`);
      const n = await admin('GET', `/v1/messages/${ids.menu}`);
      return m.body.status === 'completed' && n.body.status === 'completed' ? true : undefined;
    });
  });
  after(() => t.close());

  it('filters by source, category and status', async () => {
    assert.deepEqual(idsOf(await admin('GET', '/v1/messages?source=hq')), [ids.menu]);
    assert.deepEqual(idsOf(await admin('GET', '/v1/messages?category=exam.reminder')), [ids.exam]);
    assert.deepEqual(idsOf(await admin('GET', '/v1/messages?status=scheduled')), [ids.later]);
    assert.deepEqual(idsOf(await admin('GET', '/v1/messages?status=completed')), [
      ids.menu,
      ids.exam,
    ]);
    assert.deepEqual(idsOf(await admin('GET', '/v1/messages?status=dispatched')), []);
    assert.deepEqual(idsOf(await admin('GET', '/v1/messages?source=jwc&status=completed')), [
      ids.exam,
    ]);
    assert.deepEqual(idsOf(await admin('GET', '/v1/messages?source=nobody')), []);
  });

  it('finds text in the data, the message id and the Idempotency-Key', async () => {
    const q = (text: string) => admin('GET', `/v1/messages?q=${encodeURIComponent(text)}`);
    assert.deepEqual(idsOf(await q('植物生理')), [ids.exam]);
    assert.deepEqual(idsOf(await q('番茄炒蛋')), [ids.menu]);
    assert.deepEqual(idsOf(await q('notice-4711')), [ids.exam]);
    assert.deepEqual(idsOf(await q(ids.later!)), [ids.later]);
    assert.deepEqual(idsOf(await q('no such words')), []);
    assert.deepEqual(idsOf(await q('100%')), [], 'LIKE wildcards are searched for as text');
  });

  it('filters by time range', async () => {
    const since = encodeURIComponent(startedAt);
    assert.equal(idsOf(await admin('GET', `/v1/messages?since=${since}`)).length, 3);
    assert.deepEqual(idsOf(await admin('GET', `/v1/messages?until=${since}`)), []);
    const future = encodeURIComponent(new Date(Date.now() + 60_000).toISOString());
    assert.deepEqual(idsOf(await admin('GET', `/v1/messages?since=${future}`)), []);
    const bad = await admin('GET', '/v1/messages?since=yesterday');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'validation-failed');
  });

  it('pages with a cursor, keeping the filters', async () => {
    const first = await admin('GET', '/v1/messages?source=jwc&limit=1');
    assert.deepEqual(idsOf(first), [ids.later]);
    assert.ok(first.body.nextCursor);
    const second = await admin(
      'GET',
      `/v1/messages?source=jwc&limit=1&cursor=${first.body.nextCursor}`,
    );
    assert.deepEqual(idsOf(second), [ids.exam]);
    assert.equal(second.body.nextCursor, null);
  });

  it('a source searches only its own messages, whatever it names', async () => {
    assert.deepEqual(idsOf(await jwc('GET', '/v1/messages?source=hq')), []);
    assert.deepEqual(idsOf(await jwc('GET', '/v1/messages')), [ids.later, ids.exam]);
  });

  it('a message shows its counts per channel × status', async () => {
    const m = await admin('GET', `/v1/messages/${ids.exam}`);
    assert.equal(m.body.recipients, 12);
    assert.equal(m.body.counts.in_app.delivered, 12);
    const sms = Object.values(m.body.counts.sms as Record<string, number>).reduce((a, b) => a + b);
    assert.equal(sms, 12);
  });

  it("the per-recipient timeline: search by a piece of the name or id, with each delivery's attempts", async () => {
    const all = await admin('GET', `/v1/messages/${ids.exam}/deliveries?channel=in_app`);
    const someone = all.body.items[3].recipient as { externalId: string; name: string };
    const byName = await admin(
      'GET',
      `/v1/messages/${ids.exam}/deliveries?q=${encodeURIComponent(someone.name.slice(1))}&attempts=true`,
    );
    assert.ok(byName.body.items.length >= 1);
    for (const d of byName.body.items) {
      assert.ok(d.recipient.name.includes(someone.name.slice(1)));
      assert.ok(Array.isArray(d.attemptLog));
    }
    const inApp = byName.body.items.find(
      (d: { channel: string; recipient: { externalId: string } }) =>
        d.channel === 'in_app' && d.recipient.externalId === someone.externalId,
    );
    assert.equal(inApp.attemptLog.length, 1);
    assert.equal(inApp.attemptLog[0].provider, 'in-app');
    assert.equal(inApp.attemptLog[0].outcome, 'delivered');
    const byId = await admin(
      'GET',
      `/v1/messages/${ids.exam}/deliveries?q=${someone.externalId.slice(-4)}`,
    );
    assert.ok(
      byId.body.items.every((d: { recipient: { externalId: string } }) =>
        d.recipient.externalId.includes(someone.externalId.slice(-4)),
      ),
    );
    assert.equal(byId.body.items[0].attemptLog, undefined, 'attempts only when asked');
  });
});
