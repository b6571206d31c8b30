import {
  DeliveryError,
  type ChannelProvider,
  type OutboundMessage,
  type SendOutcome,
} from '../channel-provider.js';
import { headerText, isPlausibleAddress, parseMailbox, type Mailbox } from './email-headers.js';
import { emailHtml } from './email-layout.js';
import { composeMessage } from './mime-message.js';
import { smtpDeliveryError } from './smtp-error.js';
import { SmtpPool } from './smtp-pool.js';
import { mapLimit } from '../../runtime/map-limit.js';

export interface EmailProviderOptions {
  /** `smtp://` (STARTTLS when offered) or `smtps://`, with `user:pass@` for AUTH. */
  readonly url: string;
  /**
   * `Herald <noreply@example.edu>` or a bare address: the From of mails whose source and
   * category name no sender, and always the envelope sender (MAIL FROM, where bounces go).
   */
  readonly from: string;
  /** Herald's public base URL, for List-Unsubscribe; empty → no List-Unsubscribe header. */
  readonly publicUrl: string;
  /** Pooled SMTP connections (default 5) and messages per connection before it is renewed (100). */
  readonly pool?: { readonly maxConnections: number; readonly maxMessages: number };
  /** Milliseconds; the defaults keep a dead relay from holding a batch past its job's lease. */
  readonly timeouts?: {
    readonly connectMs?: number;
    readonly greetingMs?: number;
    readonly socketMs?: number;
  };
}

const DEFAULT_POOL = { maxConnections: 5, maxMessages: 100 };

/** Parsed per-source / per-category senders kept; they are few, the cap only guards memory. */
const SENDER_CACHE_MAX = 1000;

/**
 * The email channel over SMTP through a pool of connections to one relay. Each mail carries a
 * text and an HTML part, `Message-ID: <deliveryId@herald>` (the same on every retry, so the
 * receiving side can drop a duplicate after a crash between send and record) and a
 * List-Unsubscribe pointing at the preferences. Nothing from a message reaches a header
 * unchecked: the recipient must be one plain address and is the envelope's only RCPT; subject
 * and names lose their control characters; a sender chosen by the source or category must be
 * one address, or the mail fails. Reply classes decide the outcome: 4xx and connection
 * failures transient, 5xx permanent. The pool does not re-send a message (except once over a
 * fresh connection when a reused one turns out closed before the relay answered anything):
 * retries belong to the retry policy, where they are counted.
 *
 * The message is composed here (mime-message.ts) and handed with its envelope to a small
 * pool of nodemailer SMTP connections (smtp-pool.ts): nodemailer only speaks SMTP. The
 * envelope sender is always the relay's configured one, whatever the From: bounces reach one
 * managed mailbox and the relay only has to allow one sender; a From of another address gets
 * a `Sender:` header naming it.
 */
export class EmailProvider implements ChannelProvider {
  readonly name = 'smtp';
  private readonly pool: SmtpPool;
  private readonly from: Mailbox;
  private readonly unsubscribe: string | null;
  private readonly concurrency: number;
  private readonly senders = new Map<string, Mailbox | DeliveryError>();
  private closed = false;

  constructor(options: EmailProviderOptions) {
    this.from = parseMailbox(options.from);
    this.unsubscribe = options.publicUrl
      ? `<${new URL('v1/me/preferences', withSlash(options.publicUrl)).href}>`
      : null;
    if (this.unsubscribe && this.unsubscribe.length > 900) {
      throw new Error('the public URL is too long for a List-Unsubscribe header');
    }
    const pool = options.pool ?? DEFAULT_POOL;
    this.concurrency = pool.maxConnections;
    this.pool = new SmtpPool({
      url: options.url,
      maxConnections: pool.maxConnections,
      maxMessages: pool.maxMessages,
      connectMs: options.timeouts?.connectMs ?? 10_000,
      greetingMs: options.timeouts?.greetingMs ?? 10_000,
      socketMs: options.timeouts?.socketMs ?? 30_000,
    });
  }

  async send(batch: readonly OutboundMessage[]): Promise<SendOutcome[]> {
    // As many mails in flight as the pool has connections: the rest wait here rather than
    // in the pool's queue, so a batch never holds more composed messages than it can send.
    return mapLimit(batch, this.concurrency, (m) => this.sendOne(m));
  }

  /** Closes the pooled connections; mails still in flight finish first. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pool.close();
  }

  private async sendOne(m: OutboundMessage): Promise<SendOutcome> {
    if (this.closed) {
      return { ok: false, error: new DeliveryError('email provider is shut down', 'transient') };
    }
    if (!isPlausibleAddress(m.address)) {
      return {
        ok: false,
        error: new DeliveryError(
          `not a valid email address: ${JSON.stringify(m.address.slice(0, 100))}`,
          'permanent',
        ),
      };
    }
    const from = m.sender?.from ? this.sender(m.sender.from, 'From') : this.from;
    if (from instanceof DeliveryError) return { ok: false, error: from };
    const replyTo = m.sender?.replyTo ? this.sender(m.sender.replyTo, 'Reply-To') : undefined;
    if (replyTo instanceof DeliveryError) return { ok: false, error: replyTo };

    const id = safeId(m.deliveryId);
    const messageId = `<${id}@herald>`;
    const title = m.content.title ?? m.content.subject;
    const raw = composeMessage({
      from,
      ...(from.address !== this.from.address ? { sender: this.from } : {}),
      to: { name: headerText(m.recipient.name), address: m.address },
      ...(replyTo ? { replyTo } : {}),
      subject: headerText(m.content.subject ?? m.content.title ?? ''),
      messageId,
      date: new Date(),
      headers: [
        ...(this.unsubscribe ? [['List-Unsubscribe', this.unsubscribe] as const] : []),
        ['X-Herald-Delivery-Id', id],
      ],
      boundaryKey: id,
      text: m.content.body,
      html: emailHtml({
        lang: m.locale,
        ...(title ? { title } : {}),
        body: m.content.body,
        ...(m.source.name ? { footer: m.source.name } : {}),
      }),
    });
    try {
      // The envelope is given, not derived from headers: exactly one RCPT, the checked address.
      await this.pool.send({ from: this.from.address, to: m.address }, raw);
      return { ok: true, status: 'sent', providerMessageId: messageId };
    } catch (err) {
      return { ok: false, error: smtpDeliveryError(err) };
    }
  }

  /**
   * A sender configured on a source or category, parsed once. One that is not exactly one
   * address fails the mail for good (sending it again changes nothing) with a message that
   * says what to fix; it never reaches a header.
   */
  private sender(value: string, field: 'From' | 'Reply-To'): Mailbox | DeliveryError {
    const key = `${field}\u0000${value}`;
    let parsed = this.senders.get(key);
    if (parsed === undefined) {
      try {
        parsed = parseMailbox(value);
      } catch (err) {
        parsed = new DeliveryError(
          `the ${field} configured for this source or category is not usable: ${(err as Error).message.slice(0, 200)}`,
          'permanent',
        );
      }
      if (this.senders.size >= SENDER_CACHE_MAX) this.senders.clear();
      this.senders.set(key, parsed);
    }
    return parsed;
  }
}

/** Delivery ids are UUIDs; anything else is reduced to what a Message-ID may hold. */
function safeId(deliveryId: string): string {
  return deliveryId.replace(/[^A-Za-z0-9._-]/g, '-');
}

function withSlash(base: string): string {
  return base.endsWith('/') ? base : `${base}/`;
}
