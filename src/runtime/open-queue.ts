/**
 * Chooses the job queue from the configuration: RabbitMQ when `HERALD_BROKER_URL` is set
 * (its outbox and dead letters live in the store), else the embedded queue in the store.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Db } from '../store/database.js';
import type { Presence } from '../store/presence.js';
import type { Clock } from '../time/clock.js';
import type { Queue } from '../queue/queue.js';
import { RabbitMqQueue } from '../queue/rabbitmq/rabbitmq-queue.js';
import { FANOUT_TOPIC } from '../messages/ingest.js';
import { CALLBACK_TOPIC } from '../callbacks/callback-events.js';
import { ALL_DELIVERY_TOPICS } from '../deliveries/delivery-worker.js';

/** Every topic Herald's workers lease: their queues are declared when the broker link is up. */
export const HERALD_TOPICS: readonly string[] = [
  FANOUT_TOPIC,
  ...ALL_DELIVERY_TOPICS,
  CALLBACK_TOPIC,
];

export interface OpenedQueue {
  readonly queue: Queue;
  /** Jobs waiting in the broker outbox (for the metric), or null for the embedded queue. */
  readonly outboxSize: (() => Promise<number>) | null;
}

export function openQueue(
  config: Config,
  deps: {
    readonly db: Db;
    readonly clock: Clock;
    readonly log: Logger;
    /** Builds the embedded queue (its wake-up signals are the store's business). */
    readonly embedded: () => Queue;
    /** Names this process's broker connections (`herald api`, `herald worker` …). */
    readonly name?: string;
    /** The store's presence factory (PostgreSQL): outbox claims of a dead process are seen. */
    readonly openPresence?: ((label: string) => Presence) | null;
  },
): OpenedQueue {
  if (!config.brokerUrl) return { queue: deps.embedded(), outboxSize: null };
  const queue = new RabbitMqQueue({
    url: config.brokerUrl,
    db: deps.db,
    log: deps.log,
    clock: deps.clock,
    prefix: config.brokerPrefix,
    prefetch: config.brokerPrefetch,
    topics: HERALD_TOPICS,
    outboxClaimMs: config.brokerOutboxClaimSeconds * 1000,
    presence: deps.openPresence?.('herald relay') ?? null,
    ...(deps.name ? { name: deps.name } : {}),
  });
  return { queue, outboxSize: () => queue.outboxSize() };
}
