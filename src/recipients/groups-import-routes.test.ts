import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_AUTH, routeHarness, type RouteHarness } from '../../test/support/route-harness.js';
import { upsertUsers } from './users-store.js';
import { createGroup } from './groups-store.js';
import { groupsRoutes } from './groups-routes.js';
import { groupsImportRoutes } from './groups-import-routes.js';

describe('POST /v1/groups/import: static memberships in bulk, a result per row', () => {
  let h: RouteHarness;
  const now = Date.parse('2025-09-01T08:00:00Z');

  before(async () => {
    h = await routeHarness({
      name: 'groups-import',
      clock: () => now,
      register: (app, deps) => {
        groupsRoutes(app, deps);
        groupsImportRoutes(app, deps);
      },
    });
    await upsertUsers(
      h.db,
      ['S1', 'S2', 'S3', 'S4'].map((externalId) => ({
        externalId,
        name: `Student ${externalId}`,
        roles: ['undergraduate'],
      })),
      now,
    );
    await createGroup(h.db, { key: 'roster', name: 'Roster', members: ['S1', 'S2'] }, now);
    await createGroup(
      h.db,
      { key: 'everyone', name: 'Everyone', filter: { roles: ['undergraduate'] } },
      now,
    );
  });
  after(() => h.close());

  const importCsv = (csv: string, query = '') =>
    h.app.inject({
      method: 'POST',
      url: `/v1/groups/import${query}`,
      headers: { ...ADMIN_AUTH, 'content-type': 'text/csv' },
      payload: csv,
    });
  const importJson = (rows: unknown, query = '') =>
    h.app.inject({
      method: 'POST',
      url: `/v1/groups/import${query}`,
      headers: ADMIN_AUTH,
      payload: rows as object,
    });
  const members = async (key: string) =>
    (
      (
        await h.app.inject({
          method: 'GET',
          url: `/v1/groups/${key}/members`,
          headers: ADMIN_AUTH,
        })
      ).json() as { items: { externalId: string }[] }
    ).items
      .map((u) => u.externalId)
      .sort();

  it('creates a group from a CSV roster and reports every row', async () => {
    const res = await importCsv(
      '\uFEFFGroup,Member,Name\n' +
        'club-robotics,S1,机器人社\n' +
        'club-robotics,S3,\n' +
        'club-robotics,S9,\n' +
        'bad key!,S1,\n' +
        'club-robotics,S1,\n',
    );
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.imported, 2);
    assert.equal(body.failed, 3);
    assert.deepEqual(body.groups, [{ key: 'club-robotics', status: 'created', members: 2 }]);
    assert.deepEqual(
      body.results.map((r: { row: number; status: string; errors?: { field: string }[] }) => [
        r.row,
        r.status,
        r.errors?.map((e) => e.field) ?? [],
      ]),
      [
        [1, 'ok', []],
        [2, 'ok', []],
        [3, 'error', ['member']],
        [4, 'error', ['group']],
        [5, 'error', ['row']],
      ],
    );
    assert.match(body.results[4].errors[0].message, /duplicates row 1/);
    const group = await h.app.inject({
      method: 'GET',
      url: '/v1/groups/club-robotics',
      headers: ADMIN_AUTH,
    });
    assert.equal(group.json().name, '机器人社');
    assert.equal(group.json().kind, 'static');
    assert.deepEqual(await members('club-robotics'), ['S1', 'S3']);
  });

  it('replaces the members of a group it names (a roster sync), or adds with mode=add', async () => {
    const replaced = await importJson([
      { group: 'roster', member: 'S1' },
      { group: 'roster', member: 'S3' },
    ]);
    assert.deepEqual(replaced.json().groups, [{ key: 'roster', status: 'replaced', members: 2 }]);
    assert.deepEqual(await members('roster'), ['S1', 'S3']);
    const added = await importJson([{ group: 'roster', member: 'S4' }], '?mode=add');
    assert.deepEqual(added.json().groups, [{ key: 'roster', status: 'extended', members: 3 }]);
    assert.deepEqual(await members('roster'), ['S1', 'S3', 'S4']);
  });

  it('leaves dynamic groups and groups whose rows all fail alone', async () => {
    const res = await importJson([
      { group: 'everyone', member: 'S1' },
      { group: 'ghosts', member: 'S9' },
      { group: 'roster', member: 'S2', colour: 'red' },
    ]);
    const body = res.json();
    assert.equal(body.imported, 0);
    assert.deepEqual(body.groups, []);
    assert.match(body.results[0].errors[0].message, /dynamic group/);
    assert.deepEqual(body.results[2].errors[0], {
      field: 'colour',
      message: 'is not a field of a membership',
    });
    const ghosts = await h.app.inject({
      method: 'GET',
      url: '/v1/groups/ghosts',
      headers: ADMIN_AUTH,
    });
    assert.equal(ghosts.statusCode, 404);
    assert.deepEqual(await members('roster'), ['S1', 'S3', 'S4']);
  });

  it('refuses a file it cannot read as a whole', async () => {
    for (const [res, detail] of [
      [await importCsv('group,student\nroster,S1\n'), /unknown: student/],
      [await importCsv('group\nroster\n'), /needs the columns group and member/],
      [await importJson({ group: 'roster', member: 'S1' }), /JSON array/],
      [await importJson([], '?mode=merge'), /mode must be replace or add/],
    ] as const) {
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().code, 'validation-failed');
      assert.match(res.json().detail, detail);
    }
  });

  it('needs the admin token', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/groups/import',
      payload: [],
    });
    assert.equal(res.statusCode, 401);
  });
});
