import type { Logger } from 'pino';
import type { Db } from '../store/database.js';
import type { Queue } from '../queue/queue.js';
import type { Clock } from '../time/clock.js';
import type { ProviderRegistry } from '../channels/provider-registry.js';
import type { TemplateRenderer } from '../templates/template-renderer.js';
import type { Metrics } from '../ops/metrics.js';
import type { RetryOptions } from '../deliveries/retry-policy.js';
import { JobLoop } from '../deliveries/job-loop.js';
import { ALL_DELIVERY_TOPICS, deliverJobs } from '../deliveries/delivery-worker.js';
import { fanOutJobs } from '../fanout/fanout-worker.js';
import { FANOUT_TOPIC } from '../messages/ingest.js';

export interface WorkerDeps {
  readonly db: Db;
  readonly queue: Queue;
  readonly clock: Clock;
  readonly providers: ProviderRegistry;
  readonly renderer: TemplateRenderer;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly leaseMs: number;
  /** Delivery jobs leased at once. */
  readonly concurrency: number;
  readonly retry?: RetryOptions;
}

export interface Workers {
  /** Stops leasing and waits for the jobs in hand. */
  stop(): Promise<void>;
}

/** The `worker` role: the fan-out loop and the delivery loop. */
export function startWorkers(deps: WorkerDeps): Workers {
  const { queue, metrics, log, leaseMs } = deps;
  const loops = [
    new JobLoop({
      name: 'fanout',
      queue,
      topics: [FANOUT_TOPIC],
      maxJobs: 64,
      leaseMs,
      handle: (jobs) =>
        fanOutJobs(
          {
            ...deps,
            onDeliveriesCreated: (created) => {
              for (const d of created)
                metrics.deliveries.inc({ channel: d.channel, status: d.status });
            },
          },
          jobs,
        ),
      log,
    }),
    new JobLoop({
      name: 'deliver',
      queue,
      topics: ALL_DELIVERY_TOPICS,
      maxJobs: deps.concurrency,
      leaseMs,
      handle: (jobs) => deliverJobs(deps, jobs),
      log,
    }),
  ];
  for (const l of loops) l.start();
  return {
    async stop() {
      await Promise.all(loops.map((l) => l.stop()));
    },
  };
}
