import type { DeliveryError } from '../channels/channel-provider.js';

export interface RetryOptions {
  readonly baseMs: number;
  readonly capMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { baseMs: 2_000, capMs: 15 * 60_000 };

/**
 * Exponential backoff with "equal jitter": half the window fixed, half random, so retries of
 * many deliveries that failed together spread out instead of hammering the provider at once.
 */
export function backoffMs(
  attempt: number,
  opts: RetryOptions = DEFAULT_RETRY,
  random: () => number = Math.random,
): number {
  const window = Math.min(opts.capMs, opts.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(window / 2 + random() * (window / 2));
}

export type RetryDecision =
  | { readonly kind: 'retry'; readonly at: number }
  | { readonly kind: 'failed' }
  | { readonly kind: 'dead' };

/**
 * What to do after a failed attempt number `attempt` (1-based): permanent errors fail at once;
 * transient ones retry until `maxAttempts`, then go to the dead letters. A provider's
 * Retry-After is a floor, never shortened by the backoff.
 */
export function decideRetry(
  error: DeliveryError,
  attempt: number,
  maxAttempts: number,
  now: number,
  opts: RetryOptions = DEFAULT_RETRY,
  random: () => number = Math.random,
): RetryDecision {
  if (error.kind === 'permanent') return { kind: 'failed' };
  if (attempt >= maxAttempts) return { kind: 'dead' };
  const wait = Math.max(backoffMs(attempt, opts, random), error.retryAfterMs ?? 0);
  return { kind: 'retry', at: now + wait };
}
