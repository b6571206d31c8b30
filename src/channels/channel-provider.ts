import type { Channel } from './channel.js';

/** What a provider gets for one delivery: everything already rendered and addressed. */
export interface OutboundMessage {
  /** Stable across retries: providers that support idempotency receive it as their key. */
  readonly deliveryId: string;
  readonly messageId: string;
  readonly channel: Channel;
  readonly userId: string;
  /** The recipient as the campus knows them (student or staff number, name). */
  readonly recipient: { readonly externalId: string; readonly name: string };
  /** The address on this channel: email, phone, openid … (the user id for in_app). */
  readonly address: string;
  readonly category: string;
  readonly source: { readonly key: string; readonly name: string };
  readonly locale: string;
  /**
   * Email only: the sender chosen by the source, else the category; absent → the provider's
   * own. Both are mailboxes as configured (`Name <addr>` or `addr`), checked by the provider.
   */
  readonly sender?: { readonly from?: string; readonly replyTo?: string };
  readonly content: {
    readonly subject?: string;
    readonly title?: string;
    readonly body: string;
    readonly url?: string;
  };
}

export type SendOutcome =
  | {
      readonly ok: true;
      /** `delivered` when the provider's acceptance is final (in-app); `sent` otherwise. */
      readonly status: 'sent' | 'delivered';
      readonly providerMessageId: string | null;
    }
  | { readonly ok: false; readonly error: DeliveryError };

/**
 * A provider failure, classified by the provider (it knows its protocol); the retry policy
 * decides what to do with it.
 */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    message: string,
    readonly kind: 'transient' | 'permanent',
    /** Provider-asked wait before the next try (e.g. Retry-After on 429). */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown; notAttempted?: boolean },
  ) {
    super(message, options);
    this.notAttempted = options?.notAttempted ?? false;
  }

  /**
   * The message never reached the provider: a guard held it back (circuit open, rate limit,
   * a Retry-After pause). It is retried later without using up one of its attempts.
   */
  readonly notAttempted: boolean;
}

/**
 * A channel provider. Sends a batch (providers that can do better than one call per message
 * — a database sink, a vendor with bulk APIs — do; others send one by one) and returns one
 * outcome per message, in order. It never throws for a single message's failure.
 */
export interface ChannelProvider {
  /** Shown on deliveries and in metrics, e.g. `in-app`, `sandbox`, `aliyun-sms`. */
  readonly name: string;
  send(batch: readonly OutboundMessage[]): Promise<SendOutcome[]>;
  /** Releases connections (pools, sockets) at shutdown. */
  close?(): Promise<void>;
}
