import type { Kysely } from 'kysely';

/**
 * Channel fallback: a delivery created instead of, or after, one on another channel says so
 * (`fallback_from`), so the per-recipient view shows "sms, fallback from wechat" and a fallback
 * never falls back again (one hop).
 */
export function deliveryFallback() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('deliveries').addColumn('fallback_from', 'text').execute();
    },
  };
}
