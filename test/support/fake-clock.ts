import type { Clock } from '../../src/channels/resilience/clock.js';

/** Test support: a clock that only moves when told to, firing due timers in time order. */
export class FakeClock implements Clock {
  private timers: { at: number; seq: number; fn: () => void }[] = [];
  private seq = 0;

  private readonly start: number;

  constructor(private current = 1_000_000) {
    this.start = current;
  }

  /** Time moved since construction. */
  elapsed(): number {
    return this.current - this.start;
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const timer = { at: this.current + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Moves time forward by `ms`, letting pending promise callbacks run before and after. */
  async advance(ms: number): Promise<void> {
    await settle();
    const target = this.current + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => t.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.current = due.at;
      due.fn();
      await settle();
    }
    this.current = target;
    await settle();
  }
}

/** Lets every already-queued promise callback run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
