import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freshDatabase, type FreshDatabase } from '../../test/support/fresh-db.js';
import type { DeliveriesTable } from '../store/schema.js';
import { newId } from '../store/ids.js';
import { insertSource, type Source } from '../sources/sources-store.js';
import { insertDeliveries } from '../deliveries/deliveries-store.js';
import { chargeQuota, usageOn } from './quota-usage-store.js';
import { enforceQuotas, type QuotaOwner } from './enforce-quotas.js';

const NOW = Date.parse('2025-09-01T08:00:00Z');
const DAY = '2025-09-01';

describe('daily quota charges', () => {
  let fresh: FreshDatabase;
  let jwc: Source;
  let lib: Source;
  let messageId: string;

  before(async () => {
    fresh = await freshDatabase('quotas');
    jwc = await insertSource(
      fresh.db,
      { key: 'jwc', name: '教务处', categories: [], quotas: { sms: 3, wechat: 0 } },
      NOW,
    );
    lib = await insertSource(
      fresh.db,
      { key: 'lib', name: '图书馆', categories: [], quotas: { sms: 10 } },
      NOW,
    );
    await fresh.db
      .insertInto('categories')
      .values({
        key: 'notice',
        name: '{"en":"Notice"}',
        priority: 'normal',
        mandatory: 0,
        default_channels: '["sms"]',
        max_attempts: 5,
        channel_fallbacks: '{}',
        email_from: null,
        email_reply_to: null,
        created_at: NOW,
        updated_at: NOW,
      })
      .execute();
  });
  after(() => fresh.close());

  beforeEach(async () => {
    await fresh.db.deleteFrom('quota_usage').execute();
    messageId = newId(NOW);
    await fresh.db
      .insertInto('messages')
      .values({
        id: messageId,
        source_id: jwc.id,
        category_key: 'notice',
        priority: 'normal',
        audience: '{"all":true}',
        data: '{}',
        channels: null,
        locale: null,
        send_at: NOW,
        status: 'accepted',
        fanout_cursor: null,
        recipient_count: 0,
        idempotency_key: null,
        created_at: NOW,
        updated_at: NOW,
      })
      .execute();
  });

  const owner = (s: Source): QuotaOwner => ({
    sourceId: s.id,
    sourceKey: s.key,
    quotas: s.quotas,
  });

  function rows(channel: string, users: number, status: 'queued' | 'suppressed' = 'queued') {
    return Array.from({ length: users }, (_, i): DeliveriesTable => ({
      id: newId(NOW),
      message_id: messageId,
      user_id: `${channel}-u${i}`,
      channel,
      status,
      reason: status === 'suppressed' ? 'no-address' : null,
      locale: 'zh-CN',
      attempts: 0,
      last_error: null,
      provider: null,
      provider_message_id: null,
      created_at: NOW,
      updated_at: NOW,
      final_at: status === 'suppressed' ? NOW : null,
      fallback_from: null,
    }));
  }

  it('grants up to the limit and never past it, across charges', async () => {
    const key = { sourceId: jwc.id, channel: 'sms', day: DAY };
    const granted = await fresh.db
      .transaction()
      .execute(async (tx) => [
        await chargeQuota(tx, key, 2, 3),
        await chargeQuota(tx, key, 2, 3),
        await chargeQuota(tx, key, 5, 3),
      ]);
    assert.deepEqual(granted, [2, 1, 0]);
    const usage = await usageOn(fresh.db, [jwc.id], ['sms'], DAY);
    assert.equal(usage.get(jwc.id)?.get('sms'), 3);
    // A lowered limit grants nothing more and does not go negative.
    assert.equal(await fresh.db.transaction().execute((tx) => chargeQuota(tx, key, 1, 1)), 0);
    assert.equal((await usageOn(fresh.db, [jwc.id], ['sms'], DAY)).get(jwc.id)?.get('sms'), 3);
  });

  it('keeps days apart', async () => {
    await fresh.db.transaction().execute(async (tx) => {
      await chargeQuota(tx, { sourceId: jwc.id, channel: 'sms', day: DAY }, 3, 3);
      assert.equal(
        await chargeQuota(tx, { sourceId: jwc.id, channel: 'sms', day: '2025-09-02' }, 3, 3),
        3,
      );
    });
    assert.equal(
      (await usageOn(fresh.db, [jwc.id], ['sms'], '2025-09-02')).get(jwc.id)?.get('sms'),
      3,
    );
  });

  it('charges created queued deliveries and suppresses those beyond the quota, in order', async () => {
    const planned = [...rows('sms', 5), ...rows('email', 2), ...rows('sms', 1, 'suppressed')];
    const { created, exceeded } = await fresh.db.transaction().execute(async (tx) => {
      const created = await insertDeliveries(tx, planned);
      const exceeded = await enforceQuotas(tx, created, () => owner(jwc), DAY, NOW);
      return { created, exceeded };
    });
    assert.deepEqual(exceeded, [{ source: 'jwc', channel: 'sms', limit: 3, count: 2 }]);
    const stored = await fresh.db
      .selectFrom('deliveries')
      .select(['id', 'channel', 'status', 'reason', 'final_at'])
      .where('message_id', '=', messageId)
      .orderBy('id')
      .execute();
    const sms = stored.filter((d) => d.channel === 'sms' && d.reason !== 'no-address');
    assert.deepEqual(
      sms.map((d) => d.status),
      ['queued', 'queued', 'queued', 'suppressed', 'suppressed'],
      'the first three in order are granted',
    );
    assert.ok(sms.slice(3).every((d) => d.reason === 'quota-exceeded' && d.final_at === NOW));
    assert.ok(stored.filter((d) => d.channel === 'email').every((d) => d.status === 'queued'));
    // What the caller enqueues afterwards agrees with the database.
    const byId = new Map(stored.map((d) => [d.id, d.status]));
    assert.ok(created.every((d) => byId.get(d.id) === d.status));
    // Charged exactly: the queued sms deliveries, not the suppressed ones, not email.
    const usage = await usageOn(fresh.db, [jwc.id], ['sms', 'email'], DAY);
    assert.equal(usage.get(jwc.id)?.get('sms'), 3);
    assert.equal(usage.get(jwc.id)?.get('email'), undefined);
  });

  it('stops a channel whose quota is 0, and leaves sources without quotas alone', async () => {
    const planned = rows('wechat', 2);
    const exceeded = await fresh.db.transaction().execute(async (tx) => {
      const created = await insertDeliveries(tx, planned);
      return enforceQuotas(tx, created, () => owner(jwc), DAY, NOW);
    });
    assert.deepEqual(exceeded, [{ source: 'jwc', channel: 'wechat', limit: 0, count: 2 }]);

    const more = rows('sms', 2);
    const none = await fresh.db.transaction().execute(async (tx) => {
      const created = await insertDeliveries(tx, more);
      return enforceQuotas(tx, created, () => undefined, DAY, NOW);
    });
    assert.deepEqual(none, []);
    assert.equal((await usageOn(fresh.db, [jwc.id], ['sms'], DAY)).size, 0);
  });

  it('charges each source its own quota', async () => {
    const planned = rows('sms', 4);
    const libOwner = owner(lib);
    const exceeded = await fresh.db.transaction().execute(async (tx) => {
      const created = await insertDeliveries(tx, planned);
      return enforceQuotas(
        tx,
        created,
        (id) => (id === planned[0]!.id ? owner(jwc) : libOwner),
        DAY,
        NOW,
      );
    });
    assert.deepEqual(exceeded, []);
    const usage = await usageOn(fresh.db, [jwc.id, lib.id], ['sms'], DAY);
    assert.equal(usage.get(jwc.id)?.get('sms'), 1);
    assert.equal(usage.get(lib.id)?.get('sms'), 3);
  });

  it('writes nothing when the transaction fails: charge and deliveries go together', async () => {
    const planned = rows('sms', 2);
    await assert.rejects(
      fresh.db.transaction().execute(async (tx) => {
        const created = await insertDeliveries(tx, planned);
        await enforceQuotas(tx, created, () => owner(jwc), DAY, NOW);
        throw new Error('crash before commit');
      }),
      /crash before commit/,
    );
    assert.equal((await usageOn(fresh.db, [jwc.id], ['sms'], DAY)).size, 0);
    const left = await fresh.db
      .selectFrom('deliveries')
      .select('id')
      .where('message_id', '=', messageId)
      .execute();
    assert.equal(left.length, 0);
  });
});
