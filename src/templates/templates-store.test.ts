import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from '../store/database.js';
import { freshDatabase, type FreshDatabase } from '../../test/support/fresh-db.js';
import { insertCategory } from '../categories/categories-store.js';
import { localeChain } from './locale-chain.js';
import {
  getCurrentTemplate,
  listTemplates,
  listVersions,
  putTemplate,
  resolveTemplate,
} from './templates-store.js';

describe('templates store', () => {
  let fresh: FreshDatabase;
  let db: Db;

  // A fresh database per test: nothing leaks from one test into another.
  beforeEach(async () => {
    fresh = await freshDatabase('templates-store');
    ({ db } = fresh);
    for (const key of ['exam.schedule', 'fee.due']) {
      await insertCategory(
        db,
        {
          key,
          name: { en: key },
          priority: 'normal',
          mandatory: false,
          defaultChannels: ['in_app'],
          maxAttempts: 5,
        },
        1,
      );
    }
  });

  afterEach(() => fresh.close());

  it('stores each put as the next version; the latest is current', async () => {
    const t = { category: 'exam.schedule', channel: 'email', locale: 'zh-CN' };
    const v1 = await putTemplate(db, { ...t, subject: 'S1', body: 'B1' }, 1000);
    const v2 = await putTemplate(db, { ...t, subject: 'S2', body: 'B2' }, 2000);
    assert.equal(v1.version, 1);
    assert.equal(v2.version, 2);
    assert.equal(v2.title, null);
    assert.deepEqual(await getCurrentTemplate(db, t.category, t.channel, t.locale), v2);
    assert.deepEqual(
      (await listVersions(db, t.category, t.channel, t.locale)).map((v) => [
        v.version,
        v.body,
        v.createdAt,
      ]),
      [
        [2, 'B2', 2000],
        [1, 'B1', 1000],
      ],
    );
    assert.equal(await getCurrentTemplate(db, t.category, 'sms', t.locale), null);
  });

  it('numbers versions per category × channel × locale', async () => {
    const a = await putTemplate(
      db,
      { category: 'fee.due', channel: 'email', locale: 'zh-CN', subject: 's', body: 'b' },
      1,
    );
    const b = await putTemplate(
      db,
      { category: 'fee.due', channel: 'in_app', locale: 'zh-CN', title: 't', body: 'b' },
      1,
    );
    assert.deepEqual([a.version, b.version], [1, 1]);
  });

  it('gives concurrent writers distinct versions', async () => {
    const t = { category: 'fee.due', channel: 'sms', locale: 'en' };
    const stored = await Promise.all(
      [1, 2, 3, 4].map((n) => putTemplate(db, { ...t, body: `b${n}` }, n)),
    );
    assert.deepEqual(stored.map((s) => s.version).sort(), [1, 2, 3, 4]);
  });

  it('lists only current versions, optionally of one category', async () => {
    const put = (category: string, channel: string, locale: string) =>
      putTemplate(db, { category, channel, locale, body: 'b' }, 1);
    await put('fee.due', 'sms', 'en');
    await put('exam.schedule', 'email', 'zh-CN');
    await put('exam.schedule', 'email', 'zh-CN');
    await put('fee.due', 'in_app', 'zh-CN');
    await put('fee.due', 'sms', 'en');
    await put('fee.due', 'sms', 'en');
    const all = await listTemplates(db);
    assert.deepEqual(
      all.map((t) => `${t.category}/${t.channel}/${t.locale}@${t.version}`),
      ['exam.schedule/email/zh-CN@2', 'fee.due/in_app/zh-CN@1', 'fee.due/sms/en@3'],
    );
    assert.deepEqual(
      (await listTemplates(db, { category: 'exam.schedule' })).map((t) => t.version),
      [2],
    );
  });

  it('resolves the first locale of the chain that has a template, at its current version', async () => {
    const c = 'exam.schedule';
    await putTemplate(
      db,
      { category: c, channel: 'in_app', locale: 'en', title: 'en', body: 'en v1' },
      1,
    );
    await putTemplate(
      db,
      { category: c, channel: 'in_app', locale: 'en', title: 'en', body: 'en v2' },
      2,
    );
    await putTemplate(
      db,
      { category: c, channel: 'in_app', locale: 'zh-CN', title: 'zh', body: 'zh-CN v1' },
      3,
    );

    const hk = await resolveTemplate(db, c, 'in_app', localeChain('zh-HK'));
    assert.equal(hk?.body, 'zh-CN v1');
    const fr = await resolveTemplate(db, c, 'in_app', ['fr-FR', 'fr', 'en', 'zh-CN']);
    assert.deepEqual([fr?.locale, fr?.version, fr?.body], ['en', 2, 'en v2']);

    await putTemplate(
      db,
      { category: c, channel: 'in_app', locale: 'zh', title: 'zh', body: 'zh v1' },
      4,
    );
    assert.equal((await resolveTemplate(db, c, 'in_app', localeChain('zh-HK')))?.body, 'zh v1');

    assert.equal(await resolveTemplate(db, c, 'wecom', localeChain('zh-HK')), null);
    assert.equal(await resolveTemplate(db, c, 'in_app', []), null);
  });
});
