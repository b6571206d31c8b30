import type { Logger } from 'pino';
import type { LeasedJob, Queue } from '../queue/queue.js';

export interface JobLoopOptions {
  readonly name: string;
  readonly queue: Queue;
  readonly topics: readonly string[];
  /** Jobs leased and handled at once. */
  readonly maxJobs: number;
  readonly leaseMs: number;
  readonly handle: (job: LeasedJob) => Promise<void>;
  readonly log: Logger;
  /** Longest sleep when the queue is empty (a wake-up from the queue ends it sooner). */
  readonly idleMs?: number;
}

/**
 * Leases jobs and hands them to a handler until stopped. A handler that throws leaves its job
 * leased; the visibility timeout gives it back (at-least-once).
 */
export class JobLoop {
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly opts: JobLoopOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops leasing and waits for the jobs in hand to finish. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.loop = null;
  }

  private async run(): Promise<void> {
    const { queue, topics, maxJobs, leaseMs, handle, log } = this.opts;
    while (this.running) {
      let jobs: LeasedJob[];
      try {
        jobs = await queue.lease(topics, maxJobs, leaseMs);
      } catch (err) {
        log.error({ err, loop: this.opts.name }, 'lease failed; retrying in 1 s');
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (jobs.length === 0) {
        await queue.waitForWork(this.opts.idleMs ?? 1000);
        continue;
      }
      await Promise.all(
        jobs.map((job) =>
          handle(job).catch((err: unknown) => {
            log.error(
              { err, loop: this.opts.name, jobId: job.id, topic: job.topic },
              'job failed; it will be retried after its lease',
            );
          }),
        ),
      );
    }
  }
}
