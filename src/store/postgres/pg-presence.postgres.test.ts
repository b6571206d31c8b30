/**
 * The presence on PostgreSQL: a token other sessions see in pg_stat_activity exactly while
 * its holder's session lives, and never again once that session is gone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { freshPostgres, type FreshPostgres } from '../../../test/support/fresh-postgres.js';
import { skipUnless } from '../../../test/support/services.js';
import { eventually } from '../../../test/support/test-herald.js';
import { openPostgres } from './open-postgres.js';
import { PgPresence } from './pg-presence.js';

describe('PgPresence', { skip: await skipUnless('postgres') }, () => {
  let fresh: FreshPostgres;
  const presences: PgPresence[] = [];

  before(async () => {
    fresh = await freshPostgres();
  });

  after(async () => {
    for (const p of presences) await p.close();
    await fresh?.close();
  });

  function presence(newClient = fresh.newClient): PgPresence {
    const p = new PgPresence({ db: fresh.db, newClient, label: 'herald relay' });
    presences.push(p);
    p.start();
    return p;
  }

  const held = (p: PgPresence) =>
    eventually(async () => p.token ?? undefined, 10_000, 'a token held');

  /** The tokens other sessions see now. */
  async function seen(p: PgPresence): Promise<string[]> {
    const { rows } = await sql<{ token: string }>`${p.held}`.execute(fresh.db);
    return rows.map((r) => r.token);
  }

  it('holds a token of its own that other sessions see, and gives it up on close', async () => {
    const a = presence();
    const b = presence();
    const [ta, tb] = [await held(a), await held(b)];
    assert.match(ta, /^herald relay [\w-]{16}$/);
    assert.notEqual(ta, tb);
    assert.ok((await seen(a)).includes(ta), 'seen from the pool');
    assert.ok((await seen(a)).includes(tb));

    await a.close();
    assert.equal(a.token, null);
    assert.ok(!(await seen(b)).includes(ta), 'gone once closed');
    assert.ok((await seen(b)).includes(tb));
  });

  it('names its session itself: an application_name in the database URL does not replace the token', async () => {
    const url = new URL(fresh.url);
    url.searchParams.set('application_name', 'set-in-the-url');
    const other = openPostgres(url.toString(), { poolSize: 1, statementTimeoutMs: 30_000 });
    try {
      const p = presence(other.newClient);
      const token = await held(p);
      assert.ok((await seen(p)).includes(token));
      assert.equal(p.supported, true);
    } finally {
      await other.db.destroy();
    }
  });

  it('drops its token the moment its session ends, and comes back under a new one', async () => {
    const p = presence();
    const first = await held(p);
    const heard: (string | null)[] = [];
    p.onHeld(() => heard.push(p.token));

    // What a PostgreSQL restart or a cut connection does to the session.
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${first}`.execute(
      fresh.db,
    );
    const second = await eventually(
      async () => (p.token !== null && p.token !== first ? p.token : undefined),
      10_000,
      'a new token',
    );
    assert.notEqual(second, first);
    const visible = await seen(p);
    assert.ok(visible.includes(second));
    assert.ok(!visible.includes(first), 'the old token is gone for good');
    assert.deepEqual(heard, [second], 'listeners hear of the new token');
  });
});
