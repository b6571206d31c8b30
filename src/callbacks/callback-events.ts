/**
 * Status callbacks: what a source is told about its messages, and in which shape. The wire
 * format follows Standard Webhooks: the body is `{type, timestamp, data}`, the event id travels
 * in the `webhook-id` header (stable across retries) and the body is signed (see
 * docs/callbacks.md).
 */

export const CALLBACK_EVENT_TYPES = [
  'message.accepted',
  'delivery.sent',
  'delivery.delivered',
  'delivery.failed',
  'delivery.suppressed',
  'delivery.read',
] as const;

export type CallbackEventType = (typeof CALLBACK_EVENT_TYPES)[number];

export const isCallbackEventType = (value: string): value is CallbackEventType =>
  (CALLBACK_EVENT_TYPES as readonly string[]).includes(value);

/** The `data` of every event but `ping`; fields absent when they do not apply. */
export interface CallbackEventData {
  readonly messageId: string;
  readonly deliveryId?: string;
  readonly channel?: string;
  /** Herald's user id. */
  readonly userId?: string;
  /** The recipient's campus id (the one producers address users by). */
  readonly recipient?: { readonly externalId: string };
  /**
   * message.accepted: `accepted` or `scheduled`; delivery.*: the delivery status (`sent`,
   * `delivered`, `failed`, `dead`, `suppressed`), or `read`.
   */
  readonly status: string;
  /** The category (message.accepted only). */
  readonly category?: string;
  /** Why a delivery was suppressed, failed or died (`no-address`, `opted-out`, `max-attempts` …). */
  readonly reason?: string;
  readonly attempts?: number;
  readonly provider?: string;
  readonly providerMessageId?: string;
  /** The last error, for failed deliveries. */
  readonly error?: string;
}

/** One event as stored in a callback job and sent in one request. */
export interface CallbackEvent {
  /** UUIDv7 made at emission: the `webhook-id` of every attempt. */
  readonly id: string;
  readonly type: CallbackEventType | 'ping';
  /** When the state changed (ISO 8601); receivers order events by it. */
  readonly timestamp: string;
  readonly data: CallbackEventData | Readonly<Record<string, unknown>>;
}

/** The request body: exactly these three members, as Standard Webhooks recommends. */
export function callbackBody(event: CallbackEvent): string {
  return JSON.stringify({ type: event.type, timestamp: event.timestamp, data: event.data });
}

/** Payload of a `callback` job: events of one source that travel (and retry) together. */
export interface CallbackJobPayload {
  readonly sourceId: string;
  /** Attempts already made for these events. */
  readonly attempt: number;
  readonly events: readonly CallbackEvent[];
  /**
   * Set on events that exhausted their attempts while others of their job succeeded: the job
   * is moved to the dead letters with this reason as soon as it is leased.
   */
  readonly bury?: string;
}

export const CALLBACK_TOPIC = 'callback';
