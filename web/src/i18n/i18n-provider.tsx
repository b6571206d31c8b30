import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import { DICTIONARIES, type MessageKey } from './dictionary';
import { initialLocale, storeLocale, type Locale } from './locale';
import { formatClock, formatDateTime, formatRelative } from './format-time';
import { deviceTimeZone, knownTimeZone, sameClock, timeZoneName } from './time-zones';

export type Params = Readonly<Record<string, string | number>>;

export interface I18n {
  readonly locale: Locale;
  /** Switches the UI language and remembers it in this browser. */
  setLocale(locale: Locale): void;
  /** The text for `key` in the current language, with `{name}` placeholders filled. */
  t(key: MessageKey, params?: Params): string;
  /** A name given in several languages by the API (e.g. a category's), in the UI's one. */
  pick(names: Readonly<Record<string, string>>, fallback: string): string;
  /**
   * Where times are shown: the signed-in account's zone (IANA), else the device's. Every
   * formatter below uses it.
   */
  readonly timeZone: string;
  /** Whether `timeZone` shows another clock than this device: times then deserve a hint. */
  readonly foreignZone: boolean;
  /** The zone this device is set to. */
  readonly deviceTimeZone: string;
  /** The account's zone (from `GET /v1/me` or a change in preferences); null: the device's. */
  setTimeZone(zone: string | null): void;
  /** A zone's name for a reader (北京时间, Central European Time …); default: `timeZone`. */
  zoneName(zone?: string): string;
  /**
   * "2026年11月27日 09:05"; with `zone: true` and a `foreignZone`, the zone's name follows
   * ("2026年11月27日 09:05（北京时间）") for where a time is read on its own.
   */
  dateTime(iso: string | Date, options?: { readonly zone?: boolean }): string;
  /** The clock time only, "09:05". */
  clock(iso: string | Date): string;
  relative(iso: string | Date, now?: Date): string;
  number(n: number): string;
}

const I18nContext = createContext<I18n | null>(null);

export function I18nProvider({ children }: { children: ReactNode }) {
  const [locale, setLocaleState] = useState<Locale>(initialLocale);
  const [accountZone, setAccountZone] = useState<string | null>(null);

  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);

  const setLocale = useCallback((next: Locale) => {
    storeLocale(next);
    setLocaleState(next);
  }, []);

  // A zone this browser does not know (an older ICU) is shown in the device's instead.
  const setTimeZone = useCallback((zone: string | null) => setAccountZone(knownTimeZone(zone)), []);

  const value = useMemo<I18n>(() => {
    const dictionary = DICTIONARIES[locale];
    const plurals = new Intl.PluralRules(locale);
    const numbers = new Intl.NumberFormat(locale);
    const t = (key: MessageKey, params: Params = {}): string => {
      const text = dictionary[key];
      const template =
        typeof text === 'string'
          ? text
          : plurals.select(Number(params.count ?? 0)) === 'one'
            ? text.one
            : text.other;
      return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
        params[name] === undefined ? whole : String(params[name]),
      );
    };
    const toDate = (d: string | Date) => (typeof d === 'string' ? new Date(d) : d);
    const device = deviceTimeZone();
    const timeZone = accountZone ?? device;
    const foreignZone = !sameClock(timeZone, device);
    const zoneName = (zone = timeZone) => timeZoneName(zone, locale);
    return {
      locale,
      setLocale,
      t,
      pick: (names, fallback) =>
        names[locale] ?? names[locale.split('-')[0]!] ?? names['zh-CN'] ?? names.en ?? fallback,
      timeZone,
      foreignZone,
      deviceTimeZone: device,
      setTimeZone,
      zoneName,
      dateTime: (d, options = {}) => {
        const text = formatDateTime(toDate(d), locale, timeZone);
        return options.zone && foreignZone
          ? t('time.inZone', { time: text, zone: zoneName() })
          : text;
      },
      clock: (d) => formatClock(toDate(d), locale, timeZone),
      relative: (d, now = new Date()) =>
        formatRelative(toDate(d), now, locale, timeZone, t('time.justNow')),
      number: (n) => numbers.format(n),
    };
  }, [locale, setLocale, accountZone, setTimeZone]);

  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const i18n = useContext(I18nContext);
  if (!i18n) throw new Error('useI18n() outside <I18nProvider>');
  return i18n;
}
