import { Migrator, type Migration } from 'kysely';
import type { Db } from './database.js';
import type { SqlDialect } from './sql-dialect.js';
import { initial } from './migrations/001-initial.js';
import { deliveryEngine } from './migrations/002-delivery-engine.js';
import { deliveryFallback } from './migrations/003-delivery-fallback.js';
import { brokerOutbox } from './migrations/004-broker-outbox.js';
import { amqpIngress } from './migrations/005-amqp-ingress.js';
import { consoleSupport } from './migrations/006-console.js';

/** Numbered migrations, shared by every dialect, applied in order at start. */
function migrations(dialect: SqlDialect): Record<string, Migration> {
  return {
    '001-initial': initial(dialect),
    '002-delivery-engine': deliveryEngine(),
    '003-delivery-fallback': deliveryFallback(),
    '004-broker-outbox': brokerOutbox(dialect),
    '005-amqp-ingress': amqpIngress(),
    '006-console': consoleSupport(),
  };
}

export async function migrateToLatest(db: Db, dialect: SqlDialect): Promise<string[]> {
  const schema = await dialect.currentSchema(db);
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations(dialect) },
    // Kysely would otherwise take another schema's kysely_migration table for ours.
    ...(schema !== undefined ? { migrationTableSchema: schema } : {}),
  });
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest();
    if (!error) {
      return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    }
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    // Failed outside every migration, so nothing was applied: Kysely's look at the catalog
    // (the tables of every schema, on PostgreSQL) can trip over a schema that another client
    // drops at that moment. Looking again is safe.
    if (failed === undefined && attempt < 5) {
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      continue;
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Database migration ${failed ?? '(bookkeeping)'} failed: ${reason}`, {
      cause: error,
    });
  }
}
