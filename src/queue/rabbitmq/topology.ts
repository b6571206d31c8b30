/**
 * Names and declarations of the RabbitMQ objects the queue uses, all under one prefix
 * (`herald` in production; tests use a unique one each so they never meet):
 *
 * - `<p>.jobs` — durable direct exchange. A job is published with routing key
 *   `<topic>.<lane>` and lands in the quorum queue `<p>.jobs.<topic>.<lane>`.
 * - `<p>.delay` — durable headers exchange in front of the delay ladder: quorum queues
 *   `<p>.delay.<lane>.<ms>` with `x-message-ttl` = ms and the jobs exchange as their
 *   dead-letter exchange, so a message waits there for its rung's delay and then goes back
 *   to its job queue under its original routing key. One ladder per lane, so the waiting
 *   jobs of each lane can be counted.
 * - `<p>.dead` — durable fanout exchange, dead-letter exchange of the job queues (a message
 *   returned more than `x-delivery-limit` times lands here), bound to the quorum queue
 *   `<p>.dead` that the queue records in the store's dead letters.
 *
 * Dead-lettering out of quorum queues is `at-least-once` (it needs `x-overflow:
 * reject-publish`; no length limit is set, so nothing is ever refused for it).
 */
import type { Channel } from 'amqplib';
import { LANES, type Lane } from '../queue.js';

/** Delays of the ladder's rungs, in ms: each about four times the one before, up to ~7 h. */
export const RUNGS_MS: readonly number[] = [
  25, 100, 400, 1_600, 6_400, 25_600, 102_400, 409_600, 1_638_400, 6_553_600, 26_214_400,
];

/** A job due within this many ms is published (or handed out) as due now. */
export const DUE_TOLERANCE_MS = 5;

/**
 * Header that selects a rung of the delay exchange. Not `x-…`: a headers exchange ignores
 * binding arguments with that prefix, and every rung would match every message.
 */
export const RUNG_HEADER = 'herald-rung';

/**
 * The rung for a job due in `remainingMs`: the longest that does not overshoot, or the
 * shortest. A job that comes back before its time is sent down the ladder again with what
 * remains, so the total overshoot is at most the shortest rung plus the broker's latency.
 */
export function rungFor(remainingMs: number): number {
  let rung = RUNGS_MS[0]!;
  for (const ms of RUNGS_MS) if (ms <= remainingMs) rung = ms;
  return rung;
}

export class Topology {
  readonly jobsExchange: string;
  readonly delayExchange: string;
  readonly deadExchange: string;
  readonly deadQueue: string;

  constructor(
    readonly prefix: string,
    /** `x-delivery-limit` of the job queues: returns after which the broker dead-letters. */
    readonly deliveryLimit: number,
  ) {
    if (!/^[A-Za-z0-9_.-]+$/.test(prefix)) {
      throw new TypeError(`Broker name prefix "${prefix}" may only hold letters, digits, _ . -`);
    }
    this.jobsExchange = `${prefix}.jobs`;
    this.delayExchange = `${prefix}.delay`;
    this.deadExchange = `${prefix}.dead`;
    this.deadQueue = `${prefix}.dead`;
  }

  routingKey(topic: string, lane: Lane): string {
    return `${topic}.${lane}`;
  }

  jobQueue(topic: string, lane: Lane): string {
    return `${this.prefix}.jobs.${topic}.${lane}`;
  }

  rungQueue(lane: Lane, ms: number): string {
    return `${this.prefix}.delay.${lane}.${ms}`;
  }

  rungKey(lane: Lane, ms: number): string {
    return `${lane}.${ms}`;
  }

  /** Exchanges and the dead-letter queue: what every other declaration needs. */
  async declareBase(ch: Channel): Promise<void> {
    await ch.assertExchange(this.jobsExchange, 'direct', { durable: true });
    await ch.assertExchange(this.delayExchange, 'headers', { durable: true });
    await ch.assertExchange(this.deadExchange, 'fanout', { durable: true });
    await ch.assertQueue(this.deadQueue, {
      durable: true,
      arguments: { 'x-queue-type': 'quorum' },
    });
    await ch.bindQueue(this.deadQueue, this.deadExchange, '');
  }

  /** The three lane queues of a topic, bound to the jobs exchange. */
  async declareTopic(ch: Channel, topic: string): Promise<void> {
    for (const lane of LANES) {
      const queue = this.jobQueue(topic, lane);
      await ch.assertQueue(queue, {
        durable: true,
        arguments: {
          'x-queue-type': 'quorum',
          'x-delivery-limit': this.deliveryLimit,
          'x-dead-letter-exchange': this.deadExchange,
          'x-dead-letter-strategy': 'at-least-once',
          'x-overflow': 'reject-publish',
        },
      });
      await ch.bindQueue(queue, this.jobsExchange, this.routingKey(topic, lane));
    }
  }

  /** One rung of a lane's delay ladder. */
  async declareRung(ch: Channel, lane: Lane, ms: number): Promise<void> {
    const queue = this.rungQueue(lane, ms);
    await ch.assertQueue(queue, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-message-ttl': ms,
        'x-dead-letter-exchange': this.jobsExchange,
        'x-dead-letter-strategy': 'at-least-once',
        'x-overflow': 'reject-publish',
      },
    });
    await ch.bindQueue(queue, this.delayExchange, '', {
      'x-match': 'all',
      [RUNG_HEADER]: this.rungKey(lane, ms),
    });
  }
}
