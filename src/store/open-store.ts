import { join } from 'node:path';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Db } from './database.js';
import { migrateToLatest } from './migrate.js';
import { postgresDialect, sqliteDialect, type SqlDialect } from './sql-dialect.js';
import { openSqlite } from './sqlite/open-sqlite.js';
import { ensureSchema, openPostgres } from './postgres/open-postgres.js';
import { PgPeerSignals } from './postgres/pg-peer-signals.js';
import { PgPresence } from './postgres/pg-presence.js';
import type { Presence } from './presence.js';
import { threadSignals, type PeerSignals } from '../runtime/peer-signals.js';

/** The database Herald runs on, with the wake-up transport that reaches everyone sharing it. */
export interface Store {
  readonly db: Db;
  readonly dialect: SqlDialect;
  /**
   * Wake-ups between everyone on this database: the threads of this process (SQLite) or every
   * process (PostgreSQL LISTEN/NOTIFY).
   */
  readonly signals: PeerSignals;
  /**
   * A new presence (a token the database shows while its holder lives, on a connection of
   * its own outside the pool), tokens `<label> <random>`; null where the database cannot
   * show one (SQLite). Its opener starts and closes it.
   */
  readonly openPresence: ((label: string) => Presence) | null;
  /** Migrations this open applied (with `migrate`). */
  readonly applied: readonly string[];
  /** Closes the signals, then the database. */
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** Bring the schema to the latest migration (the process that owns startup does). */
  readonly migrate: boolean;
  readonly log?: Logger;
  /** Shown in pg_stat_activity, e.g. `herald api`. */
  readonly applicationName?: string;
}

/**
 * Opens the store the configuration names: PostgreSQL when HERALD_DATABASE_URL is set, else
 * the SQLite file in HERALD_DATA_DIR. The one place that chooses.
 */
export async function openStore(config: Config, opts: OpenStoreOptions): Promise<Store> {
  return config.databaseUrl ? openPostgresStore(config, opts) : openSqliteStore(config, opts);
}

async function openSqliteStore(config: Config, opts: OpenStoreOptions): Promise<Store> {
  const file = join(config.dataDir, 'herald.db');
  const { db } = openSqlite(file);
  let applied: string[] = [];
  try {
    if (opts.migrate) applied = await migrateToLatest(db, sqliteDialect);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  // Channels are named after the database file, so Herald instances in one process stay apart.
  const signals = threadSignals(file);
  return {
    db,
    dialect: sqliteDialect,
    signals,
    openPresence: null,
    applied,
    async close() {
      await signals.close();
      await db.destroy();
    },
  };
}

async function openPostgresStore(config: Config, opts: OpenStoreOptions): Promise<Store> {
  const log = opts.log;
  const opened = openPostgres(config.databaseUrl, {
    poolSize: config.databasePoolSize,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    ...(opts.applicationName ? { applicationName: opts.applicationName } : {}),
    onIdleError: (err) =>
      log?.warn(
        { err: { message: err.message, code: (err as { code?: string }).code } },
        'PostgreSQL closed an idle pool connection',
      ),
  });
  const { db } = opened;
  let signals: PgPeerSignals | null = null;
  try {
    let applied: string[] = [];
    if (opts.migrate) {
      await ensureSchema(opened);
      applied = await migrateToLatest(db, postgresDialect);
    }
    const namespace =
      opened.schema ??
      (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]
        ?.schema ??
      'public';
    signals = new PgPeerSignals({
      db,
      newClient: opened.newClient,
      namespace,
      ...(log ? { log } : {}),
    });
    await signals.start();
    const started = signals;
    return {
      db,
      dialect: postgresDialect,
      signals: started,
      openPresence: (label) =>
        new PgPresence({ db, newClient: opened.newClient, label, ...(log ? { log } : {}) }),
      applied,
      async close() {
        await started.close();
        await db.destroy();
      },
    };
  } catch (err) {
    await signals?.close();
    await db.destroy();
    throw err;
  }
}
