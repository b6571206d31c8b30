/**
 * Which template locale to use for a recipient. Templates are looked up along a chain that
 * ends in the platform defaults, so every recipient gets some text.
 */

/** Locales every installation is expected to have templates for, tried last, in this order. */
export const FALLBACK_LOCALES = ['zh-CN', 'en'] as const;

/**
 * A BCP 47 tag of the kind Herald stores: language, optional script, optional region, in any
 * case (`zh-CN`, `en`, `zh-Hant-HK`, `es-419`, `zh-cn`). Canonicalise with `canonicalLocale`.
 */
export const LOCALE_PATTERN = '^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?$';

const localeRe = new RegExp(LOCALE_PATTERN);

const canonical = new Map<string, string | null>();

/** `zh-cn` → `zh-CN`, `zh-hant-hk` → `zh-Hant-HK`; null when the tag is not a locale. */
export function canonicalLocale(tag: string): string | null {
  let c = canonical.get(tag);
  if (c !== undefined) return c;
  c = null;
  if (localeRe.test(tag)) {
    try {
      c = Intl.getCanonicalLocales(tag)[0] ?? null;
    } catch {
      c = null;
    }
  }
  // Few distinct tags exist (users' and messages' locales); the bound only guards against abuse.
  if (canonical.size > 10_000) canonical.clear();
  canonical.set(tag, c);
  return c;
}

/**
 * The locales to try, best first, without duplicates: the message's locale and its bare
 * language (the producer chose it, so it overrides the user's), the user's locale and its bare
 * language, then zh-CN and en. `zh-HK` alone gives `zh-HK → zh → zh-CN → en`. Tags that are
 * not locales are skipped, so a bad value on a user or a message degrades to the defaults
 * instead of failing.
 */
export function localeChain(userLocale: string, messageLocale?: string | null): string[] {
  const chain: string[] = [];
  const add = (tag: string | undefined) => {
    if (tag !== undefined && !chain.includes(tag)) chain.push(tag);
  };
  for (const tag of [messageLocale, userLocale]) {
    const c = tag ? canonicalLocale(tag) : null;
    if (!c) continue;
    add(c);
    add(c.split('-')[0]);
  }
  for (const f of FALLBACK_LOCALES) add(f);
  return chain;
}
