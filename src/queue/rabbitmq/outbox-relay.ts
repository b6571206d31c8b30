/**
 * Moves jobs from the store's outbox to the broker: claims the oldest unclaimed rows,
 * publishes them with confirms, then deletes them. It runs when kicked (after a commit that
 * wrote rows, when the broker link or its presence comes back) and every `pollMs` (rows of a
 * process that died, rows whose publication failed). A crash between the confirms and the
 * delete publishes the rows again once another relay takes them: at-least-once, never lost.
 *
 * Claims: with a presence (PostgreSQL) the relay claims under the presence's token, and a
 * claim whose token PostgreSQL no longer shows — its process died, its session dropped — is
 * taken by the next relay pass anywhere, without waiting for its expiry. `claimMs` is then
 * only the fallback for a holder PostgreSQL still believes alive (a machine cut off, until
 * the server's keepalives give up on it). Without a presence (SQLite, or a server that does
 * not show sessions to each other) the relay claims under a random token of its own and
 * claims only run out.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../../store/database.js';
import type { Presence } from '../../store/presence.js';
import type { Clock } from '../../time/clock.js';
import type { JobRecord } from './job-message.js';
import {
  claimOutbox,
  claimOutboxWithPresence,
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
  /** The store's presence, started and closed by the caller; none: claims only run out. */
  readonly presence?: Presence | null;
  /** Jobs just confirmed by the broker. */
  readonly onPublished?: (jobs: readonly JobRecord[]) => void;
}

export class OutboxRelay {
  readonly #opts: OutboxRelayOptions;
  /** The token of claims without a presence (never one a presence would hand out). */
  readonly #ownToken = randomBytes(12).toString('base64url');
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

  /**
   * The token this relay claims under right now — rows the caller inserts pre-claimed carry
   * it too — or null while its presence holds none (they are then written unclaimed).
   */
  get claimToken(): string | null {
    const presence = this.#opts.presence;
    if (!presence || !presence.supported) return this.#ownToken;
    return presence.token;
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
   * Publishes rows this relay holds (claimed, or inserted pre-claimed, all under one token):
   * the fast path after a commit. False when they stay in the outbox for a later pass —
   * also when that token is no longer held: other relays may already be taking the rows, so
   * publishing them here too would send them twice.
   */
  async publishClaimed(rows: readonly OutboxRow[]): Promise<boolean> {
    if (rows.length === 0) return true;
    const { db, publisher, log, clock } = this.#opts;
    const token = rows[0]!.claim_token;
    if (token === null || rows.some((r) => r.claim_token !== token)) {
      throw new TypeError('publishClaimed takes rows claimed under one token');
    }
    if (token !== this.claimToken) {
      log.info(
        { jobs: rows.length },
        'outbox rows not published here: their claim was lost with its PostgreSQL session; any relay takes them',
      );
      this.kick();
      return false;
    }
    const ids = rows.map((r) => Number(r.id));
    const jobs = rows.map(outboxRowToJob);
    try {
      await publisher.publish(jobs, clock());
    } catch (err) {
      log.warn(
        { err, jobs: rows.length },
        'broker publication failed; the jobs wait in the outbox',
      );
      await releaseOutbox(db, ids, token).catch((e: unknown) =>
        log.warn({ err: e }, 'outbox claims not released; they run out by themselves'),
      );
      return false;
    }
    try {
      await deleteOutbox(db, ids, token);
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
      // No presence token (connecting, or just lost): claim nothing until it is back.
      const token = this.claimToken;
      if (token === null) return;
      const presence = this.#opts.presence;
      let rows: OutboxRow[];
      try {
        rows =
          presence && presence.supported
            ? await claimOutboxWithPresence(
                db,
                { token, prefix: presence.prefix, held: presence.held },
                batch,
                clock(),
                this.claimMs,
              )
            : await claimOutbox(db, token, batch, clock(), this.claimMs);
      } catch (err) {
        log.warn({ err }, 'outbox not readable; retrying at the next poll');
        return;
      }
      if (rows.length === 0) return;
      if (!(await this.publishClaimed(rows))) return;
    }
  }
}
