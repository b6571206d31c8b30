import { describe } from 'node:test';
import pino from 'pino';
import { inTransaction } from '../store/transaction.js';
import { freshDatabase } from '../../test/support/fresh-db.js';
import { deleteBrokerObjects, uniqueBrokerPrefix } from '../../test/support/broker.js';
import { skipUnless, TEST_BROKER_URL } from '../../test/support/services.js';
import { RabbitMqQueue } from './rabbitmq/rabbitmq-queue.js';
import { queueContract } from './queue.contract.js';

const skip = await skipUnless('rabbitmq');

describe('RabbitMQ queue, outbox on SQLite', { skip }, () => {
  queueContract('RabbitMqQueue (SQLite outbox)', { transactions: true }, async () => {
    const fresh = await freshDatabase('rabbitmq-queue');
    const queue = new RabbitMqQueue({
      url: TEST_BROKER_URL,
      db: fresh.db,
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
      transaction: (fn) => inTransaction(fresh.db, fn),
      settle: (topics) => queue.settled(topics),
      visibilityMs: 400,
      realTimeSlackMs: 100,
      async close() {
        await queue.close();
        await deleteBrokerObjects(queue.declaredNames());
        await fresh.close();
      },
    };
  });
});
