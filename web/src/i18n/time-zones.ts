import type { Locale } from './locale';

/**
 * Time zones as the web UI handles them: the device's, an account's (IANA names, as Herald
 * stores them: `GET /v1/me` → `timezone`), their names for a reader, and the zones offered
 * when a user picks theirs.
 */

/** The zone this browser runs in (what `Intl` uses when given none). */
export function deviceTimeZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** `zone` as this browser's `Intl` spells it, or null when the browser does not know it. */
export function knownTimeZone(zone: string | null | undefined): string | null {
  if (!zone) return null;
  try {
    return new Intl.DateTimeFormat('en', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

const offsetFormats = new Map<string, Intl.DateTimeFormat>();

/** Minutes `zone` is ahead of UTC at the instant `at` (epoch ms): 480 for Asia/Shanghai. */
export function offsetMinutes(zone: string, at: number): number {
  let f = offsetFormats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    offsetFormats.set(zone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(at)) p[part.type] = Number(part.value);
  const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
  return Math.round((wall - Math.floor(at / 1000) * 1000) / 60_000);
}

/**
 * Whether two zones show the same clock all year (Asia/Shanghai and Asia/Hong_Kong do): then
 * times need no hint that they are in another zone than the reader's device.
 */
export function sameClock(a: string, b: string, at = Date.now()): boolean {
  if (a === b) return true;
  const year = new Date(at).getUTCFullYear();
  return [at, Date.UTC(year, 0, 15), Date.UTC(year, 6, 15)].every(
    (t) => offsetMinutes(a, t) === offsetMinutes(b, t),
  );
}

/** `UTC+08:00`, `UTC−05:00`, `UTC+00:00` at the instant `at`. */
export function offsetLabel(zone: string, at = Date.now()): string {
  const minutes = offsetMinutes(zone, at);
  const abs = Math.abs(minutes);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `UTC${minutes < 0 ? '\u2212' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/**
 * Names readers know better than the ones CLDR gives: China's time is 北京时间 in Chinese
 * (CLDR: 中国标准时间), and UTC has no generic name (CLDR: "GMT+00:00").
 */
const OWN_NAMES: Readonly<Record<string, Readonly<Record<Locale, string>>>> = {
  'Asia/Shanghai': { 'zh-CN': '北京时间', en: 'Beijing Time' },
  UTC: { 'zh-CN': '协调世界时', en: 'Coordinated Universal Time' },
};

const names = new Map<string, string>();

/** The zone's name for a reader: 北京时间, 中欧时间, Eastern Time, Ürümqi Time … */
export function timeZoneName(zone: string, locale: Locale): string {
  const canonical = knownTimeZone(zone) ?? zone;
  const own = OWN_NAMES[canonical]?.[locale];
  if (own) return own;
  const key = `${locale}|${canonical}`;
  let name = names.get(key);
  if (name === undefined) {
    try {
      name =
        new Intl.DateTimeFormat(locale, { timeZone: canonical, timeZoneName: 'longGeneric' })
          .formatToParts(Date.now())
          .find((p) => p.type === 'timeZoneName')?.value ?? canonical;
    } catch {
      name = canonical;
    }
    // CLDR names some zones only by their offset ("GMT+03:00"): the IANA name says more.
    if (/^(GMT|UTC)([+\-\u2212]|$)/.test(name)) name = canonical;
    names.set(key, name);
  }
  return name;
}

/**
 * The zones a campus in China meets most: China and its neighbours, and where international
 * students and visiting staff come from. Any other zone can still be chosen from the full list.
 */
const COMMON_ZONES = [
  'Asia/Shanghai',
  'Asia/Urumqi',
  'Asia/Hong_Kong',
  'Asia/Taipei',
  'Asia/Tokyo',
  'Asia/Seoul',
  'Asia/Singapore',
  'Asia/Bangkok',
  'Asia/Jakarta',
  'Asia/Kolkata',
  'Asia/Karachi',
  'Asia/Tashkent',
  'Asia/Almaty',
  'Asia/Ulaanbaatar',
  'Asia/Dubai',
  'Europe/Moscow',
  'Europe/Istanbul',
  'Europe/Berlin',
  'Europe/Paris',
  'Europe/London',
  'Africa/Cairo',
  'Africa/Nairobi',
  'Africa/Lagos',
  'Africa/Johannesburg',
  'America/Sao_Paulo',
  'America/New_York',
  'America/Chicago',
  'America/Denver',
  'America/Los_Angeles',
  'Australia/Sydney',
  'Pacific/Auckland',
  'UTC',
] as const;

export interface TimeZoneOption {
  readonly zone: string;
  /** `UTC+08:00 北京时间 (Asia/Shanghai)` */
  readonly label: string;
}

export interface TimeZoneChoices {
  /** The common zones, with the account's and the device's among them, from west to east. */
  readonly common: readonly TimeZoneOption[];
  /** Every other zone this browser knows, by IANA name. */
  readonly others: readonly TimeZoneOption[];
}

/** The zones offered to pick from, labelled in `locale`; `include` are always among them. */
export function timeZoneChoices(locale: Locale, include: readonly string[]): TimeZoneChoices {
  const now = Date.now();
  const option = (zone: string, named: boolean): TimeZoneOption => ({
    zone,
    label: named
      ? `${offsetLabel(zone, now)} ${timeZoneName(zone, locale)} (${zone})`
      : `${offsetLabel(zone, now)} ${zone}`,
  });
  const seen = new Set<string>();
  const common: TimeZoneOption[] = [];
  for (const z of [...include, ...COMMON_ZONES]) {
    const zone = knownTimeZone(z);
    if (zone && !seen.has(zone)) {
      seen.add(zone);
      common.push(option(zone, true));
    } else if (!zone && include.includes(z) && !seen.has(z)) {
      // The account's zone, unknown to this browser: still shown, as Herald spells it.
      seen.add(z);
      common.push({ zone: z, label: z });
    }
  }
  const offset = (zone: string) => (knownTimeZone(zone) ? offsetMinutes(zone, now) : 0);
  common.sort((a, b) => offset(a.zone) - offset(b.zone) || a.zone.localeCompare(b.zone));
  const others: TimeZoneOption[] = [];
  const all =
    typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  for (const z of all) {
    const zone = knownTimeZone(z);
    if (zone && !seen.has(zone)) {
      seen.add(zone);
      others.push(option(zone, false));
    }
  }
  return { common, others };
}
