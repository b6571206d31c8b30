import type { Text } from './define-messages';
import type { Locale } from './locale';
import { common } from './messages/common';
import { center } from './messages/center';
import { consoleMessages } from './messages/console';

/**
 * Every text of the UI. An area adds its own `defineMessages(...)` module and lists it here
 * (the console: `messages/console.ts`); the key types follow.
 */
const areas = [common, center, consoleMessages] as const;

type KeysOf<T> = T extends { readonly en: infer E } ? keyof E & string : never;
export type MessageKey = KeysOf<(typeof areas)[number]>;

function merge(locale: Locale): Readonly<Record<MessageKey, Text>> {
  const out: Record<string, Text> = {};
  for (const area of areas) Object.assign(out, area[locale]);
  return out as Record<MessageKey, Text>;
}

export const DICTIONARIES: Readonly<Record<Locale, Readonly<Record<MessageKey, Text>>>> = {
  'zh-CN': merge('zh-CN'),
  en: merge('en'),
};
