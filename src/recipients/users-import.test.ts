import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from '../store/database.js';
import { freshDatabase, type FreshDatabase } from '../../test/support/fresh-db.js';
import { Problem } from '../http/problem.js';
import { verifyPassword } from '../auth/secrets.js';
import { importUsers, MAX_IMPORT_ROWS, type RowResult } from './users-import.js';
import { getUserByExternalId, listUsers } from './users-store.js';

let fresh: FreshDatabase;
let db: Db;

before(async () => {
  fresh = await freshDatabase('users-import');
  ({ db } = fresh);
});

after(() => fresh.close());

const json = (body: unknown) => ({ format: 'json', body }) as const;
const csv = (text: string) => ({ format: 'csv', text }) as const;
const errorFields = (r: RowResult | undefined) => (r?.errors ?? []).map((e) => e.field).sort();

async function rejects(payload: Parameters<typeof importUsers>[1], pattern: RegExp): Promise<void> {
  await assert.rejects(importUsers(db, payload, 1), (err: unknown) => {
    assert.ok(err instanceof Problem, 'a Problem');
    assert.equal(err.code, 'validation-failed');
    assert.match(err.message, pattern);
    return true;
  });
}

describe('JSON import', () => {
  test('creates users with defaults, roles and attributes', async () => {
    const res = await importUsers(
      db,
      json([
        {
          externalId: 'j-001',
          name: ' 张三 ',
          roles: ['undergraduate', 'undergraduate', 'monitor'],
          orgPath: ' 农学院 / 作物学系 /2024级1班',
          attributes: { grade: 2024, campus: '北校区' },
          email: 'j001@stu.example.edu.cn',
          phone: '13812345678',
        },
        {
          externalId: 'j-002',
          name: 'Amara Okafor',
          locale: 'en',
          timezone: 'Europe/London',
          phone: '+447700900123',
        },
      ]),
      1000,
    );
    assert.deepEqual(res, {
      created: 2,
      updated: 0,
      failed: 0,
      results: [
        { row: 1, externalId: 'j-001', status: 'created' },
        { row: 2, externalId: 'j-002', status: 'created' },
      ],
    });
    const u = await getUserByExternalId(db, 'j-001');
    assert.ok(u);
    assert.equal(u.name, '张三');
    assert.deepEqual(u.roles, ['monitor', 'undergraduate']);
    assert.equal(u.orgPath, '农学院/作物学系/2024级1班');
    assert.deepEqual(u.attributes, { grade: '2024', campus: '北校区' });
    assert.equal(u.locale, 'zh-CN');
    assert.equal(u.timezone, 'Asia/Shanghai');
    assert.equal(u.phone, '13812345678', 'a CN mobile number is kept as given');
    assert.equal(u.hasPassword, false);
    assert.equal(u.createdAt, 1000);
    const v = await getUserByExternalId(db, 'j-002');
    assert.equal(v?.locale, 'en');
    assert.equal(v?.timezone, 'Europe/London');
    assert.equal(v?.phone, '+447700900123');
  });

  test('re-import updates: omitted fields kept, null clears, roles and attributes replaced', async () => {
    const res = await importUsers(
      db,
      json([
        {
          externalId: 'j-001',
          name: '张三丰',
          roles: ['postgraduate'],
          attributes: { campus: '南校区' },
          phone: null,
        },
        { externalId: 'j-003', name: '李四' },
      ]),
      2000,
    );
    assert.equal(res.created, 1);
    assert.equal(res.updated, 1);
    assert.deepEqual(
      res.results.map((r) => r.status),
      ['updated', 'created'],
    );
    const u = await getUserByExternalId(db, 'j-001');
    assert.ok(u);
    assert.equal(u.name, '张三丰');
    assert.deepEqual(u.roles, ['postgraduate']);
    assert.deepEqual(u.attributes, { campus: '南校区' });
    assert.equal(u.phone, null);
    assert.equal(u.email, 'j001@stu.example.edu.cn', 'omitted → kept');
    assert.equal(u.orgPath, '农学院/作物学系/2024级1班', 'omitted → kept');
    assert.equal(u.createdAt, 1000);
    assert.equal(u.updatedAt, 2000);
    const { items } = await listUsers(db, { limit: 10, role: 'postgraduate' });
    assert.deepEqual(
      items.map((i) => i.externalId),
      ['j-001'],
    );
  });

  test('reports per-row field errors and still imports the valid rows', async () => {
    const res = await importUsers(
      db,
      json([
        { externalId: 'bad id!', name: 'x' },
        { externalId: 'e-1' },
        { externalId: 'e-2', name: 'ok', email: 'not-an-email', phone: '12345' },
        { externalId: 'e-3', name: 'ok', locale: 'chinese!', timezone: 'Mars/Olympus' },
        { externalId: 'e-4', name: 'ok', password: 'short', orgPath: '农学院//作物学系' },
        { externalId: 'e-5', name: 'ok', nickname: 'x', roles: 'teacher' },
        // An offset has no daylight-saving rules: a user's zone must be a named one.
        { externalId: 'e-6', name: 'ok', timezone: '+08:00' },
        'not an object',
        { externalId: 'e-ok', name: 'Valid' },
      ]),
      3000,
    );
    assert.equal(res.failed, 8);
    assert.equal(res.created, 1);
    assert.deepEqual(errorFields(res.results[0]), ['externalId']);
    assert.deepEqual(errorFields(res.results[1]), ['name']);
    assert.deepEqual(errorFields(res.results[2]), ['email', 'phone']);
    assert.deepEqual(errorFields(res.results[3]), ['locale', 'timezone']);
    assert.deepEqual(errorFields(res.results[4]), ['orgPath', 'password']);
    assert.deepEqual(errorFields(res.results[5]), ['nickname', 'roles']);
    assert.deepEqual(errorFields(res.results[6]), ['timezone']);
    assert.deepEqual(errorFields(res.results[7]), ['row']);
    assert.equal(res.results[7]?.externalId, null);
    assert.deepEqual(res.results[8], { row: 9, externalId: 'e-ok', status: 'created' });
    assert.equal(await getUserByExternalId(db, 'e-2'), null);
    assert.ok(await getUserByExternalId(db, 'e-ok'));
  });

  test('a duplicate external id is an error for the later row only', async () => {
    const res = await importUsers(
      db,
      json([
        { externalId: 'd-1', name: 'first' },
        { externalId: 'd-2', name: 'other' },
        { externalId: 'd-1', name: 'second' },
      ]),
      4000,
    );
    assert.deepEqual(
      res.results.map((r) => r.status),
      ['created', 'created', 'error'],
    );
    assert.deepEqual(res.results[2]?.errors, [
      { field: 'externalId', message: 'duplicates row 1' },
    ]);
    assert.equal((await getUserByExternalId(db, 'd-1'))?.name, 'first');
  });

  test('stores only a hash of a given password; a later import without one keeps it', async () => {
    await importUsers(
      db,
      json([{ externalId: 'p-1', name: 'pw', password: 'correct horse' }]),
      5000,
    );
    const row = await db
      .selectFrom('users')
      .select('password_hash')
      .where('external_id', '=', 'p-1')
      .executeTakeFirstOrThrow();
    assert.ok(row.password_hash && !row.password_hash.includes('correct horse'));
    assert.equal(await verifyPassword('correct horse', row.password_hash), true);
    await importUsers(db, json([{ externalId: 'p-1', name: 'pw renamed' }]), 6000);
    const again = await getUserByExternalId(db, 'p-1');
    assert.equal(again?.hasPassword, true);
  });

  test('rejects a payload that is not an array, or too many rows', async () => {
    await rejects(json({ users: [] }), /JSON array/);
    await rejects(json(Array.from({ length: MAX_IMPORT_ROWS + 1 }, () => ({}))), /at most 50000/);
  });
});

describe('CSV import', () => {
  test('reads a header row, a BOM, split roles and attribute columns', async () => {
    const text =
      '\uFEFFexternalId,name,roles,orgPath,attributes.campus,attr.dorm,locale,email,phone\r\n' +
      'c-1,王五,undergraduate;monitor,农学院/作物学系,北校区,北苑3号楼-214,,c1@stu.example.edu.cn,13900000001\r\n' +
      '\r\n' +
      'c-2,"Smith, Anna",teacher | counselor,植物保护学院,南校区,,en,,\r\n';
    const res = await importUsers(db, csv(text), 7000);
    assert.deepEqual(res, {
      created: 2,
      updated: 0,
      failed: 0,
      results: [
        { row: 1, externalId: 'c-1', status: 'created' },
        { row: 2, externalId: 'c-2', status: 'created' },
      ],
    });
    const a = await getUserByExternalId(db, 'c-1');
    assert.deepEqual(a?.roles, ['monitor', 'undergraduate']);
    assert.deepEqual(a?.attributes, { campus: '北校区', dorm: '北苑3号楼-214' });
    assert.equal(a?.locale, 'zh-CN', 'an empty cell → default');
    const b = await getUserByExternalId(db, 'c-2');
    assert.equal(b?.name, 'Smith, Anna');
    assert.deepEqual(b?.roles, ['counselor', 'teacher']);
    assert.deepEqual(b?.attributes, { campus: '南校区' }, 'an empty attribute cell is left out');
    assert.equal(b?.email, null);
  });

  test('updates by external id; absent columns keep values, empty cells clear them', async () => {
    const res = await importUsers(db, csv('externalId,name,email\nc-1,王五五,\nc-bad,,x\n'), 8000);
    assert.equal(res.updated, 1);
    assert.equal(res.failed, 1);
    assert.deepEqual(errorFields(res.results[1]), ['email', 'name']);
    const a = await getUserByExternalId(db, 'c-1');
    assert.equal(a?.name, '王五五');
    assert.equal(a?.email, null);
    assert.equal(a?.phone, '13900000001');
    assert.deepEqual(a?.roles, ['monitor', 'undergraduate']);
    assert.deepEqual(a?.attributes, { campus: '北校区', dorm: '北苑3号楼-214' });
  });

  test('a row with the wrong number of cells and duplicates are row errors', async () => {
    const res = await importUsers(db, csv('externalId,name\nc-3,甲\nc-4,乙,extra\nc-3,丙\n'), 9000);
    assert.deepEqual(
      res.results.map((r) => r.status),
      ['created', 'error', 'error'],
    );
    assert.deepEqual(errorFields(res.results[1]), ['row']);
    assert.match(res.results[2]?.errors?.[0]?.message ?? '', /duplicates row 1/);
  });

  test('rejects files it cannot read as a whole', async () => {
    await rejects(csv(''), /empty/);
    await rejects(csv('externalId,name,gender\n1,a,f\n'), /Unknown CSV columns: "gender"/);
    await rejects(csv('externalId,roles\n1,a\n'), /no "name" column/);
    await rejects(csv('externalId,name\n1,"unclosed\n'), /could not be parsed/);
    await rejects(csv('externalId,name,name\n1,a,b\n'), /twice/);
  });
});
