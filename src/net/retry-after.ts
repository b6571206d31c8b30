/**
 * A `Retry-After` header (RFC 9110 §10.2.3), delay-seconds or an HTTP-date, as milliseconds
 * from `now`: negative or 0 for a date already past, null when absent or unreadable. Callers
 * decide what a past date means and how long a receiver may make them wait.
 */
export function retryAfterDelay(value: string | undefined, now: number): number | null {
  const text = value?.trim();
  if (!text) return null;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP-date names its day and month ("Wed, 21 Oct 2015 07:28:00 GMT"); "-5" or
  // "12-31-2099" are not ones, although Date.parse reads them as dates.
  const at = /[A-Za-z]/.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(at) ? null : at - now;
}
