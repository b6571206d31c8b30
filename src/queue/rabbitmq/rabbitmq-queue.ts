/**
 * The Queue port on RabbitMQ (see docs/scale-out.md for the topology and the operator's view).
 *
 * - Enqueue writes the jobs to the store's outbox — in the caller's transaction when given
 *   one — and the relay publishes them with confirms after the commit. Nothing is accepted
 *   that is not durable in the store, and a broker outage only makes the outbox grow.
 * - Leasing takes from buffers filled by consumers (manual acks, `prefetch` per lane queue):
 *   urgent before normal before bulk, and within a lane in the order jobs became available.
 *   A lease is held as an unacked delivery; it runs out after `visibilityMs` unless extended
 *   and the job is then returned to the broker (a nack with requeue), which redelivers it. A
 *   crash closes the channel and the broker redelivers everything it held.
 * - Acks, retries and dead letters that take a `tx` act after that transaction commits
 *   (`afterCommit`): a broker ack cannot be part of a store transaction, and acking before
 *   the commit could lose the job if the commit then failed. A retry is a new publication of
 *   the job (same id, delivery count kept) written to the outbox in `tx`; a dead letter is a
 *   row of `queue_dead_jobs` written in `tx`. Either way the original delivery is acked after
 *   the commit; a crash in between redelivers it — at-least-once, consumers are idempotent.
 * - Delivery counts: the broker counts its returns in `x-delivery-count`, a new publication
 *   carries the count so far in a header; their sum plus one is `LeasedJob.deliveries`. A job
 *   that reaches its `maxDeliveries` is dead-lettered `max-deliveries` by this queue; the job
 *   queues' `x-delivery-limit` is the broker's own backstop (it dead-letters to `<p>.dead`,
 *   whose consumer records the job in `queue_dead_jobs` with the reason kept).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import type { Db, Tx } from '../../store/database.js';
import type { Presence } from '../../store/presence.js';
import { afterCommit, inTransaction, takesAfterCommit } from '../../store/transaction.js';
import { systemClock, type Clock } from '../../time/clock.js';
import { serialiseJobPayload } from '../job-payload.js';
import {
  LANES,
  type DeadJob,
  type JobInput,
  type Lane,
  type LaneDepth,
  type LeasedJob,
  type Queue,
} from '../queue.js';
import { BrokerLink } from './broker-link.js';
import { deathReason, readJob, type JobRecord } from './job-message.js';
import { insertOutbox, outboxDepth, type NewOutboxRow, type OutboxRow } from './outbox.js';
import { OutboxRelay, type Claim, type ClaimMode } from './outbox-relay.js';
import { Publisher } from './publisher.js';
import { DUE_TOLERANCE_MS, Topology } from './topology.js';

const DEFAULT_MAX_DELIVERIES = 20;

/**
 * Publications of committed outbox rows one process runs at once; past it, rows wait for
 * the relay's next pass (see #insertForCommit).
 */
const MAX_DIRECT_PUBLICATIONS = 8;

export interface RabbitMqQueueOptions {
  readonly url: string;
  /** The store holding the outbox and the dead letters (SQLite or PostgreSQL). */
  readonly db: Db;
  readonly log: Logger;
  /** Names of every exchange and queue start with it: `herald` in production. */
  readonly prefix?: string;
  /** Topics whose queues are declared at start (others are declared on first use). */
  readonly topics?: readonly string[];
  /**
   * Unacked deliveries per lane queue consumer: the most jobs of one topic and lane this
   * process holds (buffered or leased) at once. See docs/scale-out.md for the trade-off.
   */
  readonly prefetch?: number;
  /** `x-delivery-limit` of the job queues; also the largest `maxDeliveries` accepted. */
  readonly deliveryLimit?: number;
  /** Declare the whole delay ladder at start, so that depth() counts every delayed job. */
  readonly declareLadder?: boolean;
  /** Record what the broker dead-letters (a worker process does; an API-only one need not). */
  readonly consumeDeadLetters?: boolean;
  readonly relayPollMs?: number;
  /**
   * The store's presence (PostgreSQL), handed over: the queue starts it and closes it last.
   * The relay claims outbox rows under its token, so that another process's relay takes
   * them as soon as this process's session is gone. Without one, claims only run out.
   */
  readonly presence?: Presence | null;
  /**
   * How long an outbox claim keeps other relays off the rows when nothing shows that its
   * holder died (default 30 s; see OutboxRelay).
   */
  readonly outboxClaimMs?: number;
  /**
   * How long the relay waits for its presence to hold a token before it claims under timed
   * claims (default: the claim; see OutboxRelay).
   */
  readonly outboxPresenceWaitMs?: number;
  /** Wall-clock time (the broker's delays run in real time). */
  readonly clock?: Clock;
  /** Connection name shown by the broker; default `herald <host> <pid>`. */
  readonly name?: string;
}

interface Held {
  readonly record: JobRecord;
  /** The payload, parsed once at arrival. */
  readonly payload: unknown;
  /** The job queue it was delivered from. */
  readonly queue: string;
  readonly message: ConsumeMessage;
  readonly generation: number;
  /** Arrival order, the last tie-breaker. */
  readonly seq: number;
}

interface Lease extends Held {
  readonly job: LeasedJob;
  timer: NodeJS.Timeout;
}

export class RabbitMqQueue implements Queue {
  readonly #db: Db;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #topology: Topology;
  readonly #prefetch: number;
  readonly #consumeDeadLetters: boolean;
  readonly #publisher: Publisher;
  readonly #relay: OutboxRelay;
  readonly #presence: Presence | null;
  readonly #consumerLink: BrokerLink;
  #channel: Channel | null = null;
  /** Topics some lease asked for: consumed now and after every reconnect. */
  readonly #wanted = new Set<string>();
  /** Topics consumed on the current channel (or being set up), per generation. */
  #consuming = new Map<string, Promise<void>>();
  /** Unacked deliveries per queue name (buffered + leased + being re-delayed or buried). */
  #unacked = new Map<string, number>();
  readonly #buffers: Record<Lane, Held[]> = { urgent: [], normal: [], bulk: [] };
  readonly #leases = new Map<string, Lease>();
  readonly #waiters = new Set<() => void>();
  /** Re-delays and burials in progress (settled() waits for them). */
  #background = 0;
  /** Publications of committed outbox rows under way (#insertForCommit). */
  readonly #publishing = new Set<Promise<unknown>>();
  #seq = 0;
  #lastBrokerDepth: LaneDepth = { urgent: 0, normal: 0, bulk: 0 };
  #closed = false;

  constructor(opts: RabbitMqQueueOptions) {
    this.#db = opts.db;
    this.#log = opts.log.child({ component: 'rabbitmq-queue' });
    this.#clock = opts.clock ?? systemClock;
    this.#prefetch = opts.prefetch ?? 32;
    this.#consumeDeadLetters = opts.consumeDeadLetters ?? true;
    this.#topology = new Topology(opts.prefix ?? 'herald', opts.deliveryLimit ?? 50);
    const name = opts.name ?? `herald ${hostname()} ${process.pid}`;
    this.#publisher = new Publisher({
      url: opts.url,
      name,
      log: this.#log,
      topology: this.#topology,
      topics: opts.topics ?? [],
      declareLadder: opts.declareLadder ?? true,
      onReady: () => this.#relay.kick(),
    });
    this.#relay = new OutboxRelay({
      db: opts.db,
      publisher: this.#publisher,
      log: this.#log,
      clock: this.#clock,
      presence: opts.presence ?? null,
      ...(opts.relayPollMs !== undefined ? { pollMs: opts.relayPollMs } : {}),
      ...(opts.outboxClaimMs !== undefined ? { claimMs: opts.outboxClaimMs } : {}),
      ...(opts.outboxPresenceWaitMs !== undefined
        ? { presenceWaitMs: opts.outboxPresenceWaitMs }
        : {}),
      onPublished: (jobs) => {
        if (jobs.some((j) => j.availableAt - this.#clock() <= DUE_TOLERANCE_MS)) this.#wake();
      },
    });
    this.#consumerLink = new BrokerLink({
      url: opts.url,
      name: `${name} consumer`,
      log: this.#log,
      setup: (connection, link) => this.#setupConsumer(connection, link),
      onDown: () => this.#forgetChannel(),
    });
    this.#presence = opts.presence ?? null;
    this.#presence?.onHeld(() => this.#relay.kick());
    this.#presence?.start();
    this.#publisher.start();
    this.#relay.start();
  }

  /**
   * How the outbox relay claims now (see ClaimMode): `presence` normally on PostgreSQL;
   * null without a presence (SQLite), where claims are always timed.
   */
  get outboxClaimMode(): ClaimMode | null {
    return this.#relay.mode;
  }

  /** The names this queue uses (for tests that clean up after themselves, and for docs). */
  get topology(): Topology {
    return this.#topology;
  }

  /** Every exchange and queue this instance declared (tests delete theirs afterwards). */
  declaredNames(): { exchanges: string[]; queues: string[] } {
    const t = this.#topology;
    const { topics, rungs } = this.#publisher.declared();
    const all = new Set([...topics, ...this.#wanted]);
    return {
      exchanges: [t.jobsExchange, t.delayExchange, t.deadExchange],
      queues: [
        ...[...all].flatMap((topic) => LANES.map((lane) => t.jobQueue(topic, lane))),
        ...rungs.map(({ lane, ms }) => t.rungQueue(lane, ms)),
        t.deadQueue,
      ],
    };
  }

  async enqueue(jobs: readonly JobInput[], tx?: Tx): Promise<void> {
    if (jobs.length === 0) return;
    const now = this.#clock();
    const rows = jobs.map((job, index) => this.#toRow(job, index, now));
    if (tx?.isTransaction) {
      this.#requireHooks(tx);
      await this.#insertForCommit(tx, rows);
      return;
    }
    await this.#publishNow(rows);
  }

  async lease(topics: readonly string[], max: number, visibilityMs: number): Promise<LeasedJob[]> {
    if (this.#closed || topics.length === 0 || max <= 0) return [];
    await this.#consume(topics);
    const wanted = new Set(topics);
    const picked: Held[] = [];
    for (const lane of LANES) {
      const buffer = this.#buffers[lane];
      for (let i = 0; i < buffer.length && picked.length < max;) {
        if (wanted.has(buffer[i]!.record.topic)) picked.push(...buffer.splice(i, 1));
        else i++;
      }
      if (picked.length >= max) break;
    }
    return picked.map((held) => {
      const leaseToken = randomBytes(9).toString('base64url');
      const job: LeasedJob = {
        id: held.record.id,
        topic: held.record.topic,
        lane: held.record.lane,
        payload: held.payload,
        deliveries: held.record.deliveries + 1,
        leaseToken,
      };
      const lease: Lease = {
        ...held,
        job,
        timer: this.#expireAfter(leaseToken, visibilityMs),
      };
      this.#leases.set(leaseToken, lease);
      return job;
    });
  }

  async ack(jobs: readonly LeasedJob[], tx?: Tx): Promise<void> {
    if (jobs.length === 0) return;
    if (tx?.isTransaction) {
      this.#requireHooks(tx);
      await afterCommit(tx, () => this.#settle(jobs));
    } else {
      this.#settle(jobs);
    }
  }

  async extendLease(job: LeasedJob, visibilityMs: number): Promise<boolean> {
    const lease = this.#held(job);
    if (!lease) return false;
    clearTimeout(lease.timer);
    lease.timer = this.#expireAfter(job.leaseToken, visibilityMs);
    return true;
  }

  async retryAt(job: LeasedJob, at: number, error: string, tx?: Tx): Promise<void> {
    const lease = this.#held(job);
    if (!lease) return;
    const { record } = lease;
    const row: NewOutboxRow = {
      job_id: Number(record.id),
      topic: record.topic,
      lane: record.lane,
      payload: record.payload,
      available_at: at,
      max_deliveries: record.maxDeliveries,
      deliveries: job.deliveries,
      last_error: error,
      created_at: record.createdAt,
    };
    if (tx?.isTransaction) {
      this.#requireHooks(tx);
      await this.#insertForCommit(tx, [row]);
      await afterCommit(tx, () => this.#settle([job]));
      return;
    }
    await this.#publishNow([row]);
    this.#settle([job]);
  }

  async deadLetter(job: LeasedJob, reason: string, tx?: Tx): Promise<void> {
    const lease = this.#held(job);
    if (!lease) return;
    const now = this.#clock();
    if (tx?.isTransaction) {
      this.#requireHooks(tx);
      await insertDeadJob(tx, lease.record, job.deliveries, reason, now);
      await afterCommit(tx, () => this.#settle([job]));
      return;
    }
    await insertDeadJob(this.#db, lease.record, job.deliveries, reason, now);
    this.#settle([job]);
  }

  /**
   * Waiting jobs per lane: the outbox (not yet published), the broker's ready messages in
   * the job queues and delay ladder this process knows of, and this process's buffered
   * deliveries. Deliveries buffered by other processes (at most `prefetch` per lane queue
   * each) are not seen. When the broker is unreachable its last known counts are used.
   */
  async depth(): Promise<LaneDepth> {
    const outbox = await outboxDepth(this.#db);
    const broker = await this.#brokerDepth();
    const depth: LaneDepth = { urgent: 0, normal: 0, bulk: 0 };
    for (const lane of LANES) {
      depth[lane] = outbox[lane] + broker[lane] + this.#buffers[lane].length;
    }
    return depth;
  }

  /** Rows waiting in the outbox (all lanes): the backlog of a broker outage. */
  async outboxSize(): Promise<number> {
    const d = await outboxDepth(this.#db);
    return d.urgent + d.normal + d.bulk;
  }

  async deadLetters(limit: number): Promise<DeadJob[]> {
    if (limit <= 0) return [];
    const rows = await this.#db
      .selectFrom('queue_dead_jobs')
      .selectAll()
      .orderBy('dead_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((row) => ({
      id: String(row.id),
      topic: row.topic,
      lane: row.lane,
      payload: JSON.parse(row.payload) as unknown,
      deliveries: Number(row.deliveries),
      reason: row.reason,
      deadAt: Number(row.dead_at),
    }));
  }

  waitForWork(maxWaitMs: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, maxWaitMs));
      this.#waiters.add(done);
    });
  }

  /**
   * For tests on a broker: resolves once everything enqueued here so far has reached a
   * consumer's buffer or the delay ladder — the outbox is empty, no re-delay or burial is in
   * progress, and every consumed job queue has no ready message left (or its consumer is at
   * its prefetch limit). `topics` are consumed from now on (a first lease of them would
   * only start their consumers). Rejects after `timeoutMs`.
   */
  async settled(topics: readonly string[] = [], timeoutMs = 10_000): Promise<void> {
    await this.#consume(topics);
    const deadline = performance.now() + timeoutMs;
    const consumed = (): string[] => [
      ...[...this.#wanted].flatMap((t) => LANES.map((lane) => this.#topology.jobQueue(t, lane))),
      ...(this.#consumeDeadLetters && this.#wanted.size > 0 ? [this.#topology.deadQueue] : []),
    ];
    for (;;) {
      if (performance.now() > deadline) throw new Error(`queue not settled in ${timeoutMs} ms`);
      await this.#publisher.whenReady(Math.max(0, deadline - performance.now()));
      if (this.#wanted.size > 0) {
        await this.#consumerLink.whenReady(Math.max(0, deadline - performance.now()));
        await this.#consume([...this.#wanted]);
      }
      await this.#relay.flush();
      const queues = consumed();
      const [outbox, counts] = await Promise.all([
        this.outboxSize(),
        this.#publisher.countMessages(queues),
      ]);
      const idle =
        outbox === 0 &&
        this.#background === 0 &&
        counts !== null &&
        counts.every((n, i) => n === 0 || (this.#unacked.get(queues[i]!) ?? 0) >= this.#prefetch);
      if (idle) {
        // A round trip on the consumer channel: deliveries the broker sent before it answers
        // are in our buffers when it returns.
        await this.#channel?.checkQueue(this.#topology.deadQueue).catch(() => undefined);
        if (this.#background === 0) return;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * Stops consuming, gives back what this process holds (buffered deliveries and leases
   * still open: the broker redelivers them at once) and closes both connections; rows still
   * in the outbox stay there for another process's relay (or this one's next start). Call it after the job loops have stopped, so
   * that the jobs in hand are finished rather than given back.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const done of [...this.#waiters]) done();
    this.#relay.stop();
    await this.#relay.idle();
    while (this.#publishing.size > 0) await Promise.allSettled([...this.#publishing]);
    // Last: rows still claimed under its token go to the other relays at once.
    await this.#presence?.close();
    // Closing the consumer channel stops the deliveries and hands every unacked one (buffered,
    // or leased by a handler that failed) back to the broker, which redelivers it elsewhere.
    this.#forgetChannel();
    await this.#consumerLink.close();
    await this.#publisher.close();
  }

  // ---- consuming --------------------------------------------------------------------------

  async #setupConsumer(
    connection: Parameters<BrokerLinkSetup>[0],
    link: BrokerLink,
  ): Promise<void> {
    const channel = await connection.createChannel();
    link.watch(channel, 'consumer channel');
    // Per consumer (global=false): each lane queue gets its own window.
    await channel.prefetch(this.#prefetch, false);
    await this.#topology.declareBase(channel);
    this.#channel = channel;
    this.#consuming = new Map();
    this.#unacked = new Map();
    const generation = link.generation;
    for (const topic of this.#wanted) await this.#consumeTopic(channel, topic, generation);
    if (this.#consumeDeadLetters) {
      await channel.consume(
        this.#topology.deadQueue,
        (message) => {
          if (message) void this.#onDead(message, generation);
        },
        { noAck: false },
      );
    }
  }

  async #consume(topics: readonly string[]): Promise<void> {
    const fresh = topics.filter((t) => !this.#wanted.has(t));
    for (const t of fresh) this.#wanted.add(t);
    this.#consumerLink.start();
    const channel = this.#channel;
    if (!channel || !this.#consumerLink.ready) return;
    const generation = this.#consumerLink.generation;
    try {
      await Promise.all(topics.map((t) => this.#consumeTopic(channel, t, generation)));
    } catch (err) {
      this.#log.warn({ err, topics }, 'cannot consume; the consumer link starts over');
      this.#consumerLink.reset('consume failed');
    }
  }

  #consumeTopic(channel: Channel, topic: string, generation: number): Promise<void> {
    let started = this.#consuming.get(topic);
    if (!started) {
      started = (async () => {
        await this.#topology.declareTopic(channel, topic);
        for (const lane of LANES) {
          const queue = this.#topology.jobQueue(topic, lane);
          await channel.consume(
            queue,
            (message) => {
              if (message) this.#onDelivery(message, queue, generation);
            },
            { noAck: false },
          );
        }
      })();
      this.#consuming.set(topic, started);
      started.catch(() => this.#consuming.delete(topic));
    }
    return started;
  }

  #onDelivery(message: ConsumeMessage, queue: string, generation: number): void {
    const channel = this.#channel;
    if (generation !== this.#consumerLink.generation || !channel) return;
    this.#unacked.set(queue, (this.#unacked.get(queue) ?? 0) + 1);
    const record = readJob(message);
    if (!record) {
      this.#log.error(
        { queue, messageId: message.properties.messageId },
        'a message that is not a Herald job was dropped',
      );
      channel.ack(message);
      this.#countDown(queue);
      return;
    }
    let payload: unknown;
    let malformed = false;
    try {
      payload = JSON.parse(record.payload) as unknown;
    } catch {
      malformed = true;
    }
    const held: Held = { record, payload, queue, message, generation, seq: this.#seq++ };
    if (malformed) {
      void this.#inBackground(held, () =>
        insertDeadJob(this.#db, record, record.deliveries, 'payload is not JSON', this.#clock()),
      );
      return;
    }
    if (record.availableAt - this.#clock() > DUE_TOLERANCE_MS) {
      // Back from a rung before its time: down the ladder again with what remains.
      void this.#inBackground(held, async () => {
        await this.#publisher.publish([record], this.#clock());
      });
      return;
    }
    if (record.deliveries + 1 > record.maxDeliveries) {
      void this.#inBackground(held, () =>
        insertDeadJob(this.#db, record, record.deliveries, 'max-deliveries', this.#clock()),
      );
      return;
    }
    insertSorted(this.#buffers[record.lane], held);
    this.#wake();
  }

  /** Does `work` for a delivery held aside, then acks it; retries every second until done. */
  async #inBackground(held: Held, work: () => Promise<void>): Promise<void> {
    this.#background++;
    try {
      for (;;) {
        if (held.generation !== this.#consumerLink.generation || this.#closed) return;
        try {
          await work();
          this.#ackMessage(held);
          return;
        } catch (err) {
          this.#log.warn({ err, job: held.record.id }, 'job not moved on; retrying in 1 s');
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
    } finally {
      this.#background--;
    }
  }

  async #onDead(message: ConsumeMessage, generation: number): Promise<void> {
    const record = readJob(message);
    const channel = this.#channel;
    if (!channel || generation !== this.#consumerLink.generation) return;
    if (!record) {
      this.#log.error({ messageId: message.properties.messageId }, 'dead message without a job');
      channel.ack(message);
      return;
    }
    const reason = deathReason(message);
    const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
    // A message the broker dead-lettered for its delivery limit was delivered limit + 1 times.
    const deliveries =
      reason === 'max-deliveries' && headers['x-delivery-count'] === undefined
        ? record.deliveries + this.#topology.deliveryLimit + 1
        : record.deliveries;
    this.#background++;
    try {
      for (;;) {
        if (generation !== this.#consumerLink.generation || this.#closed) return;
        try {
          await insertDeadJob(this.#db, record, deliveries, reason, this.#clock());
          this.#log.error({ job: record.id, topic: record.topic, reason }, 'job dead-lettered');
          channel.ack(message);
          return;
        } catch (err) {
          this.#log.warn({ err, job: record.id }, 'dead job not recorded; retrying in 1 s');
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
    } finally {
      this.#background--;
    }
  }

  #forgetChannel(): void {
    this.#channel = null;
    this.#consuming = new Map();
    this.#unacked = new Map();
    for (const lane of LANES) this.#buffers[lane].splice(0);
    for (const lease of this.#leases.values()) clearTimeout(lease.timer);
    this.#leases.clear();
  }

  // ---- leases -----------------------------------------------------------------------------

  /** The lease `job` names if this process still holds it on a live channel. */
  #held(job: LeasedJob): Lease | undefined {
    const lease = this.#leases.get(job.leaseToken);
    if (!lease || lease.job.id !== job.id) return undefined;
    if (lease.generation !== this.#consumerLink.generation) return undefined;
    return lease;
  }

  #expireAfter(token: string, visibilityMs: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.#expire(token), Math.max(0, visibilityMs));
    timer.unref();
    return timer;
  }

  #expire(token: string): void {
    const lease = this.#leases.get(token);
    if (!lease) return;
    this.#leases.delete(token);
    if (lease.generation !== this.#consumerLink.generation) return;
    if (lease.job.deliveries >= lease.record.maxDeliveries) {
      // Its last allowed lease ran out: dead, not returned.
      const record = lease.record;
      void this.#inBackground(lease, () =>
        insertDeadJob(this.#db, record, lease.job.deliveries, 'max-deliveries', this.#clock()),
      );
      return;
    }
    this.#return(lease);
  }

  /** Acks the deliveries behind leases still held; stale leases are left alone. */
  #settle(jobs: readonly LeasedJob[]): void {
    for (const job of jobs) {
      const lease = this.#held(job);
      if (!lease) continue;
      clearTimeout(lease.timer);
      this.#leases.delete(job.leaseToken);
      this.#ackMessage(lease);
    }
  }

  #ackMessage(held: Held): void {
    if (held.generation !== this.#consumerLink.generation || !this.#channel) return;
    this.#channel.ack(held.message);
    this.#countDown(held.queue);
  }

  /** Back to the broker, which redelivers it (and counts the return in x-delivery-count). */
  #return(held: Held): void {
    if (held.generation !== this.#consumerLink.generation || !this.#channel) return;
    this.#channel.nack(held.message, false, true);
    this.#countDown(held.queue);
  }

  #countDown(queue: string): void {
    const n = (this.#unacked.get(queue) ?? 1) - 1;
    if (n > 0) this.#unacked.set(queue, n);
    else this.#unacked.delete(queue);
  }

  // ---- publishing -------------------------------------------------------------------------

  /**
   * Writes rows to the outbox in `tx` and publishes them once it has committed. Normally they
   * are written already claimed by this process's relay and published straight after the
   * commit, from the rows in hand — not claimed again by an UPDATE that reads them back (one
   * statement and one commit fewer per transaction, and no wait for it). They are written
   * unclaimed, for the relay's next pass, when the broker link is down or too many direct
   * publications are under way (a slow broker: then the relay's one-pass-at-a-time batches
   * take over), and while the relay's presence holds no token (PostgreSQL reconnecting).
   * Claimed rows of a process that dies before publishing them are taken by another relay
   * as soon as PostgreSQL sees its session gone (see OutboxRelay), as rows claimed by a relay
   * pass are. The claim runs from the insert: rows of a transaction that outlasted most of it
   * are not published from hand but left to a relay pass (OutboxRelay.publishClaimed).
   */
  async #insertForCommit(tx: Tx, rows: readonly NewOutboxRow[]): Promise<void> {
    const claim = this.#relay.preClaim();
    if (
      claim !== null &&
      !this.#closed &&
      this.#publisher.ready &&
      this.#publishing.size < MAX_DIRECT_PUBLICATIONS
    ) {
      const inserted = await insertOutbox(tx, this.#claimed(rows, claim));
      await afterCommit(tx, () => this.#publishDirect(inserted));
      return;
    }
    await insertOutbox(tx, rows);
    await afterCommit(tx, () => this.#relay.kick());
  }

  #claimed(rows: readonly NewOutboxRow[], claim: Claim): NewOutboxRow[] {
    const claimedUntil = this.#clock() + claim.claimMs;
    return rows.map((r) => ({ ...r, claim_token: claim.token, claimed_until: claimedUntil }));
  }

  /** Publishes committed rows this relay holds; close() waits for these. */
  #publishDirect(rows: readonly OutboxRow[]): void {
    const publication: Promise<unknown> = this.#relay
      .publishClaimed(rows)
      .catch((err: unknown) =>
        this.#log.warn({ err }, 'outbox rows not published; the relay retries'),
      )
      .finally(() => this.#publishing.delete(publication));
    this.#publishing.add(publication);
  }

  /**
   * Outside a transaction: the rows go to the outbox pre-claimed by this relay, which then
   * publishes them at once. Resolves once they are durable — confirmed by the broker, or
   * left in the outbox when it is unreachable (the relay retries).
   */
  async #publishNow(rows: readonly NewOutboxRow[]): Promise<void> {
    const claim = this.#relay.preClaim();
    if (!this.#publisher.ready || claim === null) {
      // The relay publishes them when the broker (or its presence) is back.
      await inTransaction(this.#db, (tx) => insertOutbox(tx, rows));
      this.#relay.kick();
      return;
    }
    const inserted = await inTransaction(this.#db, (tx) =>
      insertOutbox(tx, this.#claimed(rows, claim)),
    );
    await this.#relay.publishClaimed(inserted);
  }

  #toRow(job: JobInput, index: number, now: number): NewOutboxRow {
    if (!(LANES as readonly string[]).includes(job.lane)) {
      throw new TypeError(
        `Job ${index} (${job.topic}) has unknown lane "${String(job.lane)}"; nothing was enqueued`,
      );
    }
    const maxDeliveries = job.maxDeliveries ?? DEFAULT_MAX_DELIVERIES;
    const limit = this.#topology.deliveryLimit;
    if (!Number.isInteger(maxDeliveries) || maxDeliveries < 1 || maxDeliveries > limit) {
      throw new TypeError(
        `Job ${index} (${job.topic}) has maxDeliveries ${maxDeliveries}; use an integer from 1 to ${limit} (the queues' x-delivery-limit). Nothing was enqueued`,
      );
    }
    const payload = serialiseJobPayload(job, index);
    return {
      job_id: null,
      topic: job.topic,
      lane: job.lane,
      payload,
      available_at: job.availableAt ?? now,
      max_deliveries: maxDeliveries,
      deliveries: 0,
      last_error: null,
      created_at: now,
    };
  }

  #requireHooks(tx: Tx): void {
    if (!takesAfterCommit(tx)) {
      throw new TypeError(
        'The RabbitMQ queue acts after commit: open the transaction with inTransaction() from src/store/transaction.ts',
      );
    }
  }

  async #brokerDepth(): Promise<LaneDepth> {
    const { topics, rungs } = this.#publisher.declared();
    const all = new Set([...topics, ...this.#wanted]);
    const names: { lane: Lane; queue: string }[] = [];
    for (const topic of all) {
      for (const lane of LANES) names.push({ lane, queue: this.#topology.jobQueue(topic, lane) });
    }
    for (const { lane, ms } of rungs)
      names.push({ lane, queue: this.#topology.rungQueue(lane, ms) });
    const counts = await this.#publisher.countMessages(names.map((n) => n.queue));
    if (!counts) return this.#lastBrokerDepth;
    const depth: LaneDepth = { urgent: 0, normal: 0, bulk: 0 };
    names.forEach(({ lane }, i) => (depth[lane] += counts[i]!));
    this.#lastBrokerDepth = depth;
    return depth;
  }

  #wake(): void {
    for (const done of [...this.#waiters]) done();
  }
}

type BrokerLinkSetup = ConstructorParameters<typeof BrokerLink>[0]['setup'];

/** Keeps a lane's buffer in the order jobs became available (then by id, then arrival). */
function insertSorted(buffer: Held[], held: Held): void {
  const key = (h: Held): [number, number, number] => [
    h.record.availableAt,
    Number(h.record.id),
    h.seq,
  ];
  const k = key(held);
  let i = buffer.length;
  while (i > 0) {
    const o = key(buffer[i - 1]!);
    if (o[0] < k[0] || (o[0] === k[0] && (o[1] < k[1] || (o[1] === k[1] && o[2] < k[2])))) break;
    i--;
  }
  buffer.splice(i, 0, held);
}

async function insertDeadJob(
  h: Tx,
  record: JobRecord,
  deliveries: number,
  reason: string,
  now: number,
): Promise<void> {
  await h
    .insertInto('queue_dead_jobs')
    .values({
      id: Number(record.id),
      topic: record.topic,
      lane: record.lane,
      payload: record.payload,
      deliveries,
      reason,
      created_at: record.createdAt,
      dead_at: now,
    })
    // A job dead-lettered twice (a duplicate delivery) keeps its first record.
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}
