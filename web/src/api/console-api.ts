import type { ApiClient } from './api-client';
import type {
  Accepted,
  ApiKey,
  Audience,
  AudiencePreview,
  Category,
  CategoryWrite,
  DeadLetter,
  Delivery,
  DeliverySearch,
  Group,
  GroupImportResult,
  GroupWrite,
  ImportResult,
  LoginAnswer,
  Message,
  MessageSearch,
  NewApiKey,
  Operator,
  OrgTree,
  OutboxEntry,
  Overview,
  Page,
  PreviewItem,
  Rendered,
  SendRequest,
  RoleCount,
  Source,
  SourceWrite,
  Template,
  TemplateParts,
  User,
  UserSearch,
} from './console-types';

const enc = encodeURIComponent;
const templatePath = (category: string, channel: string, locale: string) =>
  `/v1/templates/${enc(category)}/${enc(channel)}/${enc(locale)}`;

/**
 * The routes the operator console uses. An operator signs in with their own account
 * (`POST /v1/auth/login`); Herald then takes their session cookie as admin rights.
 */
export function consoleApi(api: ApiClient) {
  return {
    login: (externalId: string, password: string) =>
      api.request<LoginAnswer>('POST', '/v1/auth/login', {
        body: { externalId, password },
        expectUnauthenticated: true,
      }),
    logout: () => api.request<void>('POST', '/v1/auth/logout', { expectUnauthenticated: true }),
    me: () => api.get<Operator>('/v1/me'),

    overview: (hours = 24) => api.get<Overview>('/v1/stats/overview', { hours }),

    messages: (q: MessageSearch) =>
      api.get<Page<Message>>('/v1/messages', {
        limit: q.limit ?? 30,
        cursor: q.cursor,
        q: q.q,
        source: q.source,
        category: q.category,
        status: q.status,
        since: q.since,
        until: q.until,
      }),
    message: (id: string) => api.get<Message>(`/v1/messages/${enc(id)}`),
    deliveries: (id: string, q: DeliverySearch) =>
      api.get<Page<Delivery>>(`/v1/messages/${enc(id)}/deliveries`, {
        limit: 50,
        attempts: true,
        cursor: q.cursor,
        q: q.q,
        channel: q.channel,
        status: q.status,
      }),
    send: (body: SendRequest, idempotencyKey: string) =>
      api.request<Accepted>('POST', '/v1/messages', {
        body,
        headers: { 'idempotency-key': idempotencyKey },
      }),
    /** Renders per channel × language as the deliveries would; template problems are items' errors. */
    previewMessage: (body: {
      readonly category: string;
      readonly source?: string;
      readonly data: Readonly<Record<string, unknown>>;
      readonly channels?: readonly string[];
      readonly locale?: string;
    }) =>
      api.post<{ readonly ok: boolean; readonly items: readonly PreviewItem[] }>(
        '/v1/messages/preview',
        body,
      ),

    audiencePreview: (to: Audience, sample = 8) =>
      api.post<AudiencePreview>('/v1/audience/preview', { to, sample }),
    orgTree: () => api.get<OrgTree>('/v1/org-tree'),
    roles: () => api.get<{ readonly items: readonly RoleCount[] }>('/v1/roles'),

    categories: () => api.get<{ readonly items: readonly Category[] }>('/v1/categories'),
    createCategory: (body: CategoryWrite) => api.post<Category>('/v1/categories', body),
    updateCategory: (key: string, body: CategoryWrite) =>
      api.patch<Category>(`/v1/categories/${enc(key)}`, body),
    /** With its templates; 409 `conflict` once messages were sent in it. */
    deleteCategory: (key: string) => api.delete<void>(`/v1/categories/${enc(key)}`),

    sources: () => api.get<{ readonly items: readonly Source[] }>('/v1/sources'),
    source: (key: string) => api.get<Source>(`/v1/sources/${enc(key)}`),
    createSource: (body: SourceWrite) => api.post<Source>('/v1/sources', body),
    updateSource: (key: string, body: SourceWrite) =>
      api.patch<Source>(`/v1/sources/${enc(key)}`, body),
    /** With its API keys; 409 `conflict` once it has sent messages (revoke its keys instead). */
    deleteSource: (key: string) => api.delete<void>(`/v1/sources/${enc(key)}`),
    apiKeys: (key: string) =>
      api.get<{ readonly items: readonly ApiKey[] }>(`/v1/sources/${enc(key)}/api-keys`),
    createApiKey: (key: string) => api.post<NewApiKey>(`/v1/sources/${enc(key)}/api-keys`),
    revokeApiKey: (key: string, id: string) =>
      api.delete<void>(`/v1/sources/${enc(key)}/api-keys/${enc(id)}`),

    templates: (category?: string) =>
      api.get<{ readonly items: readonly Template[] }>('/v1/templates', { category }),
    templateVersions: (category: string, channel: string, locale: string) =>
      api.get<{ readonly items: readonly Template[] }>(
        `${templatePath(category, channel, locale)}/versions`,
      ),
    restoreTemplate: (category: string, channel: string, locale: string, version: number) =>
      api.post<Template>(`${templatePath(category, channel, locale)}/versions/${version}/restore`),
    saveTemplate: (category: string, channel: string, locale: string, parts: TemplateParts) =>
      api.put<Template>(templatePath(category, channel, locale), parts),
    previewTemplate: (
      category: string,
      channel: string,
      locale: string,
      body: {
        readonly data: Readonly<Record<string, unknown>>;
        readonly recipient?: { readonly name?: string; readonly timezone?: string };
        readonly template?: TemplateParts;
      },
      signal?: AbortSignal,
    ) =>
      api.request<Rendered>('POST', `${templatePath(category, channel, locale)}/preview`, {
        body,
        ...(signal ? { signal } : {}),
      }),

    users: (q: UserSearch) =>
      api.get<Page<User>>('/v1/users', {
        limit: 50,
        cursor: q.cursor,
        q: q.q,
        orgPrefix: q.orgPrefix,
        role: q.role,
      }),
    importUsers: (csv: string) =>
      api.request<ImportResult>('POST', '/v1/users/import', {
        body: csv,
        contentType: 'text/csv',
      }),
    /** Static memberships in bulk; `replace` makes each named group's members exactly its rows. */
    importGroups: (csv: string, mode: 'replace' | 'add') =>
      api.request<GroupImportResult>('POST', '/v1/groups/import', {
        query: { mode },
        body: csv,
        contentType: 'text/csv',
      }),
    groups: () => api.get<{ readonly items: readonly Group[] }>('/v1/groups'),
    createGroup: (body: GroupWrite) => api.post<Group>('/v1/groups', body),
    deleteGroup: (key: string) => api.delete<void>(`/v1/groups/${enc(key)}`),
    groupMembers: (key: string, cursor?: string | null) =>
      api.get<Page<User>>(`/v1/groups/${enc(key)}/members`, { limit: 50, cursor }),

    deadLetters: (includeRedriven: boolean, cursor?: string | null) =>
      api.get<Page<DeadLetter>>('/v1/dead-letters', {
        limit: 50,
        includeRedriven: includeRedriven || undefined,
        cursor,
      }),
    redrive: (id: string) => api.post<DeadLetter>(`/v1/dead-letters/${enc(id)}/redrive`),
    outbox: (q: { channel?: string; messageId?: string; cursor?: string | null }) =>
      api.get<Page<OutboxEntry>>('/v1/sandbox/outbox', {
        limit: 50,
        channel: q.channel,
        messageId: q.messageId,
        cursor: q.cursor,
      }),
  };
}

export type ConsoleApi = ReturnType<typeof consoleApi>;
