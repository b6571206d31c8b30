import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freshDatabase, type FreshDatabase } from '../../test/support/fresh-db.js';
import { threadSignals } from '../runtime/peer-signals.js';
import {
  createApiKey,
  insertSource,
  revokeApiKey,
  updateSource,
  type Source,
} from './sources-store.js';
import { API_KEY_CACHE_TTL_MS, ApiKeyCache } from './api-key-cache.js';

describe('ApiKeyCache: the source of an API key, cached and forgotten on change', () => {
  let fresh: FreshDatabase;
  let jwc: Source;
  let t = 0;
  const now = () => t;
  const caches: ApiKeyCache[] = [];
  const cache = (opts: Partial<ConstructorParameters<typeof ApiKeyCache>[0]> = {}) => {
    const c = new ApiKeyCache({ db: fresh.db, now, ...opts });
    caches.push(c);
    return c;
  };
  const newKey = async () => createApiKey(fresh.db, jwc.id, Date.now());
  const revoke = async (id: string) => {
    assert.ok(await revokeApiKey(fresh.db, jwc.id, id, Date.now()));
  };

  before(async () => {
    fresh = await freshDatabase('api-key-cache');
    jwc = await insertSource(
      fresh.db,
      { key: 'jwc', name: '教务处', categories: ['exam.reminder'], quotas: { sms: 10 } },
      Date.now(),
    );
  });
  after(async () => {
    for (const c of caches) c.close();
    await fresh.close();
  });

  it('answers the source of a valid key, and null for malformed, unknown, wrong and revoked keys', async () => {
    const c = cache();
    const { secret } = await newKey();
    const source = await c.sourceOf(secret);
    assert.equal(source?.id, jwc.id);
    assert.deepEqual(source?.categories, ['exam.reminder']);
    assert.deepEqual(source?.quotas, { sms: 10 });

    assert.equal(await c.sourceOf('hk_not-a-key'), null);
    assert.equal(await c.sourceOf(`hk_000000000000_${'A'.repeat(43)}`), null, 'unknown prefix');
    // Same prefix, another secret: the cached row's hash does not match.
    const forged = `${secret.slice(0, 16)}${secret.at(16) === 'A' ? 'B' : 'A'}${secret.slice(17)}`;
    assert.equal(await c.sourceOf(forged), null, 'wrong secret');

    const revoked = await newKey();
    await revoke(revoked.info.id);
    assert.equal(await c.sourceOf(revoked.secret), null, 'revoked');
  });

  it('keeps what it read for the TTL: a change behind its back is seen only after it', async () => {
    const c = cache();
    const { info, secret } = await newKey();
    assert.equal((await c.sourceOf(secret))?.id, jwc.id);
    await revoke(info.id); // straight in the database, nobody told
    t += API_KEY_CACHE_TTL_MS - 1;
    assert.equal((await c.sourceOf(secret))?.id, jwc.id, 'still cached: no round trip');
    t += 1;
    assert.equal(await c.sourceOf(secret), null, 'read again after the TTL');
  });

  it('refuses a revoked key from the next call on once invalidate() is called', async () => {
    const c = cache();
    const { info, secret } = await newKey();
    assert.equal((await c.sourceOf(secret))?.id, jwc.id);
    await revoke(info.id);
    c.invalidate();
    assert.equal(await c.sourceOf(secret), null);
  });

  it('serves a changed source (categories, quotas) after invalidate()', async () => {
    const c = cache();
    const { secret } = await newKey();
    assert.deepEqual((await c.sourceOf(secret))?.categories, ['exam.reminder']);
    await updateSource(fresh.db, 'jwc', { categories: ['library.due'] }, Date.now());
    c.invalidate();
    assert.deepEqual((await c.sourceOf(secret))?.categories, ['library.due']);
    await updateSource(fresh.db, 'jwc', { categories: ['exam.reminder'] }, Date.now());
    c.invalidate();
  });

  it('does not keep a read that was in flight when it was invalidated', async () => {
    const c = cache();
    const { info, secret } = await newKey();
    // The read starts before the revocation commits and may see the key as valid …
    const inFlight = c.sourceOf(secret);
    await revoke(info.id);
    c.invalidate();
    await inFlight;
    // … but what it saw is not kept, and a call after the invalidation does not join it.
    assert.equal(await c.sourceOf(secret), null);
  });

  it("forgets when another cache on the same signals invalidates (another process's revocation)", async () => {
    const signals = threadSignals();
    const here = cache({ signals });
    const there = cache({ signals });
    const { info, secret } = await newKey();
    assert.equal((await here.sourceOf(secret))?.id, jwc.id);
    assert.equal((await there.sourceOf(secret))?.id, jwc.id);
    await revoke(info.id);
    there.invalidate();
    assert.equal(await here.sourceOf(secret), null);
    await signals.close();
  });
});
