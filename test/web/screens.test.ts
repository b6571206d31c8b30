import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';
import { client, eventually, startTestHerald, type TestHerald } from '../support/test-herald.js';
import {
  ensureWebBuilt,
  horizontalOverflow,
  openBrowser,
  screenshot,
  signIn,
  skipWithoutChromium,
  type TestBrowser,
  type TestPage,
  type ViewportName,
} from '../support/browser.js';

// Every screen of the message center on a phone (390×844) and a desktop (1440×900), saved under
// test-results/web/ for people to look at; each must fit its viewport's width and raise no error.
const skip = skipWithoutChromium();
const STUDENT = '2024010101';

describe('message center screens', { skip }, () => {
  let h: TestHerald;
  let browser: TestBrowser;
  const tabs = {} as Record<ViewportName, TestPage>;
  const viewports: ViewportName[] = ['phone', 'desktop'];

  /** Screenshot of the page as it is now, after checking that it fits sideways. */
  async function shoot(viewport: ViewportName, name: string) {
    const page = tabs[viewport].page;
    await page.evaluate('document.fonts.ready');
    assert.equal(await horizontalOverflow(page), 0, `${name} on a ${viewport} is too wide`);
    await screenshot(page, `${viewport}-${name}`);
  }

  const each = async (fn: (page: Page, viewport: ViewportName) => Promise<void>) => {
    for (const viewport of viewports) await fn(tabs[viewport].page, viewport);
  };

  before(async () => {
    ensureWebBuilt();
    h = await startTestHerald();
    browser = await openBrowser();
    for (const viewport of viewports) tabs[viewport] = await browser.page(viewport);
  });

  after(async () => {
    await browser?.close();
    await h?.close();
  });

  test('login, and a failed login', async () => {
    await each(async (page, viewport) => {
      await page.goto(`${h.url}/login`);
      await page.locator('input[name="externalId"]').waitFor();
      await shoot(viewport, 'login');
      await page.locator('input[name="externalId"]').fill(STUDENT);
      await page.locator('input[name="password"]').fill('wrong');
      await page.locator('form button[type="submit"]').click();
      await page.getByText('学号/工号或密码错误。').waitFor();
      await shoot(viewport, 'login-failed');
    });
  });

  test('an empty inbox', async () => {
    await each(async (page, viewport) => {
      await signIn(page, h.url, STUDENT, h.password);
      await page.getByText('还没有消息').waitFor();
      await page.locator('[data-testid="live-status"].live-open').waitFor();
      await shoot(viewport, 'inbox-empty');
    });
  });

  test('an inbox with messages of every office, arriving live on both devices', async () => {
    const sends: [string, keyof typeof DEMO_EXAMPLES, Record<string, unknown>][] = [
      ['hq', 'canteen.menu', {}],
      ['lib', 'library.due', { url: 'https://lib.example.edu.cn/my/loans' }],
      ['xsc', 'activity.notice', {}],
      ['jwc', 'course.change', {}],
      ['bwc', 'campus.emergency', {}],
      ['jwc', 'exam.reminder', { url: 'https://jwc.example.edu.cn/exams' }],
    ];
    for (const [source, category, extra] of sends) {
      const res = await client(h.url, h.keys[source])('POST', '/v1/messages', {
        category,
        to: { users: [STUDENT] },
        data: { ...DEMO_EXAMPLES[category], ...extra },
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
    }
    await each(async (page, viewport) => {
      await eventually(
        async () => (await page.getByTestId('inbox-item').count()) === sends.length || undefined,
        15_000,
        `${sends.length} items on the ${viewport}`,
      );
      assert.equal(await page.getByTestId('nav-badge').textContent(), String(sends.length));
    });
    // The desktop reads one first, so that the list shows read and unread items.
    await tabs.desktop.page.getByTestId('inbox-item').nth(3).click();
    await tabs.desktop.page.locator('article.message-detail').waitFor();
    await tabs.desktop.page.goto(`${h.url}/`);
    await tabs.desktop.page.getByTestId('inbox-item').first().waitFor();
    await each(async (page, viewport) => {
      await eventually(
        async () => (await page.locator('.inbox-item.unread').count()) === 5 || undefined,
        10_000,
        `the read mark on the ${viewport}`,
      );
      await shoot(viewport, 'inbox');
    });
  });

  test('a message opened', async () => {
    await each(async (page, viewport) => {
      await page.getByTestId('inbox-item').filter({ hasText: '考试提醒' }).click();
      await page
        .locator('article.message-detail')
        .getByRole('link', { name: '打开链接' })
        .waitFor();
      await shoot(viewport, 'message');
    });
  });

  test('filters that match nothing, and a message that does not exist', async () => {
    await each(async (page, viewport) => {
      await page.goto(`${h.url}/?category=activity.notice&unread=1`);
      await page.getByText('没有未读消息').waitFor();
      await shoot(viewport, 'inbox-filtered-empty');
      await page.goto(`${h.url}/messages/01a218e7-0000-7000-8000-000000000000`);
      await page.getByText('没有找到，可能已被删除。').waitFor();
      await shoot(viewport, 'message-not-found');
    });
  });

  test('preferences', async () => {
    await each(async (page, viewport) => {
      await page.goto(`${h.url}/preferences`);
      await page.getByTestId('preferences-grid').waitFor();
      await shoot(viewport, 'preferences');
    });
  });

  test('in English', async () => {
    await each(async (page, viewport) => {
      await page.getByRole('button', { name: 'English' }).click();
      await page.getByRole('heading', { name: 'Settings' }).waitFor();
      await shoot(viewport, 'preferences-en');
      await page.getByRole('link', { name: 'Inbox' }).click();
      await page.getByTestId('inbox-item').first().waitFor();
      await shoot(viewport, 'inbox-en');
      await page.getByTestId('inbox-item').first().click();
      await page.locator('article.message-detail').waitFor();
      await shoot(viewport, 'message-en');
      await page.getByRole('button', { name: '中文' }).click();
    });
  });

  test('a page that does not exist, and the console to come', async () => {
    await each(async (page, viewport) => {
      await page.goto(`${h.url}/no/such/page`);
      await page.getByText('页面不存在').waitFor();
      await shoot(viewport, 'not-found');
      await page.goto(`${h.url}/admin`);
      await page.getByText('运营控制台').first().waitFor();
      await shoot(viewport, 'admin');
    });
  });

  test('no page raised an error', () => {
    const expected = /Failed to load resource: the server responded with a status of (401|404)/;
    for (const viewport of viewports) {
      assert.deepEqual(
        tabs[viewport].problems.filter((p) => !expected.test(p)),
        [],
        viewport,
      );
    }
  });
});
