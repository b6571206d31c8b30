/**
 * The one error catalogue. Anything a client can do wrong is a Problem with a stable `code`;
 * `error-handler.ts` renders it as RFC 9457 application/problem+json. Codes never change
 * meaning once published (see docs/api.md#errors).
 */

export const PROBLEM_TYPES = {
  'malformed-json': { status: 400, title: 'The request body is not valid JSON' },
  'validation-failed': { status: 400, title: 'The request is not valid' },
  unauthenticated: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Not allowed' },
  'category-not-allowed': { status: 403, title: 'This source may not send this category' },
  'not-found': { status: 404, title: 'Not found' },
  conflict: { status: 409, title: 'Conflicts with the current state' },
  'idempotency-in-progress': {
    status: 409,
    title: 'A request with this Idempotency-Key is still being processed',
  },
  'body-too-large': { status: 413, title: 'The request body is too large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported content type' },
  'idempotency-key-reused': {
    status: 422,
    title: 'This Idempotency-Key was used with a different request',
  },
  'unknown-category': { status: 422, title: 'Unknown category' },
  'unknown-source': { status: 422, title: 'Unknown source' },
  'unknown-recipients': { status: 422, title: 'Some recipients do not exist' },
  'unknown-channel': { status: 422, title: 'Unknown channel' },
  'template-invalid': { status: 422, title: 'The template does not parse' },
  'too-many-requests': { status: 429, title: 'Too many requests' },
  'quota-exceeded': {
    status: 429,
    title: "The source's daily quota on a channel is used up",
  },
  internal: { status: 500, title: 'Internal error' },
  'provider-test-failed': {
    status: 502,
    title: 'The provider did not accept the test message',
  },
  'callback-unreachable': {
    status: 502,
    title: 'The callback URL could not be reached or is not allowed',
  },
  unavailable: { status: 503, title: 'Temporarily unavailable' },
} as const;

export type ProblemCode = keyof typeof PROBLEM_TYPES;

export class Problem extends Error {
  override readonly name = 'Problem';
  readonly status: number;
  readonly title: string;

  constructor(
    readonly code: ProblemCode,
    readonly detail?: string,
    /** Extra members of the problem object, e.g. `errors` or `unknown`. */
    readonly extensions: Readonly<Record<string, unknown>> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail ?? PROBLEM_TYPES[code].title);
    this.status = PROBLEM_TYPES[code].status;
    this.title = PROBLEM_TYPES[code].title;
  }
}

export function notFound(what: string): Problem {
  return new Problem('not-found', `${what} was not found`);
}

/**
 * The RFC 9457 members of a problem as a plain object (what `application/problem+json`
 * carries), for answers that do not go through Fastify (the AMQP ingress replies).
 */
export function problemDocument(problem: Problem): Record<string, unknown> {
  return {
    type: `https://herald.dev/problems/${problem.code}`,
    title: problem.title,
    status: problem.status,
    code: problem.code,
    ...(problem.detail !== undefined ? { detail: problem.detail } : {}),
    ...problem.extensions,
  };
}
