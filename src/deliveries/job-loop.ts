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
  /**
   * Longest a handler may keep its jobs by extending their leases (default 10 leases, at least
   * 5 minutes). Past it the leases run out and the jobs go to another worker: a handler stuck
   * for good (a provider with no timeout) cannot hold its jobs forever.
   */
  readonly maxHoldMs?: number;
  /** Told the number of jobs in the handler's hands whenever it changes (a gauge). */
  readonly onInHand?: (jobs: number) => void;
}

/**
 * Leases jobs and hands each lease's jobs to a handler until stopped. While the handler runs
 * (a slow provider, a large batch) the leases are extended every third of the visibility
 * timeout, so the jobs are not handed to a second worker while the first still works on them;
 * if this worker dies the extensions stop and the jobs come back one timeout later. A handler
 * that throws leaves its jobs leased; the visibility timeout gives them back (at-least-once).
 */
export class JobLoop {
  private running = false;
  private loop: Promise<void> | null = null;
  private inHand = 0;

  constructor(private readonly opts: JobLoopOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops leasing and waits for the jobs in hand to finish. */
  async stop(): Promise<void> {
    this.running = false;
    const held = this.inHand;
    await this.loop;
    this.loop = null;
    if (held > 0) {
      this.opts.log.info({ loop: this.opts.name, jobs: held }, 'finished the jobs in hand');
    }
  }

  private setInHand(jobs: number): void {
    this.inHand = jobs;
    this.opts.onInHand?.(jobs);
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
      const keeper = this.keepLeased(jobs);
      this.setInHand(jobs.length);
      try {
        await handle(jobs);
      } catch (err) {
        log.error(
          { err, loop: this.opts.name, jobs: jobs.length },
          'jobs failed; they will be retried after their lease',
        );
      } finally {
        keeper.stop();
        this.setInHand(0);
      }
      // Handlers mostly run synchronous SQLite work: give waiting I/O (HTTP) its turn.
      await setImmediate();
    }
  }

  /** Extends the leases of `jobs` until stopped or until `maxHoldMs` has passed. */
  private keepLeased(jobs: readonly LeasedJob[]): { stop(): void } {
    const { queue, leaseMs, log } = this.opts;
    const maxHoldMs = this.opts.maxHoldMs ?? Math.max(10 * leaseMs, 5 * 60_000);
    const started = Date.now();
    let held = [...jobs];
    let extending: Promise<void> = Promise.resolve();
    let stopped = false;
    const timer = setInterval(
      () => {
        if (Date.now() - started >= maxHoldMs) {
          clearInterval(timer);
          log.error(
            { loop: this.opts.name, jobs: held.map((j) => j.id), heldMs: Date.now() - started },
            'handler still busy after the longest hold: its jobs go back to the queue',
          );
          return;
        }
        extending = extending.then(async () => {
          const kept: LeasedJob[] = [];
          for (const job of held) {
            // Once the handler is done its jobs are acked: extending them would find none.
            if (stopped) return;
            try {
              if (await queue.extendLease(job, leaseMs)) kept.push(job);
              else if (!stopped)
                log.warn({ loop: this.opts.name, job: job.id }, 'lease lost while working');
            } catch (err) {
              kept.push(job);
              log.warn({ err, loop: this.opts.name, job: job.id }, 'lease extension failed');
            }
          }
          held = kept;
        });
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    timer.unref();
    return {
      stop: () => {
        stopped = true;
        clearInterval(timer);
      },
    };
  }
}
