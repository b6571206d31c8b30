/**
 * What every process caches of the rows that change rarely: API keys and sources in each
 * `herald api` (src/sources/api-key-cache.ts), categories, sources and templates in each
 * `herald worker` (src/runtime/cached-lookups.ts). A change made through one process must
 * count at once there (API keys) and within the caches' TTL in every other process on the
 * database (the change signal normally makes it milliseconds).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_TOKEN, client, spawnHerald, type ChildHerald } from '../support/test-herald.js';
import { skipUnless } from '../support/services.js';
import { freshSchema, type FreshSchema } from '../support/fresh-postgres.js';
import pg from 'pg';
import Database from 'better-sqlite3';
import { API_KEY_CACHE_TTL_MS } from '../../src/sources/api-key-cache.js';
import { LOOKUP_CACHE_TTL_MS } from '../../src/runtime/cached-lookups.js';
import { TEST_DATABASE_URL } from '../support/services.js';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';

/** What a request may take on top of the bound, on a busy 2-core machine. */
const REQUEST_SLACK_MS = 3_000;

const exam = {
  category: 'exam.reminder',
  to: { users: ['2024010101'] },
  data: DEMO_EXAMPLES['exam.reminder'],
};

/**
 * Calls `request` until it answers `status`; returns how long that took after `since`, or
 * fails once the bound (plus a request's slack) has passed.
 */
async function refusedWithin(
  request: () => Promise<{ status: number }>,
  status: number,
  since: number,
  boundMs = API_KEY_CACHE_TTL_MS,
): Promise<number> {
  const deadline = since + boundMs + REQUEST_SLACK_MS;
  for (;;) {
    const r = await request();
    if (r.status === status) return performance.now() - since;
    assert.ok(performance.now() < deadline, `still answered ${r.status}, not ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Sends exam reminders through `url` until one is rendered with a template version stored
 * after the first was delivered; returns how long after the change that took (within the
 * lookups' bound). `inboxItem` reads a message's inbox item (title, locale) from Herald's db.
 */
async function newTemplateRenderedAfter(
  url: string,
  inboxItem: (messageId: string) => Promise<{ title: string; locale: string } | undefined>,
): Promise<number> {
  const admin = client(url, ADMIN_TOKEN);
  const jwc = client(url, (await admin('POST', '/v1/sources/jwc/api-keys')).body.secret);
  /** Sends one message and waits for its inbox item. */
  const delivered = async () => {
    const sent = await jwc('POST', '/v1/messages', exam);
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    for (;;) {
      const item = await inboxItem(sent.body.id as string);
      if (item) return item;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  // The worker has the template cached now.
  const first = await delivered();
  assert.doesNotMatch(first.title, /v2/);
  const put = await admin('PUT', `/v1/templates/exam.reminder/in_app/${first.locale}`, {
    title: 'Exam v2: {{ data.course }}',
    body: 'Room {{ data.room }}',
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  return refusedWithin(
    async () => ({ status: /^Exam v2: /.test((await delivered()).title) ? 1 : 0 }),
    1,
    performance.now(),
    LOOKUP_CACHE_TTL_MS,
  );
}

/** A message's inbox item, joined with its delivery's locale. */
const INBOX_ITEM_SQL = `select i.title, d.locale from inbox_items i join deliveries d on d.id = i.delivery_id
   where i.message_id = `;

describe(
  'caches per process: 2 × herald api and 1 × herald worker on one PostgreSQL schema',
  { skip: await skipUnless('postgres'), timeout: 120_000 },
  () => {
    let schema: FreshSchema;
    const dirs: string[] = [];
    const procs: ChildHerald[] = [];
    let one: ChildHerald;
    let two: ChildHerald;
    /** The test's own view of Herald's schema. */
    let db: pg.Pool;

    const spawn = async (env: Record<string, string>, role: 'api' | 'worker' = 'api') => {
      const dir = mkdtempSync(join(tmpdir(), 'herald-api-key-cache-'));
      dirs.push(dir);
      const child = await spawnHerald(
        dir,
        { HERALD_DATABASE_URL: schema.url, HERALD_DATABASE_POOL_SIZE: '2', ...env },
        role,
      );
      procs.push(child);
      return child;
    };

    before(async () => {
      schema = await freshSchema();
      one = await spawn({ HERALD_DEMO: 'true' });
      two = await spawn({ HERALD_DEMO: 'false' });
      db = new pg.Pool({
        connectionString: TEST_DATABASE_URL,
        options: `-c search_path=${schema.schema}`,
        max: 2,
      });
      db.on('error', () => undefined);
    });

    after(async () => {
      await Promise.all(procs.map((p) => p.kill('SIGKILL')));
      await db?.end();
      await schema?.drop();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    it('a key revoked through one process is refused there at once and by the other within the bound', async (t) => {
      const created = await client(one.url, ADMIN_TOKEN)('POST', '/v1/sources/jwc/api-keys');
      assert.equal(created.status, 201);
      const viaOne = client(one.url, created.body.secret as string);
      const viaTwo = client(two.url, created.body.secret as string);
      // Both processes have the key cached now.
      assert.equal((await viaOne('POST', '/v1/messages', exam)).status, 202);
      assert.equal((await viaTwo('POST', '/v1/messages', exam)).status, 202);
      assert.equal((await viaTwo('GET', '/v1/messages?limit=1')).status, 200);

      const revoke = await client(one.url, ADMIN_TOKEN)(
        'DELETE',
        `/v1/sources/jwc/api-keys/${created.body.id}`,
      );
      assert.equal(revoke.status, 204);
      const revokedAt = performance.now();
      assert.equal((await viaOne('POST', '/v1/messages', exam)).status, 401, 'at once, here');
      const took = await refusedWithin(() => viaTwo('POST', '/v1/messages', exam), 401, revokedAt);
      t.diagnostic(`refused by the other process ${Math.round(took)} ms after the revocation`);
      assert.equal((await viaTwo('GET', '/v1/messages?limit=1')).status, 401);
    });

    it("a source's categories changed through one process apply in the other within the bound", async (t) => {
      const admin = client(one.url, ADMIN_TOKEN);
      const secret = (await admin('POST', '/v1/sources/jwc/api-keys')).body.secret as string;
      const viaTwo = client(two.url, secret);
      assert.equal((await viaTwo('POST', '/v1/messages', exam)).status, 202);

      const patched = await admin('PATCH', '/v1/sources/jwc', { categories: ['course.change'] });
      assert.equal(patched.status, 200);
      const changedAt = performance.now();
      const notAllowed = () =>
        viaTwo('POST', '/v1/messages', exam).then((r) => ({
          status: r.body?.code === 'category-not-allowed' ? -1 : r.status,
        }));
      const took = await refusedWithin(notAllowed, -1, changedAt);
      t.diagnostic(`applied by the other process ${Math.round(took)} ms after the change`);

      assert.equal(
        (await admin('PATCH', '/v1/sources/jwc', { categories: ['exam.reminder'] })).status,
        200,
      );
      await refusedWithin(() => viaTwo('POST', '/v1/messages', exam), 202, performance.now());
    });

    it('a template changed through an api process is rendered by a worker process within the bound', async (t) => {
      await spawn({ HERALD_DEMO: 'false' }, 'worker');
      const took = await newTemplateRenderedAfter(one.url, async (id) => {
        const { rows } = await db.query<{ title: string; locale: string }>(`${INBOX_ITEM_SQL}$1`, [
          id,
        ]);
        return rows[0];
      });
      t.diagnostic(`the worker rendered the new version ${Math.round(took)} ms after the change`);
    });
  },
);

describe('caches in `herald all` on SQLite: the worker thread hears the API thread', () => {
  let dir: string;
  let herald: ChildHerald;
  /** Herald's own database, read-only beside it (WAL mode lets a reader in). */
  let db: Database.Database;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-thread-cache-'));
    herald = await spawnHerald(dir, { HERALD_DEMO: 'true', HERALD_WORKER_THREAD: 'true' });
    db = new Database(join(dir, 'herald.db'), { readonly: true });
  });

  after(async () => {
    db?.close();
    await herald?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('a template changed through the API is rendered by the worker thread within the bound', async (t) => {
    const took = await newTemplateRenderedAfter(
      herald.url,
      async (id) =>
        db.prepare(`${INBOX_ITEM_SQL}?`).get(id) as { title: string; locale: string } | undefined,
    );
    t.diagnostic(
      `the worker thread rendered the new version ${Math.round(took)} ms after the change`,
    );
  });
});
