import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from '../store/database.js';
import type { Server } from '../http/server-types.js';
import { ADMIN_AUTH as ADMIN, routeHarness } from '../../test/support/route-harness.js';
import { insertCategory } from '../categories/categories-store.js';
import { TemplateRenderer } from './template-renderer.js';
import { templatesRoutes } from './templates-routes.js';

interface Res {
  statusCode: number;
  headers: Record<string, unknown>;
  json(): unknown;
}

function problem(res: Res, status: number, code: string): Record<string, unknown> {
  assert.equal(res.statusCode, status, JSON.stringify(res.json()));
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = res.json() as Record<string, unknown>;
  assert.equal(body['code'], code);
  return body;
}

describe('templates routes', () => {
  let db: Db;
  let app: Server;
  let close: () => Promise<void>;
  const now = Date.parse('2025-09-01T08:00:00Z');

  beforeEach(async () => {
    const renderer = new TemplateRenderer();
    ({ app, db, close } = await routeHarness({
      name: 'templates',
      clock: () => now,
      register: (server, deps) => templatesRoutes(server, { ...deps, renderer }),
    }));
    await insertCategory(
      db,
      {
        key: 'exam.schedule',
        name: { en: 'Exams' },
        priority: 'normal',
        mandatory: false,
        defaultChannels: ['email'],
        maxAttempts: 5,
      },
      now,
    );
  });

  afterEach(() => close());

  const put = (path: string, payload: Record<string, unknown>) =>
    app.inject({ method: 'PUT', url: `/v1/templates/${path}`, headers: ADMIN, payload });
  const get = (url: string) => app.inject({ method: 'GET', url, headers: ADMIN });
  const preview = (path: string, payload: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: `/v1/templates/${path}/preview`, headers: ADMIN, payload });

  const email = {
    subject: '考试通知：{{ data.course }}',
    body: '{{ recipient.name }}，{{ data.course }} 在 {{ data.room }}。',
  };

  it('stores versions: 201 for the first, 200 after', async () => {
    const first = await put('exam.schedule/email/zh-CN', email);
    assert.equal(first.statusCode, 201);
    assert.deepEqual(first.json(), {
      category: 'exam.schedule',
      channel: 'email',
      locale: 'zh-CN',
      version: 1,
      subject: email.subject,
      title: null,
      body: email.body,
      createdAt: '2025-09-01T08:00:00.000Z',
      createdBy: { kind: 'admin-token' },
    });
    const second = await put('exam.schedule/email/zh-CN', {
      ...email,
      body: 'v2 {{ data.course }}',
    });
    assert.equal(second.statusCode, 200);
    assert.equal((second.json() as { version: number }).version, 2);

    const current = await get('/v1/templates/exam.schedule/email/zh-CN');
    assert.equal(current.statusCode, 200);
    assert.deepEqual(
      [(current.json() as { version: number }).version, (current.json() as { body: string }).body],
      [2, 'v2 {{ data.course }}'],
    );

    const versions = await get('/v1/templates/exam.schedule/email/zh-CN/versions');
    assert.deepEqual(
      (versions.json() as { items: { version: number }[] }).items.map((v) => v.version),
      [2, 1],
    );
  });

  it('canonicalises the locale in the path', async () => {
    assert.equal((await put('exam.schedule/email/zh-cn', email)).statusCode, 201);
    assert.equal((await get('/v1/templates/exam.schedule/email/zh-CN')).statusCode, 200);
    problem(await put('exam.schedule/email/zh_CN', email), 400, 'validation-failed');
  });

  it('lists current versions, optionally of one category', async () => {
    await insertCategory(
      db,
      {
        key: 'fee.due',
        name: { en: 'Fees' },
        priority: 'urgent',
        mandatory: true,
        defaultChannels: ['sms'],
        maxAttempts: 5,
      },
      now,
    );
    await put('exam.schedule/email/zh-CN', email);
    await put('exam.schedule/email/zh-CN', email);
    await put('fee.due/sms/en', { body: 'Pay {{ data.amount }}' });
    const all = (await get('/v1/templates')).json() as {
      items: { category: string; version: number }[];
    };
    assert.deepEqual(
      all.items.map((t) => [t.category, t.version]),
      [
        ['exam.schedule', 2],
        ['fee.due', 1],
      ],
    );
    const fees = (await get('/v1/templates?category=fee.due')).json() as {
      items: { category: string }[];
    };
    assert.deepEqual(
      fees.items.map((t) => t.category),
      ['fee.due'],
    );
  });

  it('refuses a template that does not parse, with every error', async () => {
    const body = problem(
      await put('exam.schedule/email/en', {
        subject: 'Hi {{ data.x',
        body: 'ok\n{% for x in data.list %}',
      }),
      422,
      'template-invalid',
    );
    const errors = body['errors'] as { part: string; line: number; col: number; message: string }[];
    assert.deepEqual(
      errors.map((e) => [e.part, e.line, e.col]),
      [
        ['subject', 1, 4],
        ['body', 2, 1],
      ],
    );
    problem(
      await put('exam.schedule/email/en', { subject: 's', body: '{{ data.x | nope }}' }),
      422,
      'template-invalid',
    );
    problem(await get('/v1/templates/exam.schedule/email/en'), 404, 'not-found');
  });

  it('refuses an unknown category or channel', async () => {
    problem(await put('no.such/email/en', email), 422, 'unknown-category');
    const bad = problem(await put('exam.schedule/pigeon/en', email), 422, 'unknown-channel');
    assert.deepEqual(bad['unknown'], ['pigeon']);
    problem(await get('/v1/templates/exam.schedule/pigeon/en'), 422, 'unknown-channel');
  });

  it('requires a subject for email and a title for in_app', async () => {
    const noSubject = problem(
      await put('exam.schedule/email/en', { body: 'b' }),
      400,
      'validation-failed',
    );
    assert.deepEqual(noSubject['errors'], [
      { path: 'body/subject', message: 'is required for email templates' },
    ]);
    problem(await put('exam.schedule/in_app/en', { body: 'b' }), 400, 'validation-failed');
    assert.equal((await put('exam.schedule/in_app/en', { title: 'T', body: 'b' })).statusCode, 201);
    assert.equal((await put('exam.schedule/sms/en', { body: 'b' })).statusCode, 201);
    problem(await put('exam.schedule/sms/en', { body: '' }), 400, 'validation-failed');
  });

  it('answers 404 for a template that does not exist', async () => {
    problem(await get('/v1/templates/exam.schedule/email/en'), 404, 'not-found');
    problem(await get('/v1/templates/exam.schedule/email/en/versions'), 404, 'not-found');
    problem(await preview('exam.schedule/email/en', { data: {} }), 404, 'not-found');
  });

  it('previews the current version with sample data, and data stays data', async () => {
    await put('exam.schedule/email/zh-CN', email);
    const res = await preview('exam.schedule/email/zh-CN', {
      data: { course: '高等数学 {{ recipient.name }}', room: 'A101' },
      recipient: { name: '张三' },
    });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), {
      subject: '考试通知：高等数学 {{ recipient.name }}',
      body: '张三，高等数学 {{ recipient.name }} 在 A101。',
    });
  });

  it('previews a draft in the recipient time zone', async () => {
    const res = await preview('exam.schedule/in_app/en', {
      data: { at: '2025-09-01T01:00:00Z' },
      recipient: { timezone: 'Asia/Shanghai' },
      template: {
        title: 'Exam',
        body: "{{ recipient.name }} ({{ recipient.locale }}): {{ data.at | date: '%H:%M' }} [{{ message.category }} from {{ source.name }}]",
      },
    });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), {
      title: 'Exam',
      body: 'Preview User (en): 09:00 [exam.schedule from Preview]',
    });
  });

  it('reports a render error as 422 with the part and position', async () => {
    await put('exam.schedule/email/zh-CN', email);
    const body = problem(
      await preview('exam.schedule/email/zh-CN', { data: { course: 'x' } }),
      422,
      'template-invalid',
    );
    assert.match(String(body['detail']), /undefined variable: data\.room/);
    const [error] = body['errors'] as { part: string; kind: string; line: number }[];
    assert.deepEqual([error?.part, error?.kind, error?.line], ['body', 'undefined-variable', 1]);

    const dos = problem(
      await preview('exam.schedule/sms/en', {
        template: { body: '{% for i in (1..1000000000) %}{% endfor %}' },
      }),
      422,
      'template-invalid',
    );
    assert.equal((dos['errors'] as { kind: string }[])[0]?.kind, 'limit-exceeded');
  });

  it('gets one version and restores it as the newest', async () => {
    await put('exam.schedule/email/zh-CN', email);
    await put('exam.schedule/email/zh-CN', { ...email, body: 'v2 {{ data.course }}' });
    const v1 = await get('/v1/templates/exam.schedule/email/zh-CN/versions/1');
    assert.equal(v1.statusCode, 200);
    assert.equal((v1.json() as { body: string }).body, email.body);
    problem(await get('/v1/templates/exam.schedule/email/zh-CN/versions/9'), 404, 'not-found');
    problem(
      await get('/v1/templates/exam.schedule/email/zh-CN/versions/0'),
      400,
      'validation-failed',
    );

    const restored = await app.inject({
      method: 'POST',
      url: '/v1/templates/exam.schedule/email/zh-CN/versions/1/restore',
      headers: ADMIN,
    });
    assert.equal(restored.statusCode, 200, restored.body);
    const r = restored.json() as { version: number; body: string; subject: string };
    assert.deepEqual([r.version, r.body, r.subject], [3, email.body, email.subject]);
    const current = (await get('/v1/templates/exam.schedule/email/zh-CN')).json() as {
      version: number;
    };
    assert.equal(current.version, 3);
    const history = (await get('/v1/templates/exam.schedule/email/zh-CN/versions')).json() as {
      items: { version: number; body: string }[];
    };
    assert.deepEqual(
      history.items.map((v) => v.version),
      [3, 2, 1],
      'history only grows',
    );
    problem(
      await app.inject({
        method: 'POST',
        url: '/v1/templates/exam.schedule/email/zh-CN/versions/7/restore',
        headers: ADMIN,
      }),
      404,
      'not-found',
    );
  });

  it('a draft that does not parse: every error of every part, with positions', async () => {
    const body = problem(
      await preview('exam.schedule/email/en', {
        template: { subject: 'Hi {{ data.x', body: 'ok\n{% if data.y %}' },
      }),
      422,
      'template-invalid',
    );
    const errors = body['errors'] as { part: string; kind: string; line: number; col: number }[];
    assert.deepEqual(
      errors.map((e) => [e.part, e.kind, e.line, e.col]),
      [
        ['subject', 'parse', 1, 4],
        ['body', 'parse', 2, 1],
      ],
    );
  });

  it('lists the data fields the templates of a category read', async () => {
    await put('exam.schedule/email/zh-CN', email);
    await put('exam.schedule/sms/en', {
      body: '{{ data.course }}{% if data.seat %} seat {{ data.seat }}{% endif %}{% for d in data.days %}{{ d }}{% endfor %}{{ data.hall.name }}',
    });
    const res = await get('/v1/templates/data-fields?category=exam.schedule');
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), {
      category: 'exam.schedule',
      fields: [
        { path: 'course', templates: ['email/zh-CN', 'sms/en'] },
        { path: 'room', templates: ['email/zh-CN'] },
        { path: 'seat', templates: ['sms/en'] },
        { path: 'days', templates: ['sms/en'] },
        { path: 'hall.name', templates: ['sms/en'] },
      ],
    });
    problem(await get('/v1/templates/data-fields?category=nope'), 422, 'unknown-category');
  });

  it('needs the admin token', async () => {
    problem(await app.inject({ method: 'GET', url: '/v1/templates' }), 401, 'unauthenticated');
    problem(
      await app.inject({
        method: 'PUT',
        url: '/v1/templates/exam.schedule/email/en',
        payload: email,
      }),
      401,
      'unauthenticated',
    );
  });

  it('documents its routes in the OpenAPI spec', async () => {
    const spec = app.swagger() as { paths: Record<string, unknown> };
    assert.ok(spec.paths['/v1/templates/{category}/{channel}/{locale}/preview']);
  });
});
