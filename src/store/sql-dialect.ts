import type { ColumnDataType, ColumnDefinitionBuilder } from 'kysely';

/**
 * What differs between the databases Herald runs on, as capabilities the store reacts to —
 * never a check of the dialect's name. SQLite is the only one in this issue; PostgreSQL adds
 * its own object beside it.
 */
export interface SqlDialect {
  readonly name: 'sqlite' | 'postgres';
  /** Column type of an auto-incrementing integer key. */
  readonly autoIncrementType: ColumnDataType;
  autoIncrementColumn(c: ColumnDefinitionBuilder): ColumnDefinitionBuilder;
}

export const sqliteDialect: SqlDialect = {
  name: 'sqlite',
  autoIncrementType: 'integer',
  autoIncrementColumn: (c) => c.primaryKey().autoIncrement(),
};
