import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  spawnHerald,
  type ChildHerald,
} from '../support/test-herald.js';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';
import { check, formatCheck } from '../support/checker.js';
import { skipUnless, TEST_DATABASE_URL } from '../support/services.js';
import { freshSchema } from '../support/fresh-postgres.js';

const MESSAGES = 500;
/** A class of the demo university: enough recipients that deliveries are in flight at the kill. */
const CLASS = 'class-2024-agronomy-1';

/** Reads the database the killed Herald wrote, as the checker's far side. */
interface Reader {
  count(sql: string): Promise<number>;
  rows<T>(sql: string): Promise<T[]>;
  close(): Promise<void>;
}

/** Where Herald keeps its data in this run: its SQLite file, or a PostgreSQL schema. */
interface StoreMode {
  readonly name: string;
  readonly skip: string | false;
  open(dataDir: string): Promise<{
    env: Record<string, string>;
    /** Once Herald has created its tables. */
    reader(): Promise<Reader>;
    drop(): Promise<void>;
  }>;
}

const MODES: readonly StoreMode[] = [
  {
    name: 'SQLite',
    skip: false,
    async open(dataDir) {
      return {
        env: {},
        async reader() {
          const db = new SqliteDatabase(join(dataDir, 'herald.db'), { readonly: true });
          return {
            count: async (sql) => Number((db.prepare(sql).get() as { n: number }).n),
            rows: async <T>(sql: string) => db.prepare(sql).all() as T[],
            close: async () => {
              db.close();
            },
          };
        },
        drop: async () => {},
      };
    },
  },
  {
    name: 'PostgreSQL',
    skip: await skipUnless('postgres'),
    async open() {
      const schema = await freshSchema();
      return {
        env: { HERALD_DATABASE_URL: schema.url, HERALD_DATABASE_POOL_SIZE: '4' },
        async reader() {
          const db = new pg.Client({
            connectionString: TEST_DATABASE_URL,
            options: `-c search_path=${schema.schema}`,
          });
          await db.connect();
          return {
            count: async (sql) => Number((await db.query<{ n: string }>(sql)).rows[0]!.n),
            rows: async <T>(sql: string) => (await db.query(sql)).rows as T[],
            close: () => db.end(),
          };
        },
        drop: () => schema.drop(),
      };
    },
  },
];

for (const mode of MODES) {
  describe(
    `crash on ${mode.name}: SIGKILL while delivering loses nothing and duplicates no inbox item`,
    { skip: mode.skip },
    () => {
      let dataDir: string;
      let herald: ChildHerald;
      let store: Awaited<ReturnType<StoreMode['open']>>;

      before(async () => {
        dataDir = mkdtempSync(join(tmpdir(), 'herald-crash-'));
        store = await mode.open(dataDir);
      });
      after(async () => {
        await herald?.kill();
        await store?.drop();
        if (!process.env.KEEP) rmSync(dataDir, { recursive: true, force: true });
        else console.log('kept', dataDir);
      });

      it(`${MESSAGES} accepted messages reach every inbox exactly once across a kill -9`, async () => {
        const env = { HERALD_DEMO: 'true', HERALD_LEASE_SECONDS: '3', ...store.env };
        herald = await spawnHerald(dataDir, env);
        const jwc = /^\s+jwc\s+(hk_\S+)/m.exec(herald.output())![1]!;
        const members = await client(herald.url, ADMIN_TOKEN)(
          'GET',
          `/v1/groups/${CLASS}/members?limit=500`,
        );
        const RECIPIENTS: string[] = members.body.items.map(
          (u: { externalId: string }) => u.externalId,
        );
        assert.ok(RECIPIENTS.length >= 10, `the class has ${RECIPIENTS.length} members`);
        const accepted: string[] = [];
        const sendWave = async () => {
          const send = client(herald.url, jwc);
          const results = await Promise.all(
            Array.from({ length: 50 }, () =>
              send('POST', '/v1/messages', {
                category: 'exam.reminder',
                to: { groups: [CLASS] },
                data: DEMO_EXAMPLES['exam.reminder'],
                channels: ['in_app'],
              }),
            ),
          );
          for (const r of results) {
            assert.equal(r.status, 202);
            accepted.push(r.body.id);
          }
        };
        const db = await store.reader();
        const delivered = () => db.count(`select count(*) n from inbox_items`);

        // Half the messages, then kill -9 at once: their fan-out and deliveries are in flight.
        for (let wave = 0; wave < MESSAGES / 100; wave++) await sendWave();
        await herald.kill('SIGKILL');
        const killedAt = await delivered();
        assert.ok(
          killedAt < accepted.length * RECIPIENTS.length,
          `killed while delivering (had ${killedAt})`,
        );

        // Restart on the same data; the rest of the messages go to the new process.
        herald = await spawnHerald(dataDir, env);
        for (let wave = 0; wave < MESSAGES / 100; wave++) await sendWave();
        assert.equal(accepted.length, MESSAGES);
        await eventually(
          async () => ((await delivered()) >= MESSAGES * RECIPIENTS.length ? true : undefined),
          90_000,
          'all deliveries after restart',
        );
        await new Promise((r) => setTimeout(r, 500));

        const received = await db.rows<{ message_id: string; external_id: string }>(
          `select i.message_id, u.external_id from inbox_items i join users u on u.id = i.user_id`,
        );
        const stuck = await db.count(`select count(*) n from deliveries where status = 'queued'`);
        const result = check({
          accepted,
          recipientsOf: () => RECIPIENTS,
          received: received.map((r) => ({ messageId: r.message_id, recipient: r.external_id })),
          stuck,
        });
        console.log(
          `# crash check on ${mode.name} (killed after ${killedAt} inbox items): ${formatCheck(result)}`,
        );
        assert.equal(result.expected, MESSAGES * RECIPIENTS.length);
        assert.equal(result.lost, 0);
        assert.equal(result.duplicated, 0);
        assert.equal(result.unexpected, 0);
        assert.equal(result.stuck, 0);
        // Per-user sequence numbers stay unique and dense enough to resume from.
        const seqs = await db.rows<{ n: number | string; d: number | string }>(
          `select user_id, count(*) n, count(distinct seq) d from inbox_items group by user_id`,
        );
        assert.ok(seqs.every((s) => Number(s.n) === Number(s.d)));
        await db.close();
      });
    },
  );
}
