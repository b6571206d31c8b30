import { isApiError } from '../api/api-error';
import { DICTIONARIES, type MessageKey } from './dictionary';
import type { I18n } from './i18n-provider';

/** What a person reads about an error: a translated headline, and Herald's detail if it adds to it. */
export interface ErrorText {
  readonly message: string;
  /** Herald's own words (English), shown under the message when they say more. */
  readonly detail: string | null;
}

// Codes whose translation already says all that Herald's detail would.
const SELF_EXPLANATORY = new Set([
  'network',
  'unauthenticated',
  'too-many-requests',
  'unavailable',
  'internal',
  'not-found',
]);

function isMessageKey(key: string): key is MessageKey {
  return key in DICTIONARIES.en;
}

/**
 * What some codes mean at one place, in words that fit it: a 409 `conflict` when deleting a
 * source is "it has sent messages; revoke its keys instead", not the general "changed meanwhile".
 */
export type ErrorWords = Readonly<Partial<Record<string, ErrorText>>>;

/**
 * Problem codes are translated as `error.<code>` (messages/common.ts), or by the place's own
 * `words` for that code; others show Herald's title.
 */
export function errorText(error: unknown, i18n: I18n, words?: ErrorWords): ErrorText {
  if (!isApiError(error)) return { message: i18n.t('error.title'), detail: null };
  const own = words?.[error.code];
  if (own) return own;
  const key = `error.${error.code}`;
  const message = isMessageKey(key)
    ? i18n.t(key)
    : error.code.startsWith('http-')
      ? i18n.t('error.unknown', { status: error.status })
      : error.title;
  const detail =
    SELF_EXPLANATORY.has(error.code) || error.detail === null || error.detail === error.title
      ? null
      : error.detail;
  return { message, detail };
}
