import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { parseConnectionUrl } from 'nodemailer/lib/shared';

export interface SmtpPoolOptions {
  /** `smtp://` (STARTTLS when offered) or `smtps://`, `user:pass@` for AUTH, nodemailer's query options. */
  readonly url: string;
  readonly maxConnections: number;
  /** Messages per connection before it is renewed. */
  readonly maxMessages: number;
  readonly connectMs: number;
  readonly greetingMs: number;
  readonly socketMs: number;
  /** A connection unused this long is closed (relays drop idle sessions anyway). */
  readonly idleMs?: number;
}

/** What a failed send rejects with: nodemailer's error (code, responseCode, response). */
export type SmtpSendError = Error & {
  code?: string;
  responseCode?: number;
  response?: string;
};

interface Connection {
  readonly smtp: SMTPConnection;
  messages: number;
  alive: boolean;
  idleTimer: NodeJS.Timeout | null;
}

/**
 * A pool of SMTP sessions to one relay, over nodemailer's SMTPConnection (which speaks the
 * protocol: EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA, dot-stuffing, timeouts). It takes messages
 * already composed (one Buffer) with their envelope, which is all Herald needs: nodemailer's
 * own pool and Mailer add a MIME tree, stream pipelines and per-message bookkeeping that cost
 * more CPU than the SMTP itself (see bench/README.md).
 *
 * A session is reused until `maxMessages`, closed after `idleMs` unused, and dropped after
 * any failure except the relay refusing one message (then RSET and reuse). It never re-sends
 * a message on its own, with one exception: a reused session that turns out to be gone
 * (closed by the relay while idle) before any reply about the message is replaced once.
 */
export class SmtpPool {
  private readonly connectionOptions: ConstructorParameters<typeof SMTPConnection>[0];
  private readonly auth: { user: string; pass: string } | null;
  private readonly idle: Connection[] = [];
  private readonly waiting: ((c: Connection | Error) => void)[] = [];
  private open = 0;
  private closed = false;

  constructor(private readonly options: SmtpPoolOptions) {
    const { auth, ...rest } = parseConnectionUrl(options.url);
    this.auth = auth && (auth.user || auth.pass) ? auth : null;
    this.connectionOptions = {
      ...rest,
      connectionTimeout: options.connectMs,
      greetingTimeout: options.greetingMs,
      socketTimeout: options.socketMs,
      logger: false,
    };
  }

  /** Sends one composed message; rejects with the relay's refusal or the connection's failure. */
  async send(envelope: { from: string; to: string }, message: Buffer): Promise<void> {
    let connection = await this.acquire();
    const reused = connection.messages > 0;
    try {
      await this.transmit(connection, envelope, message);
    } catch (err) {
      const e = err as SmtpSendError;
      if (reused && e.responseCode === undefined && isConnectionLoss(e) && !this.closed) {
        // The relay closed this session while it sat idle: nothing about the message was
        // answered, so it goes out once over a fresh session.
        connection = await this.acquire(true);
        await this.transmit(connection, envelope, message);
        return;
      }
      throw err;
    }
  }

  /** Closes idle sessions now and busy ones when their message is done. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.idle.splice(0)) this.discard(c, true);
    for (const wake of this.waiting.splice(0)) wake(closedError());
  }

  private transmit(
    c: Connection,
    envelope: { from: string; to: string },
    message: Buffer,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      c.smtp.send({ from: envelope.from, to: [envelope.to] }, message, (err) => {
        c.messages++;
        if (!err) {
          this.release(c);
          resolve();
          return;
        }
        const e = err as SmtpSendError;
        if (
          (e.code === 'EENVELOPE' || e.code === 'EMESSAGE') &&
          e.responseCode !== 421 &&
          c.alive
        ) {
          // The relay refused this message; the session itself is fine.
          c.smtp.reset((resetErr) => (resetErr ? this.discard(c, false) : this.release(c)));
        } else {
          this.discard(c, false);
        }
        reject(err);
      });
    });
  }

  /** A session for one message: an idle one, a new one, or the next one released. */
  private acquire(fresh = false): Promise<Connection> {
    if (this.closed) return Promise.reject(closedError());
    if (!fresh) {
      let c: Connection | undefined;
      while ((c = this.idle.pop())) {
        if (c.idleTimer) clearTimeout(c.idleTimer);
        c.idleTimer = null;
        if (c.alive) return Promise.resolve(c);
      }
    }
    if (this.open < this.options.maxConnections || fresh) return this.connect();
    return new Promise((resolve, reject) =>
      this.waiting.push((c) => (c instanceof Error ? reject(c) : resolve(c))),
    );
  }

  private connect(): Promise<Connection> {
    this.open++;
    const smtp = new SMTPConnection(this.connectionOptions);
    const c: Connection = { smtp, messages: 0, alive: true, idleTimer: null };
    return new Promise<Connection>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error) => {
        if (c.alive) this.gone(c);
        if (!settled) {
          settled = true;
          smtp.close();
          reject(err);
        }
      };
      // After the start, failures reach the send callback; these only mark the session gone.
      smtp.on('error', (err: Error) => fail(err));
      smtp.once('end', () => fail(connectionEnded()));
      smtp.connect((err) => {
        if (err) return fail(err);
        if (!this.auth) return ready();
        smtp.login(this.auth, (loginErr) => (loginErr ? fail(loginErr) : ready()));
      });
      const ready = () => {
        if (settled) return;
        settled = true;
        resolve(c);
      };
    });
  }

  /** Back to the pool after a message: to a waiting sender, idle, or closed when used up. */
  private release(c: Connection): void {
    if (!c.alive) return;
    if (this.closed || c.messages >= this.options.maxMessages) {
      this.discard(c, true);
      return;
    }
    const wake = this.waiting.shift();
    if (wake) {
      wake(c);
      return;
    }
    c.idleTimer = setTimeout(() => {
      const i = this.idle.indexOf(c);
      if (i !== -1) this.idle.splice(i, 1);
      this.discard(c, true);
    }, this.options.idleMs ?? 30_000);
    c.idleTimer.unref();
    this.idle.push(c);
  }

  /** Ends a session (QUIT when it is healthy) and lets a waiting sender open another. */
  private discard(c: Connection, polite: boolean): void {
    if (c.idleTimer) clearTimeout(c.idleTimer);
    c.idleTimer = null;
    if (c.alive) {
      this.gone(c);
      if (polite) c.smtp.quit();
      else c.smtp.close();
    }
  }

  private gone(c: Connection): void {
    if (!c.alive) return;
    c.alive = false;
    this.open--;
    const wake = this.waiting.shift();
    if (wake) this.connect().then(wake, wake);
  }
}

function isConnectionLoss(e: SmtpSendError): boolean {
  return e.code === 'ECONNECTION' || e.code === 'ESOCKET' || e.code === 'ETIMEDOUT';
}

function closedError(): SmtpSendError {
  return Object.assign(new Error('the SMTP pool is closed'), { code: 'ECONNECTION' });
}

function connectionEnded(): SmtpSendError {
  return Object.assign(new Error('the relay closed the connection'), { code: 'ECONNECTION' });
}
