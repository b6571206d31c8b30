import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from '../http/server-types.js';
import { ADMIN_AUTH as auth, routeHarness } from '../../test/support/route-harness.js';
import { usersRoutes } from './users-routes.js';

let app: Server;
let close: () => Promise<void>;

before(async () => {
  ({ app, close } = await routeHarness({ name: 'users-routes', register: usersRoutes }));
});

after(() => close());

describe('POST /v1/users/import', () => {
  test('needs the admin token', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/users/import', payload: [] });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().code, 'unauthenticated');
  });

  test('imports a JSON array with per-row results', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/users/import',
      headers: auth,
      payload: [
        {
          externalId: '2024010101',
          name: '张三',
          roles: ['undergraduate'],
          orgPath: '农学院/作物学系/2024级1班',
          attributes: { campus: '北校区' },
        },
        {
          externalId: '2024010102',
          name: 'Amara Okafor',
          roles: ['undergraduate'],
          orgPath: '农学院/作物学系/2024级1班',
          locale: 'en',
        },
        {
          externalId: 'T1001',
          name: '李老师',
          roles: ['teacher'],
          orgPath: '农学院/作物学系',
          email: 'nope',
        },
      ],
    });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.created, 2);
    assert.equal(body.failed, 1);
    assert.deepEqual(body.results[2], {
      row: 3,
      externalId: 'T1001',
      status: 'error',
      errors: [{ field: 'email', message: 'must be an email address' }],
    });
  });

  test('imports text/csv, BOM included', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/users/import',
      headers: { ...auth, 'content-type': 'text/csv; charset=utf-8' },
      payload:
        '\uFEFFexternalId,name,roles,orgPath,attr.campus\nT1001,李老师,teacher|counselor,农学院/作物学系,北校区\nT1002,王老师,teacher,植物保护学院,南校区\n2024010101,张三三,,,\n',
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(
      res.json().results.map((r: { status: string }) => r.status),
      ['created', 'created', 'updated'],
    );
  });

  test('rejects unreadable payloads and other content types', async () => {
    const notArray = await app.inject({
      method: 'POST',
      url: '/v1/users/import',
      headers: auth,
      payload: { users: [] },
    });
    assert.equal(notArray.statusCode, 400);
    assert.equal(notArray.json().code, 'validation-failed');
    const badCsv = await app.inject({
      method: 'POST',
      url: '/v1/users/import',
      headers: { ...auth, 'content-type': 'text/csv' },
      payload: 'externalId,name,shoeSize\n1,a,42\n',
    });
    assert.equal(badCsv.statusCode, 400);
    assert.deepEqual(badCsv.json().unknownColumns, ['shoeSize']);
    const xml = await app.inject({
      method: 'POST',
      url: '/v1/users/import',
      headers: { ...auth, 'content-type': 'application/xml' },
      payload: '<users/>',
    });
    assert.equal(xml.statusCode, 415);
  });

  test('accepts a body larger than the general limit', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => ({
      externalId: `bulk-${i}`,
      name: `批量用户${i}`,
      roles: ['undergraduate'],
      orgPath: '食品科学与工程学院/食品科学系/2024级1班',
    }));
    const payload = JSON.stringify(rows);
    assert.ok(payload.length > 262144);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/users/import',
      headers: { ...auth, 'content-type': 'application/json' },
      payload,
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().created, 3000);
  });
});

describe('GET /v1/users', () => {
  test('pages through users with a cursor', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (;;) {
      const query: Record<string, string> = { limit: '500', orgPrefix: '食品科学与工程学院' };
      if (cursor !== null) query.cursor = cursor;
      const res = await app.inject({ method: 'GET', url: '/v1/users', headers: auth, query });
      assert.equal(res.statusCode, 200);
      const body = res.json<{ items: { externalId: string }[]; nextCursor: string | null }>();
      assert.ok(body.items.length <= 500);
      seen.push(...body.items.map((u) => u.externalId));
      if (body.nextCursor === null) break;
      cursor = body.nextCursor;
    }
    assert.equal(seen.length, 3000);
    assert.equal(new Set(seen).size, 3000);
    assert.deepEqual(seen, [...seen].sort());
  });

  test('filters by q, orgPrefix and role; never shows a password hash', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/v1/users?role=teacher&orgPrefix=农学院',
      headers: auth,
    });
    const body = res.json();
    assert.deepEqual(
      body.items.map((u: { externalId: string }) => u.externalId),
      ['T1001'],
    );
    assert.deepEqual(body.items[0].roles, ['counselor', 'teacher']);
    assert.equal(body.items[0].hasPassword, false);
    assert.equal('passwordHash' in body.items[0] || 'password_hash' in body.items[0], false);
    const q = await app.inject({
      method: 'GET',
      url: `/v1/users?q=${encodeURIComponent('张三')}`,
      headers: auth,
    });
    assert.deepEqual(
      q.json().items.map((u: { name: string }) => u.name),
      ['张三三'],
    );
    const pct = await app.inject({
      method: 'GET',
      url: `/v1/users?q=${encodeURIComponent('%')}`,
      headers: auth,
    });
    assert.deepEqual(pct.json().items, [], '% is literal');
  });

  test('limit is at most 500', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/users?limit=501', headers: auth });
    assert.equal(res.statusCode, 400);
  });
});

describe('one user', () => {
  test('GET returns a user or 404', async () => {
    const ok = await app.inject({ method: 'GET', url: '/v1/users/2024010102', headers: auth });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().locale, 'en');
    const missing = await app.inject({ method: 'GET', url: '/v1/users/nobody', headers: auth });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'not-found');
  });

  test('PUT creates (201) then updates (200)', async () => {
    const created = await app.inject({
      method: 'PUT',
      url: '/v1/users/Y202401001',
      headers: auth,
      payload: {
        name: '研究生',
        roles: ['postgraduate'],
        phone: '13812345678',
        password: 'a long password',
      },
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json().externalId, 'Y202401001');
    assert.equal(created.json().hasPassword, true);
    assert.equal(created.json().locale, 'zh-CN');
    const updated = await app.inject({
      method: 'PUT',
      url: '/v1/users/Y202401001',
      headers: auth,
      payload: { externalId: 'Y202401001', name: '研究生甲', locale: 'en' },
    });
    assert.equal(updated.statusCode, 200);
    assert.equal(updated.json().name, '研究生甲');
    assert.deepEqual(updated.json().roles, ['postgraduate']);
    assert.equal(updated.json().phone, '13812345678');
  });

  test('PUT validates like an import row', async () => {
    const bad = await app.inject({
      method: 'PUT',
      url: '/v1/users/Y202401001',
      headers: auth,
      payload: { name: 'x', timezone: 'Nowhere/City', password: 'short' },
    });
    assert.equal(bad.statusCode, 400);
    const body = bad.json();
    assert.equal(body.code, 'validation-failed');
    assert.deepEqual(body.errors.map((e: { path: string }) => e.path).sort(), [
      'body/password',
      'body/timezone',
    ]);
    const mismatch = await app.inject({
      method: 'PUT',
      url: '/v1/users/Y202401001',
      headers: auth,
      payload: { externalId: 'other', name: 'x' },
    });
    assert.equal(mismatch.statusCode, 400);
    const extra = await app.inject({
      method: 'PUT',
      url: '/v1/users/Y202401001',
      headers: auth,
      payload: { name: 'x', shoeSize: 42 },
    });
    assert.equal(extra.statusCode, 400);
    const badId = await app.inject({
      method: 'PUT',
      url: '/v1/users/bad%20id',
      headers: auth,
      payload: { name: 'x' },
    });
    assert.equal(badId.statusCode, 400);
  });

  test('DELETE removes a user (204), then 404', async () => {
    const res = await app.inject({ method: 'DELETE', url: '/v1/users/Y202401001', headers: auth });
    assert.equal(res.statusCode, 204);
    assert.equal(res.body, '');
    const again = await app.inject({
      method: 'DELETE',
      url: '/v1/users/Y202401001',
      headers: auth,
    });
    assert.equal(again.statusCode, 404);
  });
});

test('OpenAPI describes the routes, CSV import included', async () => {
  const res = await app.inject({ method: 'GET', url: '/docs/json' });
  assert.equal(res.statusCode, 200);
  const spec = res.json();
  const importOp = spec.paths['/v1/users/import'].post;
  assert.deepEqual(importOp.tags, ['users']);
  assert.ok(importOp.requestBody.content['text/csv']);
  assert.ok(importOp.requestBody.content['application/json']);
  assert.ok(spec.paths['/v1/users/{externalId}'].put);
});
