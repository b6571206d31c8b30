/**
 * A Jepsen-style checker for delivery tests: it reconciles what producers were told (the ids
 * of 202 answers), the deliveries each (message, recipient) should have, and what the far side
 * actually received (inbox rows, a fake provider's log …), and counts
 *
 * - lost: expected, never received;
 * - duplicated: received more than once (each extra copy counts);
 * - unexpected: received, but never accepted (or not for that recipient);
 * - stuck: deliveries still not final in the database.
 */
export interface Received {
  readonly messageId: string;
  readonly recipient: string;
}

export interface CheckResult {
  readonly expected: number;
  readonly received: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly unexpected: number;
  readonly stuck: number;
}

export function check(opts: {
  /** Message ids that got a 202. */
  readonly accepted: readonly string[];
  /** Who each accepted message must reach. */
  readonly recipientsOf: (messageId: string) => readonly string[];
  /** Everything the receiving side logged, one entry per copy received. */
  readonly received: readonly Received[];
  /** Deliveries not in a final state. */
  readonly stuck: number;
}): CheckResult {
  const key = (m: string, r: string) => `${m}\u0000${r}`;
  const expected = new Set<string>();
  for (const m of opts.accepted) for (const r of opts.recipientsOf(m)) expected.add(key(m, r));
  const copies = new Map<string, number>();
  for (const r of opts.received)
    copies.set(key(r.messageId, r.recipient), (copies.get(key(r.messageId, r.recipient)) ?? 0) + 1);
  let lost = 0;
  for (const k of expected) if (!copies.has(k)) lost++;
  let duplicated = 0;
  let unexpected = 0;
  for (const [k, n] of copies) {
    if (!expected.has(k)) unexpected += n;
    else duplicated += n - 1;
  }
  return {
    expected: expected.size,
    received: opts.received.length,
    lost,
    duplicated,
    unexpected,
    stuck: opts.stuck,
  };
}

export function formatCheck(r: CheckResult): string {
  return `expected=${r.expected} received=${r.received} lost=${r.lost} duplicated=${r.duplicated} unexpected=${r.unexpected} stuck=${r.stuck}`;
}
