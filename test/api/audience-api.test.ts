import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  startTestHerald,
  type TestHerald,
} from '../support/test-herald.js';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';

interface OrgNode {
  name: string;
  path: string;
  count: number;
  direct: number;
  children: OrgNode[];
}

describe('the audience builder: recipient count before sending, org tree, roles', () => {
  let t: TestHerald;
  let admin: ReturnType<typeof client>;
  const preview = (to: unknown, sample?: number) =>
    admin('POST', '/v1/audience/preview', { to, ...(sample !== undefined ? { sample } : {}) });

  before(async () => {
    t = await startTestHerald();
    admin = client(t.url, ADMIN_TOKEN);
  });
  after(() => t.close());

  it('counts a class, how many of it each channel reaches, and lists a few', async () => {
    const res = await preview({ groups: ['class-2024-agronomy-1'] });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.count, 12);
    assert.equal(res.body.reach.in_app, 12);
    assert.equal(res.body.reach.sms, 11, 'one student of the class has no phone');
    assert.equal(res.body.reach.wechat, 5);
    assert.equal(res.body.reach.email, 12);
    assert.equal(res.body.sample.length, 10);
    const first = res.body.sample[0];
    assert.equal(first.orgPath, '农学院/作物学系/2024级1班');
    assert.deepEqual(first.roles, ['undergraduate']);
    assert.deepEqual(res.body.unknownUsers, []);
    assert.deepEqual(res.body.unknownGroups, []);
    assert.equal((await preview({ groups: ['class-2024-agronomy-1'] }, 0)).body.sample.length, 0);
  });

  it('counts each person once however many parts select them', async () => {
    const res = await preview({
      users: ['2024010101', 'T1001'],
      groups: ['class-2024-agronomy-1'],
      filter: { roles: ['counselor'], orgPrefix: '农学院' },
    });
    assert.equal(res.body.count, 13);
  });

  it('the count is what a send reaches', async () => {
    const to = { filter: { orgPrefix: '农学院/作物学系' } };
    const counted = (await preview(to)).body.count;
    const sent = await client(t.url, t.keys.jwc)('POST', '/v1/messages', {
      category: 'exam.reminder',
      to,
      data: DEMO_EXAMPLES['exam.reminder'],
    });
    const reached = await eventually(async () => {
      const m = await admin('GET', `/v1/messages/${sent.body.id}`);
      return m.body.status === 'completed' ? m.body.recipients : undefined;
    });
    assert.ok(counted > 12);
    assert.equal(reached, counted);
  });

  describe('several org units (filter.orgPrefixes)', () => {
    const CLASS_A = '农学院/作物学系/2024级1班'; // 12 students, 20240101xx
    const CLASS_B = '农学院/种子科学与工程系/2024级1班'; // 12 students, 20240102xx
    const count = async (to: unknown) => {
      const res = await preview(to, 0);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.count as number;
    };
    const messageCount = async (): Promise<number> => {
      let n = 0;
      let cursor: string | null = null;
      do {
        const res = await admin(
          'GET',
          `/v1/messages?limit=200${cursor ? `&cursor=${cursor}` : ''}`,
        );
        n += res.body.items.length;
        cursor = res.body.nextCursor;
      } while (cursor);
      return n;
    };

    it('counts the union of the units, each person once', async () => {
      assert.equal(await count({ filter: { orgPrefixes: [CLASS_A, CLASS_B] } }), 24);
      // Repeats, a trailing slash and a unit inside another one add nobody twice.
      assert.equal(await count({ filter: { orgPrefixes: [CLASS_A, `${CLASS_A}/`, CLASS_A] } }), 12);
      const dept = await count({ filter: { orgPrefix: '农学院/作物学系' } });
      assert.ok(dept > 12);
      assert.equal(await count({ filter: { orgPrefixes: ['农学院/作物学系', CLASS_A] } }), dept);
      // orgPrefix and orgPrefixes together: still one union.
      assert.equal(await count({ filter: { orgPrefix: CLASS_A, orgPrefixes: [CLASS_B] } }), 24);
      // Other parts of `to` add up with it, each person once.
      assert.equal(
        await count({
          users: ['2024010101', '2024010201'],
          groups: ['class-2024-agronomy-1'],
          filter: { orgPrefixes: [CLASS_A, CLASS_B] },
        }),
        24,
      );
    });

    it('roles narrow the union of the units, as they narrow one unit', async () => {
      // Each college's counselor is a teacher of its first department.
      assert.equal(
        await count({ filter: { roles: ['counselor'], orgPrefixes: ['农学院', '植物保护学院'] } }),
        2,
      );
      const undergraduates = await count({
        filter: { roles: ['undergraduate'], orgPrefixes: ['农学院/作物学系', CLASS_B] },
      });
      assert.equal(undergraduates, 12 * 3, '作物学系 2024级1班 and 2023级1班, and CLASS_B');
      assert.ok((await count({ filter: { orgPrefixes: ['农学院/作物学系', CLASS_B] } })) > 36);
    });

    it('a send reaches the union once each, and the count said so', async () => {
      const to = { users: ['2024010201'], filter: { orgPrefixes: [CLASS_A, CLASS_B] } };
      const counted = await count(to);
      const sent = await client(t.url, t.keys.jwc)('POST', '/v1/messages', {
        category: 'exam.reminder',
        to,
        data: DEMO_EXAMPLES['exam.reminder'],
        channels: ['in_app'],
      });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      const done = await eventually(async () => {
        const m = await admin('GET', `/v1/messages/${sent.body.id}`);
        return m.body.status === 'completed' ? m.body : undefined;
      });
      assert.equal(counted, 24);
      assert.equal(done.recipients, 24);
      assert.equal(done.counts.in_app.delivered, 24, 'one in-app delivery each');
      assert.deepEqual(done.to, to, 'stored as sent');
    });

    const refused: [string, unknown][] = [
      ['more than 100 units', { orgPrefixes: Array.from({ length: 101 }, (_, i) => `单位${i}`) }],
      ['an empty unit', { orgPrefixes: [CLASS_A, ''] }],
      ['a blank unit (spaces and slashes only)', { orgPrefixes: [CLASS_A, ' / '] }],
      ['a unit over 256 characters', { orgPrefixes: ['农'.repeat(257)] }],
      // Else the org part would drop out and every teacher of the campus be reached.
      ['a blank single orgPrefix beside roles', { roles: ['teacher'], orgPrefix: '/' }],
      ['an unknown sibling field', { orgPrefixs: [CLASS_A] }],
    ];
    for (const [name, filter] of refused) {
      it(`refuses ${name}: 400 problem+json, nothing written`, async () => {
        const before = await messageCount();
        const sent = await client(t.url, t.keys.jwc)('POST', '/v1/messages', {
          category: 'exam.reminder',
          to: { filter },
          data: DEMO_EXAMPLES['exam.reminder'],
        });
        assert.equal(sent.status, 400, JSON.stringify(sent.body));
        assert.match(sent.headers.get('content-type') ?? '', /^application\/problem\+json/);
        assert.equal(sent.body.code, 'validation-failed');
        assert.match(sent.body.detail, /^body\/to\/filter/);
        assert.equal(await messageCount(), before, 'nothing written');
        const counted = await preview({ filter });
        assert.equal(counted.status, 400);
        assert.equal(counted.body.code, 'validation-failed');
      });
    }

    it('100 units are accepted', async () => {
      const units = Array.from({ length: 99 }, (_, i) => `没有这个单位${i}`);
      assert.equal(await count({ filter: { orgPrefixes: [...units, CLASS_A] } }), 12);
    });

    it('an empty list selects nobody: a send with nothing else is refused', async () => {
      assert.equal(await count({ filter: { orgPrefixes: [] } }), 0);
      const before = await messageCount();
      const sent = await client(t.url, t.keys.jwc)('POST', '/v1/messages', {
        category: 'exam.reminder',
        to: { filter: { orgPrefixes: [] } },
        data: DEMO_EXAMPLES['exam.reminder'],
      });
      assert.equal(sent.status, 400, JSON.stringify(sent.body));
      assert.equal(sent.body.code, 'validation-failed');
      assert.match(sent.body.detail, /must select at least one recipient/);
      assert.equal(await messageCount(), before, 'nothing written');
    });
  });

  it('lists unknown users and groups instead of refusing, and counts nothing for an empty to', async () => {
    const res = await preview({ users: ['2099999999', '2024010101'], groups: ['class-9'] });
    assert.equal(res.status, 200);
    assert.equal(res.body.count, 1);
    assert.deepEqual(res.body.unknownUsers, ['2099999999']);
    assert.deepEqual(res.body.unknownGroups, ['class-9']);
    const none = await preview({});
    assert.equal(none.body.count, 0);
    assert.deepEqual(none.body.sample, []);
    const everyone = await preview({ all: true }, 1);
    assert.ok(everyone.body.count > 300);
  });

  it('refuses what POST /v1/messages would refuse in `to`', async () => {
    const res = await preview({ user: ['2024010101'] });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'validation-failed');
    const big = await admin('POST', '/v1/audience/preview', { to: { all: true }, sample: 51 });
    assert.equal(big.status, 400);
  });

  it('the org tree: 学院/系/班级 with counts that match the audience filter', async () => {
    const res = await admin('GET', '/v1/org-tree');
    assert.equal(res.status, 200);
    const everyone = (await preview({ all: true }, 0)).body.count;
    assert.equal(res.body.total, everyone);
    const nodes = res.body.nodes as OrgNode[];
    const agronomy = nodes.find((n) => n.name === '农学院')!;
    assert.equal(agronomy.path, '农学院');
    assert.equal(
      agronomy.count,
      (await preview({ filter: { orgPrefix: '农学院' } }, 0)).body.count,
    );
    const dept = agronomy.children.find((n) => n.name === '作物学系')!;
    const cls = dept.children.find((n) => n.name === '2024级1班')!;
    assert.equal(cls.path, '农学院/作物学系/2024级1班');
    assert.equal(cls.count, 12);
    assert.equal(cls.direct, 12);
    assert.deepEqual(cls.children, []);
    const sum = (n: OrgNode): number => n.direct + n.children.reduce((a, c) => a + sum(c), 0);
    for (const n of nodes) assert.equal(sum(n), n.count, `${n.path}: direct and below add up`);
    assert.equal(nodes.reduce((a, n) => a + n.count, 0) + res.body.unassigned, res.body.total);
    assert.ok(
      nodes.some((n) => n.name === '教务处' && n.count === 3),
      'offices are units too',
    );
  });

  it('roles with their holders', async () => {
    const res = await admin('GET', '/v1/roles');
    const roles = Object.fromEntries(
      (res.body.items as { role: string; count: number }[]).map((r) => [r.role, r.count]),
    );
    assert.equal(roles['herald-admin'], 1);
    assert.equal(roles.counselor, 5);
    assert.ok(roles.undergraduate! > 200);
  });

  it('is for the admin and operators', async () => {
    const login = await client(t.url)('POST', '/v1/auth/login', {
      externalId: '2024010101',
      password: t.password,
    });
    const student = client(t.url, login.body.token);
    assert.equal((await student('GET', '/v1/org-tree')).status, 403);
    assert.equal(
      (await student('POST', '/v1/audience/preview', { to: { all: true } })).status,
      403,
    );
  });
});
