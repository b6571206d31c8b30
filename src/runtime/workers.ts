import { JobLoop, type JobLoopOptions } from '../deliveries/job-loop.js';
import {
  ALL_DELIVERY_TOPICS,
  deliverJobs,
  type DeliveryWorkerDeps,
} from '../deliveries/delivery-worker.js';
import { fanOutJobs } from '../fanout/fanout-worker.js';
import { FANOUT_TOPIC } from '../messages/ingest.js';
import { CALLBACK_TOPIC } from '../callbacks/callback-events.js';
import { sendCallbackJobs, type CallbackDelivery } from '../callbacks/callback-worker.js';

export interface WorkerDeps extends DeliveryWorkerDeps {
  readonly leaseMs: number;
  /** Delivery jobs leased at once. */
  readonly concurrency: number;
  /** Sends sources' status callbacks; without it, callback jobs wait for a worker that has it. */
  readonly callbackDelivery?: CallbackDelivery;
}

export interface Workers {
  /** Stops leasing and waits for the jobs in hand. */
  stop(): Promise<void>;
  /** While stopping: the loops still finishing their jobs. */
  stopping?(): readonly string[];
}

/** The `worker` role: the fan-out loop, the delivery loop and the status callback loop. */
export function startWorkers(deps: WorkerDeps): Workers {
  const { queue, metrics, log, leaseMs, callbackDelivery } = deps;
  const loops: { readonly name: string; readonly loop: JobLoop }[] = [];
  const add = (opts: JobLoopOptions): void => {
    const inProgress = metrics.jobsInProgress.labels({ loop: opts.name });
    inProgress.set(0);
    loops.push({
      name: opts.name,
      loop: new JobLoop({ ...opts, onInHand: (jobs) => inProgress.set(jobs) }),
    });
  };
  add({
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
  });
  add({
    name: 'deliver',
    queue,
    topics: ALL_DELIVERY_TOPICS,
    maxJobs: deps.concurrency,
    leaseMs,
    handle: (jobs) => deliverJobs(deps, jobs),
    log,
  });
  if (callbackDelivery) {
    add({
      name: 'callbacks',
      queue,
      topics: [CALLBACK_TOPIC],
      // Few jobs per lease (≤ 100 events each): slow receivers must not outlast the longest hold.
      maxJobs: 2,
      leaseMs,
      handle: (jobs) => sendCallbackJobs({ ...deps, ...callbackDelivery }, jobs),
      log,
    });
  }
  for (const { loop } of loops) loop.start();
  const finishing = new Set<string>();
  return {
    async stop() {
      await Promise.all(
        loops.map(async ({ name, loop }) => {
          finishing.add(name);
          await loop.stop();
          finishing.delete(name);
        }),
      );
    },
    stopping: () => [...finishing],
  };
}
