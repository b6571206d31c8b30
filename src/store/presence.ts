import type { RawBuilder } from 'kysely';

/**
 * A token the database shows for as long as its holder's own connection lives, so that
 * others can tell at once a holder that is alive from one that is gone: PostgreSQL drops a
 * session the moment its client's TCP connection closes, which a killed process's does.
 * The outbox relay claims rows under it (src/queue/rabbitmq/outbox-relay.ts). SQLite has
 * none; there claims only run out.
 *
 * A token is never held twice: after a lost connection the holder comes back under a new
 * one. So a token the database no longer shows is gone for good, and what was claimed under
 * it may be taken without waiting.
 */
export interface Presence {
  /** Every token starts with it: a claim under another token is not vouched for. */
  readonly prefix: string;
  /** The token held now; null while none is (connecting, or the connection was just lost). */
  readonly token: string | null;
  /**
   * False once the database turned out not to show the token to other sessions (a
   * connection pooler in between): the holder then claims under a token of its own whose
   * claims only run out, as on SQLite.
   */
  readonly supported: boolean;
  /** SQL selecting one text column, `token`: the tokens held right now. */
  readonly held: RawBuilder<unknown>;
  /** Calls `listener` each time a (new) token is held. */
  onHeld(listener: () => void): void;
  /** Opens the connection and keeps it (re-opening it with a new token when lost). */
  start(): void;
  /** Gives the token up: what was claimed under it may be taken at once. */
  close(): Promise<void>;
}
