import {
  AggregatorRegistry,
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
} from 'prom-client';
import type { Queue } from '../queue/queue.js';
import { LANES } from '../queue/queue.js';

/** Herald's Prometheus metrics, one registry per app instance (tests run several at once). */
export class Metrics {
  readonly registry = new Registry();

  readonly messagesAccepted = new Counter({
    name: 'herald_messages_accepted_total',
    help: 'Messages accepted by the API (202).',
    registers: [this.registry],
  });

  readonly deliveries = new Counter({
    name: 'herald_deliveries_total',
    help: 'Deliveries reaching a status, by channel and status (queued counts creations).',
    labelNames: ['channel', 'status'] as const,
    registers: [this.registry],
  });

  readonly deliveryAttempts = new Counter({
    name: 'herald_delivery_attempts_total',
    help: 'Delivery tries, by channel, provider and outcome: ok, transient, permanent, or held-back (a guard kept it from the provider; no attempt used).',
    labelNames: ['channel', 'provider', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly deliveryLatency = new Histogram({
    name: 'herald_delivery_latency_seconds',
    help: 'Time from message acceptance (or its sendAt) to the delivery reaching sent/delivered.',
    labelNames: ['channel'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    registers: [this.registry],
  });

  /** Jobs a worker's loops are working on now (0 when idle; drains to 0 on a graceful stop). */
  readonly jobsInProgress = new Gauge({
    name: 'herald_jobs_in_progress',
    help: 'Jobs a worker loop (fanout, deliver, callbacks) holds and is working on right now.',
    labelNames: ['loop'] as const,
    registers: [this.registry],
  });

  /** Status callback attempts to sources (see docs/callbacks.md). */
  readonly callbackEvents = new Counter({
    name: 'herald_callback_events_total',
    help: 'Status callback events by outcome: delivered (2xx), retried, rejected (other 4xx), refused (URL not allowed), dead (attempts exhausted), dropped (callback removed).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  /** The alert metric of daily quotas (see docs/quotas-and-fallbacks.md for a rule). */
  readonly quotaExceeded = new Counter({
    name: 'herald_quota_exceeded_total',
    help: "Refusals for a source's used-up daily quota on a channel: messages answered 429 plus deliveries suppressed quota-exceeded.",
    labelNames: ['source', 'channel'] as const,
    registers: [this.registry],
  });

  /** Metrics of other threads (the worker thread of `herald all`), merged into the output. */
  private readonly remotes: (() => Promise<unknown[]>)[] = [];

  /**
   * @param opts.queue the queue whose depth to report (the thread that serves /metrics)
   * @param opts.processMetrics Node's process metrics (once per process, not per thread)
   */
  constructor(opts: { queue: Queue | null; processMetrics: boolean }) {
    const { queue } = opts;
    if (queue) this.queueDepth(queue);
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'herald_' });
  }

  /**
   * `herald_provider_circuit_state{channel,provider}`: 0 closed, 1 half-open, 2 open, read from
   * `source` at scrape time (the configured providers of this thread's registry).
   */
  providerCircuits(
    source: () => readonly { channel: string; provider: string; state: string }[],
  ): void {
    const level: Record<string, number> = { closed: 0, 'half-open': 1, open: 2 };
    new Gauge({
      name: 'herald_provider_circuit_state',
      help: 'Circuit breaker of each configured provider: 0 closed, 1 half-open, 2 open.',
      labelNames: ['channel', 'provider'] as const,
      registers: [this.registry],
      aggregator: 'max',
      collect() {
        this.reset();
        for (const c of source()) {
          this.set({ channel: c.channel, provider: c.provider }, level[c.state] ?? 0);
        }
      },
    });
  }

  /**
   * `herald_broker_outbox_jobs`: jobs committed but not yet confirmed by RabbitMQ, read from
   * `size` at scrape time. Near zero normally; it grows while the broker is unreachable and
   * drains when it is back.
   */
  brokerOutbox(size: () => Promise<number>): void {
    new Gauge({
      name: 'herald_broker_outbox_jobs',
      help: 'Jobs in the RabbitMQ outbox: committed, not yet confirmed by the broker (grows during a broker outage).',
      registers: [this.registry],
      async collect() {
        this.set(await size());
      },
    });
  }

  /**
   * `herald_broker_outbox_presence`: 1 while the outbox relay claims under its PostgreSQL
   * presence (what a dead process claimed is taken at once), 0 while it has none — waiting
   * for it, or claiming under timed claims (see docs/scale-out.md). Read at scrape time.
   */
  outboxPresence(held: () => boolean): void {
    new Gauge({
      name: 'herald_broker_outbox_presence',
      help: '1 while the outbox relay claims under its PostgreSQL presence; 0 while it has none (reconnecting, or refused: claims then only run out).',
      registers: [this.registry],
      aggregator: 'min',
      collect() {
        this.set(held() ? 1 : 0);
      },
    });
  }

  addRemote(source: () => Promise<unknown[]>): void {
    this.remotes.push(source);
  }

  /** The Prometheus text of this thread's metrics plus those of its remotes, summed. */
  async expose(): Promise<{ contentType: string; text: string }> {
    if (this.remotes.length === 0) {
      return { contentType: this.registry.contentType, text: await this.registry.metrics() };
    }
    const all = [
      await this.registry.getMetricsAsJSON(),
      ...(await Promise.all(this.remotes.map((r) => r()))),
    ];
    const merged = AggregatorRegistry.aggregate(all as object[]);
    return { contentType: merged.contentType, text: await merged.metrics() };
  }

  private queueDepth(queue: Queue): void {
    const depth = new Gauge({
      name: 'herald_queue_depth',
      help: 'Jobs waiting in the queue, per priority lane.',
      labelNames: ['lane'] as const,
      registers: [this.registry],
      async collect() {
        const d = await queue.depth();
        for (const lane of LANES) this.set({ lane }, d[lane]);
      },
    });
    void depth;
  }
}
