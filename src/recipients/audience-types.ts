/**
 * Users matching every part that is set: any of the roles, AND in any of the org units, AND all
 * of the attribute values. A filter that sets no part selects nobody.
 */
export interface AudienceFilter {
  /** Users having any of these roles. */
  readonly roles?: readonly string[];
  /**
   * Users whose orgPath is this path or below it ("农学院" matches "农学院/植物保护系/2024级1班").
   * The one-unit spelling of `orgPrefixes`; with both, the org part is the union of all of them.
   */
  readonly orgPrefix?: string;
  /** Users at or below any of these units (e.g. three classes): a union, each user once. */
  readonly orgPrefixes?: readonly string[];
  /** Users having all of these attribute values. */
  readonly attributes?: Readonly<Record<string, string>>;
}

/**
 * Who a message goes to. The parts are a union: a user is in the audience when any part
 * selects them; each user is reached once however many parts select them.
 */
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
