import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { freshDatabase, type FreshDatabase } from '../../test/support/fresh-db.js';
import { newToken, sha256 } from '../auth/secrets.js';
import { insertSession } from '../auth/sessions-store.js';
import { upsertUsers } from '../recipients/users-store.js';
import { systemClock } from '../time/clock.js';
import { authGuards } from './auth-guards.js';
import { createServer } from './server.js';
import type { Server } from './server-types.js';

const ADMIN_TOKEN = 'admin-token-for-the-log-test';

describe('the request log names who used admin rights', () => {
  let fresh: FreshDatabase;
  let app: Server;
  const lines: Record<string, unknown>[] = [];
  const sessions: Record<string, string> = {};

  before(async () => {
    fresh = await freshDatabase('request-log');
    const now = Date.now();
    await upsertUsers(
      fresh.db,
      [
        { externalId: 'T9', name: 'Operator', roles: ['staff', 'herald-admin'] },
        { externalId: 'S9', name: 'Student', roles: ['undergraduate'] },
      ],
      now,
    );
    for (const externalId of ['T9', 'S9']) {
      const user = await fresh.db
        .selectFrom('users')
        .select('id')
        .where('external_id', '=', externalId)
        .executeTakeFirstOrThrow();
      const token = newToken('hs');
      await insertSession(fresh.db, sha256(token), user.id, now, now + 3600_000);
      sessions[externalId] = token;
    }
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean))
          lines.push(JSON.parse(line));
        done();
      },
    });
    app = await createServer({
      logger: pino({ level: 'info' }, sink),
      bodyLimitBytes: 65536,
      version: 'test',
      trustProxy: false,
    });
    const guards = authGuards(fresh.db, () => sha256(ADMIN_TOKEN), systemClock);
    app.post('/admin-thing', { onRequest: guards.admin }, async () => ({ ok: true }));
    app.get('/my-thing', { onRequest: guards.user }, async () => ({ ok: true }));
    await app.ready();
  });
  after(async () => {
    await app.close();
    await fresh.close();
  });

  const call = async (method: 'GET' | 'POST', url: string, token: string) => {
    lines.length = 0;
    const res = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` } });
    await new Promise((r) => setImmediate(r));
    const logged = lines.find((l) => l.msg === 'request');
    return { status: res.statusCode, logged };
  };

  it('an operator session: the operator', async () => {
    const { status, logged } = await call('POST', '/admin-thing', sessions.T9!);
    assert.equal(status, 200);
    assert.equal(logged?.actor, 'operator:T9');
    assert.equal(logged?.path, '/admin-thing');
  });

  it('the admin token: admin-token', async () => {
    const { logged } = await call('POST', '/admin-thing', ADMIN_TOKEN);
    assert.equal(logged?.actor, 'admin-token');
  });

  it('no actor on user routes, also for an operator, and none for a refused student', async () => {
    const mine = await call('GET', '/my-thing', sessions.T9!);
    assert.equal(mine.status, 200);
    assert.equal(mine.logged?.actor, undefined);
    const refused = await call('POST', '/admin-thing', sessions.S9!);
    assert.equal(refused.status, 403);
    assert.equal(refused.logged?.actor, undefined);
    assert.ok(!JSON.stringify(lines).includes(sessions.S9!), 'tokens never reach the log');
  });
});
