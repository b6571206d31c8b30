import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { DEMO_EXAMPLES, DEMO_OPERATOR } from '../../src/demo/demo-seed.js';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  startTestHerald,
  type TestHerald,
} from '../support/test-herald.js';
import { behaviours, FakeProvider } from '../support/fake-provider.js';
import {
  ensureWebBuilt,
  horizontalOverflow,
  openBrowser,
  screenshot,
  SCREENSHOTS,
  skipWithoutChromium,
  type TestBrowser,
  type TestPage,
  type ViewportName,
} from '../support/browser.js';

// Every console screen on a phone (390×844) and a desktop (1440×900), saved under
// test-results/web/console-*.png for people to look at; each must fit its viewport's width and
// raise no error. On the way, the screens beyond compose are used as an operator would: a new
// category with its template (errors shown, then saved), a source allowed to send it and given
// an API key (shown once, used, revoked), a dead letter re-driven, a CSV import with a bad row.
const skip = skipWithoutChromium();
const CATEGORY = 'lab.alert';

describe('console screens', { skip }, () => {
  let h: TestHerald;
  let fake: FakeProvider;
  let browser: TestBrowser;
  let admin: ReturnType<typeof client>;
  const tabs = {} as Record<ViewportName, TestPage>;
  const viewports: ViewportName[] = ['phone', 'desktop'];
  let newKey = '';
  let messageId = '';

  /**
   * Screenshot of the page as it is now, after checking it fits sideways: the whole page from
   * the top, or (`viewport`) what the screen shows, e.g. a dialog over the page it belongs to.
   */
  async function shoot(viewport: ViewportName, name: string, view: 'page' | 'viewport' = 'page') {
    const page = tabs[viewport].page;
    await page.evaluate('document.fonts.ready');
    if (view === 'page') await page.evaluate('window.scrollTo(0, 0)');
    assert.equal(await horizontalOverflow(page), 0, `${name} on a ${viewport} is too wide`);
    if (viewport === 'desktop') {
      // Every section's tab is in sight (a phone scrolls them).
      const hidden = await page.evaluate(
        "(() => { const n = document.querySelector('.app-nav'); return n ? n.scrollWidth - n.clientWidth : 0; })()",
      );
      assert.equal(hidden, 0, `the navigation of ${name} does not fit`);
    }
    if (view === 'page') await screenshot(page, `${viewport}-console-${name}`);
    else await page.screenshot({ path: join(SCREENSHOTS, `${viewport}-console-${name}.png`) });
  }

  const each = async (fn: (page: Page, viewport: ViewportName) => Promise<void>) => {
    for (const viewport of viewports) await fn(tabs[viewport].page, viewport);
  };
  const desktop = () => tabs.desktop.page;

  async function signInAs(page: Page, externalId: string, password: string) {
    await page.locator('input[name="externalId"]').fill(externalId);
    await page.locator('input[name="password"]').fill(password);
    await page.locator('form button[type="submit"]').click();
  }

  before(async () => {
    ensureWebBuilt();
    // The lab's alarm system answers 503 until it is repaired: its deliveries become dead letters.
    fake = await FakeProvider.start();
    fake.steady(behaviours.status(503));
    h = await startTestHerald({ HERALD_OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8' });
    admin = client(h.url, ADMIN_TOKEN);
    const provider = await admin('POST', '/v1/providers', {
      name: 'lab-alarm',
      kind: 'webhook',
      settings: { url: fake.url },
    });
    assert.equal(provider.status, 201, JSON.stringify(provider.body));
    fake.secret = provider.body.signingSecret as string;
    browser = await openBrowser();
    for (const viewport of viewports) tabs[viewport] = await browser.page(viewport);
  });

  after(async () => {
    await browser?.close();
    await h?.close();
    await fake?.close();
  });

  test('sign-in, a wrong password, and an account that is no operator', async () => {
    await each(async (page, viewport) => {
      await page.goto(`${h.url}/admin`);
      await page.locator('input[name="externalId"]').waitFor();
      await shoot(viewport, 'login');
      await signInAs(page, DEMO_OPERATOR, 'wrong');
      await page.getByText('工号或密码错误。').waitFor();
      await shoot(viewport, 'login-failed');
      await signInAs(page, '2024010101', h.password);
      await page.getByTestId('not-operator').waitFor();
      await shoot(viewport, 'not-operator');
      await page.getByRole('button', { name: '使用其他账号登录' }).click();
      await signInAs(page, DEMO_OPERATOR, h.password);
      await page.locator('#dashboard-title').waitFor();
    });
  });

  test('the dashboard before anything was sent', async () => {
    await each(async (page, viewport) => {
      await page.getByText('最近 24 小时没有发送').waitFor();
      await shoot(viewport, 'dashboard-empty');
    });
  });

  test('the dashboard and the messages with real traffic', async () => {
    const sends: [string, keyof typeof DEMO_EXAMPLES, Record<string, unknown>][] = [
      ['jwc', 'exam.reminder', { groups: ['class-2024-agronomy-1'] }],
      ['hq', 'canteen.menu', { filter: { orgPrefix: '农学院' } }],
      ['lib', 'library.due', { users: ['2024010101', '2024010102'] }],
      ['xsc', 'activity.notice', { groups: ['all-students'] }],
      ['jwc', 'course.change', { users: ['2024010101'] }],
    ];
    for (const [source, category, to] of sends) {
      const res = await client(h.url, h.keys[source])('POST', '/v1/messages', {
        category,
        to,
        data: DEMO_EXAMPLES[category],
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      messageId = res.body.id as string;
    }
    await eventually(async () => {
      const list = await admin('GET', '/v1/messages?limit=10');
      const items = list.body.items as { status: string }[];
      return items.length === sends.length && items.every((m) => m.status === 'completed')
        ? true
        : undefined;
    }, 30_000);
    await each(async (page, viewport) => {
      await page.getByRole('button', { name: '刷新' }).click();
      await page.getByTestId('channel-table').waitFor();
      await shoot(viewport, 'dashboard');
      await page.goto(`${h.url}/admin/messages`);
      await eventually(
        async () => (await page.getByTestId('message-row').count()) === 5 || undefined,
      );
      await shoot(viewport, 'messages');
      await page.locator('input[name="q"]').fill('没有这样的内容');
      await page.getByText('没有符合条件的消息').waitFor();
      await shoot(viewport, 'messages-no-match');
      await page.goto(`${h.url}/admin/messages/${messageId}`);
      await page.getByTestId('counts-table').waitFor();
      await page
        .getByRole('button', { name: /次尝试/ })
        .first()
        .click();
      await page.getByTestId('attempts').waitFor();
      await shoot(viewport, 'message');
      await page.goto(`${h.url}/admin/messages/01a218e7-0000-7000-8000-000000000000`);
      await page.getByText('没有找到，可能已被删除。').waitFor();
      await shoot(viewport, 'message-not-found');
    });
  });

  test('compose, filled in, with its count, preview and confirmation', async () => {
    await each(async (page, viewport) => {
      await page.goto(`${h.url}/admin/compose`);
      await page.locator('#compose-title').waitFor();
      await shoot(viewport, 'compose-empty');
      await page.locator('select[name="source"]').selectOption('jwc');
      await page.locator('select[name="category"]').selectOption('exam.reminder');
      // Two classes at once: each a chip, the count their union.
      await page.locator('.org-picker input[type="search"]').fill('农学院');
      await page.locator('input[name="org-unit"][value="农学院/作物学系/2024级1班"]').check();
      await page
        .locator('input[name="org-unit"][value="农学院/种子科学与工程系/2024级1班"]')
        .check();
      await page.locator('input[name="data.course"]').fill('土壤学');
      await page.locator('input[name="data.time"]').fill('2025-01-10 14:00–16:00');
      await page.locator('input[name="data.room"]').fill('南区实验楼 101');
      await page.locator('[data-testid="audience-count"][data-count="24"]').waitFor();
      await page.getByTestId('preview').getByText('考试提醒：土壤学').waitFor();
      await shoot(viewport, 'compose');
      if (viewport === 'phone') {
        // What the phone shows while choosing recipients: the count and send button stay in sight.
        await page.locator('.audience-builder').scrollIntoViewIfNeeded();
        await shoot(viewport, 'compose-bar', 'viewport');
      }
      await page.getByTestId('send').click();
      await page.getByRole('dialog').waitFor();
      await shoot(viewport, 'compose-confirm', 'viewport');
      await page.getByRole('dialog').getByRole('button', { name: '取消' }).click();
    });
  });

  test('a new category, written by the operator with its template', async () => {
    const page = desktop();
    await page.goto(`${h.url}/admin/setup/categories`);
    await page.getByTestId('categories-table').waitFor();
    await page.getByRole('button', { name: '新建类别' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.locator('input[name="key"]').fill(CATEGORY);
    await dialog.locator('input[name="nameZh"]').fill('实验室告警');
    await dialog.locator('input[name="nameEn"]').fill('Lab alert');
    await dialog.getByLabel('站内信').uncheck();
    await dialog.getByLabel('Webhook').check();
    await dialog.locator('input[type="number"]').fill('1');
    await shoot('desktop', 'category-new', 'viewport');
    await dialog.getByRole('button', { name: '新建' }).click();
    await page.getByTestId('categories-table').getByText('实验室告警').waitFor();
    await each(async (p, viewport) => {
      await p.goto(`${h.url}/admin/setup/categories`);
      await p.getByTestId('categories-table').getByText('实验室告警').waitFor();
      await shoot(viewport, 'categories');
    });

    // Its template: an unclosed tag is shown with its place, then the fixed one previews.
    await page.goto(`${h.url}/admin/templates?category=${CATEGORY}`);
    await page.locator('[data-cell="webhook/zh-CN"]').click();
    await page.locator('textarea[name="template.title"]').fill('实验室告警：{{ data.lab }}');
    await page.locator('textarea[name="template.body"]').fill('{{ data.lab }} 检测到 {{ data.what');
    const issues = page.getByTestId('template-issues');
    await issues.waitFor();
    assert.match(await issues.innerText(), /正文 第 1 行/);
    await shoot('desktop', 'template-error');
    await page
      .locator('textarea[name="template.body"]')
      .fill('{{ recipient.name }}：{{ data.lab }} 检测到{{ data.what }}，请立即处理。');
    await page
      .getByTestId('template-preview')
      .getByText('龙辉：‹lab› 检测到‹what›，请立即处理。')
      .waitFor();
    await page.getByRole('button', { name: '保存为新版本' }).click();
    await page.getByTestId('template-saved').getByText('已保存为第 1 版').waitFor();
    await page.locator('[data-cell="webhook/zh-CN"]', { hasText: '第 1 版' }).waitFor();
    await each(async (p, viewport) => {
      await p.goto(`${h.url}/admin/templates?category=exam.reminder&channel=in_app&locale=zh-CN`);
      // The sample data is the category's latest message: the API's reminder above.
      await p.getByTestId('template-preview').getByText('考试提醒：植物生理学').waitFor();
      await p.getByTestId('versions').waitFor();
      await shoot(viewport, 'templates');
    });
  });

  test('a source allowed to send it, with a new API key shown once', async () => {
    const page = desktop();
    await page.goto(`${h.url}/admin/setup/sources`);
    await page.getByTestId('sources-table').getByRole('link', { name: '教务处' }).click();
    await page.locator('#source-title').waitFor();
    await page.getByLabel('实验室告警').check();
    await page.getByRole('button', { name: '保存', exact: true }).click();
    await page.getByText('已保存').waitFor();
    await page.getByRole('button', { name: '创建密钥' }).click();
    const secret = page.getByTestId('secret');
    await secret.waitFor();
    newKey = (await secret.textContent()) ?? '';
    assert.match(newKey, /^hk_[0-9a-f]{12}_/);
    await shoot('desktop', 'api-key-created', 'viewport');
    await page.getByRole('button', { name: '我已保存' }).click();
    assert.equal(await page.getByTestId('secret').count(), 0, 'the secret is gone for good');
    assert.equal(await page.getByTestId('api-keys').locator('li').count(), 2);
    await each(async (p, viewport) => {
      await p.goto(`${h.url}/admin/setup/sources`);
      await p.getByTestId('sources-table').waitFor();
      await shoot(viewport, 'sources');
      await p.goto(`${h.url}/admin/setup/sources/jwc`);
      await p.getByTestId('api-keys').waitFor();
      await shoot(viewport, 'source');
    });

    // The key works: 教务处's system sends a lab alert with it, and the alarm system is down.
    const res = await client(h.url, newKey)('POST', '/v1/messages', {
      category: CATEGORY,
      to: { users: ['2024010101'] },
      data: { lab: '植物生理实验室', what: '温度过高' },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    await eventually(async () => {
      const dead = await admin('GET', '/v1/dead-letters');
      return (dead.body.items as unknown[]).length === 1 || undefined;
    }, 20_000);
  });

  test('the dead letter, re-driven once the provider is repaired', async () => {
    await each(async (p, viewport) => {
      await p.goto(`${h.url}/admin/ops/dead-letters`);
      await p.getByTestId('dead-letters').waitFor();
      await shoot(viewport, 'dead-letters');
    });
    fake.steady('ok');
    const page = desktop();
    await page.getByRole('button', { name: '重新投递' }).click();
    await page.getByText(/已于 .+ 重新投递/).waitFor();
    await eventually(async () => fake.stats().accepted === 1 || undefined, 15_000);
    await page.getByRole('checkbox', { name: '同时显示已重新投递的' }).check();
    await page.getByText(/已于 .+ 重新投递/).waitFor();
    await each(async (p, viewport) => {
      await p.goto(`${h.url}/admin/ops/dead-letters`);
      await p.getByText('没有死信').waitFor();
      await shoot(viewport, 'dead-letters-empty');
    });
  });

  test('the key revoked: 教务处 can no longer send with it', async () => {
    const page = desktop();
    await page.goto(`${h.url}/admin/setup/sources/jwc`);
    const keys = page.getByTestId('api-keys');
    await keys.waitFor();
    const prefix = newKey.slice(3, 15);
    await keys.locator('li', { hasText: prefix }).getByRole('button', { name: '撤销' }).click();
    await shoot('desktop', 'api-key-revoke', 'viewport');
    await page.getByRole('dialog').getByRole('button', { name: '撤销' }).click();
    await keys.locator('li', { hasText: prefix }).getByText('已撤销').waitFor();
    const res = await client(h.url, newKey)('GET', '/v1/messages');
    assert.equal(res.status, 401);
  });

  test('users, a CSV import with a bad row, and groups', async () => {
    const page = desktop();
    await page.goto(`${h.url}/admin/people/users`);
    await page.getByTestId('users-table').waitFor();
    await page.getByRole('button', { name: '导入用户（CSV）' }).click();
    await page
      .locator('textarea[name="csv"]')
      .fill(
        'externalId,name,roles,orgPath,phone\n' +
          '2024019901,赵一,undergraduate,农学院/作物学系/2024级9班,13812345678\n' +
          '2024019902,钱二,undergraduate,农学院/作物学系/2024级9班,12345\n' +
          '2024010101,龙辉,undergraduate,农学院/作物学系/2024级1班,13800011036\n',
      );
    await page.getByRole('button', { name: '导入', exact: true }).click();
    const result = page.getByTestId('import-result');
    await result.waitFor();
    assert.match(await result.innerText(), /新增 1[\s\S]*更新 1[\s\S]*失败 1/);
    assert.match(
      await page.getByTestId('import-errors').innerText(),
      /第 2 行[\s\S]*2024019902[\s\S]*phone/,
    );
    await shoot('desktop', 'users-import');
    await page.locator('input[name="q"]').fill('赵一');
    await eventually(
      async () =>
        (await page.getByTestId('users-table').locator('tbody tr').count()) === 1 || undefined,
    );
    // Group memberships too: a new club's roster, with a member who does not exist.
    await page.getByRole('link', { name: '群组' }).click();
    await page.getByTestId('groups').waitFor();
    await page.getByRole('button', { name: '导入群组成员（CSV）' }).click();
    await page
      .locator('textarea[name="csv"]')
      .fill(
        'group,member,name\n' +
          'club-agri-robotics,2024010101,农业机器人社\n' +
          'club-agri-robotics,2024010102,\n' +
          'club-agri-robotics,2099999999,\n',
      );
    await page.getByRole('button', { name: '导入', exact: true }).click();
    const groupResult = page.getByTestId('import-result');
    await groupResult.waitFor();
    assert.match(
      await groupResult.innerText(),
      /导入 2[\s\S]*失败 1[\s\S]*club-agri-robotics：已创建，共 2 人/,
    );
    assert.match(await page.getByTestId('import-errors').innerText(), /第 3 行[\s\S]*2099999999/);
    await page.getByTestId('groups').getByText('农业机器人社').waitFor();
    await shoot('desktop', 'groups-import');
    await each(async (p, viewport) => {
      await p.goto(`${h.url}/admin/people/users`);
      await p.getByTestId('users-table').waitFor();
      await shoot(viewport, 'users');
      await p.goto(`${h.url}/admin/people/groups`);
      await p.getByTestId('groups').waitFor();
      await p
        .getByTestId('groups')
        .locator('li', { hasText: 'class-2024-agronomy-1' })
        .getByRole('button')
        .click();
      await p.locator('.members li').first().waitFor();
      await shoot(viewport, 'groups');
    });
  });

  test('the sandbox outbox', async () => {
    await each(async (p, viewport) => {
      await p.goto(`${h.url}/admin/ops/outbox`);
      await p.getByTestId('outbox').waitFor();
      await shoot(viewport, 'outbox');
    });
  });

  test('in English', async () => {
    await each(async (p, viewport) => {
      await p.locator('.language-switch').getByRole('button', { name: 'English' }).click();
      await p.getByRole('heading', { name: 'Operations' }).waitFor();
      await p.goto(`${h.url}/admin`);
      await p.getByText('Deliveries per hour').waitFor();
      await shoot(viewport, 'dashboard-en');
      await p.goto(`${h.url}/admin/compose`);
      await p.getByRole('heading', { name: 'Compose and send' }).waitFor();
      await p.locator('select[name="source"]').selectOption('lib');
      await p.locator('select[name="category"]').selectOption('library.due');
      await p.getByRole('tab', { name: 'By ID' }).click();
      await p.locator('textarea[name="ids"]').fill('2024010102 2099999999');
      await p.getByText('Not found: 2099999999').waitFor();
      await p.getByTestId('preview').waitFor();
      await p.getByTestId('send').click();
      await p.getByTestId('compose-problems').waitFor();
      await shoot(viewport, 'compose-en');
      await p.locator('.language-switch').getByRole('button', { name: '中文' }).click();
    });
  });

  test('no page raised an error', () => {
    const expected = /Failed to load resource: the server responded with a status of (401|404|422)/;
    for (const viewport of viewports) {
      assert.deepEqual(
        tabs[viewport].problems.filter((p) => !expected.test(p)),
        [],
        viewport,
      );
    }
  });
});
