/**
 * Time as the resilience wrappers see it. Injected so tests drive time by hand (see
 * `FakeClock`) instead of sleeping.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` once after `ms`; returns a function that cancels the call. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};
