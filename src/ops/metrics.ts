import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
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
    help: 'Provider calls, by channel, provider and outcome (ok, transient, permanent).',
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

  constructor(queue: Queue) {
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
    collectDefaultMetrics({ register: this.registry, prefix: 'herald_' });
  }
}
