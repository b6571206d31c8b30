import {
  sql,
  type ColumnDataType,
  type ColumnDefinitionBuilder,
  type CreateTableBuilder,
  type DialectAdapter,
  type Kysely,
  type RawBuilder,
} from 'kysely';

/** Column types a bound value may have to be given explicitly (see `SqlDialect.typed`). */
export type SqlType = 'text' | 'integer' | 'bigint';

/**
 * What differs between the databases Herald runs on, as capabilities the store reacts to —
 * never a check of the dialect's name. Everything else (upsert with ON CONFLICT, RETURNING,
 * UPDATE … FROM, JSON kept as text, booleans as 0/1, times as epoch-ms bigint) is written
 * once, in the SQL both speak.
 */
export interface SqlDialect {
  /** For logs and messages only. */
  readonly name: 'sqlite' | 'postgres';
  /** Column type of an auto-incrementing integer key. */
  readonly autoIncrementType: ColumnDataType;
  autoIncrementColumn(c: ColumnDefinitionBuilder): ColumnDefinitionBuilder;
  /**
   * Tables ordered by insertion (`ORDER BY rowid`) get a `rowid` column: SQLite has one on
   * every table already, PostgreSQL gets an identity column of that name.
   */
  withRowid<T extends string, C extends string>(
    table: CreateTableBuilder<T, C>,
  ): CreateTableBuilder<T, C>;
  /** Most bound parameters one statement may carry (SQLite 32,766; PostgreSQL 65,535). */
  readonly maxParameters: number;
  /**
   * Row locks with `FOR UPDATE SKIP LOCKED`: concurrent transactions (other processes) pick
   * different rows. Without them (SQLite) a write transaction excludes every other writer.
   */
  readonly skipLocked: boolean;
  /** `WITH moved AS (DELETE … RETURNING …) INSERT … SELECT FROM moved`: a move in one statement. */
  readonly writableCte: boolean;
  /** The LIKE that ignores case (SQLite's LIKE already ignores ASCII case; PostgreSQL's does not). */
  readonly caseInsensitiveLike: 'like' | 'ilike';
  /**
   * A bound value with its type spelled out, for the places where the database cannot infer
   * it from a column (VALUES lists, SELECT lists, CASE results). PostgreSQL types such an
   * untyped parameter as text and then refuses to store it in a bigint column; SQLite needs
   * nothing, so its SQL stays exactly as it was.
   */
  typed(value: unknown, type: SqlType): RawBuilder<unknown>;
  /**
   * Strings as a table with one text column `value`, for `FROM`, aliased `alias`: a list of
   * any length costs ONE bound parameter (a JSON array for SQLite's `json_each`, a text[] for
   * PostgreSQL's `unnest`), so audiences with thousands of entries stay far below
   * `maxParameters`.
   */
  stringTable(values: readonly string[], alias: string): RawBuilder<unknown>;
  /** A string record as a table of `key` and `value` text columns, in one or two parameters. */
  stringPairTable(record: Readonly<Record<string, string>>, alias: string): RawBuilder<unknown>;
  /**
   * The schema unqualified names resolve to (PostgreSQL's `current_schema()`), or undefined
   * where there are no schemas (SQLite). Migrations keep their bookkeeping tables there:
   * looking for them in any schema would find another installation's.
   */
  currentSchema<DB>(db: Kysely<DB>): Promise<string | undefined>;
}

export const sqliteDialect: SqlDialect = {
  name: 'sqlite',
  autoIncrementType: 'integer',
  autoIncrementColumn: (c) => c.primaryKey().autoIncrement(),
  withRowid: (table) => table,
  maxParameters: 32_766,
  skipLocked: false,
  writableCte: false,
  caseInsensitiveLike: 'like',
  typed: (value) => sql`${value}`,
  stringTable: (values, alias) => sql`json_each(${JSON.stringify(values)}) as ${sql.id(alias)}`,
  stringPairTable: (record, alias) => sql`json_each(${JSON.stringify(record)}) as ${sql.id(alias)}`,
  currentSchema: async () => undefined,
};

export const postgresDialect: SqlDialect = {
  name: 'postgres',
  autoIncrementType: 'bigint',
  autoIncrementColumn: (c) => c.generatedByDefaultAsIdentity().primaryKey(),
  withRowid: (table) =>
    table.addColumn('rowid', 'bigint', (c) => c.generatedAlwaysAsIdentity().notNull()),
  maxParameters: 65_535,
  skipLocked: true,
  writableCte: true,
  caseInsensitiveLike: 'ilike',
  typed: (value, type) => sql`cast(${value} as ${sql.raw(type)})`,
  // text[] rather than jsonb: a lone surrogate in a string is bound as U+FFFD (as a plain text
  // parameter is), where jsonb would refuse its \u escape.
  stringTable: (values, alias) =>
    sql`unnest(cast(${[...values]} as text[])) as ${sql.id(alias)}(value)`,
  stringPairTable: (record, alias) =>
    sql`unnest(cast(${Object.keys(record)} as text[]), cast(${Object.values(record)} as text[])) as ${sql.id(alias)}(key, value)`,
  currentSchema: async (db) =>
    (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema,
};

/**
 * The statement-size limit applied to batches: rows of `perRow` parameters per statement,
 * with a margin for the statement's own parameters.
 */
export function rowsPerStatement(dialect: SqlDialect, perRow: number): number {
  return Math.floor((dialect.maxParameters - 100) / perRow);
}

const byAdapter = new WeakMap<DialectAdapter, SqlDialect>();

/** Called by the code that opens a database, so that queries on it can find their dialect. */
export function registerSqlDialect(adapter: DialectAdapter, dialect: SqlDialect): void {
  byAdapter.set(adapter, dialect);
}

/**
 * The dialect of a database handle or of a transaction on it (they share the adapter).
 * Handles Herald did not open itself (a test's bare Kysely on SQLite) count as SQLite.
 */
export function sqlDialectOf<DB>(db: Kysely<DB>): SqlDialect {
  // getExecutor() is marked internal in Kysely's typings, but it is the only way from a
  // handle (or a transaction) to the adapter it was built with.
  return byAdapter.get(db.getExecutor().adapter) ?? sqliteDialect;
}
