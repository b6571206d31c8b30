import { ApiError } from './api-error';

export type Query = Readonly<Record<string, string | number | boolean | null | undefined>>;

export interface ApiClientOptions {
  /**
   * A bearer token to send (the console's admin token). Without one the browser's session
   * cookie (`herald_session`, HttpOnly) authenticates: the message center never holds its token.
   */
  readonly token?: () => string | null;
  /** Called on any 401, so that the app can return to its login screen. */
  readonly onUnauthenticated?: (error: ApiError) => void;
}

export interface ApiClient {
  get<T>(path: string, query?: Query): Promise<T>;
  post<T>(path: string, body?: unknown): Promise<T>;
  put<T>(path: string, body?: unknown): Promise<T>;
  patch<T>(path: string, body?: unknown): Promise<T>;
  delete<T>(path: string): Promise<T>;
  /** Any method, any body (e.g. text/csv for imports); the answer parsed as JSON when it is. */
  request<T>(method: string, path: string, init?: RequestOptions): Promise<T>;
}

export interface RequestOptions {
  readonly query?: Query;
  readonly body?: unknown;
  /** Sent as is (a string) with this content type instead of JSON. */
  readonly contentType?: string;
  /** Extra request headers (e.g. `Idempotency-Key`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Suppresses `onUnauthenticated` (the login call itself answers 401 for a wrong password). */
  readonly expectUnauthenticated?: boolean;
  readonly signal?: AbortSignal;
}

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path;
}

async function toApiError(res: Response): Promise<ApiError> {
  const retryAfterHeader = res.headers.get('retry-after');
  const retryAfter =
    retryAfterHeader !== null && /^\d+$/.test(retryAfterHeader) ? Number(retryAfterHeader) : null;
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('json')) {
    try {
      const problem = (await res.json()) as Record<string, unknown>;
      const str = (v: unknown) => (typeof v === 'string' ? v : null);
      return new ApiError(
        res.status,
        str(problem.code) ?? `http-${res.status}`,
        str(problem.title) ?? res.statusText,
        str(problem.detail),
        retryAfter,
        problem,
      );
    } catch {
      // Not JSON after all: fall through to the status alone.
    }
  }
  return new ApiError(res.status, `http-${res.status}`, res.statusText, null, retryAfter);
}

export function createApiClient(options: ApiClientOptions = {}): ApiClient {
  async function request<T>(method: string, path: string, init: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
    const token = options.token?.();
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (init.body !== undefined) {
      headers['content-type'] = init.contentType ?? 'application/json';
      body =
        init.contentType !== undefined && typeof init.body === 'string'
          ? init.body
          : JSON.stringify(init.body);
    }
    let res: Response;
    try {
      res = await fetch(withQuery(path, init.query), {
        method,
        headers,
        body,
        credentials: 'same-origin',
        signal: init.signal ?? null,
      });
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') throw err;
      throw new ApiError(0, 'network', 'Herald could not be reached');
    }
    if (!res.ok) {
      const error = await toApiError(res);
      if (res.status === 401 && !init.expectUnauthenticated) options.onUnauthenticated?.(error);
      throw error;
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }
  return {
    request,
    get: (path, query) => request('GET', path, query ? { query } : {}),
    post: (path, body) => request('POST', path, { body }),
    put: (path, body) => request('PUT', path, { body }),
    patch: (path, body) => request('PATCH', path, { body }),
    delete: (path) => request('DELETE', path),
  };
}
