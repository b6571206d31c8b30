/**
 * Why an outbound call failed, in terms a delivery policy can act on:
 * - `refused-address`, `bad-url`, `bad-request`, `too-large`: permanent — retrying sends the
 *   same thing to the same place (the URL or payload has to change first);
 * - `timeout`, `connect`, `reset`: transient — the receiver may be back later.
 */
export type OutboundErrorKind =
  'refused-address' | 'bad-url' | 'bad-request' | 'too-large' | 'timeout' | 'connect' | 'reset';

const TRANSIENT: ReadonlySet<OutboundErrorKind> = new Set(['timeout', 'connect', 'reset']);

export class OutboundError extends Error {
  override readonly name = 'OutboundError';
  constructor(
    readonly kind: OutboundErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** True for kinds worth retrying with backoff; false for those that need a new URL/payload. */
  get transient(): boolean {
    return TRANSIENT.has(this.kind);
  }
}
