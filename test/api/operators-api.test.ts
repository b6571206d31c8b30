import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  startTestHerald,
  type TestHerald,
} from '../support/test-herald.js';
import { DEMO_EXAMPLES, DEMO_OPERATOR } from '../../src/demo/demo-seed.js';
import { OPERATOR_ROLE } from '../../src/auth/operators.js';

describe('operators: people with the herald-admin role use the admin routes with their session', () => {
  let t: TestHerald;
  let admin: ReturnType<typeof client>;
  let operatorToken: string;
  let operator: ReturnType<typeof client>;
  let student: ReturnType<typeof client>;

  async function login(externalId: string) {
    return client(t.url)('POST', '/v1/auth/login', { externalId, password: t.password });
  }

  const exam = {
    category: 'exam.reminder',
    to: { users: ['2024010101'] },
    data: DEMO_EXAMPLES['exam.reminder'],
  };

  before(async () => {
    t = await startTestHerald();
    admin = client(t.url, ADMIN_TOKEN);
    const op = await login(DEMO_OPERATOR);
    operatorToken = op.body.token;
    operator = client(t.url, operatorToken);
    student = client(t.url, (await login('2024010101')).body.token);
  });
  after(() => t.close());

  it('the demo operator holds the role; the login answer says who is an operator', async () => {
    assert.equal(OPERATOR_ROLE, 'herald-admin');
    const op = await login(DEMO_OPERATOR);
    assert.equal(op.status, 200);
    assert.equal(op.body.user.externalId, 'T2001');
    assert.equal(op.body.user.operator, true);
    const user = await admin('GET', `/v1/users/${DEMO_OPERATOR}`);
    assert.deepEqual(user.body.roles, ['herald-admin', 'staff']);
    const st = await login('2024010101');
    assert.equal(st.body.user.operator, false);
  });

  it("an operator's session opens admin routes; a student's gets 403", async () => {
    const sources = await operator('GET', '/v1/sources');
    assert.equal(sources.status, 200);
    assert.ok(sources.body.items.some((s: { key: string }) => s.key === 'jwc'));
    const denied = await student('GET', '/v1/sources');
    assert.equal(denied.status, 403);
    assert.equal(denied.body.code, 'forbidden');
    assert.match(denied.body.detail, /admin token or an operator's session/);
  });

  it('the admin token keeps working', async () => {
    assert.equal((await admin('GET', '/v1/sources')).status, 200);
  });

  it('on user routes an operator is the user they are', async () => {
    const inbox = await operator('GET', '/v1/me/inbox');
    assert.equal(inbox.status, 200);
    assert.equal(typeof inbox.body.unread, 'number');
  });

  it('sends on behalf of a source; the message records the operator', async () => {
    const res = await operator('POST', '/v1/messages', { ...exam, source: 'jwc' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const m = await operator('GET', `/v1/messages/${res.body.id}`);
    assert.equal(m.body.source, 'jwc');
    assert.deepEqual(m.body.sentBy, { kind: 'operator', externalId: 'T2001' });
    // The source sees its message, and who sent it for it.
    const seenByJwc = await client(t.url, t.keys.jwc)('GET', `/v1/messages/${res.body.id}`);
    assert.equal(seenByJwc.status, 200);
    assert.deepEqual(seenByJwc.body.sentBy, { kind: 'operator', externalId: 'T2001' });
    const done = await eventually(async () => {
      const r = await operator('GET', `/v1/messages/${res.body.id}`);
      return r.body.status === 'completed' ? r.body : undefined;
    });
    assert.equal(done.counts.in_app.delivered, 1);
  });

  it('records the admin token, and nobody for a source sending itself', async () => {
    const byAdmin = await admin('POST', '/v1/messages', { ...exam, source: 'jwc' });
    assert.equal(byAdmin.status, 202);
    const a = await admin('GET', `/v1/messages/${byAdmin.body.id}`);
    assert.deepEqual(a.body.sentBy, { kind: 'admin-token' });
    const own = await client(t.url, t.keys.jwc)('POST', '/v1/messages', exam);
    const o = await admin('GET', `/v1/messages/${own.body.id}`);
    assert.equal(o.body.sentBy, null);
  });

  it('a template version stored by an operator says who', async () => {
    const path = '/v1/templates/exam.reminder/sms/en';
    const res = await operator('PUT', path, { body: 'Exam {{ data.course }} at {{ data.time }}' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.createdBy, { kind: 'operator', externalId: 'T2001' });
    const versions = await admin('GET', `${path}/versions`);
    assert.deepEqual(
      versions.body.items.map((v: { version: number; createdBy: unknown }) => [
        v.version,
        v.createdBy,
      ]),
      [
        [2, { kind: 'operator', externalId: 'T2001' }],
        [1, null],
      ],
    );
  });

  it("sends within the source's categories, and schedules with sendAt", async () => {
    const refused = await operator('POST', '/v1/messages', {
      category: 'canteen.menu',
      to: { users: ['2024010101'] },
      data: DEMO_EXAMPLES['canteen.menu'],
      source: 'jwc',
    });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'category-not-allowed');
    const sendAt = new Date(Date.now() + 3600_000).toISOString();
    const later = await operator('POST', '/v1/messages', { ...exam, source: 'jwc', sendAt });
    assert.equal(later.status, 202);
    assert.equal(later.body.status, 'scheduled');
  });

  it('an idempotency key of the console is a key of the source it sends as', async () => {
    const key = { 'idempotency-key': 'console-exam-1' };
    const first = await operator('POST', '/v1/messages', { ...exam, source: 'jwc' }, key);
    const again = await operator('POST', '/v1/messages', { ...exam, source: 'jwc' }, key);
    assert.equal(again.headers.get('idempotency-replay'), 'true');
    assert.equal(again.body.id, first.body.id);
    // The source's own retry of the same body with the key is the same message.
    const bySource = await client(t.url, t.keys.jwc)('POST', '/v1/messages', exam, key);
    assert.equal(bySource.body.id, first.body.id);
  });

  describe('with the session cookie (the browser console)', () => {
    const cookieCall = (method: string, path: string, origin?: string, body?: unknown) =>
      fetch(`${t.url}${path}`, {
        method,
        headers: {
          cookie: `herald_session=${operatorToken}`,
          ...(origin ? { origin } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });

    it("a change from Herald's own origin is accepted", async () => {
      const res = await cookieCall('POST', '/v1/messages', t.url, { ...exam, source: 'jwc' });
      assert.equal(res.status, 202);
    });

    it('a change from another origin is refused, reading is not', async () => {
      const res = await cookieCall('POST', '/v1/messages', 'https://evil.example.edu.cn', {
        ...exam,
        source: 'jwc',
      });
      assert.equal(res.status, 403);
      assert.equal(((await res.json()) as { code: string }).code, 'forbidden');
      const read = await cookieCall('GET', '/v1/sources', 'https://evil.example.edu.cn');
      assert.equal(read.status, 200);
    });
  });

  it('withdrawing the role closes the admin routes to the session at once', async () => {
    const user = (await admin('GET', `/v1/users/${DEMO_OPERATOR}`)).body;
    const put = await admin('PUT', `/v1/users/${DEMO_OPERATOR}`, {
      name: user.name,
      roles: ['staff'],
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const res = await operator('GET', '/v1/sources');
    assert.equal(res.status, 403);
    assert.equal((await operator('GET', '/v1/me/inbox')).status, 200, 'still a user');
  });
});
