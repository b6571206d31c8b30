import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { sql, type RawBuilder } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from '../database.js';
import type { Presence } from '../presence.js';

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5_000;
const PING_MS = 5_000;
/** A ping unanswered this long means the connection is gone (a half-open socket). */
const PING_GIVE_UP_MS = 15_000;
const END_TIMEOUT_MS = 2_000;

/**
 * Server-side TCP keepalives of the presence session (seconds): when the holder's machine
 * vanishes without closing its connections (power cut, cable pulled), PostgreSQL notices
 * after about idle + interval × count = 11 s of silence instead of the kernel's default two
 * hours. Ignored on a Unix socket, where a dead peer is seen at once.
 */
const KEEPALIVES = { idle: 5, interval: 2, count: 3 } as const;

export interface PgPresenceOptions {
  /** The pool: checks from another session that the token is visible. */
  readonly db: Db;
  /** A new client outside the pool: the session that holds the token. */
  readonly newClient: () => pg.Client;
  /** Tokens are `<label> <random>`, shown as the session's application_name. */
  readonly label: string;
  readonly log?: Logger;
}

/**
 * A presence on PostgreSQL: the token is the `application_name` of one dedicated session,
 * which `pg_stat_activity` shows to every other session (whatever their role) until that
 * session ends. The name is set with `set_config` after connecting, so an `application_name`
 * in the database URL cannot override it. A lost session (PostgreSQL restarted, the
 * connection cut or terminated) drops the token at once; the session is re-opened with
 * backoff under a new token. A ping every 5 s finds a connection that died silently.
 */
export class PgPresence implements Presence {
  readonly prefix: string;
  readonly held: RawBuilder<unknown>;
  readonly #opts: PgPresenceOptions;
  readonly #listeners: (() => void)[] = [];
  #client: pg.Client | null = null;
  #token: string | null = null;
  #supported = true;
  #started = false;
  #closed = false;
  #retryMs = RECONNECT_MIN_MS;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #pingTimer: NodeJS.Timeout | null = null;
  /** When the ping in progress was sent (null: none is). */
  #pingSince: number | null = null;

  constructor(opts: PgPresenceOptions) {
    this.#opts = opts;
    this.prefix = `${opts.label} `;
    this.held = sql`select application_name as token from pg_stat_activity where starts_with(application_name, ${this.prefix})`;
  }

  get token(): string | null {
    return this.#token;
  }

  get supported(): boolean {
    return this.#supported;
  }

  onHeld(listener: () => void): void {
    this.#listeners.push(listener);
  }

  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#pingTimer = setInterval(() => this.#ping(), PING_MS);
    this.#pingTimer.unref();
    this.#connect().catch((err: unknown) => this.#retry(err));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#token = null;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    if (this.#pingTimer) clearInterval(this.#pingTimer);
    const client = this.#client;
    this.#client = null;
    if (client) await endWithin(client);
  }

  async #connect(): Promise<void> {
    const client = this.#opts.newClient();
    client.on('error', (err) => this.#lost(client, err));
    client.on('end', () => this.#lost(client, new Error('connection ended')));
    this.#client = client;
    await client.connect();
    const token = `${this.prefix}${randomBytes(12).toString('base64url')}`;
    await client.query(
      `select set_config('application_name', $1, false),
              set_config('tcp_keepalives_idle', $2, false),
              set_config('tcp_keepalives_interval', $3, false),
              set_config('tcp_keepalives_count', $4, false)`,
      [token, KEEPALIVES.idle, KEEPALIVES.interval, KEEPALIVES.count].map(String),
    );
    // Seen from the pool, as the other relays will look for it.
    const seen = await sql<{ n: number | string }>`
      select count(*) as n from pg_stat_activity where application_name = ${token}`.execute(
      this.#opts.db,
    );
    if (this.#client !== client || this.#closed) return;
    if (Number(seen.rows[0]?.n ?? 0) === 0) {
      this.#supported = false;
      this.#client = null;
      this.#opts.log?.error(
        'PostgreSQL does not show this session in pg_stat_activity to other sessions (a connection pooler in transaction mode?): outbox rows this process claims stay its own until their claim runs out (HERALD_BROKER_OUTBOX_CLAIM_SECONDS)',
      );
      void endWithin(client);
      this.#notify();
      return;
    }
    this.#token = token;
    this.#retryMs = RECONNECT_MIN_MS;
    this.#notify();
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }

  #ping(): void {
    const client = this.#client;
    if (!client || this.#token === null) return;
    if (this.#pingSince !== null) {
      if (performance.now() - this.#pingSince > PING_GIVE_UP_MS) {
        this.#lost(client, new Error(`no answer to a ping in ${PING_GIVE_UP_MS / 1000} s`));
      }
      return;
    }
    this.#pingSince = performance.now();
    client.query('select 1').then(
      () => {
        if (this.#client === client) this.#pingSince = null;
      },
      (err: unknown) => this.#lost(client, err),
    );
  }

  #lost(client: pg.Client, err: unknown): void {
    if (this.#client !== client || this.#closed) return;
    const had = this.#token;
    this.#client = null;
    this.#token = null;
    this.#pingSince = null;
    void endWithin(client);
    this.#opts.log?.warn(
      { err: brief(err), token: had },
      'presence: PostgreSQL session lost; reconnecting under a new token (what was claimed under the old one may be taken by anyone)',
    );
    this.#scheduleReconnect();
  }

  #retry(err: unknown): void {
    const client = this.#client;
    if (client) {
      // Failed while connecting or naming the session: the same as losing it.
      this.#lost(client, err);
      return;
    }
    if (!this.#closed && this.#supported) this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer || !this.#supported) return;
    const wait = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, RECONNECT_MAX_MS);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      if (this.#closed) return;
      this.#connect().then(
        () => {
          if (this.#token)
            this.#opts.log?.info({ token: this.#token }, 'presence: session re-established');
        },
        (err: unknown) => this.#retry(err),
      );
    }, wait);
    this.#reconnectTimer.unref();
  }
}

/** Ends a client without waiting long for a server that no longer answers. */
async function endWithin(client: pg.Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.end().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, END_TIMEOUT_MS);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}

/** What a log line needs of a connection error (pg errors can carry their whole client). */
function brief(err: unknown): { message: string; code?: string } {
  const e = err as { message?: string; code?: string };
  return { message: String(e?.message ?? err), ...(e?.code ? { code: e.code } : {}) };
}
