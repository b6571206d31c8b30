import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import { DICTIONARIES, type MessageKey } from './dictionary';
import { initialLocale, storeLocale, type Locale } from './locale';
import { formatDateTime, formatRelative } from './format-time';

export type Params = Readonly<Record<string, string | number>>;

export interface I18n {
  readonly locale: Locale;
  /** Switches the UI language and remembers it in this browser. */
  setLocale(locale: Locale): void;
  /** The text for `key` in the current language, with `{name}` placeholders filled. */
  t(key: MessageKey, params?: Params): string;
  /** A name given in several languages by the API (e.g. a category's), in the UI's one. */
  pick(names: Readonly<Record<string, string>>, fallback: string): string;
  dateTime(iso: string | Date): string;
  relative(iso: string | Date, now?: Date): string;
  number(n: number): string;
}

const I18nContext = createContext<I18n | null>(null);

export function I18nProvider({ children }: { children: ReactNode }) {
  const [locale, setLocaleState] = useState<Locale>(initialLocale);

  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);

  const setLocale = useCallback((next: Locale) => {
    storeLocale(next);
    setLocaleState(next);
  }, []);

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
    return {
      locale,
      setLocale,
      t,
      pick: (names, fallback) =>
        names[locale] ?? names[locale.split('-')[0]!] ?? names['zh-CN'] ?? names.en ?? fallback,
      dateTime: (d) => formatDateTime(toDate(d), locale),
      relative: (d, now = new Date()) => formatRelative(toDate(d), now, locale, t('time.justNow')),
      number: (n) => numbers.format(n),
    };
  }, [locale, setLocale]);

  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const i18n = useContext(I18nContext);
  if (!i18n) throw new Error('useI18n() outside <I18nProvider>');
  return i18n;
}
