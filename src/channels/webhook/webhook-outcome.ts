import { OutboundError } from '../../net/outbound-error.js';
import type { OutboundResponse } from '../../net/outbound-http.js';
import { retryAfterDelay } from '../../net/retry-after.js';
import { DeliveryError, type SendOutcome } from '../channel-provider.js';

/** A Retry-After longer than this is shortened to it: a receiver cannot park a provider for days. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * What a receiver's answer means for the delivery:
 * - 2xx: sent; the provider message id is a JSON `id` in the answer, when there is a plain one;
 * - 429: transient, with the receiver's Retry-After as the wait;
 * - 408, 425 and 5xx: transient (a 503's Retry-After is honoured too);
 * - 3xx: permanent, redirects are never followed (the operator configures the final URL);
 * - other 4xx and anything else: permanent, sending the same request again cannot help.
 * Nothing of the answer's body reaches the error message (it is untrusted).
 */
export function outcomeOfResponse(res: OutboundResponse, origin: string, now: number): SendOutcome {
  const { status } = res;
  if (status >= 200 && status < 300) {
    return { ok: true, status: 'sent', providerMessageId: receiverId(res) };
  }
  const what = `HTTP ${status} from ${origin}`;
  if (status === 429 || status === 408 || status === 425 || (status >= 500 && status < 600)) {
    const wait = retryAfterMs(res.headers['retry-after'], now);
    const message = wait === undefined ? what : `${what} (Retry-After ${Math.ceil(wait / 1000)} s)`;
    return { ok: false, error: new DeliveryError(message, 'transient', wait) };
  }
  if (status >= 300 && status < 400) {
    return {
      ok: false,
      error: new DeliveryError(
        `${what}: redirects are not followed (configure the final URL)`,
        'permanent',
      ),
    };
  }
  return { ok: false, error: new DeliveryError(what, 'permanent') };
}

/**
 * A failed call: a refused address, a bad URL or payload is permanent (it needs a
 * configuration change); a timeout, a refused or broken connection is transient.
 */
export function outcomeOfError(err: unknown): SendOutcome {
  if (err instanceof OutboundError) {
    if (err.kind === 'refused-address') {
      return {
        ok: false,
        error: new DeliveryError(
          `${err.message}; an operator can allow the network with HERALD_OUTBOUND_ALLOW_CIDRS`,
          'permanent',
          undefined,
          { cause: err },
        ),
      };
    }
    return {
      ok: false,
      error: new DeliveryError(err.message, err.transient ? 'transient' : 'permanent', undefined, {
        cause: err,
      }),
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return {
    ok: false,
    error: new DeliveryError(`webhook call failed: ${message}`, 'transient', undefined, {
      cause: err,
    }),
  };
}

/**
 * Retry-After in either form HTTP allows, delay-seconds or an HTTP-date, as milliseconds from
 * `now`; undefined when absent, unreadable or already past. Capped at MAX_RETRY_AFTER_MS.
 */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  const ms = retryAfterDelay(value, now);
  return ms !== null && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : undefined;
}

/** `{"id": "…"}` in a 2xx answer, when it is short printable ASCII (or a number). */
function receiverId(res: OutboundResponse): string | null {
  if (res.truncated || res.body === '') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || !('id' in parsed)) return null;
  const id = (parsed as { id: unknown }).id;
  const text = typeof id === 'number' && Number.isFinite(id) ? String(id) : id;
  return typeof text === 'string' && /^[\x21-\x7e]{1,128}$/.test(text) ? text : null;
}
