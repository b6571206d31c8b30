import type { OutboundMessage } from '../channel-provider.js';

/** The event type of a message pushed on the `webhook` channel. */
export const WEBHOOK_MESSAGE_EVENT = 'message.created';

/**
 * The JSON body a receiver gets for one delivery on the `webhook` channel (documented in
 * docs/providers.md). The envelope follows the Standard Webhooks payload convention
 * (`type`, `timestamp`, `data`); `data.deliveryId` equals the `webhook-id` header, the same on
 * every retry, so a receiver drops duplicates by it.
 */
export interface WebhookMessagePayload {
  readonly type: typeof WEBHOOK_MESSAGE_EVENT;
  /** ISO 8601 time of this attempt (a retry has a later one). */
  readonly timestamp: string;
  readonly data: {
    readonly deliveryId: string;
    readonly messageId: string;
    readonly category: string;
    readonly source: { readonly key: string; readonly name: string };
    readonly locale: string;
    readonly recipient: { readonly id: string; readonly externalId: string; readonly name: string };
    readonly content: {
      readonly subject?: string;
      readonly title?: string;
      readonly body: string;
      readonly url?: string;
    };
  };
}

export function webhookPayload(m: OutboundMessage, at: Date): WebhookMessagePayload {
  const { subject, title, body, url } = m.content;
  return {
    type: WEBHOOK_MESSAGE_EVENT,
    timestamp: at.toISOString(),
    data: {
      deliveryId: m.deliveryId,
      messageId: m.messageId,
      category: m.category,
      source: { key: m.source.key, name: m.source.name },
      locale: m.locale,
      recipient: { id: m.userId, externalId: m.recipient.externalId, name: m.recipient.name },
      content: {
        ...(subject !== undefined ? { subject } : {}),
        ...(title !== undefined ? { title } : {}),
        body,
        ...(url !== undefined ? { url } : {}),
      },
    },
  };
}
