/**
 * One specification of the stores' key operations, run against every database Herald
 * supports: SQLite and PostgreSQL. Where it matters, a second handle on the same database
 * plays a second process (a second SQLite connection to the file, a second PostgreSQL pool),
 * and the two race: the guarantees (one message per idempotency key, gap-free inbox sequence
 * numbers, distinct template versions, quotas never overdrawn) must hold on both.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Db } from './database.js';
import { newId } from './ids.js';
import { migrateToLatest } from './migrate.js';
import { openSqlite } from './sqlite/open-sqlite.js';
import { openPostgres } from './postgres/open-postgres.js';
import { sqliteDialect } from './sql-dialect.js';
import type { DeliveriesTable } from './schema.js';
import { upsertUsers, listUsers, getUserByExternalId } from '../recipients/users-store.js';
import { importUsers } from '../recipients/users-import.js';
import { createGroup } from '../recipients/groups-store.js';
import { countAudience, streamAudience } from '../recipients/audience.js';
import { insertSource } from '../sources/sources-store.js';
import { insertCategory } from '../categories/categories-store.js';
import { Ingest, type SendRequest } from '../messages/ingest.js';
import { getMessage, insertMessages } from '../messages/messages-store.js';
import {
  applyDeliveryUpdates,
  insertDeliveries,
  listDeliveries,
  type DeliveryUpdate,
} from '../deliveries/deliveries-store.js';
import {
  addInboxItems,
  inboxAfter,
  lastInboxSeq,
  markAllRead,
  unreadCount,
} from '../inbox/inbox-store.js';
import { listTemplates, listVersions, putTemplate } from '../templates/templates-store.js';
import { chargeQuota, usageOn } from '../quotas/quota-usage-store.js';
import {
  deleteProviderConfig,
  insertProviderConfig,
  listProviderConfigs,
  readProvidersVersion,
  updateProviderConfig,
} from '../providers/providers-store.js';
import { EmbeddedQueue } from '../queue/embedded/embedded-queue.js';
import { freshPostgres } from '../../test/support/fresh-postgres.js';
import { skipUnless } from '../../test/support/services.js';

interface Opened {
  readonly db: Db;
  /** Another handle on the same database, as a second process would have. */
  second(): Promise<Db>;
  close(): Promise<void>;
}

interface Backend {
  readonly name: string;
  readonly skip: string | false;
  open(): Promise<Opened>;
}

const BACKENDS: readonly Backend[] = [
  {
    name: 'SQLite',
    skip: false,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'herald-store-'));
      const file = join(dir, 'herald.db');
      const { db } = openSqlite(file);
      await migrateToLatest(db, sqliteDialect);
      const others: Db[] = [];
      return {
        db,
        async second() {
          const other = openSqlite(file).db;
          others.push(other);
          return other;
        },
        async close() {
          for (const other of others) await other.destroy();
          await db.destroy();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'PostgreSQL',
    skip: await skipUnless('postgres'),
    async open() {
      const fresh = await freshPostgres();
      const others: Db[] = [];
      return {
        db: fresh.db,
        async second() {
          const other = openPostgres(fresh.url, { poolSize: 4, statementTimeoutMs: 30_000 }).db;
          others.push(other);
          return other;
        },
        async close() {
          for (const other of others) await other.destroy();
          await fresh.close();
        },
      };
    },
  },
];

const NOW = Date.UTC(2025, 8, 1, 8, 0, 0);
let counter = 0;
/** A key no other test uses (the tests of a backend share one database). */
const unique = (prefix: string) => `${prefix}-${++counter}`;

for (const backend of BACKENDS) {
  describe(`Store contract: ${backend.name}`, { skip: backend.skip }, () => {
    let h: Opened;
    let db: Db;
    let other: Db;

    before(async () => {
      h = await backend.open();
      db = h.db;
      other = await h.second();
    });
    after(async () => {
      await h?.close();
    });

    async function someUsers(n: number, extra: { roles?: string[]; orgPath?: string } = {}) {
      const ids = Array.from({ length: n }, () => unique('u'));
      await upsertUsers(
        db,
        ids.map((externalId) => ({ externalId, name: `User ${externalId}`, ...extra })),
        NOW,
      );
      const users = await Promise.all(ids.map((id) => getUserByExternalId(db, id)));
      return users.map((u) => u!);
    }

    async function category(): Promise<string> {
      const key = unique('cat');
      await insertCategory(
        db,
        {
          key,
          name: { en: key },
          priority: 'normal',
          mandatory: false,
          defaultChannels: ['in_app'],
          maxAttempts: 3,
        },
        NOW,
      );
      return key;
    }

    describe('users', () => {
      it('upsertUsers creates, then updates by external id; given roles and attributes replace the stored ones', async () => {
        const a = unique('ext');
        const b = unique('ext');
        assert.deepEqual(
          await upsertUsers(
            db,
            [
              {
                externalId: a,
                name: '张三',
                roles: ['student', 'monitor'],
                attributes: { year: '2024' },
              },
              { externalId: b, name: 'Li Si', email: 'li@example.edu' },
            ],
            NOW,
          ),
          ['created', 'created'],
        );
        const created = await getUserByExternalId(db, a);

        assert.deepEqual(
          await upsertUsers(db, [{ externalId: a, name: '张三丰', roles: ['teacher'] }], NOW + 1),
          ['updated'],
        );

        const updated = await getUserByExternalId(db, a);
        assert.equal(updated?.id, created?.id, 'same user, same id');
        assert.equal(updated?.name, '张三丰');
        assert.deepEqual(updated?.roles, ['teacher']);
        assert.deepEqual(updated?.attributes, { year: '2024' }, 'attributes not given: kept');
        assert.equal(updated?.createdAt, NOW);
        assert.equal(updated?.updatedAt, NOW + 1);
        assert.equal((await getUserByExternalId(db, b))?.email, 'li@example.edu');
      });

      it('importUsers stores the valid rows and reports each row', async () => {
        const a = unique('imp');
        const b = unique('imp');
        const text = `externalId,name,roles,email\n${a},Wang Wu,student,wang@example.edu\n,No Id,,\n${b},Zhao Liu,teacher|dean,\n`;

        const result = await importUsers(db, { format: 'csv', text }, NOW);

        assert.deepEqual(
          result.results.map((r) => [r.row, r.status]),
          [
            [1, 'created'],
            [2, 'error'],
            [3, 'created'],
          ],
        );
        assert.equal((await getUserByExternalId(db, a))?.email, 'wang@example.edu');
        assert.deepEqual((await getUserByExternalId(db, b))?.roles, ['dean', 'teacher']);
      });

      it('listUsers finds a substring of the name or external id whatever its case, and pages in external-id order', async () => {
        const tag = unique('Findme').toUpperCase();
        const ids = [`${tag}-a`, `${tag}-b`, `${tag}-c`];
        await upsertUsers(
          db,
          ids.map((externalId, i) => ({ externalId, name: `Person ${i}` })),
          NOW,
        );
        // Wildcards in the query are literal.
        assert.deepEqual((await listUsers(db, { limit: 10, q: `${tag}%` })).items, []);

        const first = await listUsers(db, { limit: 2, q: tag.toLowerCase() });
        assert.deepEqual(
          first.items.map((u) => u.externalId),
          ids.slice(0, 2),
        );
        assert.ok(first.nextCursor);
        const rest = await listUsers(db, {
          limit: 2,
          q: tag.toLowerCase(),
          after: first.nextCursor,
        });
        assert.deepEqual(
          rest.items.map((u) => u.externalId),
          ids.slice(2),
        );
        assert.equal(rest.nextCursor, null);
      });
    });

    describe('audience', () => {
      it('streams each selected user once, in id order, in batches, resumable from a cursor', async () => {
        const org = unique('学院');
        const inOrg = await someUsers(5, { orgPath: `${org}/一班`, roles: ['student'] });
        const named = await someUsers(3);
        const groupKey = unique('group');
        const created = await createGroup(
          db,
          { key: groupKey, name: 'roster', members: [inOrg[0]!.externalId, named[0]!.externalId] },
          NOW,
        );
        assert.ok(created.ok);
        const audience = {
          users: named.map((u) => u.externalId),
          groups: [groupKey],
          filter: { orgPrefix: org, roles: ['student'] },
        };
        const expected = [...inOrg, ...named].map((u) => u.id).sort();

        const batches: string[][] = [];
        for await (const batch of streamAudience(db, audience, { batchSize: 3 })) {
          batches.push(batch.map((r) => r.id));
        }

        assert.deepEqual(batches.flat(), expected, 'everyone once, overlaps included once');
        assert.deepEqual(
          batches.map((b) => b.length),
          [3, 3, 2],
        );
        assert.equal(await countAudience(db, audience), 8);
        const resumed: string[] = [];
        for await (const batch of streamAudience(db, audience, {
          batchSize: 3,
          after: expected[4],
        })) {
          resumed.push(...batch.map((r) => r.id));
        }
        assert.deepEqual(resumed, expected.slice(5));
      });
    });

    describe('messages and idempotency', () => {
      async function sender() {
        const categoryKey = await category();
        const source = await insertSource(
          db,
          { key: unique('src'), name: 'Registry', categories: [categoryKey] },
          NOW,
        );
        const [user] = await someUsers(1);
        return (key: string | null, data: Record<string, unknown> = { n: 1 }): SendRequest => ({
          sourceId: source.id,
          allowedCategories: [categoryKey],
          body: { category: categoryKey, to: { users: [user!.externalId] }, data },
          idempotencyKey: key,
        });
      }

      it('a repeated Idempotency-Key replays the first answer, and a different body under it is refused', async () => {
        const request = await sender();
        const ingest = new Ingest(db, new EmbeddedQueue(db, () => NOW), () => NOW);
        const key = unique('idem');

        const first = await ingest.submit(request(key));
        const again = await ingest.submit(request(key));

        assert.equal(first.status, 202);
        assert.equal(first.replay, false);
        assert.deepEqual(again.body, first.body);
        assert.equal(again.replay, true);
        await assert.rejects(ingest.submit(request(key, { n: 2 })), {
          code: 'idempotency-key-reused',
        });
        const stored = await getMessage(db, (first.body as { id: string }).id);
        assert.deepEqual(stored?.data, { n: 1 });
      });

      it('two processes accepting the same keys at the same time store one message per key and both answer with it', async () => {
        const request = await sender();
        const here = new Ingest(db, new EmbeddedQueue(db, () => NOW), () => NOW);
        const there = new Ingest(other, new EmbeddedQueue(other, () => NOW), () => NOW);
        const keys = Array.from({ length: 20 }, () => unique('race'));

        const answers = await Promise.all(
          keys.map((key) => Promise.all([here.submit(request(key)), there.submit(request(key))])),
        );

        for (const [a, b] of answers) {
          assert.equal(a.status, 202);
          assert.deepEqual(a.body, b.body, 'both requests got the same message');
          assert.equal([a.replay, b.replay].filter(Boolean).length, 1, 'one of them is the replay');
        }
        const stored = await db
          .selectFrom('messages')
          .select('idempotency_key')
          .where('idempotency_key', 'in', keys)
          .execute();
        assert.equal(stored.length, keys.length, 'exactly one message per key');
        const jobs = await db
          .selectFrom('queue_jobs')
          .select('payload')
          .where('topic', '=', 'fanout')
          .execute();
        const ids = new Set(answers.map(([a]) => (a.body as { id: string }).id));
        assert.equal(
          jobs.filter((j) => ids.has((JSON.parse(j.payload) as { messageId: string }).messageId))
            .length,
          keys.length,
          'one fan-out job per message',
        );
      });
    });

    describe('deliveries', () => {
      async function messageFor(users: { id: string }[]) {
        const categoryKey = await category();
        const source = await insertSource(
          db,
          { key: unique('src'), name: 'Registry', categories: [categoryKey] },
          NOW,
        );
        const id = newId(NOW);
        await insertMessages(db, [
          {
            id,
            source_id: source.id,
            category_key: categoryKey,
            priority: 'normal',
            audience: JSON.stringify({ users: [] }),
            data: '{}',
            channels: null,
            locale: null,
            send_at: NOW,
            status: 'accepted',
            fanout_cursor: null,
            recipient_count: 0,
            idempotency_key: null,
            created_at: NOW,
            updated_at: NOW,
          },
        ]);
        const rows: DeliveriesTable[] = users.flatMap((u) =>
          (['in_app', 'email'] as const).map((channel) => ({
            id: newId(NOW),
            message_id: id,
            user_id: u.id,
            channel,
            status: 'queued' as const,
            reason: null,
            locale: 'zh-CN',
            attempts: 0,
            last_error: null,
            provider: null,
            provider_message_id: null,
            created_at: NOW,
            updated_at: NOW,
            final_at: null,
            fallback_from: null,
          })),
        );
        return { id, rows };
      }

      it('insertDeliveries creates each (message, user, channel) once and returns only what it created', async () => {
        const users = await someUsers(3);
        const { rows } = await messageFor(users);

        const created = await db.transaction().execute((tx) => insertDeliveries(tx, rows));
        const again = await db.transaction().execute((tx) =>
          insertDeliveries(
            tx,
            rows.map((r) => ({ ...r, id: newId(NOW) })),
          ),
        );

        assert.equal(created.length, 6);
        assert.deepEqual(again, []);
      });

      it('applyDeliveryUpdates writes outcomes set-based, only over queued deliveries, and returns the ids it changed', async () => {
        const users = await someUsers(350); // 700 deliveries: two statements of 500 and 200
        const { id, rows } = await messageFor(users);
        await db.transaction().execute((tx) => insertDeliveries(tx, rows));
        const update = (r: DeliveriesTable, i: number): DeliveryUpdate => ({
          id: r.id,
          status: i % 2 === 0 ? 'delivered' : 'queued',
          reason: null,
          attempts: 1,
          lastError: i % 2 === 0 ? null : 'try again',
          provider: 'test',
          providerMessageId: i % 2 === 0 ? `p-${i}` : null,
          locale: i % 4 === 0 ? 'en' : null,
        });

        const applied = await db
          .transaction()
          .execute((tx) => applyDeliveryUpdates(tx, rows.map(update), NOW + 5));
        assert.equal(applied.size, 700);
        const late = await db.transaction().execute((tx) =>
          applyDeliveryUpdates(
            tx,
            rows.map((r, i) => ({ ...update(r, i), status: 'failed', attempts: 9 })),
            NOW + 6,
          ),
        );
        assert.equal(late.size, 350, 'only the deliveries still queued changed');

        const views = await listDeliveries(db, id, { limit: 1000 });
        const byId = new Map(views.map((v) => [v.id, v]));
        rows.forEach((r, i) => {
          const v = byId.get(r.id)!;
          if (i % 2 === 0) {
            assert.equal(v.status, 'delivered');
            assert.equal(v.attempts, 1);
            assert.equal(v.finalAt, NOW + 5);
            assert.equal(v.providerMessageId, `p-${i}`);
            assert.equal(
              v.locale,
              i % 4 === 0 ? 'en' : 'zh-CN',
              'a null locale keeps the stored one',
            );
          } else {
            assert.equal(v.status, 'failed');
            assert.equal(v.attempts, 9);
            assert.equal(v.finalAt, NOW + 6);
          }
        });
      });
    });

    describe('inbox', () => {
      const item = (userId: string) => ({
        id: newId(NOW),
        user_id: userId,
        message_id: newId(NOW),
        delivery_id: newId(NOW),
        category_key: 'notice',
        source_key: 'jwc',
        source_name: '教务处',
        title: '通知',
        body: '明天停课',
        url: null,
        created_at: NOW,
      });

      it('sequence numbers are gap-free per user, also when two processes add items at once', async () => {
        const [alice, bob] = await someUsers(2);
        const add = (handle: Db, items: ReturnType<typeof item>[]) =>
          handle.transaction().execute((tx) => addInboxItems(tx, items));

        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            add(i % 2 === 0 ? db : other, [item(alice!.id), item(alice!.id), item(bob!.id)]),
          ),
        );

        const seqs = (await inboxAfter(db, alice!.id, 0, 100)).map((i) => i.seq);
        assert.deepEqual(
          seqs,
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
        assert.equal(await lastInboxSeq(db, alice!.id), 20);
        assert.equal(await lastInboxSeq(db, bob!.id), 10);
      });

      it('two processes adding items for the same users in opposite orders do not deadlock', async () => {
        const [dora, emil] = await someUsers(2);
        const add = (handle: Db, items: ReturnType<typeof item>[]) =>
          handle.transaction().execute((tx) => addInboxItems(tx, items));
        // One user gets one item and the other two, crosswise: rows locked in the order the
        // items come (singles first, then the others) deadlock; locked in id order, they wait.
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            i % 2 === 0
              ? add(db, [item(dora!.id), item(emil!.id), item(emil!.id)])
              : add(other, [item(emil!.id), item(dora!.id), item(dora!.id)]),
          ),
        );
        assert.equal(await lastInboxSeq(db, dora!.id), 30);
        assert.equal(await lastInboxSeq(db, emil!.id), 30);
        assert.deepEqual(
          (await inboxAfter(db, emil!.id, 0, 100)).map((i) => i.seq),
          Array.from({ length: 30 }, (_, i) => i + 1),
        );
      });

      it('a delivery written twice keeps its first item; reading marks count down', async () => {
        const [carol] = await someUsers(1);
        const first = item(carol!.id);
        const [a] = await db.transaction().execute((tx) => addInboxItems(tx, [first]));
        const [b] = await other
          .transaction()
          .execute((tx) => addInboxItems(tx, [{ ...first, id: newId(NOW) }, item(carol!.id)]));

        assert.equal(a?.created, true);
        assert.equal(b?.created, false);
        assert.equal(b?.item.id, a?.item.id);
        assert.equal(await unreadCount(db, carol!.id), 2);
        assert.equal(await markAllRead(db, carol!.id, NOW + 1), 2);
        assert.equal(await unreadCount(db, carol!.id), 0);
      });
    });

    describe('templates', () => {
      it('each put is the next version, also when two processes put at once', async () => {
        const categoryKey = await category();
        const target = { category: categoryKey, channel: 'in_app', locale: 'zh-CN' };

        await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            putTemplate(
              i % 2 === 0 ? db : other,
              { ...target, title: `v${i}`, body: `body ${i}` },
              NOW,
            ),
          ),
        );

        const versions = await listVersions(db, categoryKey, 'in_app', 'zh-CN');
        assert.deepEqual(
          versions.map((v) => v.version),
          [8, 7, 6, 5, 4, 3, 2, 1],
        );
        const current = await listTemplates(db, { category: categoryKey });
        assert.equal(current.length, 1);
        assert.equal(current[0]?.version, 8);
      });
    });

    describe('quotas', () => {
      it('charges never go past the limit, also when two processes charge at once', async () => {
        const source = await insertSource(
          db,
          { key: unique('src'), name: 'Q', categories: [] },
          NOW,
        );
        const key = { sourceId: source.id, channel: 'sms', day: '2025-09-01' };

        const granted = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            (i % 2 === 0 ? db : other).transaction().execute((tx) => chargeQuota(tx, key, 3, 20)),
          ),
        );

        assert.equal(
          granted.reduce((a, b) => a + b, 0),
          20,
        );
        assert.ok(granted.every((g) => g >= 0 && g <= 3));
        const usage = await usageOn(db, [source.id], ['sms', 'email'], '2025-09-01');
        assert.deepEqual([...(usage.get(source.id) ?? [])], [['sms', 20]]);
      });
    });

    describe('provider configs', () => {
      it('create, update and delete each bump the version; listings are ordered by channel, priority and name', async () => {
        const before = await readProvidersVersion(db);
        const smtp = (name: string, priority: number) => ({
          name,
          kind: 'smtp' as const,
          priority,
          weight: 1,
          enabled: true,
          settings: { url: 'smtp://relay.example.edu:25', from: 'Herald <n@example.edu>' },
          secrets: { password: 'secret' },
          limits: {},
        });
        const b = unique('mail-b');
        const a = unique('mail-a');
        await db.transaction().execute((tx) => insertProviderConfig(tx, smtp(b, 1), NOW));
        await db.transaction().execute((tx) => insertProviderConfig(tx, smtp(a, 1), NOW));
        const v1 = await readProvidersVersion(db);
        assert.notEqual(v1, before);

        const updated = await db
          .transaction()
          .execute((tx) => updateProviderConfig(tx, b, { ...smtp(b, 0), enabled: false }, NOW + 1));
        assert.equal(updated?.enabled, false);
        assert.equal(updated?.priority, 0);
        const v2 = await readProvidersVersion(db);
        assert.notEqual(v2, v1);

        const names = (await listProviderConfigs(db)).map((c) => c.name);
        assert.ok(names.indexOf(b) < names.indexOf(a), 'priority 0 before priority 1');

        assert.equal(
          await db.transaction().execute((tx) => deleteProviderConfig(tx, a, NOW + 2)),
          true,
        );
        assert.notEqual(await readProvidersVersion(db), v2);
        assert.equal(
          (await listProviderConfigs(db)).some((c) => c.name === a),
          false,
        );
      });
    });
  });
}
