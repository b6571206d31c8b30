import type { Kysely } from 'kysely';

/**
 * What the operator console needs from the schema:
 *
 * - `messages.sent_by` and `templates.created_by`: who did it, when it was a person — an
 *   operator's external id (`operator:T2001`) or the admin token (`admin-token`). Null for
 *   messages a source sent itself and for templates stored before this migration.
 * - `deliveries_window`: the dashboard's figures over the last hours (counts per channel ×
 *   status, latency, the hourly series) read one range of this index and never the table.
 * - `deliveries_message_status`: a message's counts per channel × status, and whether it
 *   still has queued deliveries (the `completed` filter of the message search), from the
 *   index alone, also for a broadcast to 30,000 people.
 */
export function consoleSupport() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const s = db.schema;
      await s.alterTable('messages').addColumn('sent_by', 'text').execute();
      await s.alterTable('templates').addColumn('created_by', 'text').execute();
      await s
        .createIndex('deliveries_window')
        .on('deliveries')
        .columns(['created_at', 'channel', 'status', 'final_at'])
        .execute();
      await s
        .createIndex('deliveries_message_status')
        .on('deliveries')
        .columns(['message_id', 'status', 'channel'])
        .execute();
    },
  };
}
