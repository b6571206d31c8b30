import type { Db } from '../store/database.js';
import { Problem } from '../http/problem.js';
import type { SendRequest } from '../messages/ingest.js';
import { parseSendBody } from '../messages/send-body.js';
import type { Source } from '../sources/sources-store.js';
import { identifySource } from './ingress-source.js';

/** What the ingress reads of an AMQP message (a subset of amqplib's `Message`). */
export interface IngressMessage {
  readonly content: Buffer;
  readonly properties: {
    readonly contentType?: string | undefined;
    readonly contentEncoding?: string | undefined;
    readonly messageId?: string | undefined;
    readonly userId?: string | undefined;
    readonly headers?: Readonly<Record<string, unknown>> | undefined;
  };
}

/** A message ready for `Ingest.submit`, or the problem that refuses it before ingest. */
export type Admission =
  | { readonly source: Source; readonly request: SendRequest }
  | { readonly source: Source | null; readonly problem: Problem };

/** JSON, or no content type at all (pika and amqplib send none unless told). */
function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined || contentType === '') return true;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json');
}

/**
 * The checks of `POST /v1/messages` before ingest, in the same order: who sends (401), the
 * content type (415), the size (413), JSON (400 malformed-json) and the body schema (400
 * validation-failed). The AMQP `message_id` becomes the Idempotency-Key; ingest then applies
 * idempotency, categories, recipients and quotas exactly as for HTTP. Database errors throw
 * (the caller retries: they say nothing about the message).
 */
export async function admit(
  db: Db,
  message: IngressMessage,
  limits: { readonly bodyLimitBytes: number },
): Promise<Admission> {
  const { properties } = message;
  const source = await identifySource(db, properties);
  if (source instanceof Problem) return { source: null, problem: source };
  if (!isJson(properties.contentType)) {
    return {
      source,
      problem: new Problem(
        'unsupported-media-type',
        `The content type must be application/json (or none), not ${properties.contentType}`,
      ),
    };
  }
  const encoding = properties.contentEncoding?.trim().toLowerCase();
  if (encoding && encoding !== 'identity' && encoding !== 'utf-8' && encoding !== 'utf8') {
    return {
      source,
      problem: new Problem(
        'unsupported-media-type',
        `The content encoding ${properties.contentEncoding} is not supported; send plain UTF-8 JSON`,
      ),
    };
  }
  if (message.content.length > limits.bodyLimitBytes) {
    return {
      source,
      problem: new Problem(
        'body-too-large',
        `The message body has ${message.content.length} bytes; at most ${limits.bodyLimitBytes} are accepted`,
      ),
    };
  }
  const body = parseSendBody(message.content);
  if (body instanceof Problem) return { source, problem: body };
  return {
    source,
    request: {
      sourceId: source.id,
      sourceKey: source.key,
      quotas: source.quotas,
      allowedCategories: source.categories,
      body,
      idempotencyKey: properties.messageId ? properties.messageId : null,
    },
  };
}
