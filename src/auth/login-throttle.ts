import type { Clock } from '../time/clock.js';

const WINDOW_MS = 15 * 60_000;
/** Failures per account, and per client address (higher: a campus NAT hides many people). */
const MAX_FAILURES = { account: 10, address: 100 } as const;

/**
 * Slows down password guessing: after too many failed logins within WINDOW_MS for one account
 * or one client address, further attempts are refused until the window passes.
 * In-memory, per process: enough for the embedded default.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly clock: Clock) {}

  blockedFor(account: string, ip: string): number {
    const now = this.clock();
    let wait = 0;
    for (const [key, max] of [
      [`a:${account}`, MAX_FAILURES.account],
      [`i:${ip}`, MAX_FAILURES.address],
    ] as const) {
      const recent = this.recent(key, now);
      if (recent.length >= max)
        wait = Math.max(wait, recent[recent.length - max]! + WINDOW_MS - now);
    }
    return wait;
  }

  failed(account: string, ip: string): void {
    const now = this.clock();
    for (const key of [`a:${account}`, `i:${ip}`]) {
      const recent = this.recent(key, now);
      recent.push(now);
      this.failures.set(key, recent);
    }
    if (this.failures.size > 100_000) this.failures.clear();
  }

  succeeded(account: string, _ip: string): void {
    this.failures.delete(`a:${account}`);
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((t) => t > now - WINDOW_MS);
  }
}
