/**
 * One AMQP connection that keeps itself up: it connects, lets its owner build channels on it
 * (`setup`), and when the connection or one of those channels goes away (broker restart,
 * network cut, a channel error) it tells the owner (`onDown`) and connects again after an
 * exponential backoff with jitter (100 ms doubling up to 10 s by default), forever, until
 * closed. Every channel the owner opens must be registered with `watch`, so that its failure
 * brings the whole link down and up again — the owner then never sees a half-working link.
 */
import { connect, type Channel, type ChannelModel } from 'amqplib';
import type { Logger } from 'pino';
import { closeWithin } from './close-within.js';

export interface BrokerLinkOptions {
  readonly url: string;
  /** Shown by `rabbitmqctl list_connections client_properties` and the management UI. */
  readonly name: string;
  readonly log: Logger;
  /** Builds channels on a fresh connection; a throw counts as a failed attempt. */
  readonly setup: (connection: ChannelModel, link: BrokerLink) => Promise<void>;
  /** The link is (back) up with its channels set up. */
  readonly onUp?: () => void;
  /** The link went down: forget everything tied to its channels. */
  readonly onDown?: (err: Error | undefined) => void;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Seconds between heartbeats when the URL does not say (dead peers are noticed in ~2×). */
  readonly heartbeatSeconds?: number;
  /**
   * Longest close() waits for the broker to acknowledge the close (default 5 s): a broker that
   * stopped answering would otherwise hold a graceful shutdown until the heartbeats give up.
   * Past it the socket is dropped, which the broker treats like any closed connection
   * (unacknowledged deliveries go back to their queues).
   */
  readonly closeTimeoutMs?: number;
}

export class BrokerLink {
  readonly #opts: BrokerLinkOptions;
  #connection: ChannelModel | null = null;
  #ready = false;
  #started = false;
  #closed = false;
  #attempt = 0;
  #timer: NodeJS.Timeout | null = null;
  /** Bumped on every new connection: channels of an older generation are dead. */
  #generation = 0;
  readonly #upWaiters = new Set<() => void>();

  constructor(opts: BrokerLinkOptions) {
    this.#opts = opts;
  }

  /** True while connected with every channel set up. */
  get ready(): boolean {
    return this.#ready;
  }

  get generation(): number {
    return this.#generation;
  }

  /** Starts connecting (once); later calls do nothing. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    void this.#connect();
  }

  /** Resolves true once the link is ready, false if it is not within `timeoutMs`. */
  whenReady(timeoutMs: number): Promise<boolean> {
    this.start();
    if (this.#ready) return Promise.resolve(true);
    if (this.#closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.#upWaiters.delete(onUp);
        resolve(ok);
      };
      const onUp = (): void => done(this.#ready);
      const timer = setTimeout(() => done(false), timeoutMs);
      timer.unref();
      this.#upWaiters.add(onUp);
    });
  }

  /** A channel opened in `setup`: its closing or failing brings the link down. */
  watch(channel: Channel, what: string): void {
    const generation = this.#generation;
    channel.on('error', (err: Error) => {
      this.#opts.log.warn({ err, link: this.#opts.name, channel: what }, 'broker channel error');
    });
    channel.on('close', () => {
      if (generation === this.#generation && !this.#closed) this.#down(new Error(`${what} closed`));
    });
  }

  /** Drops the connection (it will be re-established), e.g. after an unexpected reply. */
  reset(reason: string): void {
    if (this.#connection) this.#down(new Error(reason));
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    const connection = this.#connection;
    this.#connection = null;
    this.#ready = false;
    for (const wake of [...this.#upWaiters]) wake();
    if (connection) await closeWithin(connection, this.#opts.closeTimeoutMs ?? 5_000);
  }

  async #connect(): Promise<void> {
    this.#timer = null;
    if (this.#closed) return;
    const { log, name } = this.#opts;
    let connection: ChannelModel | null = null;
    try {
      connection = await connect(withHeartbeat(this.#opts.url, this.#opts.heartbeatSeconds ?? 15), {
        timeout: 5_000,
        clientProperties: { connection_name: name },
      });
      if (this.#closed) {
        await connection.close().catch(() => undefined);
        return;
      }
      this.#generation++;
      this.#connection = connection;
      const generation = this.#generation;
      connection.on('error', (err: Error) => {
        log.warn({ err, link: name }, 'broker connection error');
      });
      connection.on('close', (err?: Error) => {
        if (generation === this.#generation && !this.#closed) this.#down(err);
      });
      connection.on('blocked', (reason: string) => {
        log.warn({ link: name, reason }, 'broker blocks this connection (resource alarm)');
      });
      connection.on('unblocked', () =>
        log.info({ link: name }, 'broker unblocked this connection'),
      );
      await this.#opts.setup(connection, this);
      if (generation !== this.#generation || this.#closed) return;
      this.#ready = true;
      if (this.#attempt > 0)
        log.info({ link: name, attempts: this.#attempt }, 'broker link back up');
      this.#attempt = 0;
      for (const wake of [...this.#upWaiters]) wake();
      this.#opts.onUp?.();
    } catch (err) {
      if (this.#closed) return;
      if (connection && connection === this.#connection) {
        this.#down(err as Error);
      } else {
        this.#retryLater(err as Error);
      }
    }
  }

  #down(err: Error | undefined): void {
    const connection = this.#connection;
    this.#connection = null;
    this.#ready = false;
    this.#generation++;
    this.#opts.onDown?.(err);
    if (connection) void connection.close().catch(() => undefined);
    this.#retryLater(err);
  }

  #retryLater(err: Error | undefined): void {
    if (this.#closed || this.#timer) return;
    const initial = this.#opts.initialBackoffMs ?? 100;
    const max = this.#opts.maxBackoffMs ?? 10_000;
    const base = Math.min(max, initial * 2 ** Math.min(this.#attempt, 20));
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.#attempt++;
    const level = this.#attempt === 1 ? 'warn' : 'debug';
    this.#opts.log[level](
      { err, link: this.#opts.name, attempt: this.#attempt, retryInMs: delay },
      'broker link down; reconnecting',
    );
    this.#timer = setTimeout(() => void this.#connect(), delay);
    this.#timer.unref();
  }
}

/** The URL with `heartbeat=` added when it has none. */
function withHeartbeat(url: string, seconds: number): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', String(seconds));
  return parsed.toString();
}
