import { randomFillSync } from 'node:crypto';

// Random bytes are drawn in bulk: one system call per 256 ids instead of one per id.
const POOL_IDS = 256;
const pool = Buffer.alloc(16 * POOL_IDS);
let next = POOL_IDS;
let lastMs = 0;
let counter = 0;

/**
 * UUIDv7 (RFC 9562): time-ordered, so indexes stay append-mostly, and unguessable from one
 * another. Ids made by one thread are strictly increasing (RFC 9562 method 1: a 12-bit counter
 * in rand_a, started at a random value each millisecond; a later id never sorts before an
 * earlier one, even within a millisecond or when the clock steps back), so sorting by id
 * gives creation order — which delivery relies on to keep a user's messages in acceptance
 * order.
 */
export function newId(now: number = Date.now()): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  const b = pool.subarray(next * 16, next * 16 + 16);
  next++;
  if (now > lastMs) {
    lastMs = now;
    counter = ((b[6]! & 0x0f) << 8) | b[7]!;
    counter &= 0x7ff; // leave headroom before the counter overflows
  } else if (++counter > 0xfff) {
    lastMs++;
    counter = 0;
  }
  b.writeUIntBE(lastMs, 0, 6);
  b[6] = 0x70 | (counter >> 8);
  b[7] = counter & 0xff;
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
