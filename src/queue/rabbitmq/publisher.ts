/**
 * Publishes jobs with publisher confirms on a connection of its own (RabbitMQ throttles
 * publishing connections under flow control; consumers' acks must not wait behind that).
 * A job due now goes to the jobs exchange, a later one to its lane's delay ladder. Every
 * publication is `mandatory`: a message no queue took comes back (`basic.return`) and its
 * publication fails instead of being confirmed into nowhere.
 */
import { randomBytes } from 'node:crypto';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import type { Logger } from 'pino';
import { BrokerLink } from './broker-link.js';
import { jobHeaders, type JobRecord } from './job-message.js';
import { DUE_TOLERANCE_MS, RUNG_HEADER, RUNGS_MS, rungFor, type Topology } from './topology.js';
import { LANES, type Lane } from '../queue.js';

export class BrokerUnavailable extends Error {
  constructor(message = 'the broker is not reachable right now') {
    super(message);
    this.name = 'BrokerUnavailable';
  }
}

export interface PublisherOptions {
  readonly url: string;
  readonly name: string;
  readonly log: Logger;
  readonly topology: Topology;
  /** Topics whose queues are declared as soon as the link is up. */
  readonly topics: readonly string[];
  /** Declare every rung of every lane's ladder up front (so depth() sees them all). */
  readonly declareLadder: boolean;
  /** Called each time the link is (back) up and declared. */
  readonly onReady?: () => void;
  /**
   * Longest a publication of one batch takes, declarations and confirms (a blocked connection
   * holds them); default PUBLISH_TIMEOUT_MS.
   */
  readonly confirmTimeoutMs?: number;
}

/** How long a publication may take by default: declarations and the broker's confirms. */
export const PUBLISH_TIMEOUT_MS = 10_000;

export class Publisher {
  readonly #opts: PublisherOptions;
  readonly #link: BrokerLink;
  #channel: ConfirmChannel | null = null;
  #connection: ChannelModel | null = null;
  /** What this connection has declared (declarations are idempotent; this saves the trips). */
  #topics = new Set<string>();
  #rungs = new Set<string>();
  /** Message ids the broker returned as unroutable, until their confirm arrives. */
  readonly #returned = new Set<string>();

  constructor(opts: PublisherOptions) {
    this.#opts = opts;
    this.#link = new BrokerLink({
      url: opts.url,
      name: `${opts.name} publisher`,
      log: opts.log,
      setup: async (connection, link) => {
        const channel = await connection.createConfirmChannel();
        link.watch(channel, 'publisher channel');
        channel.on('return', (message: { properties: { messageId?: string } }) => {
          if (message.properties.messageId) this.#returned.add(message.properties.messageId);
        });
        this.#topics = new Set();
        this.#rungs = new Set();
        await opts.topology.declareBase(channel);
        for (const topic of opts.topics) await this.#declareTopic(channel, topic);
        if (opts.declareLadder) {
          for (const lane of LANES) {
            for (const ms of RUNGS_MS) await this.#declareRung(channel, lane, ms);
          }
        }
        this.#channel = channel;
        this.#connection = connection;
      },
      onUp: () => opts.onReady?.(),
      onDown: () => {
        this.#channel = null;
        this.#connection = null;
      },
    });
  }

  start(): void {
    this.#link.start();
  }

  get ready(): boolean {
    return this.#link.ready && this.#channel !== null;
  }

  whenReady(timeoutMs: number): Promise<boolean> {
    return this.#link.whenReady(timeoutMs);
  }

  /** Topics and rungs this connection has declared: what depth() can count. */
  declared(): { topics: string[]; rungs: { lane: Lane; ms: number }[] } {
    return {
      topics: [...this.#topics],
      rungs: [...this.#rungs].map((key) => {
        const [lane, ms] = key.split(':');
        return { lane: lane as Lane, ms: Number(ms) };
      }),
    };
  }

  /** Makes sure a topic's queues exist (the consumer side calls this before consuming). */
  async declareTopic(topic: string): Promise<void> {
    const channel = this.#channel;
    if (!channel) throw new BrokerUnavailable();
    await this.#declareTopic(channel, topic);
  }

  /** The longest a publish() takes before it gives up (see there). */
  get timeoutMs(): number {
    return this.#opts.confirmTimeoutMs ?? PUBLISH_TIMEOUT_MS;
  }

  /**
   * Publishes the jobs and resolves once the broker has confirmed every one of them (each is
   * then in a durable quorum queue). Rejects if any of them was not confirmed; some others
   * may have been, so the caller publishes all again later (consumers are idempotent).
   * Gives up after `timeoutMs` in all — declarations included — so that a caller holding
   * claims on the jobs knows how long it may be busy with them (OutboxRelay); nothing more
   * is sent for the jobs once it gave up.
   */
  async publish(jobs: readonly JobRecord[], now: number): Promise<void> {
    const channel = this.#channel;
    if (!channel) throw new BrokerUnavailable();
    const timeoutMs = this.timeoutMs;
    let abandoned = false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abandoned = true;
        reject(new BrokerUnavailable(`no publisher confirms within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    const confirmed = this.#publish(channel, jobs, now, () => abandoned);
    try {
      await Promise.race([confirmed, timeout]);
    } finally {
      clearTimeout(timer);
      // Settle the loser quietly: a late rejection of an abandoned batch is not an error.
      confirmed.catch(() => undefined);
    }
  }

  async #publish(
    channel: ConfirmChannel,
    jobs: readonly JobRecord[],
    now: number,
    abandoned: () => boolean,
  ): Promise<void> {
    for (const job of jobs) {
      await this.#declareTopic(channel, job.topic);
      const remaining = job.availableAt - now;
      if (remaining > DUE_TOLERANCE_MS)
        await this.#declareRung(channel, job.lane, rungFor(remaining));
    }
    if (abandoned()) throw new BrokerUnavailable('publication given up while declaring');
    const { topology } = this.#opts;
    const confirms: Promise<void>[] = [];
    for (const job of jobs) {
      const remaining = job.availableAt - now;
      const headers: Record<string, string | number> = jobHeaders(job);
      let exchange = topology.jobsExchange;
      if (remaining > DUE_TOLERANCE_MS) {
        exchange = topology.delayExchange;
        headers[RUNG_HEADER] = topology.rungKey(job.lane, rungFor(remaining));
      }
      const messageId = randomBytes(9).toString('base64url');
      confirms.push(
        new Promise<void>((resolve, reject) => {
          const written = channel.publish(
            exchange,
            topology.routingKey(job.topic, job.lane),
            Buffer.from(job.payload, 'utf8'),
            {
              persistent: true,
              mandatory: true,
              contentType: 'application/json',
              messageId,
              headers,
            },
            (err: unknown) => {
              const returned = this.#returned.delete(messageId);
              if (err) reject(err instanceof Error ? err : new Error(String(err)));
              else if (returned) reject(new Error(`job ${job.id} was unroutable (${job.topic})`));
              else resolve();
            },
          );
          void written;
        }),
      );
    }
    await Promise.all(confirms);
  }

  /**
   * Ready messages in each queue (delivered-but-unacked ones excluded), on a throwaway channel
   * so that a missing queue (404 closes the channel) cannot disturb publishing. Null when the
   * broker is not reachable; a queue that does not exist counts 0.
   */
  async countMessages(queues: readonly string[]): Promise<number[] | null> {
    const connection = this.#connection;
    if (!connection) return null;
    const counts: number[] = [];
    let channel: Awaited<ReturnType<ChannelModel['createChannel']>> | null = null;
    try {
      for (const queue of queues) {
        if (!channel) {
          channel = await connection.createChannel();
          channel.on('error', () => undefined);
        }
        try {
          counts.push((await channel.checkQueue(queue)).messageCount);
        } catch {
          counts.push(0);
          channel = null;
        }
      }
      return counts;
    } catch {
      return null;
    } finally {
      await channel?.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.#channel = null;
    this.#connection = null;
    await this.#link.close();
  }

  async #declareTopic(channel: ConfirmChannel, topic: string): Promise<void> {
    if (this.#topics.has(topic)) return;
    await this.#opts.topology.declareTopic(channel, topic);
    this.#topics.add(topic);
  }

  async #declareRung(channel: ConfirmChannel, lane: Lane, ms: number): Promise<void> {
    const key = `${lane}:${ms}`;
    if (this.#rungs.has(key)) return;
    await this.#opts.topology.declareRung(channel, lane, ms);
    this.#rungs.add(key);
  }
}
