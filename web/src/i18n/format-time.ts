import type { Locale } from './locale';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Times are shown in the device's time zone (the browser's `Intl` default), which is where the
 * reader is. Formatters are cached: creating one costs more than formatting with it.
 */
const cache = new Map<string, Intl.DateTimeFormat | Intl.RelativeTimeFormat>();

function dateFormat(locale: Locale, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `d|${locale}|${JSON.stringify(options)}`;
  let f = cache.get(key) as Intl.DateTimeFormat | undefined;
  if (!f) cache.set(key, (f = new Intl.DateTimeFormat(locale, options)));
  return f;
}

function relativeFormat(locale: Locale): Intl.RelativeTimeFormat {
  const key = `r|${locale}`;
  let f = cache.get(key) as Intl.RelativeTimeFormat | undefined;
  if (!f) cache.set(key, (f = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' })));
  return f;
}

/** Date and time in full: "2026年11月27日 09:05" / "Nov 27, 2026, 9:05 AM". */
export function formatDateTime(date: Date, locale: Locale): string {
  return dateFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(date);
}

/**
 * Short and relative for recent times ("刚刚", "3 分钟前", "3 minutes ago", "昨天"), the
 * date for older ones ("11月3日" / "Nov 3"; with the year when it is not this year's).
 */
export function formatRelative(date: Date, now: Date, locale: Locale, justNow: string): string {
  const diff = now.getTime() - date.getTime();
  if (diff < MINUTE && diff > -MINUTE) return justNow;
  const rtf = relativeFormat(locale);
  if (diff < HOUR && diff > 0) return rtf.format(-Math.round(diff / MINUTE), 'minute');
  if (diff < 12 * HOUR && diff > 0) return rtf.format(-Math.round(diff / HOUR), 'hour');
  const days = calendarDaysBetween(date, now);
  if (days === 0) return dateFormat(locale, { timeStyle: 'short' }).format(date);
  if (days > 0 && days < 7) return rtf.format(-days, 'day');
  const sameYear = date.getFullYear() === now.getFullYear();
  return dateFormat(
    locale,
    sameYear ? { month: 'short', day: 'numeric' } : { dateStyle: 'medium' },
  ).format(date);
}

function calendarDaysBetween(earlier: Date, later: Date): number {
  const a = Date.UTC(earlier.getFullYear(), earlier.getMonth(), earlier.getDate());
  const b = Date.UTC(later.getFullYear(), later.getMonth(), later.getDate());
  return Math.round((b - a) / DAY);
}
