import nodemailer from 'nodemailer';
import {
  DeliveryError,
  type ChannelProvider,
  type OutboundMessage,
  type SendOutcome,
} from '../channel-provider.js';
import { headerText, isPlausibleAddress, parseMailbox, type Mailbox } from './email-headers.js';
import { emailHtml } from './email-layout.js';
import { smtpDeliveryError } from './smtp-error.js';

export interface EmailProviderOptions {
  /** `smtp://` (STARTTLS when offered) or `smtps://`, with `user:pass@` for AUTH. */
  readonly url: string;
  /** `Herald <noreply@example.edu>` or a bare address. */
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

/**
 * The email channel over SMTP through a pool of connections to one relay. Each mail carries a
 * text and an HTML part, `Message-ID: <deliveryId@herald>` (the same on every retry, so the
 * receiving side can drop a duplicate after a crash between send and record) and a
 * List-Unsubscribe pointing at the preferences. Nothing from a message reaches a header
 * unchecked: the recipient must be one plain address and is the envelope's only RCPT; subject
 * and names lose their control characters. Reply classes decide the outcome: 4xx and
 * connection failures transient, 5xx permanent. The pool never re-sends on its own
 * (`maxRequeues: 0`): retries belong to the retry policy, where they are counted.
 */
export class EmailProvider implements ChannelProvider {
  readonly name = 'smtp';
  private readonly transport: ReturnType<typeof createPool>;
  private readonly from: Mailbox;
  private readonly unsubscribe: string | null;
  private readonly concurrency: number;
  private closed = false;

  constructor(options: EmailProviderOptions) {
    this.from = parseMailbox(options.from);
    this.unsubscribe = options.publicUrl
      ? `<${new URL('v1/me/preferences', withSlash(options.publicUrl)).href}>`
      : null;
    const pool = options.pool ?? DEFAULT_POOL;
    this.concurrency = pool.maxConnections;
    this.transport = createPool(options, pool);
  }

  async send(batch: readonly OutboundMessage[]): Promise<SendOutcome[]> {
    const outcomes: SendOutcome[] = new Array<SendOutcome>(batch.length);
    let next = 0;
    // As many mails in flight as the pool has connections: the rest wait here rather than
    // in nodemailer's queue, so a batch never holds more composed messages than it can send.
    const lane = async (): Promise<void> => {
      while (next < batch.length) {
        const i = next++;
        outcomes[i] = await this.sendOne(batch[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, batch.length) }, lane));
    return outcomes;
  }

  /** Closes the pooled connections; mails still in flight finish first. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.transport.close();
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
    const id = safeId(m.deliveryId);
    const subject = headerText(m.content.subject ?? m.content.title ?? '');
    const title = m.content.title ?? m.content.subject;
    try {
      const info = await this.transport.sendMail({
        from: this.from,
        to: m.address,
        // The envelope is given, not derived from headers: exactly one RCPT, the checked address.
        envelope: { from: this.from.address, to: [m.address] },
        subject,
        messageId: `<${id}@herald>`,
        text: m.content.body,
        html: emailHtml({
          lang: m.locale,
          ...(title ? { title } : {}),
          body: m.content.body,
          ...(m.source.name ? { footer: m.source.name } : {}),
        }),
        headers: {
          'X-Herald-Delivery-Id': id,
          ...(this.unsubscribe ? { 'List-Unsubscribe': this.unsubscribe } : {}),
        },
      });
      return { ok: true, status: 'sent', providerMessageId: info.messageId };
    } catch (err) {
      return { ok: false, error: smtpDeliveryError(err) };
    }
  }
}

function createPool(
  options: EmailProviderOptions,
  pool: { readonly maxConnections: number; readonly maxMessages: number },
) {
  return nodemailer.createTransport({
    url: options.url,
    pool: true,
    maxConnections: pool.maxConnections,
    maxMessages: pool.maxMessages,
    maxRequeues: 0,
    connectionTimeout: options.timeouts?.connectMs ?? 10_000,
    greetingTimeout: options.timeouts?.greetingMs ?? 10_000,
    socketTimeout: options.timeouts?.socketMs ?? 30_000,
    // Our messages carry no attachments; no message may make the sender read files or URLs.
    disableFileAccess: true,
    disableUrlAccess: true,
  });
}

/** Delivery ids are UUIDs; anything else is reduced to what a Message-ID may hold. */
function safeId(deliveryId: string): string {
  return deliveryId.replace(/[^A-Za-z0-9._-]/g, '-');
}

function withSlash(base: string): string {
  return base.endsWith('/') ? base : `${base}/`;
}
