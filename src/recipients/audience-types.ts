/**
 * Who a message goes to. The parts are a union: a user is in the audience when any part
 * selects them; each user is reached once however many parts select them.
 */
export interface AudienceFilter {
  /** Users having any of these roles. */
  readonly roles?: readonly string[];
  /** Users whose orgPath is this path or below it ("农学院" matches "农学院/植物保护系/2024级1班"). */
  readonly orgPrefix?: string;
  /** Users having all of these attribute values. */
  readonly attributes?: Readonly<Record<string, string>>;
}

export interface Audience {
  /** External ids (学号/工号). */
  readonly users?: readonly string[];
  /** Group keys. */
  readonly groups?: readonly string[];
  readonly filter?: AudienceFilter;
  readonly all?: boolean;
}

/** A user as fan-out and delivery see them: who, language, and where to reach them. */
export interface Recipient {
  readonly id: string;
  readonly externalId: string;
  readonly name: string;
  readonly locale: string;
  readonly timezone: string;
  readonly email: string | null;
  readonly phone: string | null;
  readonly wechatOpenId: string | null;
  readonly wecomUserId: string | null;
  readonly dingtalkUserId: string | null;
  readonly feishuUserId: string | null;
}
