import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from '../http/server-types.js';
import { ADMIN_AUTH as auth, routeHarness } from '../../test/support/route-harness.js';
import { groupsRoutes } from './groups-routes.js';
import { upsertUsers } from './users-store.js';

let app: Server;
let close: () => Promise<void>;

before(async () => {
  const harness = await routeHarness({ name: 'groups-routes', register: groupsRoutes });
  ({ app, close } = harness);
  await upsertUsers(
    harness.db,
    [
      {
        externalId: '2024010101',
        name: '张三',
        roles: ['undergraduate'],
        orgPath: '农学院/作物学系/2024级1班',
      },
      {
        externalId: '2024010102',
        name: 'Amara',
        roles: ['undergraduate'],
        orgPath: '农学院/作物学系/2024级1班',
      },
      {
        externalId: '2024020101',
        name: '李四',
        roles: ['undergraduate'],
        orgPath: '植物保护学院/植物病理学系/2024级1班',
      },
      { externalId: 'T1001', name: '王老师', roles: ['teacher'], orgPath: '农学院/作物学系' },
    ],
    1,
  );
});

after(() => close());

const post = (payload: unknown) =>
  app.inject({ method: 'POST', url: '/v1/groups', headers: auth, payload: payload as object });

test('POST creates static and dynamic groups (201)', async () => {
  const a = await post({
    key: 'class-2024-agronomy-1',
    name: '农学院作物学系2024级1班',
    members: ['2024010101', '2024010102'],
  });
  assert.equal(a.statusCode, 201, a.body);
  assert.equal(a.json().kind, 'static');
  assert.equal(a.json().memberCount, 2);
  assert.equal(a.json().filter, null);
  const b = await post({
    key: 'college-agronomy',
    name: '农学院全体师生',
    filter: { orgPrefix: '农学院' },
  });
  assert.equal(b.statusCode, 201);
  assert.deepEqual(b.json().filter, { orgPrefix: '农学院' });
  assert.equal(b.json().memberCount, 3);
});

test('POST refuses duplicates (409), unknown members (422) and bad shapes (400)', async () => {
  const dup = await post({
    key: 'college-agronomy',
    name: 'again',
    filter: { roles: ['teacher'] },
  });
  assert.equal(dup.statusCode, 409);
  assert.equal(dup.json().code, 'conflict');
  const unknown = await post({ key: 'ghosts', name: 'x', members: ['2024010101', 'nobody'] });
  assert.equal(unknown.statusCode, 422);
  assert.equal(unknown.json().code, 'unknown-recipients');
  assert.deepEqual(unknown.json().unknown, ['nobody']);
  for (const payload of [
    { key: 'both', name: 'x', members: [], filter: { roles: ['teacher'] } },
    { key: 'empty-filter', name: 'x', filter: {} },
    { key: 'bad key!', name: 'x' },
    { key: 'extra', name: 'x', filter: { role: 'teacher' } },
  ]) {
    const res = await post(payload);
    assert.equal(res.statusCode, 400, JSON.stringify(payload));
    assert.equal(res.json().code, 'validation-failed');
  }
  const none = await app.inject({ method: 'GET', url: '/v1/groups/ghosts', headers: auth });
  assert.equal(none.statusCode, 404);
});

test('GET lists groups with member counts and gets one', async () => {
  const list = await app.inject({ method: 'GET', url: '/v1/groups', headers: auth });
  assert.equal(list.statusCode, 200);
  assert.deepEqual(
    list.json().items.map((g: { key: string; memberCount: number }) => [g.key, g.memberCount]),
    [
      ['class-2024-agronomy-1', 2],
      ['college-agronomy', 3],
    ],
  );
  const one = await app.inject({
    method: 'GET',
    url: '/v1/groups/college-agronomy',
    headers: auth,
  });
  assert.equal(one.json().kind, 'dynamic');
  const noAuth = await app.inject({ method: 'GET', url: '/v1/groups' });
  assert.equal(noAuth.statusCode, 401);
});

test('GET members paginates', async () => {
  const first = await app.inject({
    method: 'GET',
    url: '/v1/groups/college-agronomy/members?limit=2',
    headers: auth,
  });
  assert.equal(first.statusCode, 200);
  const page1 = first.json();
  assert.equal(page1.items.length, 2);
  assert.ok(page1.nextCursor);
  const second = await app.inject({
    method: 'GET',
    url: `/v1/groups/college-agronomy/members?limit=2&cursor=${encodeURIComponent(page1.nextCursor)}`,
    headers: auth,
  });
  const page2 = second.json();
  assert.equal(page2.items.length, 1);
  assert.equal(page2.nextCursor, null);
  assert.deepEqual(
    [...page1.items, ...page2.items].map((u: { externalId: string }) => u.externalId).sort(),
    ['2024010101', '2024010102', 'T1001'],
  );
  const missing = await app.inject({
    method: 'GET',
    url: '/v1/groups/nope/members',
    headers: auth,
  });
  assert.equal(missing.statusCode, 404);
});

test('PUT replaces a group; 404 for a missing one; 422 for unknown members', async () => {
  const res = await app.inject({
    method: 'PUT',
    url: '/v1/groups/class-2024-agronomy-1',
    headers: auth,
    payload: { name: 'Renamed', members: ['2024020101'] },
  });
  assert.equal(res.statusCode, 200);
  assert.equal(res.json().name, 'Renamed');
  assert.equal(res.json().memberCount, 1);
  const missing = await app.inject({
    method: 'PUT',
    url: '/v1/groups/nope',
    headers: auth,
    payload: { name: 'x' },
  });
  assert.equal(missing.statusCode, 404);
  const unknown = await app.inject({
    method: 'PUT',
    url: '/v1/groups/class-2024-agronomy-1',
    headers: auth,
    payload: { name: 'x', members: ['ghost'] },
  });
  assert.equal(unknown.statusCode, 422);
  assert.deepEqual(unknown.json().unknown, ['ghost']);
});

test('DELETE removes a group (204), then 404', async () => {
  const res = await app.inject({
    method: 'DELETE',
    url: '/v1/groups/class-2024-agronomy-1',
    headers: auth,
  });
  assert.equal(res.statusCode, 204);
  const again = await app.inject({
    method: 'DELETE',
    url: '/v1/groups/class-2024-agronomy-1',
    headers: auth,
  });
  assert.equal(again.statusCode, 404);
});

test('a dynamic group over several org units: their union; blank or no units are refused', async () => {
  const res = await post({
    key: 'two-classes',
    name: '作物学系与植物病理学系的 2024级1班',
    filter: {
      roles: ['undergraduate'],
      orgPrefixes: ['农学院/作物学系/2024级1班', '植物保护学院/植物病理学系/2024级1班/'],
    },
  });
  assert.equal(res.statusCode, 201, res.body);
  assert.deepEqual(res.json().filter, {
    roles: ['undergraduate'],
    orgPrefixes: ['农学院/作物学系/2024级1班', '植物保护学院/植物病理学系/2024级1班'],
  });
  assert.equal(res.json().memberCount, 3);
  for (const filter of [
    { orgPrefixes: [] },
    { orgPrefixes: ['农学院', ' / '] },
    { orgPrefixes: Array.from({ length: 101 }, (_, i) => `unit-${i}`) },
  ]) {
    const refused = await post({ key: 'refused', name: 'x', filter });
    assert.equal(refused.statusCode, 400, JSON.stringify(filter));
    assert.equal(refused.json().code, 'validation-failed');
  }
  const none = await app.inject({ method: 'GET', url: '/v1/groups/refused', headers: auth });
  assert.equal(none.statusCode, 404, 'nothing written');
});
