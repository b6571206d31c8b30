import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from '../store/database.js';
import { freshDatabase, type FreshDatabase } from '../../test/support/fresh-db.js';
import type { Audience } from './audience-types.js';
import { audienceReach, checkAudience, countAudience, streamAudience } from './audience.js';
import { upsertUsers, type UserInput } from './users-store.js';
import { createGroup } from './groups-store.js';

let fresh: FreshDatabase;
let db: Db;

const USERS: UserInput[] = [
  {
    externalId: 'u1',
    name: '一',
    roles: ['undergraduate'],
    orgPath: '农学院/作物学系/2024级1班',
    attributes: { campus: '北校区', grade: '2024' },
  },
  {
    externalId: 'u2',
    name: '二',
    roles: ['undergraduate'],
    orgPath: '农学院二部/作物学系',
    attributes: { campus: '北校区', grade: '2023' },
  },
  {
    externalId: 'u3',
    name: '三',
    roles: ['teacher'],
    orgPath: '农学院',
    attributes: { campus: '北校区' },
  },
  {
    externalId: 'u4',
    name: '四',
    roles: ['teacher', 'counselor'],
    orgPath: '植物保护学院/植物病理学系',
    attributes: { campus: '南校区' },
  },
  {
    externalId: 'u5',
    name: '五',
    roles: ['staff'],
    orgPath: '教务处',
    attributes: { campus: '北校区', grade: '2024x' },
  },
  {
    externalId: 'u6',
    name: '六',
    roles: ['postgraduate'],
    orgPath: '农学院/作物学系',
    attributes: { campus: '南校区', grade: '2024' },
  },
  { externalId: 'u7', name: '七', roles: ['staff'], orgPath: 'a_b/c' },
  { externalId: 'u8', name: '八', roles: ['staff'], orgPath: 'axb/c' },
  { externalId: 'u9', name: '九', roles: ['staff'], orgPath: 'ABC/d' },
];

before(async () => {
  fresh = await freshDatabase('audience');
  ({ db } = fresh);
  // Twenty more users without anything, so pagination crosses many batches.
  const filler = Array.from({ length: 20 }, (_, i): UserInput => ({
    externalId: `f${i}`,
    name: `填充${i}`,
  }));
  await upsertUsers(db, [...USERS, ...filler], 1);
  await createGroup(db, { key: 'static-a', name: 'A', members: ['u1', 'u4'] }, 1);
  await createGroup(db, { key: 'teachers', name: 'Teachers', filter: { roles: ['teacher'] } }, 1);
});

after(() => fresh.close());

async function collect(
  audience: Audience,
  batchSize = 100,
  afterId?: string,
): Promise<{ ids: string[]; batches: string[][] }> {
  const batches: string[][] = [];
  for await (const batch of streamAudience(db, audience, { batchSize, after: afterId })) {
    batches.push(batch.map((r) => r.externalId));
  }
  return { ids: batches.flat().sort(), batches };
}

async function selects(audience: Audience): Promise<string[]> {
  const { ids } = await collect(audience);
  assert.equal(
    await countAudience(db, audience),
    ids.length,
    'countAudience agrees with the stream',
  );
  return ids;
}

describe('filters', () => {
  test('orgPrefix matches the path and below, never a sibling sharing the prefix', async () => {
    assert.deepEqual(await selects({ filter: { orgPrefix: '农学院' } }), ['u1', 'u3', 'u6']);
    assert.deepEqual(await selects({ filter: { orgPrefix: ' 农学院/ ' } }), ['u1', 'u3', 'u6']);
    assert.deepEqual(await selects({ filter: { orgPrefix: '农学院/作物学系' } }), ['u1', 'u6']);
    assert.deepEqual(await selects({ filter: { orgPrefix: '农学院二部' } }), ['u2']);
  });

  test('orgPrefix is literal: no LIKE wildcards, case-sensitive', async () => {
    assert.deepEqual(await selects({ filter: { orgPrefix: 'a_b' } }), ['u7']);
    assert.deepEqual(await selects({ filter: { orgPrefix: '%' } }), []);
    assert.deepEqual(await selects({ filter: { orgPrefix: 'abc' } }), []);
    assert.deepEqual(await selects({ filter: { orgPrefix: 'ABC' } }), ['u9']);
  });

  test('orgPrefixes is the union of the units, each user once', async () => {
    assert.deepEqual(
      await selects({ filter: { orgPrefixes: ['农学院/作物学系/2024级1班', '农学院二部'] } }),
      ['u1', 'u2'],
    );
    // Overlapping units (a college and a class in it) and repeats select each user once.
    assert.deepEqual(
      await selects({
        filter: { orgPrefixes: ['农学院', '农学院/作物学系/2024级1班', '农学院/', '教务处'] },
      }),
      ['u1', 'u3', 'u5', 'u6'],
    );
    // With orgPrefix too: the org part is the union of all of them.
    assert.deepEqual(
      await selects({ filter: { orgPrefix: '教务处', orgPrefixes: ['农学院/作物学系'] } }),
      ['u1', 'u5', 'u6'],
    );
    // Each unit is literal and matches its path and below, never a sibling.
    assert.deepEqual(await selects({ filter: { orgPrefixes: ['a_b', '%', 'abc'] } }), ['u7']);
    assert.deepEqual(await selects({ filter: { orgPrefixes: ['农学院/作物'] } }), []);
  });

  test('roles and attributes narrow the union of the units', async () => {
    assert.deepEqual(
      await selects({
        filter: { roles: ['undergraduate', 'staff'], orgPrefixes: ['农学院', '教务处', 'a_b'] },
      }),
      ['u1', 'u5', 'u7'],
    );
    assert.deepEqual(
      await selects({
        filter: { attributes: { grade: '2024' }, orgPrefixes: ['农学院', '农学院二部'] },
      }),
      ['u1', 'u6'],
    );
  });

  test('roles are any-of, attributes all-of, and the parts AND-ed', async () => {
    assert.deepEqual(await selects({ filter: { roles: ['teacher', 'postgraduate'] } }), [
      'u3',
      'u4',
      'u6',
    ]);
    assert.deepEqual(
      await selects({ filter: { attributes: { campus: '北校区', grade: '2024' } } }),
      ['u1'],
    );
    assert.deepEqual(await selects({ filter: { attributes: { campus: '南校区' } } }), ['u4', 'u6']);
    assert.deepEqual(
      await selects({ filter: { roles: ['teacher', 'undergraduate'], orgPrefix: '农学院' } }),
      ['u1', 'u3'],
    );
    assert.deepEqual(
      await selects({
        filter: { roles: ['undergraduate'], attributes: { campus: '北校区' }, orgPrefix: '农学院' },
      }),
      ['u1'],
    );
  });

  test('an empty audience or a filter constraining nothing selects nobody', async () => {
    assert.deepEqual(await selects({}), []);
    assert.deepEqual(await selects({ filter: {} }), []);
    assert.deepEqual(
      await selects({ filter: { roles: [], orgPrefix: ' / ', attributes: {} } }),
      [],
    );
    assert.deepEqual(await selects({ filter: { orgPrefixes: [] } }), []);
    assert.deepEqual(await selects({ filter: { orgPrefixes: [' ', '/'] } }), []);
    // A blank unit beside real ones is no wildcard: only the real ones count.
    assert.deepEqual(await selects({ filter: { roles: ['teacher'], orgPrefixes: ['/'] } }), [
      'u3',
      'u4',
    ]);
    assert.deepEqual(
      await selects({ filter: { roles: ['teacher'], orgPrefixes: ['农学院', ' '] } }),
      ['u3'],
    );
    assert.deepEqual(await selects({ users: [], groups: [], all: false }), []);
  });
});

describe('union of parts', () => {
  test('each user once across users, static and dynamic groups and the filter', async () => {
    const audience: Audience = {
      users: ['u1', 'u1', 'u5'],
      groups: ['static-a', 'teachers'],
      filter: { orgPrefix: '农学院' },
    };
    assert.deepEqual(await selects(audience), ['u1', 'u3', 'u4', 'u5', 'u6']);
    const { ids } = await collect(audience, 1);
    assert.deepEqual(ids, ['u1', 'u3', 'u4', 'u5', 'u6'], 'also with one user per batch');
  });

  test('all selects everyone; small batches keyset-paginate over everyone exactly once', async () => {
    const total = USERS.length + 20;
    assert.equal(await countAudience(db, { all: true }), total);
    const { ids, batches } = await collect({ all: true, users: ['u1'] }, 4);
    assert.equal(ids.length, total);
    assert.equal(new Set(ids).size, total);
    assert.ok(batches.every((b) => b.length <= 4 && b.length > 0));
    assert.equal(batches.length, Math.ceil(total / 4));

    const order: string[] = [];
    for await (const batch of streamAudience(db, { all: true }, { batchSize: 3 }))
      order.push(...batch.map((r) => r.id));
    assert.deepEqual(order, [...order].sort(), 'ascending user ids');

    // Resuming after a cursor continues where a crashed fan-out stopped.
    const cursor = order[9]!;
    const rest: string[] = [];
    for await (const batch of streamAudience(db, { all: true }, { batchSize: 5, after: cursor }))
      rest.push(...batch.map((r) => r.id));
    assert.deepEqual(rest, order.slice(10));
  });

  test('recipients carry locale and contact points', async () => {
    await upsertUsers(
      db,
      [
        {
          externalId: 'r1',
          name: 'R',
          locale: 'en',
          email: 'r@example.edu.cn',
          phone: '+8613800000000',
        },
      ],
      2,
    );
    const batches = [];
    for await (const batch of streamAudience(db, { users: ['r1'] }, { batchSize: 10 }))
      batches.push(batch);
    assert.equal(batches.length, 1);
    assert.equal(batches[0]?.length, 1);
    const r = batches[0]![0]!;
    assert.equal(r.externalId, 'r1');
    assert.equal(r.locale, 'en');
    assert.equal(r.timezone, 'Asia/Shanghai');
    assert.equal(r.email, 'r@example.edu.cn');
    assert.equal(r.phone, '+8613800000000');
    assert.equal(r.wechatOpenId, null);
  });
});

describe('an audience at every limit at once', () => {
  // 100 dynamic groups of 100 org units each, a filter of 100 units and 10,000 listed users:
  // three bound values per unit would be 40,300 parameters, past SQLite's 32,766. The groups'
  // units have few lengths (looked up per length), the filter's 100 (compared one by one).
  const GROUPS = 100;
  const UNITS = 100;
  const LISTED = 10_000;
  /** Unit k of group g. */
  const unit = (g: number, k: number) => `学院${g}/班${k}`;
  /** Unit k of the filter: `图书馆/部` and k times 甲. */
  const library = (k: number) => `图书馆/部${'甲'.repeat(k)}`;
  const audience: Audience = {
    users: Array.from({ length: LISTED }, (_, i) => `listed-${i}`),
    groups: Array.from({ length: GROUPS }, (_, g) => `college-${g}`),
    filter: { orgPrefixes: Array.from({ length: UNITS }, (_, k) => library(k)) },
  };

  before(async () => {
    const users: UserInput[] = Array.from({ length: LISTED }, (_, i) => ({
      externalId: `listed-${i}`,
      name: `列${i}`,
    }));
    for (let g = 0; g < GROUPS; g++) {
      // Below one of the group's units …
      users.push({ externalId: `member-${g}`, name: `成${g}`, orgPath: `${unit(g, g)}/张` });
      // … and beside it, sharing its characters without the '/' boundary: not a member.
      users.push({ externalId: `beside-${g}`, name: `旁${g}`, orgPath: `${unit(g, g)}甲` });
    }
    // Half the filter's units have a user at the unit itself.
    for (let k = 0; k < UNITS / 2; k++)
      users.push({ externalId: `library-${k}`, name: `图${k}`, orgPath: library(k) });
    users.push({ externalId: 'library-beside', name: '图旁', orgPath: `${library(3)}乙` });
    await upsertUsers(db, users, 3);
    for (let g = 0; g < GROUPS; g++) {
      const orgPrefixes = Array.from({ length: UNITS }, (_, k) => unit(g, k));
      const made = await createGroup(
        db,
        { key: `college-${g}`, name: `学院${g}`, filter: { orgPrefixes } },
        3,
      );
      assert.ok(made.ok);
    }
  });

  test('is counted, streamed and checked on every store', async () => {
    assert.deepEqual(await checkAudience(db, audience), { unknownUsers: [], unknownGroups: [] });
    const expected = [
      ...Array.from({ length: LISTED }, (_, i) => `listed-${i}`),
      ...Array.from({ length: GROUPS }, (_, g) => `member-${g}`),
      ...Array.from({ length: UNITS / 2 }, (_, k) => `library-${k}`),
    ].sort();
    const { ids, batches } = await collect(audience, 1000);
    assert.deepEqual(ids, expected);
    assert.equal(batches.length, Math.ceil(expected.length / 1000));
    assert.equal(await countAudience(db, audience), expected.length);
    const reach = await audienceReach(db, audience);
    assert.equal(reach.count, expected.length);
  });
});

test('checkAudience reports unknown users and groups', async () => {
  assert.deepEqual(
    await checkAudience(db, { users: ['u1', 'nobody', 'nobody'], groups: ['teachers', 'ghosts'] }),
    {
      unknownUsers: ['nobody'],
      unknownGroups: ['ghosts'],
    },
  );
  assert.deepEqual(await checkAudience(db, { all: true }), { unknownUsers: [], unknownGroups: [] });
});
