import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { sqliteDialect } from './sqlite-driver.js';

export interface OpenedSqlite {
  readonly db: Kysely<Database>;
  /** The raw better-sqlite3 handle, for tools and tests that drive the file directly. */
  readonly raw: SqliteDatabase.Database;
}

/**
 * Opens the SQLite file in WAL mode with synchronous=FULL: a commit survives power loss, and
 * readers never block the single writer.
 */
export function openSqlite(file: string): OpenedSqlite {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const raw = new SqliteDatabase(file);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = FULL');
  raw.pragma('foreign_keys = ON');
  raw.pragma('cache_size = -16384');
  raw.defaultSafeIntegers(false);
  const db = new Kysely<Database>({ dialect: sqliteDialect(raw) });
  return { db, raw };
}
