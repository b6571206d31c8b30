/** The languages of the web UI, in the order the language switch lists them. */
export const LOCALES = ['zh-CN', 'en'] as const;
export type Locale = (typeof LOCALES)[number];

/** Each language's own name, the same whatever the UI's language. */
export const LOCALE_NAMES: Readonly<Record<Locale, string>> = { 'zh-CN': '中文', en: 'English' };

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

/** Any BCP 47 tag (a browser's, an account's) → the closest UI language. */
export function closestLocale(tag: string | null | undefined): Locale | null {
  if (!tag) return null;
  const lower = tag.toLowerCase();
  if (lower.startsWith('zh')) return 'zh-CN';
  if (lower.startsWith('en')) return 'en';
  return null;
}

const STORAGE_KEY = 'herald.locale';

/** The language chosen in this browser before, if any (localStorage may be unavailable). */
export function storedLocale(): Locale | null {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return isLocale(value) ? value : null;
  } catch {
    return null;
  }
}

export function storeLocale(locale: Locale): void {
  try {
    localStorage.setItem(STORAGE_KEY, locale);
  } catch {
    // Private mode or storage disabled: the choice lasts for this page only.
  }
}

/** Stored choice, else the browser's languages in order, else Chinese. */
export function initialLocale(): Locale {
  const stored = storedLocale();
  if (stored) return stored;
  const tags = navigator.languages?.length ? navigator.languages : [navigator.language];
  for (const tag of tags) {
    const match = closestLocale(tag);
    if (match) return match;
  }
  return 'zh-CN';
}
