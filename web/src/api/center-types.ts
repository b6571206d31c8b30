/** The message center's view of Herald's `/v1/me/…` answers (docs/api.md#end-users-session). */

import type { Locale } from '../i18n/locale';

export interface Me {
  readonly externalId: string;
  readonly name: string;
  readonly locale: string;
  readonly timezone: string;
  readonly roles: readonly string[];
  readonly orgPath: string;
}

export interface LoginAnswer {
  readonly token: string;
  readonly expiresAt: string;
  readonly user: { readonly externalId: string; readonly name: string; readonly locale: string };
}

export interface InboxItem {
  readonly id: string;
  readonly seq: number;
  readonly messageId: string;
  readonly category: string;
  readonly source: { readonly key: string; readonly name: string };
  readonly title: string;
  readonly body: string;
  readonly url: string | null;
  readonly createdAt: string;
  readonly readAt: string | null;
}

export interface InboxPage {
  readonly items: readonly InboxItem[];
  readonly nextCursor: string | null;
  readonly unread: number;
}

export interface CategoryPreference {
  readonly key: string;
  readonly name: Readonly<Record<string, string>>;
  readonly mandatory: boolean;
  readonly enabled: boolean;
  readonly channels: readonly string[];
  readonly defaultChannels: readonly string[];
  readonly customized: boolean;
}

export interface Contacts {
  readonly email: string | null;
  readonly phone: string | null;
  readonly wechat: boolean;
  readonly wecom: boolean;
  readonly dingtalk: boolean;
  readonly feishu: boolean;
}

export interface Preferences {
  readonly locale: string;
  /** IANA time zone: where times are shown, and dates in messages are written. */
  readonly timezone: string;
  readonly contacts: Contacts;
  readonly categories: readonly CategoryPreference[];
}

export interface PreferencesChange {
  readonly locale?: Locale;
  readonly timezone?: string;
  readonly categories?: readonly {
    readonly key: string;
    readonly enabled?: boolean;
    readonly channels?: readonly string[] | null;
  }[];
}
