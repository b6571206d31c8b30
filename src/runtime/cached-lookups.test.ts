import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freshDatabase, type FreshDatabase } from '../../test/support/fresh-db.js';
import { insertCategory, updateCategory } from '../categories/categories-store.js';
import { insertSource, updateSource, type Source } from '../sources/sources-store.js';
import { ApiKeyCache } from '../sources/api-key-cache.js';
import { putTemplate } from '../templates/templates-store.js';
import { threadSignals } from './peer-signals.js';
import { CachedLookups, LOOKUP_CACHE_TTL_MS } from './cached-lookups.js';

describe('CachedLookups: categories, sources and templates for the workers, cached', () => {
  let fresh: FreshDatabase;
  let jwc: Source;
  let t = 0;
  const now = () => t;
  const closers: { close(): unknown }[] = [];
  const lookups = (opts: ConstructorParameters<typeof CachedLookups>[0] = {}) => {
    const l = new CachedLookups({ now, ...opts });
    closers.push(l);
    return l;
  };
  const exam = {
    key: 'exam.reminder',
    name: { en: 'Exams' },
    priority: 'normal' as const,
    mandatory: false,
    defaultChannels: ['in_app' as const],
    maxAttempts: 5,
  };
  const put = (title: string) =>
    putTemplate(
      fresh.db,
      {
        category: 'exam.reminder',
        channel: 'in_app',
        locale: 'en',
        title,
        body: 'Room {{ room }}',
      },
      Date.now(),
    );

  before(async () => {
    fresh = await freshDatabase('cached-lookups');
    await insertCategory(fresh.db, exam, Date.now());
    jwc = await insertSource(
      fresh.db,
      { key: 'jwc', name: '教务处', categories: ['exam.reminder'], quotas: { sms: 10 } },
      Date.now(),
    );
    await put('Exam v1');
  });
  after(async () => {
    for (const c of closers) c.close();
    await fresh.close();
  });

  it('keeps a category until invalidate("categories") or the TTL; an absent one is looked for again', async () => {
    const l = lookups();
    assert.equal(
      (await l.categories(fresh.db, ['exam.reminder'])).get('exam.reminder')?.maxAttempts,
      5,
    );
    await updateCategory(fresh.db, 'exam.reminder', { maxAttempts: 3 }, Date.now());
    assert.equal(
      (await l.categories(fresh.db, ['exam.reminder'])).get('exam.reminder')?.maxAttempts,
      5,
      'cached',
    );
    l.invalidate('categories');
    assert.equal(
      (await l.categories(fresh.db, ['exam.reminder'])).get('exam.reminder')?.maxAttempts,
      3,
    );

    await updateCategory(fresh.db, 'exam.reminder', { maxAttempts: 5 }, Date.now());
    t += LOOKUP_CACHE_TTL_MS;
    assert.equal(
      (await l.categories(fresh.db, ['exam.reminder'])).get('exam.reminder')?.maxAttempts,
      5,
      'read again after the TTL',
    );

    assert.equal((await l.categories(fresh.db, ['library.due'])).size, 0);
    await insertCategory(fresh.db, { ...exam, key: 'library.due' }, Date.now());
    assert.ok((await l.categories(fresh.db, ['library.due', 'exam.reminder'])).has('library.due'));
  });

  it('keeps a template until invalidate("templates"); a new version is rendered after it', async () => {
    const l = lookups();
    const chain = ['en', 'zh-CN'];
    assert.equal((await l.template(fresh.db, 'exam.reminder', 'in_app', chain))?.title, 'Exam v1');
    await put('Exam v2');
    assert.equal((await l.template(fresh.db, 'exam.reminder', 'in_app', chain))?.title, 'Exam v1');
    l.invalidate('templates');
    assert.equal((await l.template(fresh.db, 'exam.reminder', 'in_app', chain))?.title, 'Exam v2');
    assert.equal(await l.template(fresh.db, 'exam.reminder', 'sms', chain), null, 'none');
  });

  it("forgets sources when a source change is announced anywhere on the database (the API's key cache)", async () => {
    const signals = threadSignals();
    const worker = lookups({ signals });
    const api = new ApiKeyCache({ db: fresh.db, signals });
    closers.push(api);
    assert.deepEqual((await worker.sources(fresh.db, [jwc.id])).get(jwc.id)?.quotas, { sms: 10 });
    await updateSource(fresh.db, 'jwc', { quotas: { sms: 1 } }, Date.now());
    api.invalidate();
    assert.deepEqual((await worker.sources(fresh.db, [jwc.id])).get(jwc.id)?.quotas, { sms: 1 });
    await signals.close();
  });
});
