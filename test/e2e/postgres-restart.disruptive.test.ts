/**
 * PostgreSQL restarts under load: Herald answers 503 with Retry-After while the database is
 * away (never a 500, never a crash), reports itself not ready, and serves again on its own
 * once PostgreSQL is back — pool and LISTEN connection re-established, nothing accepted lost.
 *
 * This restarts the machine's PostgreSQL cluster for a few seconds: other test files using
 * PostgreSQL at that moment see their connections dropped. It is kept to one short restart,
 * in a file of its own.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  spawnHerald,
  type ChildHerald,
} from '../support/test-herald.js';
import { openSse } from '../support/sse-client.js';
import { freshSchema, type FreshSchema } from '../support/fresh-postgres.js';
import { skipUnless, TEST_DATABASE_URL } from '../support/services.js';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';

const run = promisify(execFile);

/** `pg_ctlcluster` is how this machine kind runs PostgreSQL; without it the test cannot act. */
async function restartable(): Promise<string | false> {
  const down = await skipUnless('postgres');
  if (down) return down;
  try {
    // Lists the clusters pg_ctlcluster can act on; fails where Debian's tools are missing.
    const { stdout } = await run('pg_lsclusters', ['--no-header']);
    return /\bmain\b.*\bonline\b/.test(stdout) && readdirSync('/etc/postgresql').length > 0
      ? false
      : 'no online cluster "main" for pg_ctlcluster to restart';
  } catch {
    return 'pg_ctlcluster is not available to restart PostgreSQL';
  }
}

async function restartPostgres(): Promise<void> {
  const [version] = readdirSync('/etc/postgresql');
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', version!, 'main', 'restart']);
}

interface Outcome {
  readonly status: number | 'network-error';
  readonly retryAfter: string | null;
  readonly id?: string;
}

describe('PostgreSQL restart under load', { skip: await restartable() }, () => {
  let schema: FreshSchema;
  let dataDir: string;
  let herald: ChildHerald;
  let exited: number | null | undefined;

  before(async () => {
    schema = await freshSchema();
    dataDir = mkdtempSync(join(tmpdir(), 'herald-pg-restart-'));
    herald = await spawnHerald(dataDir, {
      HERALD_DEMO: 'true',
      HERALD_DATABASE_URL: schema.url,
      HERALD_DATABASE_POOL_SIZE: '4',
      // Jobs leased when the connection died come back after their lease: keep it short.
      HERALD_LEASE_SECONDS: '3',
      HERALD_LOG_LEVEL: 'fatal',
    });
    herald.proc.once('exit', (code) => (exited = code));
  });
  after(async () => {
    await herald?.kill('SIGTERM');
    await schema?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After during the restart, never 500, and recovers by itself with nothing lost', async (t) => {
    const out = herald.output();
    const jwc = /^\s+jwc\s+(hk_\S+)/m.exec(out)?.[1];
    const password = /every user's password: (\S+)/.exec(out)?.[1];
    assert.ok(jwc && password, 'demo credentials in the banner');
    const send = (user: string) =>
      fetch(`${herald.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${jwc}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          category: 'exam.reminder',
          to: { users: [user] },
          data: DEMO_EXAMPLES['exam.reminder'],
          channels: ['in_app'],
        }),
      });

    // A student's live inbox, open across the restart.
    const login = await client(herald.url)('POST', '/v1/auth/login', {
      externalId: '2024010101',
      password,
    });
    assert.equal(login.status, 200);
    const stream = await openSse(`${herald.url}/v1/me/inbox/stream`, {
      authorization: `Bearer ${login.body.token}`,
    });

    const outcomes: Outcome[] = [];
    const ready: (number | 'network-error')[] = [];
    let loading = true;
    const load = async () => {
      while (loading) {
        try {
          const res = await send('2024010102');
          const body = (await res.json()) as { id?: string };
          outcomes.push({
            status: res.status,
            retryAfter: res.headers.get('retry-after'),
            ...(res.status === 202 && body.id ? { id: body.id } : {}),
          });
          if (res.status !== 202) await new Promise((r) => setTimeout(r, 50));
        } catch {
          outcomes.push({ status: 'network-error', retryAfter: null });
        }
      }
    };
    const probe = async () => {
      while (loading) {
        try {
          ready.push((await fetch(`${herald.url}/readyz`)).status);
        } catch {
          ready.push('network-error');
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const loaders = [load(), load(), load(), load(), probe()];

    await new Promise((r) => setTimeout(r, 500));
    const restartStarted = Date.now();
    await restartPostgres();
    const restartMs = Date.now() - restartStarted;
    // Herald comes back by itself: a new message is accepted again.
    await eventually(
      async () => ((await send('2024010102')).status === 202 ? true : undefined),
      20_000,
      'a 202 after the restart',
    );
    const recoveredMs = Date.now() - restartStarted;
    await new Promise((r) => setTimeout(r, 500));
    loading = false;
    await Promise.all(loaders);

    const statuses = new Map<string, number>();
    for (const o of outcomes)
      statuses.set(String(o.status), (statuses.get(String(o.status)) ?? 0) + 1);
    const summary = `restart ${restartMs} ms, recovered after ${recoveredMs} ms, answers ${JSON.stringify(Object.fromEntries(statuses))}`;
    t.diagnostic(summary);
    assert.equal(exited, undefined, `Herald kept running (${summary})`);
    assert.deepEqual(
      [...statuses.keys()].filter((s) => s !== '202' && s !== '503'),
      [],
      `only 202 and 503 answers (${summary})`,
    );
    assert.ok((statuses.get('503') ?? 0) > 0, `the restart was noticed (${summary})`);
    assert.ok(
      outcomes
        .filter((o) => o.status === 503)
        .every((o) => o.retryAfter !== null && Number(o.retryAfter) > 0),
      'every 503 says when to retry',
    );
    assert.ok(ready.includes(503), `readyz reported the database away: ${ready.join(',')}`);
    assert.equal((await fetch(`${herald.url}/readyz`)).status, 200);

    // The stream opened before the restart hears a message sent after it (LISTEN reconnected).
    const after = await send('2024010101');
    assert.equal(after.status, 202);
    const afterId = ((await after.json()) as { id: string }).id;
    await stream.waitFor(
      (events) =>
        events.some((e) => e.event === 'inbox' && JSON.parse(e.data).messageId === afterId),
      15_000,
    );
    await stream.close();
    t.diagnostic(
      `stream heard the message sent after the restart ${Date.now() - restartStarted} ms after it began`,
    );

    // Every accepted message reaches the inbox: nothing a 202 promised was lost.
    const accepted = outcomes.flatMap((o) => (o.id ? [o.id] : []));
    assert.ok(accepted.length > 0);
    const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await db.connect();
    try {
      await eventually(
        async () => {
          const { rows } = await db.query<{ n: string }>(
            `select count(distinct message_id) as n from ${schema.schema}.inbox_items where message_id = any($1)`,
            [accepted],
          );
          return Number(rows[0]!.n) === accepted.length ? true : undefined;
        },
        30_000,
        `all ${accepted.length} accepted messages in the inbox`,
      );
    } finally {
      await db.end();
    }
    t.diagnostic(
      `${accepted.length} accepted messages all in the inbox ${Date.now() - restartStarted} ms after the restart began`,
    );
    // The admin API works as well as before.
    assert.equal((await client(herald.url, ADMIN_TOKEN)('GET', '/v1/sources')).status, 200);
  });
});
