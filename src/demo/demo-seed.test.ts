import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from '../store/database.js';
import { freshDatabase, type FreshDatabase } from '../../test/support/fresh-db.js';
import { verifyPassword } from '../auth/secrets.js';
import { listGroups } from '../recipients/groups-store.js';
import { countAudience } from '../recipients/audience.js';
import { getUserByExternalId } from '../recipients/users-store.js';
import { TemplateRenderer } from '../templates/template-renderer.js';
import {
  DEMO_EXAMPLES,
  DEMO_OPERATOR,
  seedDemo,
  type DemoCategoryKey,
  type DemoSeed,
} from './demo-seed.js';
import { OPERATOR_ROLE } from '../auth/operators.js';

let fresh: FreshDatabase;
let db: Db;
let seed: DemoSeed;

before(async () => {
  fresh = await freshDatabase('demo-seed');
  ({ db } = fresh);
  seed = await seedDemo(db, 1_700_000_000_000);
});

after(() => fresh.close());

const count = async (
  table: 'users' | 'sources' | 'categories' | 'templates' | 'groups' | 'api_keys',
) =>
  Number(
    (
      await db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

test('seeds about 300 users, 5 sources, 6 categories and no API keys', async () => {
  const users = await count('users');
  assert.equal(users, seed.users);
  assert.ok(users >= 250 && users <= 350, `≈300 users, got ${users}`);
  assert.equal(await count('sources'), 5);
  assert.deepEqual(seed.sources, ['jwc', 'hq', 'xsc', 'lib', 'bwc']);
  assert.equal(await count('categories'), 6);
  assert.equal(seed.categories.length, 6);
  assert.equal(await count('api_keys'), 0);
  const sources = await db.selectFrom('sources').select(['key', 'name', 'categories']).execute();
  for (const s of sources) {
    assert.match(s.name, /[\u4e00-\u9fff]/, 'Chinese source names');
    assert.ok((JSON.parse(s.categories) as string[]).every((c) => seed.categories.includes(c)));
  }
  assert.deepEqual(
    seed.categories.filter(
      (c) => !sources.some((s) => (JSON.parse(s.categories) as string[]).includes(c)),
    ),
    [],
    'every category has a source allowed to send it',
  );
});

test('the population: roles, locales, contact points, well-known logins', async () => {
  for (const role of ['undergraduate', 'postgraduate', 'teacher', 'staff']) {
    assert.ok((await countAudience(db, { filter: { roles: [role] } })) > 0, role);
  }
  const locales = await db
    .selectFrom('users')
    .select(['locale', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('locale')
    .execute();
  const en = Number(locales.find((l) => l.locale === 'en')?.n ?? 0);
  assert.ok(en / seed.users > 0.05 && en / seed.users < 0.15, `~10% en, got ${en}`);

  const zh = await getUserByExternalId(db, seed.loginExamples.zh);
  assert.equal(seed.loginExamples.zh, '2024010101');
  assert.equal(zh?.locale, 'zh-CN');
  assert.deepEqual(zh?.roles, ['undergraduate']);
  assert.match(zh?.orgPath ?? '', /^农学院\/[^/]+\/2024级1班$/);
  assert.equal(zh?.email, '2024010101@stu.example.edu.cn');
  const enUser = await getUserByExternalId(db, seed.loginExamples.en);
  assert.equal(enUser?.locale, 'en');
  assert.match(enUser?.name ?? '', /^[A-Za-z]/);

  const row = await db
    .selectFrom('users')
    .select('password_hash')
    .where('external_id', '=', '2024010101')
    .executeTakeFirstOrThrow();
  assert.ok(row.password_hash);
  assert.equal(await verifyPassword(seed.password, row.password_hash), true);

  const withPhone = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('phone', 'like', '138%')
    .executeTakeFirstOrThrow();
  assert.ok(Number(withPhone.n) > seed.users * 0.7);
  const openIds = await db
    .selectFrom('users')
    .select('wechat_open_id')
    .where('wechat_open_id', 'is not', null)
    .execute();
  assert.ok(openIds.length > seed.users * 0.3 && openIds.length < seed.users * 0.7);
  assert.ok(openIds.every((o) => /^o[A-Za-z0-9_-]{27}$/.test(o.wechat_open_id!)));
});

test('one operator: T2001, staff of 教务处 with the role herald-admin', async () => {
  assert.equal(DEMO_OPERATOR, 'T2001');
  assert.equal(seed.loginExamples.operator, DEMO_OPERATOR);
  const operator = await getUserByExternalId(db, DEMO_OPERATOR);
  assert.deepEqual(operator?.roles, [OPERATOR_ROLE, 'staff']);
  assert.equal(operator?.orgPath, '教务处');
  const holders = await db
    .selectFrom('user_roles')
    .select('user_id')
    .where('role', '=', OPERATOR_ROLE)
    .execute();
  assert.equal(holders.length, 1);
});

test('groups: class rosters, counselors, dynamic teachers and colleges', async () => {
  const groups = new Map((await listGroups(db)).map((g) => [g.key, g]));
  assert.equal(groups.get('class-2024-agronomy-1')?.kind, 'static');
  assert.ok((groups.get('class-2024-agronomy-1')?.memberCount ?? 0) > 0);
  assert.equal(groups.get('counselors')?.kind, 'static');
  assert.equal(groups.get('all-teachers')?.kind, 'dynamic');
  assert.deepEqual(groups.get('all-teachers')?.filter, { roles: ['teacher'] });
  assert.equal(
    groups.get('college-agronomy')?.memberCount,
    await countAudience(db, { filter: { orgPrefix: '农学院' } }),
  );
});

test('campus.emergency is urgent and mandatory', async () => {
  const c = await db
    .selectFrom('categories')
    .selectAll()
    .where('key', '=', 'campus.emergency')
    .executeTakeFirstOrThrow();
  assert.equal(c.priority, 'urgent');
  assert.equal(c.mandatory, 1);
  assert.deepEqual(JSON.parse(c.default_channels), ['in_app', 'sms', 'wechat', 'email']);
  assert.deepEqual(JSON.parse(c.name), { 'zh-CN': '校园紧急通知', en: 'Campus emergency' });
});

test('a template for every category × default channel × zh-CN and en, using only known variables', async () => {
  const categories = await db
    .selectFrom('categories')
    .select(['key', 'default_channels'])
    .execute();
  const templates = await db.selectFrom('templates').selectAll().execute();
  const renderer = new TemplateRenderer();
  let expected = 0;
  for (const c of categories) {
    const data = DEMO_EXAMPLES[c.key as DemoCategoryKey];
    assert.ok(data, `example data for ${c.key}`);
    for (const channel of JSON.parse(c.default_channels) as string[]) {
      for (const locale of ['zh-CN', 'en']) {
        expected++;
        const where = `${c.key}/${channel}/${locale}`;
        const t = templates.find(
          (x) => x.category_key === c.key && x.channel === channel && x.locale === locale,
        );
        assert.ok(t, where);
        assert.equal(t.version, 1);
        if (channel === 'email') assert.ok(t.subject, `${where} has a subject`);
        if (channel === 'in_app' || channel === 'wechat')
          assert.ok(t.title, `${where} has a title`);
        if (channel === 'sms' && locale === 'zh-CN') assert.match(t.body, /^【XX农业大学】/);

        // Every variable is the recipient's name or a field of the example data.
        const text = [t.subject, t.title, t.body].join('\n');
        const roots = [
          ...text.matchAll(/\{\{-?\s*([A-Za-z_][\w.]*)|\{%-?\s*(?:if|unless)\s+([A-Za-z_][\w.]*)/g),
        ].map((m) => m[1] ?? m[2]!);
        assert.ok(roots.length > 0);
        for (const name of roots) {
          const field = /^data\.(\w+)$/.exec(name)?.[1];
          assert.ok(
            name === 'recipient.name' || (field !== undefined && field in data),
            `${where} uses {{ ${name} }}`,
          );
        }
        assert.match(
          t.body,
          /\{\{ recipient\.name \}\}|\{\{ data\.title \}\}/,
          `${where} addresses someone`,
        );

        // And the real renderer (strict variables) renders it with the example data.
        const out = await renderer.render(
          where,
          t,
          {
            data,
            recipient: { name: '张三', externalId: '2024010101', locale },
            source: { key: 'jwc', name: '教务处' },
            message: { id: 'm1', category: c.key, locale },
          },
          { timezone: 'Asia/Shanghai', locale },
        );
        assert.ok(!out.body.includes('{{') && out.body.length > 0);
        if (channel === 'sms')
          assert.ok(out.body.length <= 160, `${where} SMS stays short (${out.body.length})`);
      }
    }
  }
  assert.equal(templates.length, expected);
});
