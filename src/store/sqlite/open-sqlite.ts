import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase as KyselySqliteDatabase } from 'kysely';
import type { Database } from '../schema.js';

export interface OpenedSqlite {
  readonly db: Kysely<Database>;
  /** The raw handle, for the few hot paths that need prepared statements or sync transactions. */
  readonly raw: SqliteDatabase.Database;
}

/**
 * Kysely prepares every query anew, and preparing costs more than running most of Herald's
 * statements. This keeps the most recently used prepared statements (LRU by SQL text).
 * Wraps transactions' BEGIN too (see below).
 */
function withStatementCache(raw: SqliteDatabase.Database, size: number): KyselySqliteDatabase {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    prepare(text: string) {
      // Every transaction Herald opens writes. BEGIN IMMEDIATE takes the write lock up front,
      // so a second connection (the worker thread) makes it wait (busy_timeout) instead of
      // failing with SQLITE_BUSY when a read would have to be upgraded to a write.
      const sql = text === 'begin' ? 'begin immediate' : text;
      let stmt = cache.get(sql);
      if (stmt) {
        cache.delete(sql);
      } else {
        stmt = raw.prepare(sql);
        if (cache.size >= size) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, stmt);
      return stmt as unknown as ReturnType<KyselySqliteDatabase['prepare']>;
    },
    close() {
      cache.clear();
      raw.close();
    },
  };
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
  raw.pragma('busy_timeout = 5000');
  raw.pragma('cache_size = -16384');
  raw.defaultSafeIntegers(false);
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: withStatementCache(raw, 500) }),
  });
  return { db, raw };
}
