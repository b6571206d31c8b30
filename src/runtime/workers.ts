import { JobLoop } from '../deliveries/job-loop.js';
import {
  ALL_DELIVERY_TOPICS,
  deliverJobs,
  type DeliveryWorkerDeps,
} from '../deliveries/delivery-worker.js';
import { fanOutJobs } from '../fanout/fanout-worker.js';
import { FANOUT_TOPIC } from '../messages/ingest.js';

export interface WorkerDeps extends DeliveryWorkerDeps {
  readonly leaseMs: number;
  /** Delivery jobs leased at once. */
  readonly concurrency: number;
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
            onQuotaExceeded: (exceeded) => {
              for (const e of exceeded)
                metrics.quotaExceeded.inc({ source: e.source, channel: e.channel }, e.count);
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
