import { setImmediate } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { LeasedJob, Queue } from '../queue/queue.js';

export interface JobLoopOptions {
  readonly name: string;
  readonly queue: Queue;
  readonly topics: readonly string[];
  /** Jobs leased at once, and handed to the handler together. */
  readonly maxJobs: number;
  readonly leaseMs: number;
  readonly handle: (jobs: LeasedJob[]) => Promise<void>;
  readonly log: Logger;
  /** Longest sleep when the queue is empty (a wake-up from the queue ends it sooner). */
  readonly idleMs?: number;
}

/**
 * Leases jobs and hands each lease's jobs to a handler until stopped. A handler that throws
 * leaves its jobs leased; the visibility timeout gives them back (at-least-once).
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
      try {
        await handle(jobs);
      } catch (err) {
        log.error(
          { err, loop: this.opts.name, jobs: jobs.length },
          'jobs failed; they will be retried after their lease',
        );
      }
      // Handlers mostly run synchronous SQLite work: give waiting I/O (HTTP) its turn.
      await setImmediate();
    }
  }
}
