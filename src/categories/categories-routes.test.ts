import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Db } from '../store/database.js';
import type { Server } from '../http/server-types.js';
import { ADMIN_AUTH as ADMIN, routeHarness } from '../../test/support/route-harness.js';
import { insertSource } from '../sources/sources-store.js';
import { categoriesRoutes } from './categories-routes.js';
import { getCategoriesByKeys } from './categories-store.js';

describe('categories routes', () => {
  let db: Db;
  let app: Server;
  let close: () => Promise<void>;
  let now: number;

  beforeEach(async () => {
    now = Date.parse('2025-09-01T08:00:00Z');
    ({ app, db, close } = await routeHarness({
      name: 'categories',
      clock: () => now,
      register: categoriesRoutes,
    }));
  });

  afterEach(() => close());

  const create = (payload: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: '/v1/categories', headers: ADMIN, payload });

  const exam = {
    key: 'exam.schedule',
    name: { 'zh-CN': '考试安排', en: 'Exam schedule' },
    defaultChannels: ['in_app', 'email'],
  };

  function assertProblem(
    res: { statusCode: number; headers: Record<string, unknown>; json(): unknown },
    status: number,
    code: string,
  ) {
    assert.equal(res.statusCode, status);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    const body = res.json() as { code: string; status: number };
    assert.equal(body.code, code);
    assert.equal(body.status, status);
    return body;
  }

  it('creates a category with defaults and returns it', async () => {
    const res = await create(exam);
    assert.equal(res.statusCode, 201);
    assert.deepEqual(res.json(), {
      ...exam,
      priority: 'normal',
      mandatory: false,
      maxAttempts: 5,
      channelFallbacks: {},
      emailFrom: null,
      emailReplyTo: null,
      createdAt: '2025-09-01T08:00:00.000Z',
      updatedAt: '2025-09-01T08:00:00.000Z',
    });
    const [stored] = await getCategoriesByKeys(db, ['exam.schedule', 'nope']);
    assert.equal(stored?.priority, 'normal');
  });

  it('refuses a duplicate key with 409 conflict', async () => {
    assert.equal((await create(exam)).statusCode, 201);
    assertProblem(await create({ ...exam, priority: 'urgent' }), 409, 'conflict');
  });

  it('validates the body', async () => {
    const bad: Record<string, unknown>[] = [
      { ...exam, key: 'Exam' },
      { ...exam, key: 'x' },
      { ...exam, name: {} },
      { ...exam, name: { 'not a locale': 'x' } },
      { ...exam, defaultChannels: [] },
      { ...exam, defaultChannels: ['pigeon'] },
      { ...exam, maxAttempts: 0 },
      { ...exam, maxAttempts: 51 },
      { ...exam, priority: 'whenever' },
      { ...exam, extra: true },
    ];
    for (const payload of bad) {
      const body = assertProblem(await create(payload), 400, 'validation-failed');
      assert.ok(
        Array.isArray((body as unknown as { errors: unknown[] }).errors),
        JSON.stringify(payload),
      );
    }
  });

  it('lists, gets, patches and deletes', async () => {
    await create(exam);
    await create({
      key: 'fee.due',
      name: { en: 'Fees' },
      defaultChannels: ['sms'],
      priority: 'urgent',
      mandatory: true,
      maxAttempts: 10,
    });

    const list = await app.inject({ method: 'GET', url: '/v1/categories', headers: ADMIN });
    assert.equal(list.statusCode, 200);
    assert.deepEqual(
      (list.json() as { items: { key: string }[] }).items.map((c) => c.key),
      ['exam.schedule', 'fee.due'],
    );

    const one = await app.inject({ method: 'GET', url: '/v1/categories/fee.due', headers: ADMIN });
    assert.equal(one.statusCode, 200);
    assert.equal((one.json() as { mandatory: boolean }).mandatory, true);

    now += 60_000;
    const patched = await app.inject({
      method: 'PATCH',
      url: '/v1/categories/exam.schedule',
      headers: ADMIN,
      payload: { maxAttempts: 8, defaultChannels: ['email'] },
    });
    assert.equal(patched.statusCode, 200);
    const p = patched.json() as Record<string, unknown>;
    assert.deepEqual(
      [p['maxAttempts'], p['defaultChannels'], p['name'], p['priority']],
      [8, ['email'], exam.name, 'normal'],
    );
    assert.equal(p['updatedAt'], '2025-09-01T08:01:00.000Z');
    assert.equal(p['createdAt'], '2025-09-01T08:00:00.000Z');

    assertProblem(
      await app.inject({
        method: 'PATCH',
        url: '/v1/categories/exam.schedule',
        headers: ADMIN,
        payload: {},
      }),
      400,
      'validation-failed',
    );

    const del = await app.inject({
      method: 'DELETE',
      url: '/v1/categories/exam.schedule',
      headers: ADMIN,
    });
    assert.equal(del.statusCode, 204);
    assert.equal(del.body, '');
    assertProblem(
      await app.inject({ method: 'GET', url: '/v1/categories/exam.schedule', headers: ADMIN }),
      404,
      'not-found',
    );
  });

  it('keeps channel fallbacks and the email sender, and clears the sender with null', async () => {
    const created = await create({
      ...exam,
      channelFallbacks: { wechat: 'sms', sms: 'in_app' },
      emailFrom: '教务处 <jwc@example.edu>',
      emailReplyTo: 'office@example.edu',
    });
    assert.equal(created.statusCode, 201);
    const body = created.json() as Record<string, unknown>;
    assert.deepEqual(body['channelFallbacks'], { wechat: 'sms', sms: 'in_app' });
    assert.equal(body['emailFrom'], '教务处 <jwc@example.edu>');
    assert.equal(body['emailReplyTo'], 'office@example.edu');
    const [stored] = await getCategoriesByKeys(db, ['exam.schedule']);
    assert.deepEqual(stored?.channelFallbacks, { wechat: 'sms', sms: 'in_app' });

    const patched = await app.inject({
      method: 'PATCH',
      url: '/v1/categories/exam.schedule',
      headers: ADMIN,
      payload: { channelFallbacks: { wecom: 'email' }, emailFrom: null },
    });
    assert.equal(patched.statusCode, 200);
    const p = patched.json() as Record<string, unknown>;
    assert.deepEqual(p['channelFallbacks'], { wecom: 'email' }, 'the map is replaced as a whole');
    assert.equal(p['emailFrom'], null);
    assert.equal(p['emailReplyTo'], 'office@example.edu', 'fields not given keep their value');
  });

  it('refuses fallbacks to itself, in cycles, or to unknown channels, and writes nothing', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ sms: 'sms' }, /falls back to itself/],
      [{ wechat: 'sms', sms: 'wechat' }, /cycle: (wechat → sms → wechat|sms → wechat → sms)/],
      [{ wechat: 'sms', sms: 'email', email: 'wechat' }, /cycle/],
      [{ wechat: 'pigeon' }, /channelFallbacks/],
      [{ pigeon: 'sms' }, /channelFallbacks/],
    ];
    for (const [channelFallbacks, detail] of cases) {
      const body = assertProblem(
        await create({ ...exam, channelFallbacks }),
        400,
        'validation-failed',
      ) as unknown as { detail: string; errors: { path: string }[] };
      assert.match(body.detail, detail, JSON.stringify(channelFallbacks));
      assert.ok(body.errors.some((e) => e.path.startsWith('body/channelFallbacks')));
    }
    assert.deepEqual(await getCategoriesByKeys(db, ['exam.schedule']), []);

    await create(exam);
    assertProblem(
      await app.inject({
        method: 'PATCH',
        url: '/v1/categories/exam.schedule',
        headers: ADMIN,
        payload: { channelFallbacks: { email: 'sms', sms: 'email' } },
      }),
      400,
      'validation-failed',
    );
    const [stored] = await getCategoriesByKeys(db, ['exam.schedule']);
    assert.deepEqual(stored?.channelFallbacks, {});
  });

  it('refuses a sender that is not one plain mailbox, line breaks above all', async () => {
    for (const emailFrom of [
      'jwc@example.edu\r\nBcc: victim@example.com',
      'Registrar\n <jwc@example.edu>',
      'a@example.edu, b@example.edu',
      'not an address',
      'jwc@localhost',
    ]) {
      const body = assertProblem(
        await create({ ...exam, emailFrom }),
        400,
        'validation-failed',
      ) as unknown as { errors: { path: string }[] };
      assert.deepEqual(
        body.errors.map((e) => e.path),
        ['body/emailFrom'],
        JSON.stringify(emailFrom),
      );
    }
    assertProblem(
      await create({ ...exam, emailReplyTo: 'x@example.edu\u2028Bcc: y@example.edu' }),
      400,
      'validation-failed',
    );
    assert.deepEqual(await getCategoriesByKeys(db, ['exam.schedule']), []);
  });

  it('answers 404 for a category that does not exist', async () => {
    assertProblem(
      await app.inject({ method: 'GET', url: '/v1/categories/nope', headers: ADMIN }),
      404,
      'not-found',
    );
    assertProblem(
      await app.inject({
        method: 'PATCH',
        url: '/v1/categories/nope',
        headers: ADMIN,
        payload: { mandatory: true },
      }),
      404,
      'not-found',
    );
    assertProblem(
      await app.inject({ method: 'DELETE', url: '/v1/categories/nope', headers: ADMIN }),
      404,
      'not-found',
    );
  });

  it('a deleted category is taken off the sources that could send it; one created again later is open to none', async () => {
    await create(exam);
    await create({ ...exam, key: 'exam.result' });
    await insertSource(
      db,
      { key: 'jwc', name: '教务处', categories: ['exam.schedule', 'exam.result'] },
      now,
    );
    await insertSource(db, { key: 'lib', name: '图书馆', categories: ['exam.result'] }, now);
    const res = await app.inject({
      method: 'DELETE',
      url: '/v1/categories/exam.schedule',
      headers: ADMIN,
    });
    assert.equal(res.statusCode, 204);
    const lists = await db
      .selectFrom('sources')
      .select(['key', 'categories'])
      .orderBy('key')
      .execute();
    assert.deepEqual(
      lists.map((r) => [r.key, JSON.parse(r.categories)]),
      [
        ['jwc', ['exam.result']],
        ['lib', ['exam.result']],
      ],
    );
    assert.equal((await create(exam)).statusCode, 201);
    assert.deepEqual(
      JSON.parse(
        (
          await db
            .selectFrom('sources')
            .select('categories')
            .where('key', '=', 'jwc')
            .executeTakeFirstOrThrow()
        ).categories,
      ),
      ['exam.result'],
    );
  });

  it('refuses to delete a category that messages use', async () => {
    await create(exam);
    const source = await insertSource(
      db,
      { key: 'jwc', name: '教务处', categories: ['exam.schedule'] },
      now,
    );
    await db
      .insertInto('messages')
      .values({
        id: randomUUID(),
        source_id: source.id,
        category_key: 'exam.schedule',
        priority: 'normal',
        audience: '{"all":true}',
        data: '{}',
        channels: null,
        locale: null,
        send_at: now,
        status: 'dispatched',
        fanout_cursor: null,
        recipient_count: 0,
        idempotency_key: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    const body = assertProblem(
      await app.inject({ method: 'DELETE', url: '/v1/categories/exam.schedule', headers: ADMIN }),
      409,
      'conflict',
    ) as unknown as { detail: string };
    assert.match(body.detail, /cannot be deleted/);
    assert.equal(
      (await app.inject({ method: 'GET', url: '/v1/categories/exam.schedule', headers: ADMIN }))
        .statusCode,
      200,
    );
  });

  it('needs the admin token', async () => {
    assertProblem(
      await app.inject({ method: 'GET', url: '/v1/categories' }),
      401,
      'unauthenticated',
    );
    assertProblem(
      await app.inject({
        method: 'POST',
        url: '/v1/categories',
        headers: { authorization: 'Bearer wrong-token' },
        payload: exam,
      }),
      401,
      'unauthenticated',
    );
  });

  it('documents its routes in the OpenAPI spec', async () => {
    const spec = app.swagger() as { paths: Record<string, Record<string, { tags?: string[] }>> };
    assert.deepEqual(spec.paths['/v1/categories/{key}']?.['patch']?.tags, ['categories']);
  });
});
