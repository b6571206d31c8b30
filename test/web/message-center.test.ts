import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  startTestHerald,
  type TestHerald,
} from '../support/test-herald.js';
import {
  ensureWebBuilt,
  openBrowser,
  signIn,
  skipWithoutChromium,
  type TestBrowser,
  type TestPage,
} from '../support/browser.js';

// The proof of issue 5, student side: live inbox, badge, read marks, preferences that change
// what Herald sends, the language switch.
const skip = skipWithoutChromium();
const STUDENT = '2024010101'; // 龙辉, 农学院 作物学系 2024级1班, reads Chinese, has a phone number

describe('message center in a browser', { skip }, () => {
  let h: TestHerald;
  let browser: TestBrowser;
  let tab: TestPage;
  let page: Page;
  let jwc: ReturnType<typeof client>;
  let admin: ReturnType<typeof client>;
  let firstMessageId: string;

  const send = async (category: keyof typeof DEMO_EXAMPLES, data: Record<string, unknown> = {}) => {
    const source = category === 'exam.reminder' || category === 'course.change' ? jwc : null;
    assert.ok(source, `no demo source key for ${category} in this test`);
    const res = await source('POST', '/v1/messages', {
      category,
      to: { users: [STUDENT] },
      data: { ...DEMO_EXAMPLES[category], ...data },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const badge = () => page.getByTestId('nav-badge');
  /** The student's own view of their inbox, over the API with a session of their own. */
  const serverUnread = async () => {
    const login = await client(h.url)('POST', '/v1/auth/login', {
      externalId: STUDENT,
      password: h.password,
    });
    const me = client(h.url, login.body.token as string);
    return (await me('GET', '/v1/me/inbox/unread-count')).body.unread as number;
  };

  before(async () => {
    ensureWebBuilt();
    h = await startTestHerald();
    jwc = client(h.url, h.keys.jwc);
    admin = client(h.url, ADMIN_TOKEN);
    browser = await openBrowser();
    tab = await browser.page('desktop', { locale: 'zh-CN' });
    page = tab.page;
  });

  after(async () => {
    await browser?.close();
    await h?.close();
  });

  test('a wrong password is refused in words, not in JSON', async () => {
    await page.goto(`${h.url}/`);
    await page.waitForURL(/\/login$/);
    await page.locator('input[name="externalId"]').fill(STUDENT);
    await page.locator('input[name="password"]').fill('not-the-password');
    await page.locator('form button[type="submit"]').click();
    await page.getByText('学号/工号或密码错误。').waitFor();
    assert.doesNotMatch(await page.locator('body').innerText(), /[{}"]|unauthenticated/);
  });

  test('a student signs in and sees an empty inbox, live', async () => {
    await signIn(page, h.url, STUDENT, h.password);
    await page.getByText('还没有消息').waitFor();
    await page.locator('[data-testid="live-status"].live-open').waitFor();
    assert.equal(await badge().count(), 0);
    assert.equal(await page.title(), '消息中心 · Herald');
  });

  test('a message sent through the API appears without a reload, and the badge goes up', async () => {
    await page.evaluate('window.__sameDocument = true');
    firstMessageId = await send('exam.reminder', { url: 'https://jwc.example.edu.cn/exams' });
    const item = page.getByTestId('inbox-item').filter({ hasText: '考试提醒：植物生理学' });
    await item.waitFor();
    await eventually(async () => ((await badge().textContent()) === '1' ? true : undefined));
    assert.equal(await page.title(), '(1) 消息中心 · Herald');
    assert.equal(await item.locator('.unread-dot').count(), 1);
    assert.equal(await page.getByTestId('unread-summary').textContent(), '1 条未读');
    assert.equal(await page.evaluate('window.__sameDocument'), true, 'the page was not reloaded');
  });

  test('opening the message shows it in full and marks it read: the badge goes down', async () => {
    await page.getByTestId('inbox-item').filter({ hasText: '考试提醒：植物生理学' }).click();
    const detail = page.locator('article.message-detail');
    await detail.locator('h1', { hasText: '考试提醒：植物生理学' }).waitFor();
    assert.match(await detail.innerText(), /你的座位号是 17/);
    assert.match(await detail.innerText(), /教务处/);
    assert.match(await detail.innerText(), /考试提醒/);
    assert.equal(
      await detail.getByRole('link', { name: '打开链接' }).getAttribute('href'),
      'https://jwc.example.edu.cn/exams',
    );
    await badge().waitFor({ state: 'detached' });
    assert.equal(await page.title(), '消息中心 · Herald');
    assert.equal(await serverUnread(), 0);
    assert.equal(await page.locator('.inbox-item.unread').count(), 0);
  });

  test('"mark all read" clears the badge here and on the server', async () => {
    await send('course.change');
    await send('exam.reminder', { course: '作物栽培学' });
    await eventually(async () => ((await badge().textContent()) === '2' ? true : undefined));
    await page.getByRole('button', { name: '全部标为已读' }).click();
    await badge().waitFor({ state: 'detached' });
    assert.equal(await page.locator('.inbox-item.unread').count(), 0);
    assert.equal(await serverUnread(), 0);
  });

  test('filters: by category and unread only, with an empty state that says why', async () => {
    await page.locator('.filters select').selectOption('course.change');
    await eventually(async () =>
      (await page.getByTestId('inbox-item').count()) === 1 ? true : undefined,
    );
    assert.match(await page.getByTestId('inbox-item').innerText(), /调课/);
    // The box follows the URL (?unread=1): its state changes a render after the click, so
    // click() and then wait for the effect, rather than check()'s immediate re-read.
    await page.getByLabel('只看未读').click();
    await page.getByText('没有未读消息').waitFor();
    await page.getByRole('button', { name: '查看全部消息' }).click();
    await eventually(async () =>
      (await page.getByTestId('inbox-item').count()) === 3 ? true : undefined,
    );
  });

  test('the student turns SMS off for exam reminders: the next one creates no SMS delivery', async () => {
    const before = await admin('GET', `/v1/messages/${firstMessageId}/deliveries`);
    assert.ok(
      before.body.items.some((d: { channel: string }) => d.channel === 'sms'),
      'before the change, exam reminders go by SMS too',
    );

    await page.getByRole('link', { name: '设置' }).click();
    const row = page.locator('tr[data-category="exam.reminder"]');
    const sms = row.locator('input[data-channel="sms"]');
    await sms.waitFor();
    assert.equal(await sms.isChecked(), true);
    await sms.uncheck();
    await page.getByText('已保存').waitFor();
    assert.match(await row.innerText(), /已自定义/);

    const id = await send('exam.reminder', { course: '植物营养学' });
    const deliveries = await eventually(async () => {
      const res = await admin('GET', `/v1/messages/${id}/deliveries`);
      const items = res.body.items as { channel: string; status: string }[];
      return items.some((d) => d.channel === 'in_app' && d.status === 'delivered')
        ? items
        : undefined;
    });
    assert.deepEqual(
      deliveries.map((d) => d.channel).sort(),
      ['in_app', 'wechat'].filter((c) => deliveries.some((d) => d.channel === c)),
    );
    assert.equal(deliveries.filter((d) => d.channel === 'sms').length, 0);
  });

  test('a mandatory category is locked, with the reason; contact points are masked', async () => {
    const row = page.locator('tr[data-category="campus.emergency"]');
    assert.match(await row.innerText(), /必收/);
    assert.match(await row.innerText(), /无法关闭/);
    for (const input of await row.locator('input').all()) {
      assert.equal(await input.isDisabled(), true);
      assert.equal(await input.isChecked(), true);
    }
    const contacts = await page.getByTestId('contacts').innerText();
    assert.match(contacts, /1\d\d\*{4}\d{4}/);
    assert.doesNotMatch(contacts, /1\d{10}/);
  });

  test('the language switch changes the UI, and the choice is remembered', async () => {
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    assert.equal(await page.evaluate('document.documentElement.lang'), 'en');
    assert.ok(await page.getByRole('link', { name: 'Inbox' }).isVisible());
    assert.match(
      await page.locator('tr[data-category="exam.reminder"]').innerText(),
      /Exam reminder/,
    );
    await page.reload();
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    await page.getByRole('link', { name: 'Inbox' }).click();
    await page.getByRole('heading', { name: 'Inbox' }).waitFor();
    // The exam reminder of the SMS test is still unread.
    assert.equal(await page.getByTestId('unread-summary').textContent(), '1 unread');
    assert.equal(await page.title(), '(1) Message center · Herald');
    await page.getByRole('button', { name: '中文' }).click();
    await page.getByRole('heading', { name: '收件箱' }).waitFor();
  });

  test('older messages load as the list scrolls, 20 at a time', async () => {
    // 4 so far; 20 more make 24: one page of 20, then the last 4.
    for (let i = 1; i <= 20; i++) await send('course.change', { course: `课程 ${i}` });
    await eventually(async () => ((await badge().textContent()) === '21' ? true : undefined));
    await page.reload();
    const items = page.getByTestId('inbox-item');
    await eventually(async () => ((await items.count()) === 20 ? true : undefined));
    await page.getByText('没有更多了。').waitFor({ state: 'detached' });
    await items.nth(19).scrollIntoViewIfNeeded();
    await page.mouse.wheel(0, 2000);
    await page.getByText('没有更多了。').waitFor();
    assert.equal(await items.count(), 24);
  });

  test('signing out ends the session and returns to the login screen', async () => {
    await page.getByRole('button', { name: '退出登录' }).click();
    await page.waitForURL(/\/login$/);
    await page.goto(`${h.url}/preferences`);
    await page.waitForURL(/\/login\?next=%2Fpreferences$/);
    const cookies = await tab.context.cookies(h.url);
    assert.equal(cookies.filter((c) => c.name === 'herald_session').length, 0);
  });

  test('the pages raised no errors (scripts, content security policy)', () => {
    // Chromium logs every 401 answer; the anonymous start and the wrong password expect them.
    const expected = /Failed to load resource: the server responded with a status of 401/;
    assert.deepEqual(
      tab.problems.filter((p) => !expected.test(p)),
      [],
    );
  });
});
