import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from '../http/server-types.js';
import { routeHarness } from '../../test/support/route-harness.js';
import { authRoutes } from '../auth/auth-routes.js';
import { hashPassword } from '../auth/secrets.js';
import { upsertUsers } from '../recipients/users-store.js';
import { meRoutes } from '../me/me-routes.js';
import { preferencesRoutes } from './preferences-routes.js';

let app: Server;
let close: () => Promise<void>;

before(async () => {
  const harness = await routeHarness({
    name: 'preferences-routes',
    register: (server, deps) => {
      authRoutes(server, { ...deps, sessionTtlMs: 3600_000, secureCookies: false });
      preferencesRoutes(server, deps);
      meRoutes(server, deps);
    },
  });
  ({ app, close } = harness);
  const passwordHash = await hashPassword('pw');
  await upsertUsers(
    harness.db,
    [
      {
        externalId: 'with-contacts',
        name: '龙辉',
        email: 'longhui@stu.example.edu.cn',
        phone: '+86 138 1234 5678',
        wechatOpenId: 'oIZk73Ra_afPgMq0LZaApnwYH_y_',
        passwordHash,
      },
      { externalId: 'without-contacts', name: '姜子诺', passwordHash },
      { externalId: 'abroad', name: 'Leila Sharma', locale: 'en', passwordHash },
    ],
    Date.now(),
  );
});

after(() => close());

async function signIn(externalId: string) {
  const login = await app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { externalId, password: 'pw' },
  });
  assert.equal(login.statusCode, 200);
  return { authorization: `Bearer ${login.json().token}` };
}

async function preferencesOf(externalId: string) {
  const res = await app.inject({ url: '/v1/me/preferences', headers: await signIn(externalId) });
  assert.equal(res.statusCode, 200);
  return res;
}

describe('GET /v1/me/preferences: contact points', () => {
  test('are masked by the server: the browser never receives the full number or address', async () => {
    const res = await preferencesOf('with-contacts');
    assert.deepEqual(res.json().contacts, {
      email: 'lo***@stu.example.edu.cn',
      phone: '138****5678',
      wechat: true,
      wecom: false,
      dingtalk: false,
      feishu: false,
    });
    assert.doesNotMatch(res.body, /12345678|longhui@|oIZk73Ra/);
  });

  test('are null or false when none is on file', async () => {
    const res = await preferencesOf('without-contacts');
    assert.deepEqual(res.json().contacts, {
      email: null,
      phone: null,
      wechat: false,
      wecom: false,
      dingtalk: false,
      feishu: false,
    });
  });
});

describe('PUT /v1/me/preferences: time zone', () => {
  const put = async (headers: Record<string, string>, payload: Record<string, unknown>) =>
    app.inject({ method: 'PUT', url: '/v1/me/preferences', headers, payload });
  const me = async (headers: Record<string, string>) =>
    (await app.inject({ url: '/v1/me', headers })).json();

  test('a user starts in the campus zone, Asia/Shanghai', async () => {
    assert.equal((await preferencesOf('abroad')).json().timezone, 'Asia/Shanghai');
  });

  test('the user moves their own zone: the answer, GET /v1/me and the next GET show it', async () => {
    const headers = await signIn('abroad');
    const res = await put(headers, { timezone: 'Europe/Berlin' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().timezone, 'Europe/Berlin');
    assert.equal((await me(headers)).timezone, 'Europe/Berlin');
    assert.equal((await preferencesOf('abroad')).json().timezone, 'Europe/Berlin');
  });

  test('the zone is stored as Intl spells it', async () => {
    const headers = await signIn('abroad');
    const res = await put(headers, { timezone: 'america/new_york', locale: 'zh-CN' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().timezone, 'America/New_York');
    assert.equal(res.json().locale, 'zh-CN');
  });

  for (const zone of ['Mars/Olympus_Mons', 'Beijing', '+08:00', '']) {
    test(`"${zone}" is refused with a problem, and nothing in the request is applied`, async () => {
      const headers = await signIn('abroad');
      const before = await me(headers);
      const res = await put(headers, { timezone: zone, locale: 'en' });
      assert.equal(res.statusCode, 400);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      const problem = res.json();
      assert.equal(problem.code, 'validation-failed');
      assert.equal(problem.errors[0].path, 'body/timezone');
      assert.match(problem.detail, /body\/timezone/);
      const after = await me(headers);
      assert.equal(after.timezone, before.timezone);
      assert.equal(after.locale, before.locale);
    });
  }
});
