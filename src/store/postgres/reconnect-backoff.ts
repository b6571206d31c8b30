/**
 * When to open a dedicated PostgreSQL connection again after losing it (the LISTEN
 * connection of the peer signals, a presence): 0.25 s after the first failure, doubling up
 * to 5 s, and 0.25 s again once a connection succeeded. One attempt is scheduled at a time;
 * none after close. The timer does not keep the process alive.
 */
export class ReconnectBackoff {
  readonly #minMs: number;
  readonly #maxMs: number;
  #delayMs: number;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(minMs = 250, maxMs = 5_000) {
    this.#minMs = minMs;
    this.#maxMs = maxMs;
    this.#delayMs = minMs;
  }

  /** Runs `attempt` after the current delay, unless an attempt is scheduled already. */
  schedule(attempt: () => void): void {
    if (this.#closed || this.#timer) return;
    const wait = this.#delayMs;
    this.#delayMs = Math.min(wait * 2, this.#maxMs);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (!this.#closed) attempt();
    }, wait);
    this.#timer.unref();
  }

  /** A connection succeeded: the next loss is retried after the shortest delay again. */
  succeeded(): void {
    this.#delayMs = this.#minMs;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
