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

describe('the message center API: login, inbox and preferences', () => {
  let t: TestHerald;
  let jwc: ReturnType<typeof client>;
  let hq: ReturnType<typeof client>;
  let alice: ReturnType<typeof client>;
  let bob: ReturnType<typeof client>;

  const login = async (externalId: string, password = t.password) =>
    client(t.url)('POST', '/v1/auth/login', { externalId, password });

  async function inAppTo(users: string[], data = DEMO_EXAMPLES['exam.reminder']) {
    const res = await jwc('POST', '/v1/messages', {
      category: 'exam.reminder',
      to: { users },
      data,
      channels: ['in_app'],
    });
    assert.equal(res.status, 202);
    return res.body.id as string;
  }

  before(async () => {
    t = await startTestHerald();
    jwc = client(t.url, t.keys.jwc);
    hq = client(t.url, t.keys.hq);
    alice = client(t.url, (await login('2024010101')).body.token);
    bob = client(t.url, (await login('2024010102')).body.token);
  });
  after(() => t.close());

  describe('login', () => {
    it('gives a session for the right password, with the user', async () => {
      const res = await login('2024010101');
      assert.equal(res.status, 200);
      assert.match(res.body.token, /^hs_/);
      assert.equal(res.body.user.externalId, '2024010101');
      assert.match(res.headers.get('set-cookie')!, /herald_session=hs_[^;]+;.*HttpOnly/i);
    });

    it('answers the same 401 for a wrong password and an unknown account', async () => {
      const wrong = await login('2024010101', 'not-the-password');
      const unknown = await login('nobody-at-all', 'whatever-123');
      assert.equal(wrong.status, 401);
      assert.equal(unknown.status, 401);
      assert.equal(wrong.body.detail, unknown.body.detail);
    });

    it('refuses further tries after 10 failures for one account, with Retry-After', async () => {
      for (let i = 0; i < 10; i++) await login('2024010105', 'wrong-password-x');
      const res = await login('2024010105');
      assert.equal(res.status, 429);
      assert.ok(Number(res.headers.get('retry-after')) > 0);
    });

    it('a session token opens no admin or producer route', async () => {
      assert.equal((await alice('GET', '/v1/users')).status, 403);
      assert.equal(
        (
          await alice('POST', '/v1/messages', {
            category: 'exam.reminder',
            to: { users: ['2024010101'] },
          })
        ).status,
        403,
      );
    });

    it('logout ends the session', async () => {
      const s = client(t.url, (await login('2024010101')).body.token);
      assert.equal((await s('GET', '/v1/me/inbox/unread-count')).status, 200);
      assert.equal((await s('POST', '/v1/auth/logout')).status, 204);
      assert.equal((await s('GET', '/v1/me/inbox/unread-count')).status, 401);
    });
  });

  describe('inbox', () => {
    it('lists my items newest first, with unread counts, read and read-all', async () => {
      const before = (await alice('GET', '/v1/me/inbox/unread-count')).body.unread;
      const first = await inAppTo(['2024010101']);
      const second = await inAppTo(['2024010101']);
      await eventually(async () =>
        (await alice('GET', '/v1/me/inbox/unread-count')).body.unread === before + 2
          ? true
          : undefined,
      );
      const inbox = await alice('GET', '/v1/me/inbox?limit=2');
      assert.deepEqual(
        inbox.body.items.map((i: { messageId: string }) => i.messageId),
        [second, first],
      );
      assert.ok(inbox.body.items[0].seq > inbox.body.items[1].seq);
      assert.equal(inbox.body.items[0].readAt, null);
      assert.equal(inbox.body.items[0].source.name, '教务处');

      const read = await alice('POST', `/v1/me/inbox/${inbox.body.items[0].id}/read`);
      assert.equal(read.status, 200);
      assert.notEqual(read.body.readAt, null);
      assert.equal((await alice('GET', '/v1/me/inbox/unread-count')).body.unread, before + 1);
      const unreadOnly = await alice('GET', '/v1/me/inbox?unread=true&limit=100');
      assert.ok(unreadOnly.body.items.every((i: { readAt: string | null }) => i.readAt === null));

      const all = await alice('POST', '/v1/me/inbox/read-all');
      assert.equal(all.body.marked, before + 1);
      assert.equal((await alice('GET', '/v1/me/inbox/unread-count')).body.unread, 0);
    });

    it("keeps one user's messages in acceptance order", async () => {
      const sent: string[] = [];
      for (let i = 0; i < 20; i++) sent.push(await inAppTo(['2024010104']));
      const dave = client(t.url, (await login('2024010104')).body.token);
      const items = await eventually(async () => {
        const r = await dave('GET', '/v1/me/inbox?limit=100');
        return r.body.items.filter((i: { messageId: string }) => sent.includes(i.messageId))
          .length === 20
          ? r.body.items
          : undefined;
      });
      const order = items
        .filter((i: { messageId: string }) => sent.includes(i.messageId))
        .map((i: { messageId: string }) => i.messageId)
        .reverse();
      assert.deepEqual(order, sent, 'inbox (oldest first) = acceptance order');
    });

    it('pages with nextCursor without gaps or repeats', async () => {
      for (let i = 0; i < 5; i++) await inAppTo(['2024010103']);
      const carol = client(t.url, (await login('2024010103')).body.token);
      await eventually(async () =>
        (await carol('GET', '/v1/me/inbox/unread-count')).body.unread >= 5 ? true : undefined,
      );
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const page = await carol('GET', `/v1/me/inbox?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...page.body.items.map((i: { seq: number }) => i.seq));
        cursor = page.body.nextCursor;
      } while (cursor);
      assert.deepEqual(
        seen,
        [...seen].sort((a, b) => b - a),
      );
      assert.equal(new Set(seen).size, seen.length);
      assert.ok(seen.length >= 5);
    });

    it("a user never sees, reads or counts another user's items", async () => {
      const sent = await inAppTo(['2024010101']);
      const aliceItems = await eventually(async () => {
        const r = await alice('GET', '/v1/me/inbox?limit=1');
        return r.body.items[0]?.messageId === sent ? r.body.items : undefined;
      });
      const bobInbox = await bob('GET', '/v1/me/inbox?limit=100');
      assert.ok(bobInbox.body.items.every((i: { id: string }) => i.id !== aliceItems[0].id));
      const steal = await bob('POST', `/v1/me/inbox/${aliceItems[0].id}/read`);
      assert.equal(steal.status, 404);
      assert.ok(!JSON.stringify(steal.body).includes(aliceItems[0].title));
      const still = await alice('GET', '/v1/me/inbox?limit=1');
      assert.equal(still.body.items[0].readAt, null, "bob's attempt changed nothing");
    });
  });

  describe('preferences', () => {
    it('shows categories, channels and masked contact points', async () => {
      const res = await alice('GET', '/v1/me/preferences');
      assert.equal(res.status, 200);
      assert.equal(res.body.locale, 'zh-CN');
      assert.match(res.body.contacts.phone, /^\d{3}\*{4}\d{4}$/);
      assert.match(res.body.contacts.email, /\*\*\*@/);
      const emergency = res.body.categories.find(
        (c: { key: string }) => c.key === 'campus.emergency',
      );
      assert.equal(emergency.mandatory, true);
    });

    it('turning a category off suppresses it with reason opted-out', async () => {
      const put = await bob('PUT', '/v1/me/preferences', {
        categories: [{ key: 'canteen.menu', enabled: false }],
      });
      assert.equal(put.status, 200);
      const sent = await hq('POST', '/v1/messages', {
        category: 'canteen.menu',
        to: { users: ['2024010102'] },
        data: DEMO_EXAMPLES['canteen.menu'],
      });
      const deliveries = await eventually(async () => {
        const m = await hq('GET', `/v1/messages/${sent.body.id}`);
        return m.body.status === 'completed'
          ? (await hq('GET', `/v1/messages/${sent.body.id}/deliveries`)).body.items
          : undefined;
      });
      assert.ok(deliveries.length > 0);
      for (const d of deliveries) {
        assert.equal(d.status, 'suppressed');
        assert.equal(d.reason, 'opted-out');
      }
    });

    it('turning SMS off for a category creates no SMS delivery for its next message', async () => {
      const put = await alice('PUT', '/v1/me/preferences', {
        categories: [{ key: 'exam.reminder', channels: ['in_app', 'wechat'] }],
      });
      assert.equal(put.status, 200);
      const exam = put.body.categories.find((c: { key: string }) => c.key === 'exam.reminder');
      assert.deepEqual(exam.channels, ['in_app', 'wechat']);
      assert.equal(exam.customized, true);
      const sent = await jwc('POST', '/v1/messages', {
        category: 'exam.reminder',
        to: { users: ['2024010101'] },
        data: DEMO_EXAMPLES['exam.reminder'],
      });
      const m = await eventually(async () => {
        const r = await jwc('GET', `/v1/messages/${sent.body.id}`);
        return r.body.status === 'completed' ? r.body : undefined;
      });
      assert.equal(m.counts.sms, undefined, 'no SMS delivery at all');
      assert.equal(m.counts.in_app.delivered, 1);
    });

    it('refuses to turn a mandatory category off', async () => {
      const res = await alice('PUT', '/v1/me/preferences', {
        categories: [{ key: 'campus.emergency', enabled: false }],
      });
      assert.equal(res.status, 400);
      assert.equal(res.body.code, 'validation-failed');
      assert.match(res.body.detail, /mandatory/);
    });

    it('changes the language, and the next message arrives in it', async () => {
      const put = await bob('PUT', '/v1/me/preferences', { locale: 'en' });
      assert.equal(put.body.locale, 'en');
      await inAppTo(['2024010102']);
      const item = await eventually(async () => {
        const r = await bob('GET', '/v1/me/inbox?limit=1');
        return r.body.items[0]?.title.startsWith('Exam reminder') ? r.body.items[0] : undefined;
      });
      assert.match(item.body, /Dear /);
    });
  });

  it('the admin sees users but never their password hashes', async () => {
    const admin = client(t.url, ADMIN_TOKEN);
    const res = await admin('GET', '/v1/users/2024010101');
    assert.equal(res.status, 200);
    assert.equal(res.body.hasPassword, true);
    assert.ok(!JSON.stringify(res.body).includes('scrypt'));
  });
});
