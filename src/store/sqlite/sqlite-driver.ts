import { setTimeout as sleep } from 'node:timers/promises';
import type SqliteDatabase from 'better-sqlite3';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
} from 'kysely';
import { registerSqlDialect, sqliteDialect as herald } from '../sql-dialect.js';

/** How long a statement keeps retrying while another connection holds the write lock. */
const LOCK_WAIT_MS = 10_000;

/**
 * Kysely's dialect for one better-sqlite3 connection, with three things Herald needs:
 *
 * - Waiting for the write lock without blocking the thread. Another connection (the worker
 *   thread of `herald all`) may hold it; SQLite's own busy handler would sleep inside the
 *   call and freeze the event loop for up to tens of milliseconds. Here busy_timeout is 0 and
 *   a busy statement is retried after a short asynchronous pause, so HTTP keeps flowing.
 * - BEGIN IMMEDIATE: every transaction Herald opens writes, so it takes the write lock up
 *   front (the only point where it can be busy) instead of failing when a read would have to
 *   be upgraded.
 * - A cache of prepared statements (LRU by SQL text): preparing costs more than running most
 *   of Herald's statements.
 */
export function sqliteDialect(raw: SqliteDatabase.Database, statementCacheSize = 200): Dialect {
  raw.pragma('busy_timeout = 0');
  return {
    createAdapter: () => {
      const adapter = new SqliteAdapter();
      registerSqlDialect(adapter, herald);
      return adapter;
    },
    createDriver: () => new SqliteDriver(raw, statementCacheSize),
    createQueryCompiler: () => new SqliteQueryCompiler(),
    createIntrospector: (db: Kysely<unknown>) => new SqliteIntrospector(db),
  };
}

class SqliteDriver implements Driver {
  private readonly connection: SqliteConnection;
  /** One connection: callers take turns, a transaction keeps it until it ends. */
  private turn: Promise<void> = Promise.resolve();

  constructor(
    private readonly raw: SqliteDatabase.Database,
    statementCacheSize: number,
  ) {
    this.connection = new SqliteConnection(raw, statementCacheSize);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.turn;
    let release!: () => void;
    this.turn = new Promise((resolve) => (release = resolve));
    await previous;
    this.connection.release = release;
    return this.connection;
  }

  async releaseConnection(): Promise<void> {
    this.connection.release();
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async destroy(): Promise<void> {
    this.raw.close();
  }
}

class SqliteConnection implements DatabaseConnection {
  release: () => void = () => {};
  private readonly statements = new Map<string, SqliteDatabase.Statement>();

  constructor(
    private readonly raw: SqliteDatabase.Database,
    private readonly cacheSize: number,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const stmt = this.prepare(query.sql);
    const params = query.parameters as unknown[];
    const until = Date.now() + LOCK_WAIT_MS;
    for (let pause = 0.25; ; pause = Math.min(pause * 2, 8)) {
      try {
        if (stmt.reader) return { rows: stmt.all(params) as R[] };
        const { changes, lastInsertRowid } = stmt.run(params);
        return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
      } catch (err) {
        const busy = (err as { code?: string }).code === 'SQLITE_BUSY' && !this.raw.inTransaction;
        if (!busy || Date.now() > until) throw err;
        await sleep(pause);
      }
    }
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('Herald does not stream SQLite queries');
  }

  private prepare(sql: string): SqliteDatabase.Statement {
    let stmt = this.statements.get(sql);
    if (stmt) {
      this.statements.delete(sql);
    } else {
      stmt = this.raw.prepare(sql);
      if (this.statements.size >= this.cacheSize) {
        this.statements.delete(this.statements.keys().next().value!);
      }
    }
    this.statements.set(sql, stmt);
    return stmt;
  }
}
