/**
 * Moves jobs from the store's outbox to the broker: claims the oldest unclaimed rows,
 * publishes them with confirms, then deletes them. It runs when kicked (after a commit that
 * wrote rows, when the broker link comes back) and every `pollMs` (rows of a process that
 * died, rows whose publication failed). A crash between the confirms and the delete publishes
 * the rows again once their claim runs out: at-least-once, never lost.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../../store/database.js';
import type { Clock } from '../../time/clock.js';
import type { JobRecord } from './job-message.js';
import {
  claimOutbox,
  deleteOutbox,
  outboxRowToJob,
  releaseOutbox,
  type OutboxRow,
} from './outbox.js';
import type { Publisher } from './publisher.js';

export interface OutboxRelayOptions {
  readonly db: Db;
  readonly publisher: Publisher;
  readonly log: Logger;
  readonly clock: Clock;
  /** Rows claimed and published at once. */
  readonly batch?: number;
  /** How long a claim keeps other relays off the rows (longer than one publication takes). */
  readonly claimMs?: number;
  readonly pollMs?: number;
  /** Jobs just confirmed by the broker. */
  readonly onPublished?: (jobs: readonly JobRecord[]) => void;
}

export class OutboxRelay {
  readonly #opts: OutboxRelayOptions;
  /** This relay's claims carry it; rows inserted pre-claimed by the caller carry it too. */
  readonly token = randomBytes(12).toString('base64url');
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;

  constructor(opts: OutboxRelayOptions) {
    this.#opts = opts;
  }

  get claimMs(): number {
    return this.#opts.claimMs ?? 30_000;
  }

  start(): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setInterval(() => this.kick(), this.#opts.pollMs ?? 1_000);
    this.#timer.unref();
    this.kick();
  }

  /** Runs a relay pass soon (or another one after the current pass). */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#drain().finally(() => {
      this.#running = null;
      if (this.#again) {
        this.#again = false;
        this.kick();
      }
    });
  }

  /** Resolves once a pass that started after this call has ended. */
  async flush(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      await this.#running;
    }
    this.kick();
    while (this.#running) await this.#running;
  }

  /**
   * Publishes rows this relay already holds (inserted with its token): the fast path of an
   * enqueue outside a transaction. False when they stay in the outbox for a later pass.
   */
  async publishClaimed(rows: readonly OutboxRow[]): Promise<boolean> {
    if (rows.length === 0) return true;
    const { db, publisher, log, clock } = this.#opts;
    const ids = rows.map((r) => Number(r.id));
    const jobs = rows.map(outboxRowToJob);
    try {
      await publisher.publish(jobs, clock());
    } catch (err) {
      log.warn(
        { err, jobs: rows.length },
        'broker publication failed; the jobs wait in the outbox',
      );
      await releaseOutbox(db, ids, this.token).catch((e: unknown) =>
        log.warn({ err: e }, 'outbox claims not released; they run out by themselves'),
      );
      return false;
    }
    try {
      await deleteOutbox(db, ids, this.token);
    } catch (err) {
      log.error(
        { err, jobs: rows.length },
        'published jobs not removed from the outbox; they will be published again',
      );
    }
    this.#opts.onPublished?.(jobs);
    return true;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Waits for a pass in progress (after stop). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #drain(): Promise<void> {
    const { db, publisher, log, clock } = this.#opts;
    const batch = this.#opts.batch ?? 500;
    while (!this.#stopped && publisher.ready) {
      let rows: OutboxRow[];
      try {
        rows = await claimOutbox(db, this.token, batch, clock(), this.claimMs);
      } catch (err) {
        log.warn({ err }, 'outbox not readable; retrying at the next poll');
        return;
      }
      if (rows.length === 0) return;
      if (!(await this.publishClaimed(rows))) return;
    }
  }
}
