/**
 * The quota day: daily quotas count deliveries per calendar day of the campus timezone
 * (HERALD_TIMEZONE), not of UTC or of the server, so they reset at the campus's midnight.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The calendar day `YYYY-MM-DD` in `timeZone` at the instant `at` (epoch ms). */
export function quotaDay(at: number, timeZone: string): string {
  const parts = formatter(timeZone).formatToParts(at);
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)!.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

// Days are 23 to 25 hours long across DST changes, so the next one starts within 26 hours.
const SEARCH_SPAN_MS = 26 * 3600_000;

/**
 * The first instant after `at` that belongs to the next day in `timeZone`: when today's quota
 * resets. Found by bisection on `quotaDay` rather than by offset arithmetic, so it is right in
 * zones whose midnight moves or is skipped by a DST change.
 */
export function nextQuotaReset(at: number, timeZone: string): number {
  const today = quotaDay(at, timeZone);
  let lo = at; // still today
  let hi = at + SEARCH_SPAN_MS; // already another day
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (quotaDay(mid, timeZone) === today) lo = mid;
    else hi = mid;
  }
  return hi;
}
