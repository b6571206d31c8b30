/**
 * The presence on PostgreSQL: a token other sessions see in pg_stat_activity exactly while
 * its holder's session lives, and never again once that session is gone.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type pg from 'pg';
import pino from 'pino';
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

  /**
   * A presence checked every 100 ms, giving up on a ping after 300 ms, under a label of its
   * own (other tests on this server hold `herald relay` tokens), with its log kept.
   */
  function quickPresence(opts: { newClient?: () => pg.Client; db?: typeof fresh.db } = {}) {
    const logged: { level: number; msg: string; why?: string }[] = [];
    const log = pino(
      { level: 'debug' },
      { write: (line: string) => logged.push(JSON.parse(line)) },
    );
    const p = new PgPresence({
      db: opts.db ?? fresh.db,
      newClient: opts.newClient ?? fresh.newClient,
      label: `herald test ${randomBytes(4).toString('hex')}`,
      log,
      pingMs: 100,
      pingGiveUpMs: 300,
    });
    presences.push(p);
    p.start();
    return { p, logged };
  }

  /** The server sessions named with `p`'s prefix now: pid and token. */
  async function sessions(p: PgPresence): Promise<{ pid: number; token: string }[]> {
    const { rows } = await sql<{ pid: number; token: string }>`
      select pid, application_name as token from pg_stat_activity
      where starts_with(application_name, ${p.prefix})`.execute(fresh.db);
    return rows;
  }

  /** Counts the connections a presence opens. */
  function counting(make: () => pg.Client = fresh.newClient) {
    const made: pg.Client[] = [];
    return {
      made,
      newClient: () => {
        const c = make();
        made.push(c);
        return c;
      },
    };
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

  it('a connection whose statements run in other server sessions (a pooler in transaction mode) is found out: timed claims', async () => {
    // What a transaction-mode pooler does: each statement runs in whichever server session
    // is free. The session named with the token is shown to the pool as it should be; the
    // next statement on the "same" connection answers from another server process.
    const pooled = (): pg.Client => {
      const servers = [fresh.newClient(), fresh.newClient()];
      let next = 0;
      let ended: Promise<void> | null = null;
      const conn = Object.assign(new EventEmitter(), {
        connect: async () => {
          await Promise.all(servers.map((s) => s.connect()));
        },
        query: (text: string, values?: unknown[]) => servers[next++ % 2]!.query(text, values),
        end: () =>
          (ended ??= Promise.all(servers.map((s) => s.end())).then(() => {
            conn.emit('end');
          })),
      });
      return conn as unknown as pg.Client;
    };
    const { p, logged } = quickPresence({ newClient: pooled });
    let heard = 0;
    p.onHeld(() => heard++);

    await eventually(async () => (p.supported ? undefined : true), 10_000, 'found out');
    assert.equal(p.token, null, 'no token handed out');
    assert.equal(heard, 1, 'the holder hears of it (the relay then claims under timed claims)');
    const error = logged.find((l) => l.level === 50);
    assert.match(error?.msg ?? '', /not supported through this connection/);
    assert.match(error?.why ?? '', /ran in another server session/);
    await eventually(async () => ((await sessions(p)).length === 0 ? true : undefined));
  });

  it('a session renamed under it (a pooler handing the server session to another client) is found out at the next ping', async () => {
    const { made, newClient } = counting();
    const { p, logged } = quickPresence({ newClient });
    const token = await held(p);
    assert.equal(p.supported, true);

    await made[0]!.query(`select set_config('application_name', 'someone else', false)`);
    await eventually(async () => (p.supported ? undefined : true), 10_000, 'found out');
    assert.equal(p.token, null);
    const error = logged.find((l) => l.level === 50);
    assert.match(error?.why ?? '', new RegExp(`named ${token}, now pid \\d+ named someone else`));
    assert.equal(made.length, 1, 'no new session: the presence is given up for good');
  });

  it('a late failure of an older connection attempt leaves the current session alone', async () => {
    // The first attempt reports a socket error at once, and its connect() rejects only
    // after the second attempt holds a token.
    let failLate!: () => void;
    const lateFailure = new Promise<void>((resolve) => (failLate = resolve));
    let calls = 0;
    const newClient = (): pg.Client => {
      if (calls++ > 0) return fresh.newClient();
      const first = Object.assign(new EventEmitter(), {
        connect: () => {
          setTimeout(() => first.emit('error', new Error('ECONNRESET (first attempt)')), 10);
          return lateFailure.then(() => {
            throw new Error('connect failed (first attempt, late)');
          });
        },
        query: () => Promise.reject(new Error('not connected')),
        end: () => Promise.resolve(),
      });
      return first as unknown as pg.Client;
    };
    const { p, logged } = quickPresence({ newClient });
    const token = await held(p);
    assert.equal(calls, 2);

    failLate();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(p.token, token, 'the token held is still the same');
    assert.deepEqual(
      (await sessions(p)).map((s) => s.token),
      [token],
    );
    assert.equal(calls, 2, 'no reconnection');
    assert.ok(!logged.some((l) => /lost/.test(l.msg)), 'no session reported lost');
  });

  it('a failed check from the pool is not a lost session: the same session is checked again', async () => {
    // A pool of one connection, held elsewhere, whose waiters give up after 200 ms.
    const other = openPostgres(fresh.url, {
      poolSize: 1,
      statementTimeoutMs: 30_000,
      connectionTimeoutMs: 200,
      idleTimeoutMs: 0,
    });
    const busy = await other.pool.connect();
    let released = false;
    try {
      const { made, newClient } = counting();
      const { p, logged } = quickPresence({ newClient, db: other.db });
      await eventually(
        async () => (logged.some((l) => /pool could not check/.test(l.msg)) ? true : undefined),
        10_000,
        'a failed check',
      );
      const [before] = await sessions(p);
      assert.ok(before, 'the session named with its token lives on');
      assert.equal(p.token, null, 'its token is not handed out unchecked');

      busy.release();
      released = true;
      const token = await held(p);
      assert.equal(token, before.token, 'the same session');
      assert.deepEqual(
        (await sessions(p)).map((s) => s.pid),
        [before.pid],
      );
      assert.equal(made.length, 1, 'opened once');
      assert.ok(!logged.some((l) => /lost/.test(l.msg)));
    } finally {
      if (!released) busy.release();
      await other.db.destroy();
    }
  });

  it('a stall of the event loop longer than the ping timeout does not drop a session that answered', async () => {
    let stall = false;
    const newClient = (): pg.Client => {
      const c = fresh.newClient();
      const query = c.query.bind(c) as (...args: unknown[]) => unknown;
      (c as unknown as { query: unknown }).query = (...args: unknown[]) => {
        if (!(stall && typeof args[0] === 'string' && args[0].includes('current_setting')))
          return query(...args);
        stall = false;
        // The ping goes out late in a turn of the loop, which is then busy for 1 s (the
        // timeout is 0.3 s): the answer arrives meanwhile, and after the stall the loop runs
        // its timers before it reads sockets.
        return new Promise((resolve, reject) =>
          setImmediate(() => {
            (query(...args) as Promise<unknown>).then(resolve, reject);
            const until = performance.now() + 1_000;
            while (performance.now() < until);
          }),
        );
      };
      return c;
    };
    const { made, newClient: opening } = counting(newClient);
    const { p, logged } = quickPresence({ newClient: opening });
    const token = await held(p);
    stall = true;
    await eventually(async () => (stall ? undefined : true), 5_000, 'a ping and the stall');
    // Several pings after it.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(p.token, token, 'still the same token');
    assert.equal(made.length, 1, 'no reconnection');
    assert.ok(!logged.some((l) => /lost|no answer/.test(l.msg)));
  });
});
