import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHerald, type TestHerald } from '../support/test-herald.js';

describe('OpenAPI description at /docs', () => {
  let t: TestHerald;
  before(async () => {
    t = await startTestHerald({ HERALD_DEMO: 'false' });
  });
  after(() => t.close());

  it('serves the interactive docs page', async () => {
    const res = await fetch(`${t.url}/docs/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /text\/html/);
  });

  it('describes every route of the contract', async () => {
    const spec = (await (await fetch(`${t.url}/docs/json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { tags?: string[]; summary?: string }>>;
    };
    assert.match(spec.openapi, /^3\.1/);
    const routes = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    for (const expected of [
      'POST /v1/messages',
      'GET /v1/messages/{id}',
      'GET /v1/messages/{id}/deliveries',
      'GET /v1/sources',
      'POST /v1/sources/{key}/api-keys',
      'GET /v1/sources/{key}/quota-usage',
      'GET /v1/categories',
      'PUT /v1/templates/{category}/{channel}/{locale}',
      'POST /v1/users/import',
      'GET /v1/users',
      'GET /v1/groups',
      'POST /v1/auth/login',
      'GET /v1/me/inbox',
      'GET /v1/me/inbox/unread-count',
      'POST /v1/me/inbox/{id}/read',
      'POST /v1/me/inbox/read-all',
      'GET /v1/me/inbox/stream',
      'GET /v1/me/preferences',
      'PUT /v1/me/preferences',
      'POST /v1/dead-letters/{id}/redrive',
      'GET /v1/sandbox/outbox',
      'GET /healthz',
      'GET /readyz',
      'GET /metrics',
      'GET /v1/stats/overview',
      'POST /v1/audience/preview',
      'GET /v1/org-tree',
      'GET /v1/roles',
      'POST /v1/messages/preview',
      'GET /v1/templates/{category}/{channel}/{locale}/versions/{version}',
      'POST /v1/templates/{category}/{channel}/{locale}/versions/{version}/restore',
      'GET /v1/templates/data-fields',
      'POST /v1/groups/import',
    ]) {
      assert.ok(routes.includes(expected), `${expected} is documented`);
    }
    for (const [path, ops] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        assert.ok(op.tags?.length, `${method} ${path} has a tag`);
        assert.ok(op.summary, `${method} ${path} has a summary`);
      }
    }
  });

  it('answers unknown routes with a problem+json 404', async () => {
    const res = await fetch(`${t.url}/v1/nope?token=secret`);
    assert.equal(res.status, 404);
    assert.match(res.headers.get('content-type')!, /application\/problem\+json/);
    const body = (await res.json()) as { code: string; instance: string };
    assert.equal(body.code, 'not-found');
    assert.equal(body.instance, '/v1/nope', 'no query string echoed');
  });

  it('is ready once started', async () => {
    assert.equal((await fetch(`${t.url}/readyz`)).status, 200);
    assert.equal((await fetch(`${t.url}/healthz`)).status, 200);
  });
});
