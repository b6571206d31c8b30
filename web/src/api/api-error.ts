/**
 * What went wrong with a call to Herald, from its problem+json answer (RFC 9457) or from the
 * network. `code` is the stable problem code (docs/api.md#errors) that the UI translates;
 * `title` and `detail` are Herald's English words, shown only where no translation exists.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    /** HTTP status; 0 when Herald could not be reached. */
    readonly status: number,
    /** Problem code, `network` when unreachable, `http-<status>` when the answer was no problem. */
    readonly code: string,
    readonly title: string,
    readonly detail: string | null = null,
    /** Seconds from `Retry-After`, when Herald sent one. */
    readonly retryAfter: number | null = null,
    /** The whole problem document, for extension members such as `errors`. */
    readonly problem: Readonly<Record<string, unknown>> = {},
  ) {
    super(detail ?? title);
  }
}

export function isApiError(error: unknown, code?: string): error is ApiError {
  return error instanceof ApiError && (code === undefined || error.code === code);
}
