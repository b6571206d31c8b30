import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from '../http/server-types.js';
import { routeHarness } from '../../test/support/route-harness.js';
import { authRoutes } from '../auth/auth-routes.js';
import { hashPassword } from '../auth/secrets.js';
import { upsertUsers } from '../recipients/users-store.js';
import { meRoutes } from './me-routes.js';

let app: Server;
let close: () => Promise<void>;

before(async () => {
  const harness = await routeHarness({
    name: 'me-routes',
    register: (server, deps) => {
      authRoutes(server, { ...deps, sessionTtlMs: 3600_000, secureCookies: false });
      meRoutes(server, deps);
    },
  });
  ({ app, close } = harness);
  await upsertUsers(
    harness.db,
    [
      {
        externalId: '2024010102',
        name: 'Leila Sharma',
        roles: ['undergraduate'],
        orgPath: '农学院/作物学系/2024级1班',
        locale: 'en',
        phone: '13800022033',
        passwordHash: await hashPassword('pw-leila'),
      },
    ],
    Date.now(),
  );
});

after(() => close());

async function sessionCookie(): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { externalId: '2024010102', password: 'pw-leila' },
  });
  assert.equal(res.statusCode, 200);
  const cookie = res.cookies.find((c) => c.name === 'herald_session');
  assert.ok(cookie, 'login sets the session cookie');
  return `herald_session=${cookie.value}`;
}

describe('GET /v1/me', () => {
  test('tells the browser whose session its cookie carries', async () => {
    const res = await app.inject({ url: '/v1/me', headers: { cookie: await sessionCookie() } });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), {
      externalId: '2024010102',
      name: 'Leila Sharma',
      locale: 'en',
      timezone: 'Asia/Shanghai',
      roles: ['undergraduate'],
      orgPath: '农学院/作物学系/2024级1班',
    });
  });

  test('shows no contact point, not even masked', async () => {
    const res = await app.inject({ url: '/v1/me', headers: { cookie: await sessionCookie() } });
    assert.doesNotMatch(res.body, /13800022033|138\*/);
  });

  test('without a session, or after logout, is 401 problem+json', async () => {
    const anonymous = await app.inject({ url: '/v1/me' });
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.json().code, 'unauthenticated');

    const cookie = await sessionCookie();
    const out = await app.inject({ method: 'POST', url: '/v1/auth/logout', headers: { cookie } });
    assert.equal(out.statusCode, 204);
    const after = await app.inject({ url: '/v1/me', headers: { cookie } });
    assert.equal(after.statusCode, 401);
  });

  test('a source API key or the admin token is the wrong kind of credential', async () => {
    const res = await app.inject({
      url: '/v1/me',
      headers: { authorization: 'Bearer admin-token-for-tests' },
    });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().code, 'forbidden');
  });
});
