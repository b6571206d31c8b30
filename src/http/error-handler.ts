import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Problem, PROBLEM_TYPES, type ProblemCode } from './problem.js';
import { isDatabaseUnavailable } from '../store/database-unavailable.js';

/** Seconds a client should wait before retrying while the database is away (a restart). */
const DATABASE_RETRY_AFTER_S = 2;

/** The answer while the database cannot be reached: retry soon, nothing was done. */
export function databaseUnavailable(): Problem {
  return new Problem(
    'unavailable',
    'The database is not reachable right now; retry shortly',
    {},
    { 'Retry-After': String(DATABASE_RETRY_AFTER_S) },
  );
}

interface ValidationIssue {
  readonly path: string;
  readonly message: string;
}

/** Maps anything thrown by a route (or by Fastify itself) to one problem+json response. */
export function toProblem(err: unknown): Problem {
  if (err instanceof Problem) return err;
  const fe = err as FastifyError & {
    validation?: { instancePath?: string; message?: string; params?: Record<string, unknown> }[];
  };
  if (fe.validation) {
    const errors: ValidationIssue[] = fe.validation.map((v) => {
      const missing =
        v.params && typeof v.params.missingProperty === 'string'
          ? `/${v.params.missingProperty}`
          : '';
      const extra =
        v.params && typeof v.params.additionalProperty === 'string'
          ? `/${v.params.additionalProperty}`
          : '';
      return {
        path: `${fe.validationContext ?? 'body'}${v.instancePath ?? ''}${missing}${extra}`,
        message: v.message ?? 'is invalid',
      };
    });
    const first = errors[0];
    return new Problem('validation-failed', first ? `${first.path} ${first.message}` : undefined, {
      errors,
    });
  }
  const byFastifyCode: Record<string, ProblemCode> = {
    FST_ERR_CTP_INVALID_JSON_BODY: 'malformed-json',
    FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed-json',
    FST_ERR_CTP_BODY_TOO_LARGE: 'body-too-large',
    FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported-media-type',
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation-failed',
  };
  const code = fe.code ? byFastifyCode[fe.code] : undefined;
  if (code)
    return new Problem(
      code,
      code === 'malformed-json' ? 'The request body is not valid JSON' : fe.message,
    );
  if (fe instanceof SyntaxError) return new Problem('malformed-json');
  if (isDatabaseUnavailable(err)) return databaseUnavailable();
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const match = (Object.keys(PROBLEM_TYPES) as ProblemCode[]).find(
      (c) => PROBLEM_TYPES[c].status === fe.statusCode,
    );
    return new Problem(match ?? 'validation-failed', fe.message);
  }
  return new Problem('internal', 'An unexpected error occurred; it has been logged.');
}

export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  problem: Problem,
): FastifyReply {
  for (const [k, v] of Object.entries(problem.headers)) reply.header(k, v);
  return reply
    .code(problem.status)
    .type('application/problem+json; charset=utf-8')
    .send({
      type: `https://herald.dev/problems/${problem.code}`,
      title: problem.title,
      status: problem.status,
      code: problem.code,
      ...(problem.detail !== undefined ? { detail: problem.detail } : {}),
      instance: request.url.split('?')[0],
      ...problem.extensions,
    });
}

export function errorHandler(
  err: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const problem = toProblem(err);
  // 503s are expected while the database restarts: a warning each, not an error report.
  if (problem.status === 503) request.log.warn({ err }, 'request answered 503');
  else if (problem.status >= 500) request.log.error({ err }, 'request failed');
  return sendProblem(request, reply, problem);
}
