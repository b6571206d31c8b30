/**
 * The console's view of Herald's admin answers (docs/api.md: "Admins", "Console APIs").
 * Times are ISO 8601 strings in UTC; the screens show them in the reader's time zone.
 */

export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | null;
}

export type Names = Readonly<Record<string, string>>;

export type Priority = 'urgent' | 'normal' | 'bulk';

export const CHANNELS = [
  'in_app',
  'email',
  'sms',
  'wechat',
  'wecom',
  'dingtalk',
  'feishu',
  'web_push',
  'webhook',
] as const;
export type Channel = (typeof CHANNELS)[number];

export interface LoginAnswer {
  readonly token: string;
  readonly expiresAt: string;
  readonly user: {
    readonly externalId: string;
    readonly name: string;
    readonly locale: string;
    /** Holds the role `herald-admin`: the session opens the console. */
    readonly operator?: boolean;
  };
}

export interface Operator {
  readonly externalId: string;
  readonly name: string;
  readonly locale: string;
  readonly timezone: string;
  readonly roles: readonly string[];
  readonly orgPath: string;
}

// Dashboard (GET /v1/stats/overview)

export interface DeliveryFigures {
  readonly accepted: number;
  readonly delivered: number;
  readonly failed: number;
  readonly suppressed: number;
  readonly pending: number;
}

export interface Latency {
  readonly count: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly meanMs: number;
}

export interface Overview {
  readonly hours: number;
  readonly from: string;
  readonly to: string;
  readonly messages: { readonly accepted: number };
  readonly channels: readonly (DeliveryFigures & {
    readonly channel: string;
    readonly byStatus: Readonly<Record<string, number>>;
    readonly latency: Latency | null;
  })[];
  readonly totals: DeliveryFigures & { readonly latency: Latency | null };
  readonly series: readonly (DeliveryFigures & { readonly from: string })[];
  readonly queue: {
    readonly urgent: number;
    readonly normal: number;
    readonly bulk: number;
    readonly total: number;
  } | null;
  readonly deadLetters: { readonly open: number };
}

// Messages

export interface AudienceFilter {
  readonly roles?: readonly string[];
  readonly orgPrefix?: string;
  /** Several org units: people at or below any of them, each once. */
  readonly orgPrefixes?: readonly string[];
  readonly attributes?: Readonly<Record<string, string>>;
}

export interface Audience {
  readonly users?: readonly string[];
  readonly groups?: readonly string[];
  readonly filter?: AudienceFilter;
  readonly all?: boolean;
}

export type MessageStatus = 'scheduled' | 'accepted' | 'fanning_out' | 'dispatched' | 'completed';

export type Actor =
  { readonly kind: 'admin-token' } | { readonly kind: 'operator'; readonly externalId: string };

export interface Message {
  readonly id: string;
  readonly source: string;
  readonly category: string;
  readonly priority: Priority;
  readonly status: MessageStatus;
  readonly to: Audience;
  readonly data: Readonly<Record<string, unknown>> | null;
  readonly channels: readonly string[] | null;
  readonly locale: string | null;
  readonly sendAt: string;
  readonly createdAt: string;
  readonly recipients: number;
  readonly sentBy?: Actor | null;
  readonly counts: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly totals: Readonly<Record<string, number>>;
}

export interface MessageSearch {
  readonly q?: string;
  readonly source?: string;
  readonly category?: string;
  readonly status?: string;
  readonly since?: string;
  readonly until?: string;
  readonly cursor?: string | null;
  readonly limit?: number;
}

export interface Attempt {
  readonly attempt: number;
  readonly provider: string;
  readonly outcome: string;
  readonly error: string | null;
  readonly startedAt: string;
  readonly finishedAt: string;
}

export interface Delivery {
  readonly id: string;
  readonly recipient: { readonly externalId: string; readonly name: string };
  readonly channel: string;
  readonly status: string;
  readonly reason: string | null;
  readonly locale: string;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly provider: string | null;
  readonly providerMessageId: string | null;
  readonly fallbackFrom: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly finalAt: string | null;
  readonly attemptLog?: readonly Attempt[];
}

export interface DeliverySearch {
  readonly q?: string;
  readonly channel?: string;
  readonly status?: string;
  readonly cursor?: string | null;
}

export interface SendRequest {
  readonly source: string;
  readonly category: string;
  readonly to: Audience;
  readonly data?: Readonly<Record<string, unknown>>;
  readonly channels?: readonly string[];
  readonly locale?: string;
  readonly sendAt?: string;
}

export interface Accepted {
  readonly id: string;
  readonly status: 'accepted' | 'scheduled';
}

// Audience building (console APIs)

export interface AudiencePreview {
  /** Distinct users the audience selects now. */
  readonly count: number;
  /** Of those, how many have an address on each channel (in_app: everyone). */
  readonly reach: Readonly<Record<string, number>>;
  /** The first few of them, to check the audience is the one meant. */
  readonly sample: readonly {
    readonly externalId: string;
    readonly name: string;
    readonly orgPath: string;
    readonly roles: readonly string[];
    readonly locale: string;
  }[];
  /** Named in `users`/`groups` but not existing: sending would be refused. */
  readonly unknownUsers: readonly string[];
  readonly unknownGroups: readonly string[];
}

export interface OrgNode {
  readonly name: string;
  /** The whole path, e.g. 农学院/作物学系/2024级1班: what a filter's orgPrefix takes. */
  readonly path: string;
  /** Users at this unit or below it. */
  readonly count: number;
  /** Users whose org path is exactly this unit. */
  readonly direct: number;
  readonly children: readonly OrgNode[];
}

export interface OrgTree {
  readonly total: number;
  readonly unassigned: number;
  readonly nodes: readonly OrgNode[];
}

export interface RoleCount {
  readonly role: string;
  readonly count: number;
}

/** A template problem, as a preview reports it. */
export interface PreviewError {
  readonly kind: string;
  readonly message: string;
  readonly part?: string;
  readonly line?: number;
  readonly col?: number;
}

/** One rendering of a message for one channel × reader locale. */
export interface PreviewItem {
  readonly channel: string;
  /** The reader's locale this rendering is for. */
  readonly locale: string;
  /** The template's locale after the fallback chain; null when none exists on it. */
  readonly templateLocale: string | null;
  readonly version: number | null;
  readonly rendered: {
    readonly subject?: string;
    readonly title?: string;
    readonly body: string;
  } | null;
  readonly error: PreviewError | null;
}

// Categories, sources, keys

export interface Category {
  readonly key: string;
  readonly name: Names;
  readonly priority: Priority;
  readonly mandatory: boolean;
  readonly defaultChannels: readonly string[];
  readonly maxAttempts: number;
  readonly channelFallbacks: Readonly<Record<string, string>>;
  readonly emailFrom: string | null;
  readonly emailReplyTo: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface CategoryWrite {
  readonly key?: string;
  readonly name?: Names;
  readonly priority?: Priority;
  readonly mandatory?: boolean;
  readonly defaultChannels?: readonly string[];
  readonly maxAttempts?: number;
}

export interface Source {
  readonly key: string;
  readonly name: string;
  readonly categories: readonly string[];
  readonly quotas: Readonly<Record<string, number>>;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface SourceWrite {
  readonly key?: string;
  readonly name?: string;
  readonly categories?: readonly string[];
}

export interface ApiKey {
  readonly id: string;
  readonly prefix: string;
  readonly createdAt: string;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
}

export interface NewApiKey extends ApiKey {
  /** The whole key: shown this once, Herald keeps only its hash. */
  readonly secret: string;
}

// Templates

export interface Template {
  readonly category: string;
  readonly channel: string;
  readonly locale: string;
  readonly version: number;
  readonly subject: string | null;
  readonly title: string | null;
  readonly body: string;
  readonly createdAt: string;
  /** Who stored this version; null for versions stored before this was recorded. */
  readonly createdBy?: Actor | null;
}

export interface TemplateParts {
  readonly subject?: string | null;
  readonly title?: string | null;
  readonly body: string;
}

export interface Rendered {
  readonly subject?: string;
  readonly title?: string;
  readonly body: string;
}

/** One problem in a template (`422 template-invalid` → `errors`). */
export interface TemplateIssue {
  readonly part?: string;
  readonly kind?: string;
  readonly message: string;
  readonly line?: number;
  readonly col?: number;
}

// Users and groups

export interface User {
  readonly externalId: string;
  readonly name: string;
  readonly roles: readonly string[];
  readonly orgPath: string | null;
  readonly attributes: Readonly<Record<string, string>>;
  readonly locale: string;
  readonly timezone: string;
  readonly email: string | null;
  readonly phone: string | null;
  readonly hasPassword: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface UserSearch {
  readonly q?: string;
  readonly orgPrefix?: string;
  readonly role?: string;
  readonly cursor?: string | null;
}

export interface ImportRow {
  readonly row: number;
  readonly externalId: string | null;
  readonly status: 'created' | 'updated' | 'error';
  readonly errors?: readonly { readonly field?: string; readonly message: string }[];
}

export interface ImportResult {
  readonly created: number;
  readonly updated: number;
  readonly failed: number;
  readonly results: readonly ImportRow[];
}

export interface GroupImportResult {
  readonly imported: number;
  readonly failed: number;
  readonly groups: readonly {
    readonly key: string;
    readonly status: 'created' | 'replaced' | 'extended';
    readonly members: number;
  }[];
  readonly results: readonly {
    readonly row: number;
    readonly group: string | null;
    readonly member: string | null;
    readonly status: 'ok' | 'error';
    readonly errors?: readonly { readonly field?: string; readonly message: string }[];
  }[];
}

export interface Group {
  readonly key: string;
  readonly name: string;
  readonly kind: 'static' | 'dynamic';
  readonly filter: AudienceFilter | null;
  readonly memberCount: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface GroupWrite {
  readonly key?: string;
  readonly name: string;
  readonly members?: readonly string[];
  readonly filter?: AudienceFilter;
}

// Operations

export interface DeadLetter {
  readonly id: string;
  readonly deliveryId: string;
  readonly messageId: string;
  readonly channel: string;
  readonly reason: string;
  readonly createdAt: string;
  readonly redrivenAt: string | null;
}

export interface OutboxEntry {
  readonly id: string;
  readonly deliveryId: string;
  readonly messageId: string;
  readonly channel: string;
  readonly recipient: string;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly createdAt: string;
}
