import { createHash } from 'node:crypto';
import type pg from 'pg';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db, Tx } from '../database.js';
import { PeerListeners, type PeerListener, type PeerSignals } from '../../runtime/peer-signals.js';
import { ReconnectBackoff } from './reconnect-backoff.js';

/** PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more. */
const MAX_PAYLOAD_BYTES = 7_900;
const MAX_CHANNEL_BYTES = 63;

export interface PgPeerSignalsOptions {
  /** Sends NOTIFYs (through the pool). */
  readonly db: Db;
  /** A new client outside the pool: the one LISTEN connection. */
  readonly newClient: () => pg.Client;
  /** Keeps installations sharing a database apart: the schema. */
  readonly namespace: string;
  readonly log?: Logger;
}

/**
 * Peer signals over PostgreSQL's LISTEN/NOTIFY, so every process on the database hears them.
 * One dedicated connection listens; publishes made in the same turn of the event loop are
 * coalesced into one NOTIFY statement (messages of a topic joined by newlines, deduplicated),
 * so a broadcast's thousands of inbox signals cost a handful of round trips. A lost listening
 * connection is re-opened with backoff, and every subscriber is then told it may have missed
 * messages.
 */
export class PgPeerSignals implements PeerSignals {
  readonly #opts: PgPeerSignalsOptions;
  readonly #listeners = new PeerListeners();
  /** Topic → PostgreSQL channel name. */
  readonly #channels = new Map<string, string>();
  readonly #topicOf = new Map<string, string>();
  #client: pg.Client | null = null;
  /** Channels LISTENed (or about to be) on the current client. */
  #listening = new Set<string>();
  /** LISTENs go out one after another: a pg client runs one query at a time. */
  #listenQueue: Promise<void> = Promise.resolve();
  #pending = new Map<string, Set<string>>();
  #flushing: Promise<void> | null = null;
  readonly #backoff = new ReconnectBackoff();
  #closed = false;

  constructor(opts: PgPeerSignalsOptions) {
    this.#opts = opts;
  }

  /** Opens the listening connection; fails when PostgreSQL cannot be reached now. */
  async start(): Promise<void> {
    await this.#connect();
  }

  publish(topic: string, message: string): void {
    if (this.#closed) return;
    let set = this.#pending.get(topic);
    if (!set) {
      set = new Set();
      this.#pending.set(topic, set);
    }
    set.add(oneLine(message));
    this.#flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
      this.#flush(),
    );
  }

  async publishInTransaction(tx: Tx, topic: string, message: string): Promise<void> {
    await sql`select pg_notify(${this.#channel(topic)}, ${oneLine(message)})`.execute(tx);
  }

  subscribe(topic: string, listener: PeerListener): () => void {
    const unsubscribe = this.#listeners.add(topic, listener);
    void this.#listen(topic);
    return unsubscribe;
  }

  /** Whether the listening connection is up (for health reporting). */
  get connected(): boolean {
    return this.#client !== null;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#flushing;
    this.#closed = true;
    this.#backoff.close();
    this.#listeners.clear();
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => {});
  }

  #channel(topic: string): string {
    let channel = this.#channels.get(topic);
    if (!channel) {
      channel = `herald:${this.#opts.namespace}:${topic}`;
      if (Buffer.byteLength(channel) > MAX_CHANNEL_BYTES) {
        const hash = createHash('sha256').update(this.#opts.namespace).digest('hex').slice(0, 16);
        channel = `herald:${hash}:${topic}`.slice(0, MAX_CHANNEL_BYTES);
      }
      this.#channels.set(topic, channel);
      this.#topicOf.set(channel, topic);
    }
    return channel;
  }

  async #flush(): Promise<void> {
    const channels: string[] = [];
    const payloads: string[] = [];
    for (const [topic, messages] of this.#pending) {
      const channel = this.#channel(topic);
      for (const payload of pack([...messages])) {
        channels.push(channel);
        payloads.push(payload);
      }
    }
    this.#pending = new Map();
    this.#flushing = null;
    if (channels.length === 0) return;
    try {
      await sql`
        select pg_notify(c, p)
        from unnest(cast(${channels} as text[]), cast(${payloads} as text[])) as t(c, p)`.execute(
        this.#opts.db,
      );
    } catch (err) {
      // Only hints: subscribers catch up when the database is back (see #reconnected).
      this.#opts.log?.debug({ err: brief(err) }, 'peer signals could not be sent');
    }
  }

  async #listen(topic: string): Promise<void> {
    const channel = this.#channel(topic);
    const client = this.#client;
    if (!client || this.#listening.has(channel)) return;
    this.#listening.add(channel);
    const listen = this.#listenQueue.then(() => client.query(`listen ${quoteIdent(channel)}`));
    this.#listenQueue = listen.then(
      () => {},
      () => {},
    );
    try {
      await listen;
    } catch (err) {
      this.#listening.delete(channel);
      this.#lost(client, err);
    }
  }

  async #connect(): Promise<void> {
    const client = this.#opts.newClient();
    client.on('error', (err) => this.#lost(client, err));
    client.on('end', () => this.#lost(client, new Error('connection ended')));
    client.on('notification', (n) => {
      const topic = this.#topicOf.get(n.channel);
      if (topic === undefined || n.payload === undefined) return;
      for (const message of n.payload.split('\n')) this.#listeners.deliver(topic, message);
    });
    await client.connect();
    this.#listening = new Set();
    this.#listenQueue = Promise.resolve();
    this.#client = client;
    await Promise.all(this.#listeners.topics().map((topic) => this.#listen(topic)));
  }

  #lost(client: pg.Client, err: unknown): void {
    if (this.#client !== client || this.#closed) return;
    this.#client = null;
    this.#opts.log?.warn({ err: brief(err) }, 'peer signals: LISTEN connection lost; reconnecting');
    client.end().catch(() => {});
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    this.#backoff.schedule(() => {
      this.#connect().then(
        () => {
          this.#backoff.succeeded();
          this.#opts.log?.info('peer signals: LISTEN connection re-established');
          // Whatever was published while we were away is lost: everyone re-checks.
          this.#listeners.deliverGap();
        },
        () => this.#scheduleReconnect(),
      );
    });
  }
}

/** What a log line needs of a connection error (pg errors can carry their whole client). */
function brief(err: unknown): { message: string; code?: string } {
  const { message, code } = err as { message?: unknown; code?: unknown };
  return {
    message: typeof message === 'string' ? message : String(err),
    ...(typeof code === 'string' ? { code } : {}),
  };
}

function oneLine(message: string): string {
  return message.replace(/[\r\n]+/g, ' ');
}

/** Messages joined by newlines into payloads PostgreSQL accepts. */
function pack(messages: readonly string[]): string[] {
  const payloads: string[] = [];
  let current = '';
  for (const m of messages) {
    const next = current === '' ? m : `${current}\n${m}`;
    if (current !== '' && Buffer.byteLength(next) > MAX_PAYLOAD_BYTES) {
      payloads.push(current);
      current = m;
    } else {
      current = next;
    }
  }
  payloads.push(current);
  return payloads;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
