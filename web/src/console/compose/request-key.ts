/**
 * A fresh `Idempotency-Key` for one send: a retry of the same send (after a lost answer, a
 * double click) reuses it, so Herald accepts the message once. `crypto.getRandomValues` works
 * on plain http too, where `crypto.randomUUID` does not.
 */
export function newRequestKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `console-${hex}`;
}
