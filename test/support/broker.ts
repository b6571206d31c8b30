import { randomBytes } from 'node:crypto';
import { connect, type Channel } from 'amqplib';
import { LANES } from '../../src/queue/queue.js';
import { RUNGS_MS, Topology } from '../../src/queue/rabbitmq/topology.js';
import { HERALD_TOPICS } from '../../src/runtime/open-queue.js';
import { ingressNames, ingressPrefix } from '../../src/ingress/ingress-names.js';
import { TEST_BROKER_URL } from './services.js';

/** Which queue startTestHerald runs on: HERALD_TEST_QUEUE=rabbitmq runs the tests on RabbitMQ. */
export const testQueue: 'embedded' | 'rabbitmq' =
  process.env.HERALD_TEST_QUEUE === 'rabbitmq' ? 'rabbitmq' : 'embedded';

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
  // A broker short of file descriptors completes the TCP handshake but never the AMQP one:
  // without a timeout a test's cleanup would wait for ever.
  const connection = await connect(TEST_BROKER_URL, { timeout: 10_000 });
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

/**
 * Everything a Herald with `HERALD_BROKER_PREFIX=prefix` declares: its job queue, and the AMQP
 * ingress of its api/all processes (`<prefix>.ingress`, on unless HERALD_AMQP_INGRESS=false).
 */
export function heraldBrokerObjects(prefix: string): { queues: string[]; exchanges: string[] } {
  const t = new Topology(prefix, 1);
  const ingress = ingressNames(ingressPrefix(prefix));
  return {
    exchanges: [t.jobsExchange, t.delayExchange, t.deadExchange, ingress.exchange],
    queues: [
      ...HERALD_TOPICS.flatMap((topic) => LANES.map((lane) => t.jobQueue(topic, lane))),
      ...LANES.flatMap((lane) => RUNGS_MS.map((ms) => t.rungQueue(lane, ms))),
      t.deadQueue,
      ingress.queue,
      ingress.rejected,
    ],
  };
}

/** What a Herald with `HERALD_BROKER_PREFIX=prefix` has in the broker right now. */
export interface BrokerJobs {
  /**
   * Jobs ready in its job queues, delay rungs and dead-letter queue. A job a live consumer
   * holds (unacked) is not counted until its consumer is gone and the broker requeues it.
   */
  readonly messages: number;
  /** Consumers on those queues: 0 once every Herald process of the prefix has exited. */
  readonly consumers: number;
}

/** Counts the jobs of a Herald with that prefix in the broker (queues not declared hold none). */
export async function brokerJobs(prefix: string): Promise<BrokerJobs> {
  const t = new Topology(prefix, 1);
  const queues = [
    ...HERALD_TOPICS.flatMap((topic) => LANES.map((lane) => t.jobQueue(topic, lane))),
    ...LANES.flatMap((lane) => RUNGS_MS.map((ms) => t.rungQueue(lane, ms))),
    t.deadQueue,
  ];
  // A broker out of file descriptors accepts the socket and never answers: fail, not hang.
  const connection = await connect(TEST_BROKER_URL, { timeout: 10_000 });
  try {
    let messages = 0;
    let consumers = 0;
    let channel: Channel | null = null;
    for (const queue of queues) {
      if (!channel) {
        channel = await connection.createChannel();
        channel.on('error', () => undefined);
      }
      // A queue that does not exist closes the channel (404): it holds no job.
      const found = await channel.checkQueue(queue).catch(() => (channel = null));
      if (found) {
        messages += found.messageCount;
        consumers += found.consumerCount;
      }
    }
    return { messages, consumers };
  } finally {
    await connection.close();
  }
}
