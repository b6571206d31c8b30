import type { Kysely } from 'kysely';

/**
 * AMQP ingress: a source may be named by the RabbitMQ user that publishes for it. The broker
 * checks a message's `user_id` property against the connection's user, so a mapped user is
 * as good as an API key. One user names at most one source (unique; NULLs do not collide).
 */
export function amqpIngress() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('sources').addColumn('amqp_user', 'text').execute();
      await db.schema
        .createIndex('sources_amqp_user')
        .on('sources')
        .column('amqp_user')
        .unique()
        .execute();
    },
  };
}
