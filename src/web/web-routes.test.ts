import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createServer } from '../http/server.js';
import type { Server } from '../http/server-types.js';
import { webRoutes } from './web-routes.js';

async function serverFor(root: string): Promise<Server> {
  const app = await createServer({
    logger: pino({ level: 'silent' }),
    bodyLimitBytes: 1 << 20,
    version: 'test',
    trustProxy: false,
  });
  app.get('/v1/ping', async () => ({ ok: true }));
  await webRoutes(app, { root });
  await app.ready();
  return app;
}

const HTML = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

describe('the web front end at /', () => {
  let root: string;
  let app: Server;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'herald-web-'));
    mkdirSync(join(root, 'assets'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><div id="root"></div>');
    writeFileSync(join(root, 'assets', 'app-3f9a.js'), 'console.log(1)');
    writeFileSync(join(root, 'favicon.svg'), '<svg/>');
    app = await serverFor(root);
  });
  after(async () => {
    await app.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('serves index.html at / with a content security policy, revalidated on every visit', async () => {
    const res = await app.inject({ url: '/', headers: HTML });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /text\/html/);
    assert.match(res.body, /id="root"/);
    assert.match(res.headers['content-security-policy'] as string, /default-src 'self'/);
    assert.equal(res.headers['cache-control'], 'no-cache');
  });

  it('opens the app on a deep link that a browser asks for', async () => {
    for (const url of ['/admin', '/admin/messages/m_123', '/inbox?unread=1', '/preferences']) {
      const res = await app.inject({ url, headers: HTML });
      assert.equal(res.statusCode, 200, url);
      assert.match(res.body, /id="root"/, url);
    }
  });

  it('caches hashed assets for a year and other files not at all', async () => {
    const asset = await app.inject({ url: '/assets/app-3f9a.js' });
    assert.equal(asset.statusCode, 200);
    assert.equal(asset.body, 'console.log(1)');
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    const icon = await app.inject({ url: '/favicon.svg' });
    assert.equal(icon.statusCode, 200);
    assert.equal(icon.headers['cache-control'], 'no-cache');
  });

  it('answers a missing file, an API path or a non-HTML request with the problem+json 404', async () => {
    for (const [url, headers] of [
      ['/assets/gone-1234.js', HTML],
      ['/v1/nothing-here', HTML],
      ['/somewhere', { accept: 'application/json' }],
    ] as const) {
      const res = await app.inject({ url, headers });
      assert.equal(res.statusCode, 404, url);
      assert.match(res.headers['content-type'] as string, /application\/problem\+json/, url);
    }
  });

  it('never serves a file outside the build', async () => {
    for (const url of ['/../package.json', '/assets/..%2f..%2fpackage.json', '/%2e%2e/x.json']) {
      const res = await app.inject({ url, headers: HTML });
      assert.ok([403, 404].includes(res.statusCode), `${url}: ${res.statusCode}`);
      assert.match(res.headers['content-type'] as string, /application\/problem\+json/, url);
      assert.doesNotMatch(res.body, /"name"/, url);
    }
  });

  it('leaves the API routes alone', async () => {
    const res = await app.inject({ url: '/v1/ping', headers: HTML });
    assert.deepEqual(res.json(), { ok: true });
  });
});

describe('the web front end before it is built', () => {
  it('explains in both languages how to build it, with a 503', async () => {
    const root = mkdtempSync(join(tmpdir(), 'herald-web-empty-'));
    const app = await serverFor(root);
    try {
      const res = await app.inject({ url: '/', headers: HTML });
      assert.equal(res.statusCode, 503);
      assert.match(res.body, /npm run build/);
      assert.match(res.body, /网页界面尚未构建/);
      const api = await app.inject({ url: '/v1/nothing', headers: HTML });
      assert.equal(api.statusCode, 404);
    } finally {
      await app.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
