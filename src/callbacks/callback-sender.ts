import type { OutboundHttp } from '../net/outbound-http.js';
import { OutboundError } from '../net/outbound-error.js';
import { retryAfterDelay } from '../net/retry-after.js';
import { sign } from '../webhooks/standard-webhooks.js';
import { callbackBody, type CallbackEvent } from './callback-events.js';

/** Where and how to send: a source's callback URL and signing secret. */
export interface CallbackTarget {
  readonly url: string;
  readonly secret: string;
}

/**
 * What one attempt came to:
 * - `ok`: the receiver answered 2xx;
 * - `retry`: 408, 429, 5xx, a timeout or a broken connection — worth trying again later
 *   (`retryAfterMs` when the receiver said how long to wait);
 * - `rejected`: any other answer (4xx, or a 3xx: redirects are never followed) — the receiver
 *   does not want this event, sending it again would not change that;
 * - `refused`: never sent, because the URL is not allowed (SSRF policy, not http/https …).
 */
export type CallbackResult =
  | { readonly kind: 'ok'; readonly status: number }
  | {
      readonly kind: 'retry';
      readonly error: string;
      /** The receiver's answer, when there was one. */
      readonly status?: number;
      readonly retryAfterMs?: number;
    }
  | { readonly kind: 'rejected'; readonly error: string; readonly status: number }
  | { readonly kind: 'refused'; readonly error: string };

/** A Retry-After beyond this is treated as this (a receiver cannot park events forever). */
const MAX_RETRY_AFTER_MS = 24 * 3600_000;

/** POSTs one event, Standard Webhooks signed with the time of this attempt. */
export async function sendCallback(
  http: OutboundHttp,
  target: CallbackTarget,
  event: CallbackEvent,
  now: number,
): Promise<CallbackResult> {
  const body = callbackBody(event);
  let headers: Record<string, string>;
  try {
    headers = {
      'content-type': 'application/json',
      ...sign({ id: event.id, timestamp: Math.floor(now / 1000), body, secret: target.secret }),
    };
  } catch (err) {
    // A malformed secret can only come from a hand-edited row: no attempt can succeed.
    return { kind: 'refused', error: `cannot sign: ${(err as Error).message}` };
  }
  try {
    const res = await http.request(target.url, { method: 'POST', headers, body });
    return classify(res.status, res.headers['retry-after'], now);
  } catch (err) {
    if (err instanceof OutboundError) {
      return err.transient
        ? { kind: 'retry', error: `${err.kind}: ${err.message}` }
        : { kind: 'refused', error: `${err.kind}: ${err.message}` };
    }
    return { kind: 'retry', error: err instanceof Error ? err.message : String(err) };
  }
}

export function classify(
  status: number,
  retryAfter: string | undefined,
  now: number,
): CallbackResult {
  if (status >= 200 && status < 300) return { kind: 'ok', status };
  if (status === 408 || status === 429 || status >= 500) {
    const wait = parseRetryAfter(retryAfter, now);
    return {
      kind: 'retry',
      error: `HTTP ${status}`,
      status,
      ...(wait !== null ? { retryAfterMs: wait } : {}),
    };
  }
  return { kind: 'rejected', status, error: `HTTP ${status}` };
}

/**
 * `Retry-After` as delay-seconds or an HTTP date, in ms from `now` (a past date: 0), at most
 * a day; null when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  const ms = retryAfterDelay(value, now);
  return ms === null ? null : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}
