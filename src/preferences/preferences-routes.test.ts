import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from '../http/server-types.js';
import { routeHarness } from '../../test/support/route-harness.js';
import { authRoutes } from '../auth/auth-routes.js';
import { hashPassword } from '../auth/secrets.js';
import { upsertUsers } from '../recipients/users-store.js';
import { preferencesRoutes } from './preferences-routes.js';

let app: Server;
let close: () => Promise<void>;

before(async () => {
  const harness = await routeHarness({
    name: 'preferences-routes',
    register: (server, deps) => {
      authRoutes(server, { ...deps, sessionTtlMs: 3600_000, secureCookies: false });
      preferencesRoutes(server, deps);
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
    ],
    Date.now(),
  );
});

after(() => close());

async function preferencesOf(externalId: string) {
  const login = await app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { externalId, password: 'pw' },
  });
  assert.equal(login.statusCode, 200);
  const res = await app.inject({
    url: '/v1/me/preferences',
    headers: { authorization: `Bearer ${login.json().token}` },
  });
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
