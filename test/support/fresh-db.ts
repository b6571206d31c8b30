import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../../src/store/database.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { sqliteDialect } from '../../src/store/sql-dialect.js';
import { openSqlite } from '../../src/store/sqlite/open-sqlite.js';
import { freshPostgres } from './fresh-postgres.js';

/**
 * `HERALD_TEST_STORE=postgres` runs the tests written against SQLite on PostgreSQL instead
 * (a fresh schema each; see docs/scale-out.md): `freshDatabase` and `startTestHerald` follow it.
 */
export const testStore: 'sqlite' | 'postgres' =
  process.env.HERALD_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

export interface FreshDatabase {
  readonly db: Db;
  /** The SQLite file, alone in its own temporary folder (on PostgreSQL: the schema's URL). */
  readonly file: string;
  /** Destroys `db` (a second destroy is harmless) and removes the folder, -wal and -shm included. */
  close(): Promise<void>;
}

/** A fresh SQLite file migrated to the latest schema, in a new folder under the OS temp dir. */
export async function freshDatabase(name: string): Promise<FreshDatabase> {
  if (testStore === 'postgres') {
    const fresh = await freshPostgres();
    return { db: fresh.db, file: fresh.url, close: () => fresh.close() };
  }
  const dir = mkdtempSync(join(tmpdir(), `herald-${name}-`));
  const file = join(dir, 'herald.sqlite');
  const { db } = openSqlite(file);
  try {
    await migrateToLatest(db, sqliteDialect);
  } catch (err) {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    db,
    file,
    async close() {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
