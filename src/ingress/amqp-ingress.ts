import { connect, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import type { Db } from '../store/database.js';
import type { Ingest } from '../messages/ingest.js';
import { Problem } from '../http/problem.js';
import { closeWithin } from '../queue/rabbitmq/close-within.js';
import { systemClock, type Clock } from '../time/clock.js';
import { admit } from './ingress-admission.js';
import { ingressNames, type IngressNames } from './ingress-names.js';
import { rejectedCopy, reply, type IngressOutcome, type Outgoing } from './ingress-outcomes.js';

/** Longest a stop waits for the broker to confirm a cancel or a close. */
const CLOSE_TIMEOUT_MS = 5_000;

export interface AmqpIngressOptions {
  /** `amqp://user:pass@host:5672/vhost` (HERALD_BROKER_URL). */
  readonly url: string;
  readonly db: Db;
  /** The same group-commit ingest as `POST /v1/messages`. */
  readonly ingest: Pick<Ingest, 'submit'>;
  readonly log: Logger;
  /** Names of the exchange and queues (default `herald.ingress`); tests use their own. */
  readonly prefix?: string;
  /** Unacknowledged messages in hand at once; they share ingest's commits. */
  readonly prefetch?: number;
  /** Largest accepted body (HERALD_BODY_LIMIT_BYTES, as for HTTP). */
  readonly bodyLimitBytes?: number;
  /** Deliveries of one message before the broker dead-letters it to the rejected queue. */
  readonly deliveryLimit?: number;
  /** Reconnect backoff: first wait, doubling (with jitter) up to the cap. */
  readonly reconnect?: { readonly initialMs: number; readonly maxMs: number };
  /** How long `stop()` lets messages in hand finish before it closes the connection. */
  readonly stopGraceMs?: number;
  readonly clock?: Clock;
  /** Called once per message settled: accepted (incl. replays) or rejected. */
  readonly onOutcome?: (outcome: 'accepted' | 'rejected') => void;
}

/** Problems that say "not now" rather than "never": the message is kept and retried. */
function isTransient(problem: Problem): boolean {
  return problem.status >= 500 || problem.code === 'idempotency-in-progress';
}

type Decision = IngressOutcome & { readonly sourceKey: string | null };

/**
 * Consumes the AMQP ingress: messages published to exchange `herald.ingress` (the body of
 * `POST /v1/messages`) go through the same admission and group-commit ingest as HTTP.
 *
 * Guarantees: a message is acked only after its ingest transaction committed, or after its
 * copy reached `herald.ingress.rejected` (publisher confirm); a crash before the ack makes the
 * broker redeliver it, and `message_id` (the idempotency key) makes the redelivery answer the
 * first result instead of accepting twice. Problems that may pass (database unavailable, the
 * same key still in flight) keep the message in hand and retry; the connection is re-made
 * with backoff, the topology re-declared.
 */
export class AmqpIngress {
  readonly names: IngressNames;
  private readonly prefetch: number;
  private readonly bodyLimitBytes: number;
  private readonly clock: Clock;
  private readonly reconnect: { readonly initialMs: number; readonly maxMs: number };
  private connection: ChannelModel | null = null;
  private channel: ConfirmChannel | null = null;
  private consumerTag: string | null = null;
  private stopping = false;
  private running: Promise<void> | null = null;
  private readonly inHand = new Set<Promise<void>>();
  private readonly wakers = new Set<() => void>();
  private readonly consumingWaiters: { resolve(): void; reject(err: Error): void }[] = [];

  constructor(private readonly options: AmqpIngressOptions) {
    this.names = ingressNames(options.prefix);
    this.prefetch = options.prefetch ?? 200;
    this.bodyLimitBytes = options.bodyLimitBytes ?? 256 * 1024;
    this.clock = options.clock ?? systemClock;
    this.reconnect = options.reconnect ?? { initialMs: 500, maxMs: 30_000 };
  }

  /**
   * Starts consuming in the background (connecting with backoff while the broker is away);
   * the promise resolves once the consumer is registered — callers that must not wait for
   * the broker (the API start) need not await it.
   */
  start(): Promise<void> {
    if (this.stopping) return Promise.reject(new Error('The AMQP ingress was stopped'));
    const consuming = this.whenConsuming();
    this.running ??= this.run();
    return consuming;
  }

  /** Stops taking messages, lets those in hand finish (up to the grace), closes. */
  async stop(): Promise<void> {
    if (this.stopping) return this.running ?? undefined;
    this.stopping = true;
    for (const wake of this.wakers) wake();
    for (const w of this.consumingWaiters.splice(0))
      w.reject(new Error('The AMQP ingress was stopped'));
    const channel = this.channel;
    if (channel && this.consumerTag) {
      // A silent broker never answers the cancel: the close below drops the socket instead.
      await Promise.race([
        channel.cancel(this.consumerTag).catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref()),
      ]);
    }
    const grace = new Promise<void>((resolve) => {
      const t = setTimeout(resolve, this.options.stopGraceMs ?? 10_000);
      t.unref();
    });
    await Promise.race([Promise.allSettled([...this.inHand]), grace]);
    if (this.connection) await closeWithin(this.connection, CLOSE_TIMEOUT_MS);
    await this.running;
  }

  private whenConsuming(): Promise<void> {
    if (this.consumerTag !== null) return Promise.resolve();
    return new Promise((resolve, reject) => this.consumingWaiters.push({ resolve, reject }));
  }

  /** Sleeps, but wakes at once when the ingress stops. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  private async run(): Promise<void> {
    let delay = this.reconnect.initialMs;
    while (!this.stopping) {
      try {
        const closed = await this.connectOnce();
        delay = this.reconnect.initialMs;
        const err = await closed;
        if (this.stopping) break;
        this.options.log.warn({ err }, 'AMQP ingress: connection lost; reconnecting');
      } catch (err) {
        if (this.stopping) break;
        this.options.log.warn(
          { err, retryInMs: delay },
          'AMQP ingress: cannot consume (broker unreachable or refused); retrying',
        );
      }
      this.consumerTag = null;
      this.channel = null;
      await this.pause(delay * (0.8 + Math.random() * 0.4));
      delay = Math.min(delay * 2, this.reconnect.maxMs);
    }
  }

  /** Connects, declares, consumes; resolves with a promise of the connection's end. */
  private async connectOnce(): Promise<Promise<Error | undefined>> {
    const connection = await connect(this.options.url, {
      clientProperties: { connection_name: `herald ingress ${this.names.queue}` },
      timeout: 10_000,
    });
    this.connection = connection;
    const closed = new Promise<Error | undefined>((resolve) =>
      connection.once('close', (err?: Error) => resolve(err)),
    );
    // 'error' precedes 'close'; without a listener an error would crash the process.
    connection.on('error', () => undefined);
    try {
      const channel = await connection.createConfirmChannel();
      // A channel error (a refused declaration, an ack for a stale tag …) closes the channel:
      // start over on a fresh connection rather than limp on without a consumer.
      channel.on('error', (err: Error) =>
        this.options.log.warn({ err }, 'AMQP ingress: channel error'),
      );
      channel.once('close', () => {
        closedChannels.add(channel);
        void connection.close().catch(() => undefined);
      });
      await this.declare(channel);
      await channel.prefetch(this.prefetch);
      this.channel = channel;
      const { consumerTag } = await channel.consume(
        this.names.queue,
        (message) => {
          if (message === null) {
            // The broker cancelled the consumer (queue deleted …): reconnect and re-declare.
            if (!this.stopping)
              this.options.log.warn('AMQP ingress: consumer cancelled by the broker');
            void connection.close().catch(() => undefined);
            return;
          }
          const handled = this.handle(channel, message).catch((err: unknown) =>
            // Not expected (handle settles every path); the message returns when the channel closes.
            this.options.log.error({ err }, 'AMQP ingress: a message could not be handled'),
          );
          this.inHand.add(handled);
          void handled.finally(() => this.inHand.delete(handled));
        },
        { noAck: false },
      );
      this.consumerTag = consumerTag;
      if (this.stopping) {
        await closeWithin(connection, CLOSE_TIMEOUT_MS);
      } else {
        this.options.log.info(
          { exchange: this.names.exchange, queue: this.names.queue },
          'AMQP ingress: consuming',
        );
        for (const w of this.consumingWaiters.splice(0)) w.resolve();
      }
      return closed;
    } catch (err) {
      await closeWithin(connection, CLOSE_TIMEOUT_MS);
      throw err;
    }
  }

  private async declare(channel: ConfirmChannel): Promise<void> {
    const { exchange, queue, rejected } = this.names;
    await channel.assertExchange(exchange, 'topic', { durable: true });
    await channel.assertQueue(rejected, {
      durable: true,
      arguments: { 'x-queue-type': 'quorum' },
    });
    await channel.assertQueue(queue, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        // A message that keeps coming back (a process dying on it) ends in the rejected
        // queue with its x-death history, instead of circling for ever.
        'x-delivery-limit': this.options.deliveryLimit ?? 20,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': rejected,
      },
    });
    await channel.bindQueue(queue, exchange, '#');
  }

  private async handle(channel: ConfirmChannel, message: ConsumeMessage): Promise<void> {
    const decision = await this.decide(channel, message);
    if (decision === null) {
      // Stopping (or the channel is gone) with the message unsettled: the broker gets it back.
      if (isOpen(channel)) safely(() => channel.nack(message, false, true));
      return;
    }
    const log = this.options.log;
    const logged = { messageId: message.properties.messageId, source: decision.sourceKey };
    try {
      if (decision.kind === 'rejected') {
        await this.publishRejected(channel, message, decision);
        log.info({ ...logged, problem: decision.problem.code }, 'AMQP ingress: message rejected');
      }
      const replyTo = message.properties.replyTo as string | undefined;
      if (replyTo) {
        const answer = reply(decision, message.properties.correlationId as string | undefined);
        channel.publish('', replyTo, answer.content, answer.options);
      }
      channel.ack(message);
      this.options.onOutcome?.(decision.kind);
    } catch (err) {
      // The channel closed under us (the message comes back and is answered again), or the
      // broker would not take the rejected copy: give it back to try again later.
      log.warn({ ...logged, err }, 'AMQP ingress: could not settle a message; it will return');
      if (isOpen(channel)) {
        await this.pause(1000);
        if (isOpen(channel)) safely(() => channel.nack(message, false, true));
      }
    }
  }

  /** Admission and ingest, retried while the problem is one that passes. */
  private async decide(channel: ConfirmChannel, message: ConsumeMessage): Promise<Decision | null> {
    for (let attempt = 0; ; attempt++) {
      if (this.stopping || !isOpen(channel)) return null;
      let sourceKey: string | null = null;
      try {
        const admission = await admit(this.options.db, message, {
          bodyLimitBytes: this.bodyLimitBytes,
        });
        sourceKey = admission.source?.key ?? null;
        if ('problem' in admission)
          return { kind: 'rejected', problem: admission.problem, sourceKey };
        const result = await this.options.ingest.submit(admission.request);
        return {
          kind: 'accepted',
          body: result.body as Record<string, unknown>,
          status: result.status,
          replay: result.replay,
          sourceKey,
        };
      } catch (err) {
        if (err instanceof Problem && !isTransient(err)) {
          return { kind: 'rejected', problem: err, sourceKey };
        }
        const wait = Math.min(100 * 2 ** attempt, 5000);
        this.options.log.warn(
          {
            messageId: message.properties.messageId,
            source: sourceKey,
            problem: err instanceof Problem ? err.code : undefined,
            err: err instanceof Problem ? undefined : err,
            attempt: attempt + 1,
            retryInMs: wait,
          },
          'AMQP ingress: cannot take a message now; keeping it and retrying',
        );
        await this.pause(wait * (0.8 + Math.random() * 0.4));
      }
    }
  }

  private async publishRejected(
    channel: ConfirmChannel,
    message: ConsumeMessage,
    decision: Decision & { kind: 'rejected' },
  ): Promise<void> {
    let copy: Outgoing;
    try {
      copy = rejectedCopy(message, decision.problem, decision.sourceKey, this.clock());
      await publishConfirmed(channel, this.names.rejected, copy);
    } catch (err) {
      // Headers too large to encode next to the problem: keep the problem, drop the rest.
      if (!(err instanceof RangeError)) throw err;
      copy = rejectedCopy(message, decision.problem, decision.sourceKey, this.clock(), false);
      await publishConfirmed(channel, this.names.rejected, copy);
    }
  }
}

/** Publishes to a queue through the default exchange and waits for the broker's confirm. */
function publishConfirmed(channel: ConfirmChannel, queue: string, out: Outgoing): Promise<void> {
  return new Promise((resolve, reject) => {
    channel.publish('', queue, out.content, { ...out.options, mandatory: true }, (err) =>
      err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
    );
  });
}

/** Channels that emitted 'close' (amqplib's signal; acks on them would throw). */
const closedChannels = new WeakSet<ConfirmChannel>();

function isOpen(channel: ConfirmChannel): boolean {
  return !closedChannels.has(channel);
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // The channel closed between the check and the call: the broker requeues by itself.
  }
}
