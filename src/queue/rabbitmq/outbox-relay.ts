/**
 * Moves jobs from the store's outbox to the broker: claims the oldest unclaimed rows,
 * publishes them with confirms, then deletes them. It runs when kicked (after a commit that
 * wrote rows, when the broker link or its presence comes back) and every `pollMs` (rows of a
 * process that died, rows whose publication failed). A crash between the confirms and the
 * delete publishes the rows again once another relay takes them: at-least-once, never lost.
 *
 * Claims: with a presence (PostgreSQL) the relay claims under the presence's token, and a
 * claim whose token PostgreSQL no longer shows — its process died, its session dropped — is
 * taken by the next relay pass anywhere, without waiting for its expiry. A claim whose token
 * PostgreSQL still shows is never taken on a timer that a slow publication, a long
 * transaction or another machine's clock could outrun: it runs for PRESENCE_CLAIM_PERIODS
 * claim periods, the bound for a process wedged with its session open. Without a presence
 * (SQLite, or a server that does not show sessions to each other) the relay claims under a
 * random token of its own and claims run for `claimMs`; so it does while its presence holds
 * no token for longer than `presenceWaitMs` (PostgreSQL refuses the connection), until the
 * presence is back.
 *
 * Every claim outlasts a publication: `claimMs` must exceed the publisher's timeout by
 * CLAIM_MARGIN_MS, and rows are published only while their claim has that much left.
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
  /**
   * How long a timed claim keeps other relays off the rows (default 30 s): longer than a
   * publication takes (the publisher's timeout plus CLAIM_MARGIN_MS at least). Claims under
   * a presence run PRESENCE_CLAIM_PERIODS times as long.
   */
  readonly claimMs?: number;
  /**
   * How long the relay waits for its presence to hold a token (connecting, reconnecting)
   * before it claims under timed claims of its own instead; default `claimMs`.
   */
  readonly presenceWaitMs?: number;
  readonly pollMs?: number;
  /** The store's presence, started and closed by the caller; none: claims only run out. */
  readonly presence?: Presence | null;
  /** Jobs just confirmed by the broker. */
  readonly onPublished?: (jobs: readonly JobRecord[]) => void;
}

/**
 * Claims under a presence token run this many claim periods. Another relay takes them at once
 * when the token's session is gone; while PostgreSQL shows it, only after this long (a holder
 * wedged with its session open).
 */
export const PRESENCE_CLAIM_PERIODS = 10;

/** A claim must have the publisher's timeout plus this left for its rows to be published. */
export const CLAIM_MARGIN_MS = 5_000;

/**
 * How the relay claims now: `presence` under its presence's token; `waiting` for the
 * presence to hold one (claiming nothing); `timed` under a token of its own whose claims only
 * run out (the presence is unsupported, or has held no token for `presenceWaitMs`).
 */
export type ClaimMode = 'presence' | 'waiting' | 'timed';

/** A claim to write on rows: its token and how long it runs. */
export interface Claim {
  readonly token: string;
  readonly claimMs: number;
}

export class OutboxRelay {
  readonly #opts: OutboxRelayOptions;
  /** The token of timed claims (never one a presence would hand out). */
  readonly #ownToken = randomBytes(12).toString('base64url');
  readonly #claimMs: number;
  /** The least a claim must have left for its rows to be published. */
  readonly #publishMs: number;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;
  /** Since when (performance.now()) the presence is seen holding no token. */
  #withoutTokenSince: number | null = null;
  #timed = false;

  constructor(opts: OutboxRelayOptions) {
    this.#opts = opts;
    this.#claimMs = opts.claimMs ?? 30_000;
    this.#publishMs = opts.publisher.timeoutMs + CLAIM_MARGIN_MS;
    if (this.#claimMs <= this.#publishMs) {
      throw new RangeError(
        `An outbox claim of ${this.#claimMs} ms does not outlast a publication (${opts.publisher.timeoutMs} ms, plus ${CLAIM_MARGIN_MS} ms): claim longer`,
      );
    }
  }

  /** How this relay claims right now; null without a presence (SQLite: always timed). */
  get mode(): ClaimMode | null {
    if (!this.#opts.presence) return null;
    const claim = this.#claim();
    if (!claim) return 'waiting';
    return claim.token === this.#ownToken ? 'timed' : 'presence';
  }

  /**
   * The claim rows the caller inserts pre-claimed carry (this relay then publishes them with
   * publishClaimed), or null while its presence is reconnecting (they are then written
   * unclaimed, for a relay pass).
   */
  preClaim(): Claim | null {
    return this.#claim();
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
   * the fast path after a commit. False when they stay in the outbox for a later pass:
   *
   * - when their token is a presence token no longer held: other relays may already be
   *   taking the rows, so publishing them here too would send them twice;
   * - when their claim has less left than a publication may take (a transaction that held
   *   its pre-claimed rows that long before committing): it could run out while they are
   *   published, and another relay publish them too. A relay pass claims them again.
   */
  async publishClaimed(rows: readonly OutboxRow[]): Promise<boolean> {
    if (rows.length === 0) return true;
    const { db, publisher, log, clock } = this.#opts;
    const token = rows[0]!.claim_token;
    if (token === null || rows.some((r) => r.claim_token !== token)) {
      throw new TypeError('publishClaimed takes rows claimed under one token');
    }
    if (!this.#holds(token)) {
      log.info(
        { jobs: rows.length },
        'outbox rows not published here: their claim was lost with its PostgreSQL session; any relay takes them',
      );
      this.kick();
      return false;
    }
    const leftMs = Math.min(...rows.map((r) => Number(r.claimed_until))) - clock();
    if (!(leftMs >= this.#publishMs)) {
      log.warn(
        { jobs: rows.length, leftMs },
        'outbox rows not published from hand: their claim runs out before a publication could end (written by a long transaction?); a relay pass claims them again',
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

  /** Whether rows claimed under `token` are this relay's to publish now. */
  #holds(token: string): boolean {
    if (token === this.#ownToken) return true;
    const presence = this.#opts.presence;
    return !!presence && presence.supported && presence.token === token;
  }

  /** The claim to make now (see ClaimMode); null: claim nothing yet. */
  #claim(): Claim | null {
    const presence = this.#opts.presence;
    const timed = { token: this.#ownToken, claimMs: this.#claimMs };
    if (!presence || !presence.supported) return timed;
    const token = presence.token;
    if (token !== null) {
      this.#withoutTokenSince = null;
      if (this.#timed) {
        this.#timed = false;
        this.#opts.log.info('outbox relay: its presence holds a token again; claims under it');
      }
      return { token, claimMs: this.#claimMs * PRESENCE_CLAIM_PERIODS };
    }
    const now = performance.now();
    this.#withoutTokenSince ??= now;
    const waitMs = this.#opts.presenceWaitMs ?? this.#claimMs;
    if (now - this.#withoutTokenSince < waitMs) return null;
    if (!this.#timed) {
      this.#timed = true;
      this.#opts.log.error(
        { waitedMs: Math.round(now - this.#withoutTokenSince) },
        "outbox relay: its presence has no PostgreSQL session (max_connections, the role's connection limit, pg_hba.conf?); it claims under timed claims until the session is back: rows of a process that dies now wait HERALD_BROKER_OUTBOX_CLAIM_SECONDS",
      );
    }
    return timed;
  }

  async #drain(): Promise<void> {
    const { db, publisher, log, clock } = this.#opts;
    const batch = this.#opts.batch ?? 500;
    while (!this.#stopped && publisher.ready) {
      // Presence reconnecting: claim nothing until it is back (or the wait is over).
      const claim = this.#claim();
      if (claim === null) return;
      const presence = this.#opts.presence;
      let rows: OutboxRow[];
      try {
        rows =
          presence && presence.supported
            ? await claimOutboxWithPresence(
                db,
                { token: claim.token, prefix: presence.prefix, held: presence.held },
                batch,
                clock(),
                claim.claimMs,
              )
            : await claimOutbox(db, claim.token, batch, clock(), claim.claimMs);
      } catch (err) {
        log.warn({ err }, 'outbox not readable; retrying at the next poll');
        return;
      }
      if (rows.length === 0) return;
      if (!(await this.publishClaimed(rows))) return;
    }
  }
}
