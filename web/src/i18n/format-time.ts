import type { Locale } from './locale';
import { offsetMinutes } from './time-zones';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Times are shown in the zone of the signed-in account (`GET /v1/me` → `timezone`), not the
 * device's: that is the zone Herald writes dates into messages with, so the inbox and the
 * message agree ("考试 09:00" in a message sent at 08:00 北京时间 reads right on a phone set to
 * Berlin). Before anyone signs in, the device's zone. Every formatter takes the zone explicitly;
 * the i18n provider passes the current one. Formatters are cached: creating one costs more than
 * formatting with it.
 */
const cache = new Map<string, Intl.DateTimeFormat | Intl.RelativeTimeFormat>();

function dateFormat(
  locale: Locale,
  timeZone: string,
  options: Intl.DateTimeFormatOptions,
): Intl.DateTimeFormat {
  const key = `d|${locale}|${timeZone}|${JSON.stringify(options)}`;
  let f = cache.get(key) as Intl.DateTimeFormat | undefined;
  if (!f) cache.set(key, (f = new Intl.DateTimeFormat(locale, { ...options, timeZone })));
  return f;
}

function relativeFormat(locale: Locale): Intl.RelativeTimeFormat {
  const key = `r|${locale}`;
  let f = cache.get(key) as Intl.RelativeTimeFormat | undefined;
  if (!f) cache.set(key, (f = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' })));
  return f;
}

/** Date and time in full: "2026年11月27日 09:05" / "Nov 27, 2026, 9:05 AM". */
export function formatDateTime(date: Date, locale: Locale, timeZone: string): string {
  return dateFormat(locale, timeZone, { dateStyle: 'medium', timeStyle: 'short' }).format(date);
}

/** The clock time only: "09:05" / "09:05 AM" (an hour's label on a chart). */
export function formatClock(date: Date, locale: Locale, timeZone: string): string {
  return dateFormat(locale, timeZone, { hour: '2-digit', minute: '2-digit' }).format(date);
}

/**
 * Short and relative for recent times ("刚刚", "3 分钟前", "3 minutes ago", "昨天"), the
 * date for older ones ("11月3日" / "Nov 3"; with the year when it is not this year's). Days
 * are calendar days in `timeZone`: "昨天" is yesterday there.
 */
export function formatRelative(
  date: Date,
  now: Date,
  locale: Locale,
  timeZone: string,
  justNow: string,
): string {
  const diff = now.getTime() - date.getTime();
  if (diff < MINUTE && diff > -MINUTE) return justNow;
  const rtf = relativeFormat(locale);
  if (diff < HOUR && diff > 0) return rtf.format(-Math.round(diff / MINUTE), 'minute');
  if (diff < 12 * HOUR && diff > 0) return rtf.format(-Math.round(diff / HOUR), 'hour');
  const day = calendarDay(date, timeZone);
  const today = calendarDay(now, timeZone);
  const days = Math.round((Date.UTC(...today) - Date.UTC(...day)) / DAY);
  if (days === 0) return dateFormat(locale, timeZone, { timeStyle: 'short' }).format(date);
  if (days > 0 && days < 7) return rtf.format(-days, 'day');
  return dateFormat(
    locale,
    timeZone,
    day[0] === today[0] ? { month: 'short', day: 'numeric' } : { dateStyle: 'medium' },
  ).format(date);
}

/** [year, month index 0–11, day] of the calendar day `date` falls on in `timeZone`. */
function calendarDay(date: Date, timeZone: string): [number, number, number] {
  const wall = new Date(date.getTime() + offsetMinutes(timeZone, date.getTime()) * MINUTE);
  return [wall.getUTCFullYear(), wall.getUTCMonth(), wall.getUTCDate()];
}

/**
 * The instant a wall-clock time in `timeZone` stands for: 2026-11-27 09:00 in Asia/Shanghai →
 * 01:00Z. Like Temporal's "compatible" choice: a time that occurs twice (clocks set back) is
 * the earlier one; a time skipped (clocks set forward) is read with the offset before the skip.
 */
export function wallTimeInstant(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  timeZone: string,
): Date {
  const asUtc = Date.UTC(year, month - 1, day, hour, minute);
  const before = offsetMinutes(timeZone, asUtc - DAY);
  const after = offsetMinutes(timeZone, asUtc + DAY);
  const fitting = [before, after].filter((o) => offsetMinutes(timeZone, asUtc - o * MINUTE) === o);
  return new Date(asUtc - (fitting.length > 0 ? Math.max(...fitting) : before) * MINUTE);
}

/** `yyyy-mm-dd` of an `<input type="date">`, read in `timeZone` → that day's first instant. */
export function dateInputInstant(value: string, timeZone: string, plusDays = 0): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return null;
  return wallTimeInstant(Number(m[1]), Number(m[2]), Number(m[3]) + plusDays, 0, 0, timeZone);
}

/** `yyyy-mm-ddThh:mm` of an `<input type="datetime-local">`, read in `timeZone` → an instant. */
export function dateTimeInputInstant(value: string, timeZone: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi] = m.map(Number) as [number, number, number, number, number, number];
  return wallTimeInstant(y, mo, d, h, mi, timeZone);
}

/** An instant as the `yyyy-mm-ddThh:mm` value of a datetime-local input showing `timeZone`. */
export function dateTimeInputValue(date: Date, timeZone: string): string {
  const wall = new Date(date.getTime() + offsetMinutes(timeZone, date.getTime()) * MINUTE);
  return wall.toISOString().slice(0, 16);
}
