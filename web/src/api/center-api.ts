import type { ApiClient } from './api-client';
import type {
  InboxItem,
  InboxPage,
  LoginAnswer,
  Me,
  Preferences,
  PreferencesChange,
} from './center-types';

export interface InboxQuery {
  readonly limit?: number;
  readonly cursor?: string | null;
  readonly unread?: boolean;
  readonly category?: string | null;
}

/** The routes a student or staff member uses, all under their session cookie. */
export function centerApi(api: ApiClient) {
  return {
    login: (externalId: string, password: string) =>
      api.request<LoginAnswer>('POST', '/v1/auth/login', {
        body: { externalId, password },
        expectUnauthenticated: true,
      }),
    logout: () => api.request<void>('POST', '/v1/auth/logout', { expectUnauthenticated: true }),
    me: () => api.get<Me>('/v1/me'),
    inbox: (q: InboxQuery) =>
      api.get<InboxPage>('/v1/me/inbox', {
        limit: q.limit ?? 20,
        cursor: q.cursor,
        unread: q.unread ? true : undefined,
        category: q.category,
      }),
    markRead: (id: string) => api.post<InboxItem>(`/v1/me/inbox/${encodeURIComponent(id)}/read`),
    markAllRead: () => api.post<{ marked: number }>('/v1/me/inbox/read-all'),
    preferences: () => api.get<Preferences>('/v1/me/preferences'),
    changePreferences: (change: PreferencesChange) =>
      api.put<Preferences>('/v1/me/preferences', change),
  };
}

export type CenterApi = ReturnType<typeof centerApi>;
