import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  spawnHerald,
  type ChildHerald,
} from '../support/test-herald.js';
import { openSse } from '../support/sse-client.js';
import { RUN_MODES, type Run } from '../support/run-modes.js';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';

/** Reads the demo's printed credentials from the start banner, as a newcomer would. */
function bannerSecrets(output: string) {
  const password = /every user's password: (\S+)/.exec(output)?.[1];
  const jwc = /^\s+jwc\s+(hk_\S+)/m.exec(output)?.[1];
  assert.ok(password && jwc, `banner lacks demo credentials:\n${output}`);
  return { password, jwc };
}

for (const mode of RUN_MODES) {
  describe(
    `end to end on ${mode.name}: a campus system posts to a class, a student sees it live`,
    { skip: await mode.unavailable() },
    () => {
      let dataDir: string;
      let herald: ChildHerald;
      let run: Run;

      before(async () => {
        dataDir = mkdtempSync(join(tmpdir(), 'herald-e2e-'));
        run = await mode.open(dataDir);
        herald = await spawnHerald(dataDir, { HERALD_DEMO: 'true', ...run.env });
      });
      after(async () => {
        await herald?.kill('SIGTERM');
        await run?.drop();
        rmSync(dataDir, { recursive: true, force: true });
      });

      it('prints a banner with the URL, API keys and a curl that works', async () => {
        const out = herald.output();
        assert.match(out, /Herald is running at http:\/\/127\.0\.0\.1:\d+/);
        const curl =
          /curl -s -X POST (\S+) -H 'Authorization: Bearer (hk_\S+)' -H 'Content-Type: application\/json' -d '(.+)'$/m.exec(
            out,
          );
        assert.ok(curl, 'banner has a ready-to-paste curl');
        const res = await fetch(curl[1]!, {
          method: 'POST',
          headers: { authorization: `Bearer ${curl[2]}`, 'content-type': 'application/json' },
          body: curl[3]!.replace(/'\\''/g, "'"),
        });
        assert.equal(res.status, 202);
      });

      it("delivers a message sent to a group into a member's inbox over a real SSE connection", async () => {
        const { password, jwc } = bannerSecrets(herald.output());
        const admin = client(herald.url, ADMIN_TOKEN);
        const groups = await admin('GET', '/v1/groups');
        const klass = groups.body.items.find(
          (g: { key: string }) => g.key === 'class-2024-agronomy-1',
        );
        assert.ok(klass, 'the demo has class 农学院 2024级1班');
        const members = await admin('GET', `/v1/groups/${klass.key}/members?limit=500`);
        const member = members.body.items.find(
          (u: { externalId: string }) => u.externalId === '2024010101',
        );
        assert.ok(member, '2024010101 is in the class');

        // The student logs in and opens the live inbox with the session cookie, as a browser does.
        const login = await fetch(`${herald.url}/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ externalId: '2024010101', password }),
        });
        assert.equal(login.status, 200);
        const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
        assert.match(login.headers.get('set-cookie')!, /HttpOnly/i);
        const stream = await openSse(`${herald.url}/v1/me/inbox/stream`, { cookie });
        assert.match(stream.headers.get('content-type')!, /text\/event-stream/);

        const sent = await client(herald.url, jwc)('POST', '/v1/messages', {
          category: 'exam.reminder',
          to: { groups: [klass.key] },
          data: DEMO_EXAMPLES['exam.reminder'],
        });
        assert.equal(sent.status, 202);

        await stream.waitFor((events) =>
          events.some((e) => e.event === 'inbox' && JSON.parse(e.data).messageId === sent.body.id),
        );
        const event = stream.events.find(
          (e) => e.event === 'inbox' && JSON.parse(e.data).messageId === sent.body.id,
        )!;
        const item = JSON.parse(event.data);
        assert.equal(event.id, String(item.seq));
        assert.match(item.title, /植物生理学/);
        assert.match(item.body, /北区教学楼 A201/);
        assert.equal(item.source.name, '教务处');
        await stream.close();

        const status = await eventually(
          async () => {
            const m = await client(herald.url, jwc)('GET', `/v1/messages/${sent.body.id}`);
            return m.body.status === 'completed' ? m.body : undefined;
          },
          15_000,
          'message completed',
        );
        assert.equal(status.recipients, members.body.items.length);
        assert.equal(status.counts.in_app.delivered, members.body.items.length);
      });

      it('resumes a stream after Last-Event-ID without losing or repeating items', async () => {
        const { password, jwc } = bannerSecrets(herald.output());
        const login = await client(herald.url)('POST', '/v1/auth/login', {
          externalId: '2024010102',
          password,
        });
        const auth = { authorization: `Bearer ${login.body.token}` };
        const first = await openSse(`${herald.url}/v1/me/inbox/stream`, auth);
        const send = () =>
          client(herald.url, jwc)('POST', '/v1/messages', {
            category: 'exam.reminder',
            to: { users: ['2024010102'] },
            data: DEMO_EXAMPLES['exam.reminder'],
            channels: ['in_app'],
          });
        const a = await send();
        await first.waitFor((ev) =>
          ev.some((e) => e.event === 'inbox' && JSON.parse(e.data).messageId === a.body.id),
        );
        const lastId = first.events.filter((e) => e.event === 'inbox').at(-1)!.id!;
        await first.close();

        // While disconnected, two more arrive.
        const b = await send();
        const c = await send();
        await eventually(async () => {
          const inbox = await client(herald.url, login.body.token)('GET', '/v1/me/inbox?limit=10');
          const ids = inbox.body.items.map((i: { messageId: string }) => i.messageId);
          return ids.includes(b.body.id) && ids.includes(c.body.id) ? true : undefined;
        });

        const resumed = await openSse(`${herald.url}/v1/me/inbox/stream`, {
          ...auth,
          'last-event-id': lastId,
        });
        await resumed.waitFor((ev) => ev.filter((e) => e.event === 'inbox').length >= 2);
        await new Promise((r) => setTimeout(r, 200));
        const got = resumed.events
          .filter((e) => e.event === 'inbox')
          .map((e) => JSON.parse(e.data).messageId);
        assert.deepEqual(got, [b.body.id, c.body.id], 'exactly the two missed items, in order');
        assert.ok(resumed.events.some((e) => e.event === 'unread'));
        await resumed.close();
      });

      it(
        'a stream open on another process (herald api, no workers) gets the item the first one delivered',
        { skip: mode.multiProcess ? false : 'one SQLite file has one Herald process' },
        async () => {
          const { password, jwc } = bannerSecrets(herald.output());
          const apiDir = mkdtempSync(join(tmpdir(), 'herald-e2e-api-'));
          const api = await spawnHerald(apiDir, run.env, 'api');
          try {
            const login = await client(api.url)('POST', '/v1/auth/login', {
              externalId: '2024010103',
              password,
            });
            assert.equal(login.status, 200, 'the second process serves the same users');
            const stream = await openSse(`${api.url}/v1/me/inbox/stream`, {
              authorization: `Bearer ${login.body.token}`,
            });
            // Posted to the first process, fanned out and delivered by its workers.
            const sent = await client(herald.url, jwc)('POST', '/v1/messages', {
              category: 'exam.reminder',
              to: { users: ['2024010103'] },
              data: DEMO_EXAMPLES['exam.reminder'],
              channels: ['in_app'],
            });
            assert.equal(sent.status, 202);

            await stream.waitFor((events) =>
              events.some(
                (e) => e.event === 'inbox' && JSON.parse(e.data).messageId === sent.body.id,
              ),
            );
            await stream.close();
          } finally {
            await api.kill('SIGTERM');
            rmSync(apiDir, { recursive: true, force: true });
          }
        },
      );

      it('shuts down gracefully on SIGTERM even with a live stream open', async () => {
        const { password } = bannerSecrets(herald.output());
        const login = await client(herald.url)('POST', '/v1/auth/login', {
          externalId: '2024010101',
          password,
        });
        const stream = await openSse(`${herald.url}/v1/me/inbox/stream`, {
          authorization: `Bearer ${login.body.token}`,
        });
        const started = Date.now();
        const exited = new Promise<number | null>((resolve) =>
          herald.proc.once('exit', (code) => resolve(code)),
        );
        herald.proc.kill('SIGTERM');
        assert.equal(await exited, 0);
        assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
        await stream.close();
      });
    },
  );
}
