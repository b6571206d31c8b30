import pg from 'pg';
import { Kysely, PostgresAdapter, PostgresDialect, sql } from 'kysely';
import type { Database } from '../schema.js';
import { postgresDialect, registerSqlDialect } from '../sql-dialect.js';
import { parsePostgresUrl } from './postgres-url.js';

export interface PostgresOptions {
  /** Most connections the pool opens. */
  readonly poolSize: number;
  /** The server cancels a statement running longer (SQLSTATE 57014). */
  readonly statementTimeoutMs: number;
  /** Giving up on opening a connection (PostgreSQL down or overloaded). Default 5 s. */
  readonly connectionTimeoutMs?: number;
  /** An idle connection is closed after this. Default 30 s. */
  readonly idleTimeoutMs?: number;
  /** Shown in pg_stat_activity. */
  readonly applicationName?: string;
  /** Told about connections lost while idle in the pool (a restart of PostgreSQL). */
  readonly onIdleError?: (err: Error) => void;
}

export interface OpenedPostgres {
  readonly db: Kysely<Database>;
  readonly pool: pg.Pool;
  /** The schema named in the URL (`?schema=`), else null (the server's search_path). */
  readonly schema: string | null;
  /** A new client with the pool's settings, outside the pool (for LISTEN). */
  newClient(): pg.Client;
}

/**
 * bigint (int8) columns hold epoch milliseconds, counters and `count(*)`: all far below 2^53,
 * so they come back as JavaScript numbers, as they do from SQLite.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === pg.types.builtins.INT8 && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * A pool-backed Kysely on PostgreSQL. Connections that die (PostgreSQL restarted) are
 * dropped by the pool and replaced on the next use, so the store recovers by itself; until
 * then queries fail with errors `isDatabaseUnavailable` recognises.
 */
export function openPostgres(url: string, opts: PostgresOptions): OpenedPostgres {
  const target = parsePostgresUrl(url);
  const clientConfig: pg.ClientConfig = {
    connectionString: target.connectionString,
    ...(target.options ? { options: target.options } : {}),
    application_name: opts.applicationName ?? 'herald',
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 5_000,
    statement_timeout: opts.statementTimeoutMs,
    // A transaction left open by a stuck request must not hold its locks forever.
    idle_in_transaction_session_timeout: Math.max(60_000, opts.statementTimeoutMs * 2),
    keepAlive: true,
    types,
  };
  const pool = new pg.Pool({
    ...clientConfig,
    max: opts.poolSize,
    idleTimeoutMillis: opts.idleTimeoutMs ?? 30_000,
  });
  // Without listeners, a connection the server kills (a restart) would crash the process:
  // the pool's covers idle connections, this one those checked out between two queries (a
  // transaction's). The query that tries such a connection next fails, and the pool drops it.
  pool.on('error', (err) => opts.onIdleError?.(err));
  pool.on('connect', (client) => client.on('error', () => {}));
  const dialect = new PostgresDialect({ pool });
  const db = new Kysely<Database>({
    dialect: {
      createAdapter: () => {
        const adapter = new PostgresAdapter();
        registerSqlDialect(adapter, postgresDialect);
        return adapter;
      },
      createDriver: () => dialect.createDriver(),
      createQueryCompiler: () => dialect.createQueryCompiler(),
      createIntrospector: (k) => dialect.createIntrospector(k),
    },
  });
  return {
    db,
    pool,
    schema: target.schema,
    newClient: () => new pg.Client(clientConfig),
  };
}

/** Creates the URL's schema when it names one that is missing (before migrating). */
export async function ensureSchema(opened: OpenedPostgres): Promise<void> {
  if (opened.schema === null) return;
  try {
    await sql`create schema if not exists ${sql.id(opened.schema)}`.execute(opened.db);
  } catch (err) {
    // Two processes starting at once: the other one created it between check and create.
    if ((err as { code?: string }).code !== '23505') throw err;
  }
}
