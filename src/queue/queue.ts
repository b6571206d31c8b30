/**
 * The work queue Herald's workers pull from, in domain words. Implementations: the embedded
 * queue (same SQLite file, `embedded/`) and RabbitMQ (scale-out issue). Both pass
 * `queue.contract.ts`.
 *
 * Guarantees:
 * - Durable: once `enqueue` resolves, the jobs survive a crash of the process (`kill -9`).
 * - At-least-once: a leased job that is not acked within its visibility timeout becomes
 *   leasable again; consumers must be idempotent.
 * - Lanes: jobs in `urgent` are always leased before waiting `normal` jobs, and those before
 *   waiting `bulk` jobs. Within a lane, jobs leave in the order they became available.
 * - Transactional (where the implementation can): methods that take a `tx` make their effect
 *   part of that store transaction, so a job is enqueued iff the rows it refers to commit, and
 *   an ack commits with the status it records. The embedded queue does this natively; a broker
 *   does it through an outbox written in `tx`.
 * - Poison limit: a job leased more than `maxDeliveries` times without an ack is moved to the
 *   dead letters with reason `max-deliveries` instead of being leased again.
 */

import type { Tx } from '../store/database.js';

export type Lane = 'urgent' | 'normal' | 'bulk';
export const LANES: readonly Lane[] = ['urgent', 'normal', 'bulk'];

export interface JobInput {
  /** What kind of work: `fanout`, `deliver.in_app`, `deliver.sms` … */
  readonly topic: string;
  readonly lane: Lane;
  /** JSON-serialisable. */
  readonly payload: unknown;
  /** Epoch ms before which the job is not leased; default now. */
  readonly availableAt?: number;
  /** Leases without ack before the job is dead-lettered; default 20. */
  readonly maxDeliveries?: number;
}

export interface LeasedJob {
  readonly id: string;
  readonly topic: string;
  readonly lane: Lane;
  readonly payload: unknown;
  /** How many times this job has been leased, this lease included. */
  readonly deliveries: number;
  /** Identifies this lease: ack/retry/deadLetter of an expired lease are ignored. */
  readonly leaseToken: string;
}

export interface DeadJob {
  readonly id: string;
  readonly topic: string;
  readonly lane: Lane;
  readonly payload: unknown;
  readonly deliveries: number;
  readonly reason: string;
  readonly deadAt: number;
}

export type LaneDepth = Record<Lane, number>;

export interface Queue {
  /** Adds jobs atomically: all of them or none. */
  enqueue(jobs: readonly JobInput[], tx?: Tx): Promise<void>;
  /**
   * Leases up to `max` available jobs of the given topics, best lane first, each invisible to
   * other leases for `visibilityMs`.
   */
  lease(topics: readonly string[], max: number, visibilityMs: number): Promise<LeasedJob[]>;
  /** Removes finished jobs. Jobs whose lease has expired (and maybe moved on) are left alone. */
  ack(jobs: readonly LeasedJob[], tx?: Tx): Promise<void>;
  /**
   * Keeps a job invisible for another `visibilityMs` from now, for work that runs long (a
   * fan-out over a large audience). False when the lease was lost: another worker may have the
   * job now, so the caller should stop working on it.
   */
  extendLease(job: LeasedJob, visibilityMs: number): Promise<boolean>;
  /** Gives the job back, to be leased again no earlier than `at` (epoch ms). */
  retryAt(job: LeasedJob, at: number, error: string, tx?: Tx): Promise<void>;
  /** Moves the job out of the live queue into the dead letters. */
  deadLetter(job: LeasedJob, reason: string, tx?: Tx): Promise<void>;
  /** Jobs waiting per lane (available now or later, leased ones excluded). */
  depth(): Promise<LaneDepth>;
  /** Dead-lettered jobs, newest first. */
  deadLetters(limit: number): Promise<DeadJob[]>;
  /**
   * Resolves when new jobs may be available (an enqueue or retry happened here) or after
   * `maxWaitMs`, whichever is first; lets workers sleep instead of polling hard.
   */
  waitForWork(maxWaitMs: number): Promise<void>;
  close(): Promise<void>;
}
