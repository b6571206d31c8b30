import type { Tx } from '../store/database.js';

/** Stored answers are replayed for 24 h, as Stripe does. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

export interface StoredResponse {
  readonly requestHash: string;
  readonly state: string;
  readonly responseStatus: number;
  readonly responseBody: Record<string, unknown>;
}

/** The key of `lookup`'s map and of `store`'s answer. */
export const idempotencyKeyOf = (sourceId: string, key: string) => `${sourceId}\u0000${key}`;
const keyOf = idempotencyKeyOf;

/**
 * Idempotency records live in the same transaction as the message they answer for: the key
 * is claimed iff the message commits. On conflict the insert only replaces an EXPIRED record.
 * With SQLite the lookup and the insert run under the single writer, so no other request can
 * slip between them. On PostgreSQL another process may commit the same key in between:
 * `store` says which keys it claimed, and the caller answers the others as replays.
 */
export const idempotencyRecords = {
  async lookup(
    tx: Tx,
    keys: readonly { sourceId: string; key: string }[],
    now: number,
  ): Promise<Map<string, StoredResponse>> {
    const found = new Map<string, StoredResponse>();
    for (let i = 0; i < keys.length; i += 400) {
      const chunk = keys.slice(i, i + 400);
      if (chunk.length === 0) continue;
      const rows = await tx
        .selectFrom('idempotency_keys')
        .selectAll()
        .where((eb) =>
          eb.or(
            chunk.map((k) => eb.and([eb('source_id', '=', k.sourceId), eb('key', '=', k.key)])),
          ),
        )
        .where('expires_at', '>', now)
        .execute();
      for (const r of rows) {
        found.set(keyOf(r.source_id, r.key), {
          requestHash: r.request_hash,
          state: r.state,
          responseStatus: Number(r.response_status ?? 0),
          responseBody: r.response_body
            ? (JSON.parse(r.response_body) as Record<string, unknown>)
            : {},
        });
      }
    }
    return found;
  },

  async store(
    tx: Tx,
    records: readonly {
      sourceId: string;
      key: string;
      hash: string;
      status: number;
      body: unknown;
    }[],
    now: number,
    expiresAt: number,
  ): Promise<Set<string>> {
    const claimed = new Set<string>();
    for (let i = 0; i < records.length; i += 500) {
      const chunk = records.slice(i, i + 500);
      // An expired record for the same key may still be there: replace it.
      const stored = await tx
        .insertInto('idempotency_keys')
        .values(
          chunk.map((r) => ({
            source_id: r.sourceId,
            key: r.key,
            request_hash: r.hash,
            state: 'done',
            response_status: r.status,
            response_body: JSON.stringify(r.body),
            created_at: now,
            expires_at: expiresAt,
          })),
        )
        .onConflict((oc) =>
          oc
            .columns(['source_id', 'key'])
            .doUpdateSet((eb) => ({
              request_hash: eb.ref('excluded.request_hash'),
              state: eb.ref('excluded.state'),
              response_status: eb.ref('excluded.response_status'),
              response_body: eb.ref('excluded.response_body'),
              created_at: eb.ref('excluded.created_at'),
              expires_at: eb.ref('excluded.expires_at'),
            }))
            .where('idempotency_keys.expires_at', '<=', now),
        )
        .returning(['source_id', 'key'])
        .execute();
      for (const r of stored) claimed.add(keyOf(r.source_id, r.key));
    }
    return claimed;
  },

  async purgeExpired(tx: Tx, now: number): Promise<void> {
    await tx.deleteFrom('idempotency_keys').where('expires_at', '<=', now).execute();
  },
};
