import type { Db } from '../store/database.js';
import { Problem } from '../http/problem.js';
import { getSourceByAmqpUser, type Source } from '../sources/sources-store.js';
import { sourceByApiKey } from '../sources/api-key-source.js';

/** The message properties that can name a source. */
export interface IngressCredentials {
  /** The AMQP `user_id` property: RabbitMQ refuses a message whose user_id is not the connection's user. */
  readonly userId?: string | undefined;
  readonly headers?: Readonly<Record<string, unknown>> | undefined;
}

/** Message headers that carry credentials; never copied anywhere, never logged. */
export const CREDENTIAL_HEADERS = ['x-api-key', 'authorization'] as const;

/** A header's value as text, whatever its case and AMQP type (longstr → string, bytes → Buffer). */
export function headerText(
  headers: Readonly<Record<string, unknown>> | undefined,
  name: string,
): string | null {
  if (!headers) return null;
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== name) continue;
    if (typeof v === 'string') return v;
    if (Buffer.isBuffer(v)) return v.toString('utf8');
    return null;
  }
  return null;
}

const unauthenticated = (detail: string) => new Problem('unauthenticated', detail);

/**
 * Who sent a message. An API key in the `x-api-key` header (or `authorization: Bearer hk_…`)
 * wins: when one is present it must be valid. Otherwise the broker-validated `user_id`
 * property names the source mapped to that RabbitMQ user (`sources.amqp_user`).
 */
export async function identifySource(
  db: Db,
  credentials: IngressCredentials,
): Promise<Source | Problem> {
  const apiKey =
    headerText(credentials.headers, 'x-api-key') ??
    /^Bearer\s+(\S+)\s*$/i.exec(headerText(credentials.headers, 'authorization') ?? '')?.[1] ??
    null;
  if (apiKey !== null) {
    return (
      (await sourceByApiKey(db, apiKey.trim())) ??
      unauthenticated('The API key in the message headers is not valid')
    );
  }
  const user = credentials.userId;
  if (user) {
    return (
      (await getSourceByAmqpUser(db, user)) ??
      unauthenticated(
        `The RabbitMQ user ${user} names no source; map it with PATCH /v1/sources/{key} {"amqpUser": …} or send an x-api-key header`,
      )
    );
  }
  return unauthenticated(
    'Name the source: set the user_id property to a RabbitMQ user mapped to a source, or send a source API key in the x-api-key header',
  );
}
