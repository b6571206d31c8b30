import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { migrateToLatest } from './migrate.js';
import { openPostgres } from './postgres/open-postgres.js';
import { postgresDialect } from './sql-dialect.js';
import { freshSchema } from '../../test/support/fresh-postgres.js';
import { skipUnless } from '../../test/support/services.js';

const open = (url: string) => openPostgres(url, { poolSize: 2, statementTimeoutMs: 30_000 }).db;

describe('migrations on PostgreSQL', { skip: await skipUnless('postgres') }, () => {
  it('migrate a schema of their own although another schema of the database holds migration tables', async () => {
    const other = await freshSchema();
    const mine = await freshSchema();
    const otherDb = open(other.url);
    const db = open(mine.url);
    try {
      await migrateToLatest(otherDb, postgresDialect);

      const applied = await migrateToLatest(db, postgresDialect);

      assert.ok(applied.includes('001-initial'), applied.join(', '));
      const tables = await sql<{ n: number }>`
        select count(*) as n from information_schema.tables
        where table_schema = ${mine.schema} and table_name in ('kysely_migration', 'users')`.execute(
        db,
      );
      assert.equal(tables.rows[0]?.n, 2);
    } finally {
      await otherDb.destroy();
      await db.destroy();
      await other.drop();
      await mine.drop();
    }
  });

  it('two processes starting at once apply each migration once', async () => {
    const fresh = await freshSchema();
    const a = open(fresh.url);
    const b = open(fresh.url);
    try {
      const [first, second] = await Promise.all([
        migrateToLatest(a, postgresDialect),
        migrateToLatest(b, postgresDialect),
      ]);

      assert.ok(first.length > 0 || second.length > 0);
      assert.equal(Math.min(first.length, second.length), 0, 'the second found nothing to do');
      assert.deepEqual(await migrateToLatest(a, postgresDialect), []);
    } finally {
      await a.destroy();
      await b.destroy();
      await fresh.drop();
    }
  });
});
