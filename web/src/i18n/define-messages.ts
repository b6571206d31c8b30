/** One text in one language: plain, or plural forms chosen by `Intl.PluralRules`. */
export type Text = string | { readonly one: string; readonly other: string };

/**
 * One area's texts in both languages. The English set names the keys; the Chinese set must have
 * exactly the same ones (a missing or extra key is a type error), so no raw key reaches a screen.
 * Placeholders are `{name}`.
 */
export function defineMessages<const E extends Record<string, Text>>(
  en: E,
  zhCN: { readonly [K in keyof E]: Text },
): { readonly en: E; readonly 'zh-CN': { readonly [K in keyof E]: Text } } {
  return { en, 'zh-CN': zhCN };
}
