import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from '../store/database.js';
import { freshDatabase, type FreshDatabase } from '../../test/support/fresh-db.js';
import {
  createGroup,
  deleteGroup,
  getGroup,
  listGroupMembers,
  listGroups,
  memberCount,
  replaceGroup,
} from './groups-store.js';
import { deleteUser, upsertUsers } from './users-store.js';

let fresh: FreshDatabase;
let db: Db;

before(async () => {
  fresh = await freshDatabase('groups');
  ({ db } = fresh);
  await upsertUsers(
    db,
    [
      {
        externalId: 's1',
        name: '学生一',
        roles: ['undergraduate'],
        orgPath: '农学院/作物学系/2024级1班',
      },
      {
        externalId: 's2',
        name: '学生二',
        roles: ['undergraduate'],
        orgPath: '农学院/作物学系/2024级1班',
      },
      {
        externalId: 's3',
        name: '学生三',
        roles: ['undergraduate'],
        orgPath: '植物保护学院/植物病理学系/2024级1班',
      },
      { externalId: 't1', name: '老师一', roles: ['teacher'], orgPath: '农学院/作物学系' },
      { externalId: 't2', name: '老师二', roles: ['teacher'], orgPath: '植物保护学院' },
    ],
    1,
  );
});

after(() => fresh.close());

test('creates static and dynamic groups with member counts', async () => {
  const a = await createGroup(
    db,
    { key: 'class-a', name: '2024级1班', members: ['s1', 's2', 's2'] },
    10,
  );
  assert.ok(a.ok);
  assert.deepEqual(a.group, {
    key: 'class-a',
    name: '2024级1班',
    kind: 'static',
    filter: null,
    memberCount: 2,
    createdAt: 10,
    updatedAt: 10,
  });
  const b = await createGroup(
    db,
    { key: 'agronomy', name: '农学院', filter: { orgPrefix: '农学院/', roles: [] } },
    11,
  );
  assert.ok(b.ok);
  assert.equal(b.group.kind, 'dynamic');
  assert.deepEqual(b.group.filter, { orgPrefix: '农学院' }, 'stored canonical');
  assert.equal(b.group.memberCount, 3);
  const empty = await createGroup(db, { key: 'empty', name: 'Nobody yet' }, 12);
  assert.ok(empty.ok);
  assert.equal(empty.group.memberCount, 0);
});

test('refuses a taken key and unknown members, writing nothing', async () => {
  assert.deepEqual(await createGroup(db, { key: 'class-a', name: 'again', members: [] }, 20), {
    ok: false,
    reason: 'conflict',
  });
  assert.deepEqual(
    await createGroup(db, { key: 'class-x', name: 'x', members: ['s1', 'ghost', 'ghost2'] }, 20),
    {
      ok: false,
      reason: 'unknown-members',
      unknown: ['ghost', 'ghost2'],
    },
  );
  assert.equal(await getGroup(db, 'class-x'), null);
  await assert.rejects(
    createGroup(db, { key: 'both', name: 'b', members: [], filter: { roles: ['teacher'] } }, 20),
  );
});

test('lists groups by key with counts; gets one', async () => {
  const groups = await listGroups(db);
  assert.deepEqual(
    groups.map((g) => [g.key, g.kind, g.memberCount]),
    [
      ['agronomy', 'dynamic', 3],
      ['class-a', 'static', 2],
      ['empty', 'static', 0],
    ],
  );
  assert.equal((await getGroup(db, 'agronomy'))?.memberCount, 3);
  assert.equal(await getGroup(db, 'nope'), null);
  assert.equal(await memberCount(db, 'class-a'), 2);
  assert.equal(await memberCount(db, 'nope'), 0);
});

test('replace switches between static and dynamic and replaces members', async () => {
  const r1 = await replaceGroup(
    db,
    'class-a',
    { name: 'Teachers', filter: { roles: ['teacher'] } },
    30,
  );
  assert.ok(r1.ok);
  assert.equal(r1.group.kind, 'dynamic');
  assert.equal(r1.group.memberCount, 2);
  assert.equal(r1.group.createdAt, 10);
  assert.equal(r1.group.updatedAt, 30);
  const refused = await replaceGroup(db, 'class-a', { name: 'x', members: ['s1', 'ghost'] }, 31);
  assert.deepEqual(refused, { ok: false, reason: 'unknown-members', unknown: ['ghost'] });
  assert.equal((await getGroup(db, 'class-a'))?.kind, 'dynamic', 'unchanged after a refusal');
  const r2 = await replaceGroup(db, 'class-a', { name: 'Back to static', members: ['s3'] }, 32);
  assert.ok(r2.ok);
  assert.equal(r2.group.kind, 'static');
  assert.equal(r2.group.memberCount, 1);
  assert.deepEqual(await replaceGroup(db, 'nope', { name: 'x' }, 33), {
    ok: false,
    reason: 'missing',
  });
});

test('members paginate in user-id order; a deleted user leaves the group', async () => {
  await replaceGroup(db, 'class-a', { name: 'All students', members: ['s1', 's2', 's3'] }, 40);
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 5; i++) {
    const page = await listGroupMembers(db, 'class-a', { limit: 2, after: cursor });
    assert.ok(page);
    seen.push(...page.items.map((u) => u.externalId));
    if (page.nextCursor === null) break;
    cursor = page.nextCursor;
  }
  assert.deepEqual(seen.sort(), ['s1', 's2', 's3']);
  const dynamic = await listGroupMembers(db, 'agronomy', { limit: 10 });
  assert.deepEqual(dynamic?.items.map((u) => u.externalId).sort(), ['s1', 's2', 't1']);
  assert.equal(dynamic?.nextCursor, null);
  assert.equal(await listGroupMembers(db, 'nope', { limit: 10 }), null);

  assert.ok(await deleteUser(db, 's2'));
  assert.equal(await memberCount(db, 'class-a'), 2);
});

test('deletes a group', async () => {
  assert.equal(await deleteGroup(db, 'empty'), true);
  assert.equal(await deleteGroup(db, 'empty'), false);
  assert.equal(await getGroup(db, 'empty'), null);
});

test('a dynamic group over several org units: stored canonical, members are their union', async () => {
  const g = await createGroup(
    db,
    {
      key: 'two-units',
      name: '作物学系 2024级1班 and 植物保护学院',
      filter: {
        orgPrefixes: [
          '农学院/作物学系/2024级1班/',
          '植物保护学院',
          ' 植物保护学院 ',
          '农学院/作物学系',
        ],
      },
    },
    50,
  );
  assert.ok(g.ok);
  assert.deepEqual(
    g.group.filter,
    { orgPrefixes: ['农学院/作物学系/2024级1班', '植物保护学院', '农学院/作物学系'] },
    'normalised, repeats dropped, order kept',
  );
  // s2 was deleted above; t1 is in 作物学系, which contains the class: each user once.
  assert.equal(g.group.memberCount, 4);
  const members = await listGroupMembers(db, 'two-units', { limit: 10 });
  assert.deepEqual(members?.items.map((u) => u.externalId).sort(), ['s1', 's3', 't1', 't2']);
});
