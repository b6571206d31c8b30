import type { Kysely } from 'kysely';
import type { SqlDialect } from '../sql-dialect.js';

/**
 * The transactional outbox of the RabbitMQ queue: jobs are written here in the caller's
 * transaction and a relay publishes them to the broker (with confirms) and then deletes them.
 * A row's `id` is the job's id, except for re-publications of a job that already has one
 * (a retry), which name it in `job_id`. `claim_token` / `claimed_until` let several relays
 * (one per process) share the rows without publishing one twice while its claim runs.
 */
export function brokerOutbox(dialect: SqlDialect) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('broker_outbox')
        .addColumn('id', dialect.autoIncrementType, (c) => dialect.autoIncrementColumn(c))
        .addColumn('job_id', 'bigint')
        .addColumn('topic', 'text', (c) => c.notNull())
        .addColumn('lane', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('available_at', 'bigint', (c) => c.notNull())
        .addColumn('max_deliveries', 'integer', (c) => c.notNull())
        .addColumn('deliveries', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('claim_token', 'text')
        .addColumn('claimed_until', 'bigint')
        .execute();
    },
  };
}
