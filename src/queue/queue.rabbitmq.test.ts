/**
 * The queue contract on RabbitMQ, with its outbox and dead letters on SQLite and on
 * PostgreSQL (there with the relay claiming under a presence, as Herald runs it). Every
 * fixture has a name prefix of its own and deletes its broker objects.
 */
import { after, before, describe } from 'node:test';
import { sql } from 'kysely';
import pino from 'pino';
import type { Db } from '../store/database.js';
import type { Presence } from '../store/presence.js';
import { PgPresence } from '../store/postgres/pg-presence.js';
import { inTransaction } from '../store/transaction.js';
import { freshDatabase } from '../../test/support/fresh-db.js';
import { freshPostgres, type FreshPostgres } from '../../test/support/fresh-postgres.js';
import { deleteBrokerObjects, uniqueBrokerPrefix } from '../../test/support/broker.js';
import { skipUnless, TEST_BROKER_URL } from '../../test/support/services.js';
import { RabbitMqQueue } from './rabbitmq/rabbitmq-queue.js';
import { queueContract, type QueueFixture } from './queue.contract.js';

/** A RabbitMQ queue on `db`, driven in real time with a 400 ms visibility unit. */
async function fixture(
  db: Db,
  cleanup: () => Promise<void>,
  presence: Presence | null = null,
): Promise<QueueFixture> {
  const queue = new RabbitMqQueue({
    url: TEST_BROKER_URL,
    db,
    presence,
    log: pino({ level: 'silent' }),
    prefix: uniqueBrokerPrefix(),
    // Only what a test uses: every test declares its own objects and deletes them after.
    declareLadder: false,
    prefetch: 100,
    relayPollMs: 200,
  });
  await queue.settled(); // connected: its connection's own timers are there from the start
  return {
    queue,
    now: () => Date.now(),
    transaction: (fn) => inTransaction(db, fn),
    settle: (topics) => queue.settled(topics),
    visibilityMs: 400,
    realTimeSlackMs: 100,
    async close() {
      await queue.close();
      await deleteBrokerObjects(queue.declaredNames());
      await cleanup();
    },
  };
}

describe('RabbitMQ queue, outbox on SQLite', { skip: await skipUnless('rabbitmq') }, () => {
  queueContract('RabbitMqQueue (SQLite outbox)', { transactions: true }, async () => {
    const fresh = await freshDatabase('rabbitmq-queue');
    return fixture(fresh.db, () => fresh.close());
  });
});

describe(
  'RabbitMQ queue, outbox on PostgreSQL',
  { skip: await skipUnless('rabbitmq', 'postgres') },
  () => {
    let fresh: FreshPostgres;

    before(async () => {
      fresh = await freshPostgres();
    });

    after(async () => {
      await fresh?.close();
    });

    queueContract('RabbitMqQueue (PostgreSQL outbox)', { transactions: true }, async () => {
      await sql`truncate broker_outbox, queue_dead_jobs`.execute(fresh.db);
      const presence = new PgPresence({
        db: fresh.db,
        newClient: fresh.newClient,
        label: 'herald relay',
      });
      return fixture(fresh.db, async () => {}, presence);
    });
  },
);
