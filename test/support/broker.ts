import { randomBytes } from 'node:crypto';
import { connect, type Channel } from 'amqplib';
import { TEST_BROKER_URL } from './services.js';

/**
 * A name prefix of its own for one test's exchanges and queues: other test files, and other
 * people's tests, use the same broker at the same time.
 */
export function uniqueBrokerPrefix(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}

/** Deletes the named queues and exchanges (those the test created; missing ones are fine). */
export async function deleteBrokerObjects(names: {
  readonly queues: readonly string[];
  readonly exchanges: readonly string[];
}): Promise<void> {
  const connection = await connect(TEST_BROKER_URL);
  try {
    let channel: Channel | null = null;
    const open = async (): Promise<Channel> => {
      const c = await connection.createChannel();
      c.on('error', () => undefined);
      return c;
    };
    for (const queue of names.queues) {
      channel ??= await open();
      await channel.deleteQueue(queue).catch(() => (channel = null));
    }
    for (const exchange of names.exchanges) {
      channel ??= await open();
      await channel.deleteExchange(exchange).catch(() => (channel = null));
    }
  } finally {
    await connection.close();
  }
}
