import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { sql, type RawBuilder } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from '../database.js';
import type { Presence } from '../presence.js';
import { ReconnectBackoff } from './reconnect-backoff.js';

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
  /** How often the session is checked (default 5 s). */
  readonly pingMs?: number;
  /** A check unanswered this long means the connection is gone (default 15 s). */
  readonly pingGiveUpMs?: number;
}

/** A connection named with a token: the server session (`pid`) that must show it. */
interface Session {
  readonly client: pg.Client;
  readonly token: string;
  readonly pid: number;
}

/**
 * A presence on PostgreSQL: the token is the `application_name` of one dedicated session,
 * which `pg_stat_activity` shows to every other session (whatever their role) until that
 * session ends. The name is set with `set_config` after connecting, so an `application_name`
 * in the database URL cannot override it. A lost session (PostgreSQL restarted, the
 * connection cut or terminated) drops the token at once; the session is re-opened with
 * backoff under a new token.
 *
 * The token is handed out once the pool sees the session — that server process (`pid`)
 * under that name — and every ping (every 5 s) checks that the connection still talks to
 * that server process under that name; the ping also finds a connection that died silently.
 * Behind a pooler in transaction mode neither holds for long (statements run in whatever
 * server session is free): the presence then gives up for good, `supported` turns false and
 * the holder falls back to claims that only run out.
 */
export class PgPresence implements Presence {
  readonly prefix: string;
  readonly held: RawBuilder<unknown>;
  readonly #opts: PgPresenceOptions;
  readonly #listeners: (() => void)[] = [];
  readonly #backoff = new ReconnectBackoff();
  readonly #pingMs: number;
  readonly #giveUpMs: number;
  /** The connection in use: being opened, named, or holding the token. */
  #client: pg.Client | null = null;
  /** The named session of #client, once it is (its token is handed out once checked). */
  #session: Session | null = null;
  #token: string | null = null;
  #supported = true;
  #started = false;
  #closed = false;
  /** A token was held before: the next one is a re-established session. */
  #heldBefore = false;
  /** Failed attempts to open a session since one last worked (the first is logged). */
  #failures = 0;
  #pingTimer: NodeJS.Timeout | null = null;
  /** When the query on the session in progress was sent (null: none is). */
  #pingSince: number | null = null;
  /** The session whose check (#check) is under way. */
  #checking: Session | null = null;

  constructor(opts: PgPresenceOptions) {
    this.#opts = opts;
    this.#pingMs = opts.pingMs ?? PING_MS;
    this.#giveUpMs = opts.pingGiveUpMs ?? PING_GIVE_UP_MS;
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
    this.#pingTimer = setInterval(() => this.#tick(), this.#pingMs);
    this.#pingTimer.unref();
    this.#open();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#token = null;
    this.#session = null;
    this.#backoff.close();
    if (this.#pingTimer) clearInterval(this.#pingTimer);
    const client = this.#client;
    this.#client = null;
    if (client) await endWithin(client);
  }

  /** Opens a new connection and names its session with a new token. */
  #open(): void {
    const client = this.#opts.newClient();
    client.on('error', (err) => this.#lost(client, err));
    client.on('end', () => this.#lost(client, new Error('connection ended')));
    this.#client = client;
    // Failures name their client: a late one of an older attempt leaves the current alone.
    this.#name(client).catch((err: unknown) => this.#lost(client, err));
  }

  async #name(client: pg.Client): Promise<void> {
    await client.connect();
    const token = `${this.prefix}${randomBytes(12).toString('base64url')}`;
    const { rows } = await client.query<{ pid: number }>(
      `select pg_backend_pid() as pid,
              set_config('application_name', $1, false),
              set_config('tcp_keepalives_idle', $2, false),
              set_config('tcp_keepalives_interval', $3, false),
              set_config('tcp_keepalives_count', $4, false)`,
      [token, KEEPALIVES.idle, KEEPALIVES.interval, KEEPALIVES.count].map(String),
    );
    if (this.#client !== client || this.#closed) return;
    this.#session = { client, token, pid: Number(rows[0]!.pid) };
    await this.#check(this.#session);
  }

  /**
   * Hands the session's token out once the pool sees it and the session itself is still
   * that server process under that name. A failure of the pool's query says nothing about
   * the session: it is checked again at the next tick.
   */
  async #check(session: Session): Promise<void> {
    if (this.#checking === session) return;
    this.#checking = session;
    try {
      let seen: number;
      try {
        // Seen from the pool, as the other relays will look for it.
        const { rows } = await sql<{ n: number | string }>`
          select count(*) as n from pg_stat_activity
          where pid = ${session.pid} and application_name = ${session.token}`.execute(
          this.#opts.db,
        );
        seen = Number(rows[0]?.n ?? 0);
      } catch (err) {
        if (this.#session === session) {
          this.#opts.log?.warn(
            { err: brief(err) },
            `presence: the pool could not check that other sessions see this one; trying again in ${this.#pingMs / 1000} s`,
          );
        }
        return;
      }
      if (this.#session !== session || this.#closed) return;
      if (seen === 0) {
        this.#unsupported(session, 'PostgreSQL does not show this session to other sessions');
        return;
      }
      if (!(await this.#ping(session))) return;
      this.#token = session.token;
      this.#failures = 0;
      this.#backoff.succeeded();
      if (this.#heldBefore)
        this.#opts.log?.info({ token: session.token }, 'presence: session re-established');
      this.#heldBefore = true;
      this.#notify();
    } finally {
      if (this.#checking === session) this.#checking = null;
    }
  }

  /**
   * Asks the session which server process it is and under which name: true when it is
   * still the one named. A different answer means statements on this connection run in
   * different server sessions (a pooler in transaction mode); no answer, a lost session.
   */
  async #ping(session: Session): Promise<boolean> {
    this.#pingSince = performance.now();
    let answer: { pid: number; name: string } | undefined;
    try {
      const { rows } = await session.client.query<{ pid: number; name: string }>(
        `select pg_backend_pid() as pid, current_setting('application_name') as name`,
      );
      answer = rows[0];
    } catch (err) {
      this.#lost(session.client, err);
      return false;
    }
    if (this.#session !== session) return false;
    this.#pingSince = null;
    if (Number(answer?.pid) !== session.pid || answer?.name !== session.token) {
      this.#unsupported(
        session,
        `statements on this connection ran in another server session (pid ${session.pid} named ${session.token}, now pid ${answer?.pid} named ${answer?.name})`,
      );
      return false;
    }
    return true;
  }

  #tick(): void {
    const session = this.#session;
    if (!session || this.#closed) return;
    if (this.#pingSince !== null) {
      this.#overdue(session, this.#pingSince);
      return;
    }
    if (this.#token === null) void this.#check(session);
    else void this.#ping(session);
  }

  /**
   * Gives the session up when its ping has been unanswered too long. Timers run before the
   * event loop reads sockets: after a stall of the loop longer than that, the answer may be
   * waiting unread. So the decision is taken again after the loop's next read (setImmediate
   * runs after it), with the answer in if it came.
   */
  #overdue(session: Session, since: number): void {
    if (performance.now() - since <= this.#giveUpMs) return;
    setImmediate(() => {
      if (this.#session !== session || this.#pingSince !== since) return;
      this.#lost(
        session.client,
        new Error(`no answer to a ping in ${Math.round((performance.now() - since) / 1000)} s`),
      );
    });
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }

  /** Forgets the current connection and its session; the caller ends the client. */
  #drop(): void {
    this.#client = null;
    this.#session = null;
    this.#token = null;
    this.#pingSince = null;
  }

  /** The connection `client` failed or ended: reconnect, if it is still the current one. */
  #lost(client: pg.Client, err: unknown): void {
    if (this.#client !== client || this.#closed) {
      // An older attempt's late failure: the current connection is not concerned.
      void endWithin(client);
      return;
    }
    const had = this.#token;
    const named = this.#session !== null;
    this.#drop();
    void endWithin(client);
    if (had !== null) {
      this.#opts.log?.warn(
        { err: brief(err), token: had },
        'presence: PostgreSQL session lost; reconnecting under a new token (what was claimed under the old one may be taken by anyone)',
      );
    } else if (++this.#failures === 1) {
      this.#opts.log?.warn(
        { err: brief(err) },
        named
          ? 'presence: PostgreSQL session lost before it was checked; retrying'
          : 'presence: cannot open its PostgreSQL session; retrying with backoff (up to every 5 s)',
      );
    } else {
      this.#opts.log?.debug({ err: brief(err), failures: this.#failures }, 'presence: retrying');
    }
    if (this.#supported) this.#backoff.schedule(() => this.#open());
  }

  /** The database cannot vouch for this session: give up for good (claims only run out). */
  #unsupported(session: Session, why: string): void {
    if (this.#session !== session || this.#closed) return;
    this.#supported = false;
    this.#drop();
    this.#backoff.close();
    void endWithin(session.client);
    this.#opts.log?.error(
      { why },
      'presence: not supported through this connection (a connection pooler in transaction mode?): outbox rows this process claims stay its own until their claim runs out (HERALD_BROKER_OUTBOX_CLAIM_SECONDS); connect to PostgreSQL directly or through a session-mode pooler',
    );
    this.#notify();
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
