import type { Options } from 'amqplib';
import { type Problem, problemDocument } from '../http/problem.js';
import { CREDENTIAL_HEADERS } from './ingress-source.js';

/** A message the ingress publishes: its body and AMQP properties. */
export interface Outgoing {
  readonly content: Buffer;
  readonly options: Options.Publish;
}

/** What was received, as much as the rejected copy keeps of it. */
export interface Received {
  readonly content: Buffer;
  readonly fields: { readonly exchange: string; readonly routingKey: string };
  readonly properties: {
    readonly contentType?: string | undefined;
    readonly contentEncoding?: string | undefined;
    readonly headers?: Readonly<Record<string, unknown>> | undefined;
    readonly correlationId?: string | undefined;
    readonly replyTo?: string | undefined;
    readonly messageId?: string | undefined;
    readonly timestamp?: number | undefined;
    readonly type?: string | undefined;
    readonly userId?: string | undefined;
    readonly appId?: string | undefined;
  };
}

/** One header value stays well under amqplib's 64 KiB table limit. */
const MAX_HEADER_JSON = 8 * 1024;

/** JSON of a value small enough for a header: long arrays are cut (and say so), else omitted. */
function headerJson(value: unknown): { json: string | null; cut: boolean } {
  let json = JSON.stringify(value);
  if (Buffer.byteLength(json) <= MAX_HEADER_JSON) return { json, cut: false };
  if (!Array.isArray(value)) return { json: null, cut: true };
  for (let n = Math.floor(value.length / 2); n > 0; n = Math.floor(n / 2)) {
    json = JSON.stringify(value.slice(0, n));
    if (Buffer.byteLength(json) <= MAX_HEADER_JSON) return { json, cut: true };
  }
  return { json: null, cut: true };
}

/**
 * The problem as message headers: `problem-type`, `problem-title`, `problem-status`,
 * `problem-code`, `problem-detail`, `problem-errors` (JSON, for validation-failed) and
 * `problem-extensions` (JSON object of any other members, e.g. unknownUsers). Very long lists
 * are cut (`problem-truncated: true`); the reply carries them whole.
 */
export function problemHeaders(problem: Problem): Record<string, string | number | boolean> {
  const headers: Record<string, string | number | boolean> = {
    'problem-type': `https://herald.dev/problems/${problem.code}`,
    'problem-title': problem.title,
    'problem-status': problem.status,
    'problem-code': problem.code,
  };
  if (problem.detail !== undefined) headers['problem-detail'] = problem.detail.slice(0, 2000);
  let truncated = false;
  const { errors, ...others } = problem.extensions as { errors?: unknown };
  if (errors !== undefined) {
    const { json, cut } = headerJson(errors);
    if (json !== null) headers['problem-errors'] = json;
    truncated ||= cut;
  }
  if (Object.keys(others).length > 0) {
    const extensions: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(others)) {
      const { json, cut } = headerJson(v);
      if (json !== null) extensions[k] = JSON.parse(json);
      truncated ||= cut;
    }
    headers['problem-extensions'] = JSON.stringify(extensions);
  }
  if (truncated) headers['problem-truncated'] = true;
  return headers;
}

/** The incoming headers without credentials (an API key never leaves the ingress). */
function withoutCredentials(
  headers: Readonly<Record<string, unknown>> | undefined,
): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (!(CREDENTIAL_HEADERS as readonly string[]).includes(k.toLowerCase())) kept[k] = v;
  }
  return kept;
}

/**
 * The copy of a refused message for `herald.ingress.rejected`: the original body and
 * properties (never its credentials; `user_id` moves to a header, since the broker only lets a
 * connection publish its own user_id), the problem in the headers, and where it came from.
 */
export function rejectedCopy(
  received: Received,
  problem: Problem,
  sourceKey: string | null,
  now: number,
  keepOriginalHeaders = true,
): Outgoing {
  const p = received.properties;
  const headers: Record<string, unknown> = {
    ...(keepOriginalHeaders ? withoutCredentials(p.headers) : {}),
    ...problemHeaders(problem),
    'herald-rejected-at': new Date(now).toISOString(),
    'herald-exchange': received.fields.exchange,
    'herald-routing-key': received.fields.routingKey,
  };
  if (sourceKey !== null) headers['herald-source'] = sourceKey;
  if (p.userId !== undefined) headers['herald-user-id'] = p.userId;
  const options: Options.Publish = { persistent: true, headers };
  if (p.contentType !== undefined) options.contentType = p.contentType;
  if (p.contentEncoding !== undefined) options.contentEncoding = p.contentEncoding;
  if (p.messageId !== undefined) options.messageId = p.messageId;
  if (p.correlationId !== undefined) options.correlationId = p.correlationId;
  if (p.replyTo !== undefined) options.replyTo = p.replyTo;
  if (p.timestamp !== undefined) options.timestamp = p.timestamp;
  if (p.type !== undefined) options.type = p.type;
  if (p.appId !== undefined) options.appId = p.appId;
  return { content: received.content, options };
}

export type IngressOutcome =
  | {
      readonly kind: 'accepted';
      readonly body: Record<string, unknown>;
      readonly status: number;
      readonly replay: boolean;
    }
  | { readonly kind: 'rejected'; readonly problem: Problem };

/**
 * The answer to a producer that set `reply_to`: the 202 body (`{id, status}`) or the problem
 * document, `correlation_id` copied, the HTTP-like status in the `status` header.
 */
export function reply(outcome: IngressOutcome, correlationId: string | undefined): Outgoing {
  const options: Options.Publish = { persistent: false };
  if (correlationId !== undefined) options.correlationId = correlationId;
  if (outcome.kind === 'accepted') {
    options.contentType = 'application/json';
    options.headers = {
      status: outcome.status,
      ...(outcome.replay ? { 'idempotency-replay': true } : {}),
    };
    return { content: Buffer.from(JSON.stringify(outcome.body)), options };
  }
  options.contentType = 'application/problem+json';
  options.headers = { status: outcome.problem.status };
  return { content: Buffer.from(JSON.stringify(problemDocument(outcome.problem))), options };
}
