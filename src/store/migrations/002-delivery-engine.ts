import type { Kysely } from 'kysely';

/**
 * The delivery engine's configuration: providers per channel (with their limits and
 * write-only secrets), source status callbacks, per-source daily quotas, per-category
 * channel fallbacks and per-category/per-source email sender.
 *
 * One ADD COLUMN per statement: SQLite accepts no more.
 */
export function deliveryEngine() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const s = db.schema;
      await s
        .createTable('provider_configs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('weight', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('settings', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('secrets', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('limits', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await s
        .createIndex('provider_configs_channel')
        .on('provider_configs')
        .columns(['channel', 'priority'])
        .execute();

      await s
        .createTable('quota_usage')
        .addColumn('source_id', 'text', (c) =>
          c.notNull().references('sources.id').onDelete('cascade'),
        )
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('used', 'bigint', (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('quota_usage_pk', ['source_id', 'channel', 'day'])
        .execute();

      const addColumns = async (
        table: string,
        columns: readonly [string, 'text', string | null][],
      ): Promise<void> => {
        for (const [name, type, def] of columns) {
          await s
            .alterTable(table)
            .addColumn(name, type, (c) => (def === null ? c : c.notNull().defaultTo(def)))
            .execute();
        }
      };
      await addColumns('sources', [
        ['callback_url', 'text', null],
        ['callback_secret', 'text', null],
        ['callback_events', 'text', null],
        ['quotas', 'text', '{}'],
        ['email_from', 'text', null],
        ['email_reply_to', 'text', null],
      ]);
      await addColumns('categories', [
        ['channel_fallbacks', 'text', '{}'],
        ['email_from', 'text', null],
        ['email_reply_to', 'text', null],
      ]);
    },
  };
}
