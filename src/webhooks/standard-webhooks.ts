import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Signing and verification per the Standard Webhooks specification (standardwebhooks.com,
 * spec v1.0.0, symmetric scheme): HMAC-SHA256 over `{id}.{timestamp}.{body}`, keyed with the
 * base64-decoded secret, sent as `v1,<base64>` in `webhook-signature`. Receivers written
 * against any Standard Webhooks (or Svix) library can verify what `sign` produces.
 */

export const SECRET_PREFIX = 'whsec_';

/**
 * The three headers, lower-case as the spec spells them. A type alias, not an interface, so
 * it can be passed wherever a `Record<string, string>` of headers is expected.
 */
export type StandardWebhookHeaders = {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
};

/**
 * A new signing secret: `whsec_` + base64 of `bytes` random bytes. The spec asks for 24 to
 * 64 bytes; 32 (256 bits, the HMAC-SHA256 block-friendly size) by default.
 */
export function generateSecret(bytes = 32): string {
  if (!Number.isInteger(bytes) || bytes < 24 || bytes > 64) {
    throw new RangeError('A Standard Webhooks secret has 24 to 64 bytes');
  }
  return SECRET_PREFIX + randomBytes(bytes).toString('base64');
}

export interface SignInput {
  /** Stable across retries of one event: the receiver's idempotency key. */
  readonly id: string;
  /** Time of this attempt (fresh on every retry): unix seconds, or a Date. */
  readonly timestamp: number | Date;
  /** The exact bytes that will be sent. Re-serialising JSON afterwards breaks the signature. */
  readonly body: string | Uint8Array;
  /** One secret, or several during a rotation (each yields one signature, space-separated). */
  readonly secret: string | readonly string[];
}

export function sign(input: SignInput): StandardWebhookHeaders {
  assertHeaderSafeId(input.id);
  const timestamp = toUnixSeconds(input.timestamp);
  const secrets = typeof input.secret === 'string' ? [input.secret] : input.secret;
  if (secrets.length === 0) throw new TypeError('sign() needs at least one secret');
  const signatures = secrets.map(
    (secret) => `v1,${hmac(secretKey(secret), input.id, timestamp, input.body)}`,
  );
  return {
    'webhook-id': input.id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatures.join(' '),
  };
}

export type VerificationFailure =
  | 'missing-header'
  | 'bad-timestamp'
  | 'timestamp-too-old'
  | 'timestamp-too-new'
  | 'no-matching-signature';

export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  constructor(
    readonly reason: VerificationFailure,
    message: string,
  ) {
    super(message);
  }
}

/** Node's `IncomingHttpHeaders`, a plain record, or a fetch `Headers`. */
export type HeaderSource =
  Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

export interface VerifyInput {
  readonly headers: HeaderSource;
  /** The raw request body, exactly as received. */
  readonly body: string | Uint8Array;
  /** Accepted secrets (several while rotating); `whsec_` prefix optional. */
  readonly secret: string | readonly string[];
  /** Replay window each way around `now`. Default 300 s, as the spec suggests. */
  readonly toleranceSeconds?: number;
  /** Unix seconds or a Date. Default: the current time. */
  readonly now?: number | Date;
}

/**
 * Verifies a received webhook. Returns the verified id and timestamp (use the id to drop
 * duplicates: delivery is at-least-once); throws {@link WebhookVerificationError} otherwise.
 * Any one `v1` signature matching any one secret is enough; other schemes (`v1a`, future
 * versions) are skipped. Comparison is constant-time.
 */
export function verify(input: VerifyInput): { id: string; timestamp: number } {
  const id = header(input.headers, 'webhook-id');
  const timestampText = header(input.headers, 'webhook-timestamp');
  const signatureText = header(input.headers, 'webhook-signature');
  if (id === undefined || timestampText === undefined || signatureText === undefined) {
    throw new WebhookVerificationError(
      'missing-header',
      'Missing webhook-id, -timestamp or -signature',
    );
  }
  if (!/^\d{1,15}$/.test(timestampText)) {
    throw new WebhookVerificationError('bad-timestamp', 'webhook-timestamp is not unix seconds');
  }
  const timestamp = Number(timestampText);
  const now = input.now === undefined ? Math.floor(Date.now() / 1000) : toUnixSeconds(input.now);
  const tolerance = input.toleranceSeconds ?? 300;
  if (now - timestamp > tolerance) {
    throw new WebhookVerificationError('timestamp-too-old', 'webhook-timestamp is too old');
  }
  if (timestamp - now > tolerance) {
    throw new WebhookVerificationError('timestamp-too-new', 'webhook-timestamp is in the future');
  }

  const secrets = typeof input.secret === 'string' ? [input.secret] : input.secret;
  const expected = secrets.map((secret) =>
    Buffer.from(hmac(secretKey(secret), id, timestamp, input.body)),
  );
  const received = signatureText
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => Buffer.from(entry.slice(3)));
  let matched = false;
  // Every pair is compared (no early exit) so timing says nothing about which one matched.
  for (const candidate of received) {
    for (const want of expected) {
      if (candidate.length === want.length && timingSafeEqual(candidate, want)) matched = true;
    }
  }
  if (!matched) {
    throw new WebhookVerificationError('no-matching-signature', 'No valid v1 signature');
  }
  return { id, timestamp };
}

/** Like {@link verify}, as a boolean, for callers that do not care why. */
export function isValid(input: VerifyInput): boolean {
  try {
    verify(input);
    return true;
  } catch (err) {
    if (err instanceof WebhookVerificationError) return false;
    throw err;
  }
}

/** The HMAC key: the bytes behind `whsec_<base64>` (the prefix is optional, as in the spec's libraries). */
function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    throw new TypeError('A webhook secret is whsec_ followed by base64');
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0) throw new TypeError('A webhook secret cannot be empty');
  return key;
}

function hmac(key: Buffer, id: string, timestamp: number, body: string | Uint8Array): string {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
}

function toUnixSeconds(value: number | Date): number {
  const seconds = value instanceof Date ? Math.floor(value.getTime() / 1000) : value;
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new TypeError('A webhook timestamp is a non-negative integer of unix seconds');
  }
  return seconds;
}

/**
 * The spec requires that the id contain no `.` (it would shift the signed fields); it must
 * also be a safe header value.
 */
function assertHeaderSafeId(id: string): void {
  if (!/^[\x21-\x7e]+$/.test(id) || id.includes('.')) {
    throw new TypeError('A webhook id is non-empty printable ASCII without "." or spaces');
  }
}

function header(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    const first: string | undefined = typeof value === 'string' ? value : value?.[0];
    return first;
  }
  return undefined;
}
