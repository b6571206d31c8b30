import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Db } from '../../src/store/database.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { postgresDialect } from '../../src/store/sql-dialect.js';
import { openPostgres } from '../../src/store/postgres/open-postgres.js';
import { TEST_DATABASE_URL } from './services.js';

export interface FreshSchema {
  /** `t_<random>`: created for this test, dropped by `drop`. */
  readonly schema: string;
  /** HERALD_DATABASE_URL for a Herald whose tables live in that schema. */
  readonly url: string;
  /** Drops the schema and everything in it. */
  drop(): Promise<void>;
}

export interface FreshPostgres extends FreshSchema {
  readonly db: Db;
  /** A client outside the pool, on the same schema (LISTEN, or a second "process"). */
  newClient(): pg.Client;
  /** Destroys `db` (a second destroy is harmless) and drops the schema. */
  close(): Promise<void>;
}

/**
 * An empty schema of its own in the test database (other test files, and other people's
 * tests, run on the same server at the same time: nothing outside this schema is touched).
 */
export async function freshSchema(): Promise<FreshSchema> {
  const schema = `t_${randomBytes(8).toString('hex')}`;
  await admin(`create schema ${schema}`);
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('schema', schema);
  return {
    schema,
    url: url.toString(),
    drop: () => admin(`drop schema if exists ${schema} cascade`),
  };
}

/** A fresh schema migrated to the latest version, with a small pool on it. */
export async function freshPostgres(poolSize = 4): Promise<FreshPostgres> {
  const fresh = await freshSchema();
  // No idle timeout: idle connections then hold no timers (tests count the process's timers).
  const { db, newClient } = openPostgres(fresh.url, {
    poolSize,
    statementTimeoutMs: 30_000,
    idleTimeoutMs: 0,
  });
  try {
    await migrateToLatest(db, postgresDialect);
  } catch (err) {
    await db.destroy();
    await fresh.drop();
    throw err;
  }
  let destroyed = false;
  return {
    ...fresh,
    db,
    newClient,
    async close() {
      if (!destroyed) {
        destroyed = true;
        await db.destroy();
      }
      await fresh.drop();
    },
  };
}

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
