import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { DEMO_EXAMPLES, DEMO_OPERATOR } from '../../src/demo/demo-seed.js';
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
} from '../support/browser.js';

// Issue 5, "dates in the user's timezone": the web UI shows times in the signed-in account's
// zone (the one Herald writes dates into messages with), not in the zone of the device the
// browser runs on, says so when the two differ, and follows a change of zone in Settings.
const skip = skipWithoutChromium();
const STUDENT = '2024010101'; // 龙辉, account zone Asia/Shanghai (the demo's default)
const ABROAD = 'Europe/Berlin'; // where the student's laptop is set

/** "15:08": the clock time of `iso` in `zone`, as zh-CN shows it. */
const clockIn = (iso: string, zone: string) =>
  new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(iso));

/** "2026年11月27日": the calendar day of `iso` in `zone`, as zh-CN shows it. */
const dayIn = (iso: string, zone: string) =>
  new Intl.DateTimeFormat('zh-CN', { timeZone: zone, dateStyle: 'long' }).format(new Date(iso));

/** What went wrong in a page, but for the 401 that "who is signed in?" gets before a sign-in. */
const unexpected = (problems: readonly string[]) =>
  problems.filter((p) => !/Failed to load resource: .* status of 401/.test(p));

describe('times in the account’s time zone, in a browser', { skip }, () => {
  let h: TestHerald;
  let browser: TestBrowser;
  let messageId: string;
  let createdAt: string;

  /** A session of `externalId`'s own over the API. */
  const sessionOf = async (externalId: string) => {
    const login = await client(h.url)('POST', '/v1/auth/login', {
      externalId,
      password: h.password,
    });
    assert.equal(login.status, 200);
    return client(h.url, login.body.token as string);
  };

  before(async () => {
    ensureWebBuilt();
    h = await startTestHerald();
    browser = await openBrowser();
    const sent = await client(h.url, h.keys.jwc)('POST', '/v1/messages', {
      category: 'exam.reminder',
      to: { users: [STUDENT] },
      data: DEMO_EXAMPLES['exam.reminder'],
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    messageId = sent.body.id as string;
    const student = await sessionOf(STUDENT);
    createdAt = await eventually(async () => {
      const inbox = await student('GET', '/v1/me/inbox');
      return (inbox.body.items as { createdAt: string }[])[0]?.createdAt;
    });
    // The zones must show different clocks, or these tests prove nothing.
    assert.notEqual(clockIn(createdAt, 'Asia/Shanghai'), clockIn(createdAt, ABROAD));
    assert.notEqual(clockIn(createdAt, 'America/New_York'), clockIn(createdAt, ABROAD));
  });

  after(async () => {
    await browser?.close();
    await h?.close();
  });

  describe('message center: a student whose laptop is set to Berlin', () => {
    let tab: TestPage;
    let page: Page;
    const detailTime = () => page.locator('article.message-detail time');
    const hint = () => page.getByTestId('zone-hint');
    const openMessage = async () => {
      await page.getByRole('link', { name: '收件箱', exact: true }).click();
      await page.getByTestId('inbox-item').first().click();
      await detailTime().waitFor();
    };

    before(async () => {
      tab = await browser.page('desktop', { locale: 'zh-CN', timezoneId: ABROAD });
      page = tab.page;
    });

    test('reads the times in 北京时间, the account’s zone, and is told so', async () => {
      await page.goto(`${h.url}/login`);
      assert.equal(
        await page.evaluate('Intl.DateTimeFormat().resolvedOptions().timeZone'),
        ABROAD,
        'the browser runs in Berlin',
      );
      await signIn(page, h.url, STUDENT, h.password);
      const item = page.getByTestId('inbox-item').first();
      const shanghai = clockIn(createdAt, 'Asia/Shanghai');
      assert.equal(
        await item.locator('time').getAttribute('title'),
        `${dayIn(createdAt, 'Asia/Shanghai')} ${shanghai}（北京时间）`,
      );
      assert.equal((await hint().innerText()).trim(), '北京时间');
      assert.match(
        (await hint().getAttribute('title')) ?? '',
        /^时间按账号的时区显示：北京时间（Asia\/Shanghai）；本设备的时区是中欧时间（Europe\/Berlin）。/,
      );

      await item.click();
      assert.equal(
        await detailTime().innerText(),
        `${dayIn(createdAt, 'Asia/Shanghai')} ${shanghai}（北京时间）`,
      );
      assert.doesNotMatch(
        await page.locator('article.message-detail').innerText(),
        new RegExp(clockIn(createdAt, ABROAD)),
      );
      assert.equal(await horizontalOverflow(page), 0);
      await screenshot(page, 'timezone-center-message');

      // On a phone set to Berlin too, the hint fits in the header.
      const phone = await browser.page('phone', { locale: 'zh-CN', timezoneId: ABROAD });
      await signIn(phone.page, h.url, STUDENT, h.password);
      const bar = phone.page.getByTestId('zone-bar');
      await bar.waitFor();
      assert.match(await bar.innerText(), /^时间按北京时间显示\s*更改$/);
      await screenshot(phone.page, 'timezone-center-phone');
      assert.equal(await horizontalOverflow(phone.page), 0);
      assert.ok(await phone.page.getByRole('button', { name: '退出登录' }).isVisible());
      assert.equal(await phone.page.getByTestId('zone-hint').isVisible(), false);
      await phone.context.close();
    });

    test('picks New York in Settings: every time moves there, and stays after a reload', async () => {
      await hint().click();
      await page.waitForURL(/\/preferences#timezone$/);
      const select = page.locator('select[name="timezone"]');
      assert.equal(await select.inputValue(), 'Asia/Shanghai');
      assert.match(
        await select.locator(`option[value="${ABROAD}"]`).innerText(),
        /UTC\+01:00 中欧时间 \(Europe\/Berlin\)（本设备）/,
      );
      assert.match(await page.getByTestId('zone-now').innerText(), /^现在是北京时间 \d\d:\d\d。$/);

      await select.selectOption('America/New_York');
      await page.getByText('已保存').waitFor();
      await page.evaluate('window.scrollTo(0, 0)');
      const student = await sessionOf(STUDENT);
      assert.equal((await student('GET', '/v1/me')).body.timezone, 'America/New_York');
      assert.equal((await hint().innerText()).trim(), '北美东部时间');
      assert.match(await page.getByTestId('zone-now').innerText(), /^现在是北美东部时间 /);
      await screenshot(page, 'timezone-center-settings');

      const newYork = `${dayIn(createdAt, 'America/New_York')} ${clockIn(createdAt, 'America/New_York')}（北美东部时间）`;
      await openMessage();
      assert.equal(await detailTime().innerText(), newYork);
      await page.reload();
      await detailTime().waitFor();
      assert.equal(await detailTime().innerText(), newYork);
    });

    test('"use this device’s time zone": times in Berlin, and no hint any more', async () => {
      await page.getByRole('link', { name: '设置', exact: true }).click();
      await page.getByRole('button', { name: '改用本设备的时区' }).click();
      await page.getByText('已保存').waitFor();
      assert.equal(await page.locator('select[name="timezone"]').inputValue(), ABROAD);
      await hint().waitFor({ state: 'detached' });
      assert.equal(await page.getByRole('button', { name: '改用本设备的时区' }).count(), 0);

      await openMessage();
      assert.equal(
        await detailTime().innerText(),
        `${dayIn(createdAt, ABROAD)} ${clockIn(createdAt, ABROAD)}`,
      );
      assert.deepEqual(unexpected(tab.problems), []);
    });

    test('an unknown zone is refused by Herald with a problem, and nothing changes', async () => {
      const student = await sessionOf(STUDENT);
      const res = await student('PUT', '/v1/me/preferences', { timezone: 'Asia/Atlantis' });
      assert.equal(res.status, 400);
      assert.equal(res.body.code, 'validation-failed');
      assert.equal((await student('GET', '/v1/me')).body.timezone, ABROAD);
    });
  });

  describe('console: an operator in New York on a laptop set to Shanghai', () => {
    let tab: TestPage;
    let page: Page;

    before(async () => {
      const operator = await sessionOf(DEMO_OPERATOR);
      const res = await operator('PUT', '/v1/me/preferences', { timezone: 'America/New_York' });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      tab = await browser.page('desktop', { locale: 'zh-CN' }); // the device: Asia/Shanghai
      page = tab.page;
      await page.goto(`${h.url}/admin`);
      await page.locator('input[name="externalId"]').fill(DEMO_OPERATOR);
      await page.locator('input[name="password"]').fill(h.password);
      await page.locator('form button[type="submit"]').click();
      await page.locator('#dashboard-title').waitFor();
    });

    test('a message’s page gives its time in the operator’s zone, named', async () => {
      assert.equal((await page.getByTestId('zone-hint').innerText()).trim(), '北美东部时间');
      await page.goto(`${h.url}/admin/messages/${messageId}`);
      const meta = page.locator('.head-meta');
      await meta.waitFor();
      assert.match(
        await meta.innerText(),
        new RegExp(
          `${dayIn(createdAt, 'America/New_York')} ${clockIn(createdAt, 'America/New_York')}（北美东部时间）`,
        ),
      );
      assert.doesNotMatch(await meta.innerText(), new RegExp(clockIn(createdAt, 'Asia/Shanghai')));
      assert.equal(await horizontalOverflow(page), 0);
      await screenshot(page, 'timezone-console-message');
    });

    test('in English, with the hint, the header still fits on a desktop and a phone', async () => {
      await page.getByRole('button', { name: 'English' }).click();
      await page.getByRole('link', { name: 'Dashboard' }).waitFor();
      assert.equal((await page.getByTestId('zone-hint').innerText()).trim(), 'Eastern Time');
      const navHidden = await page.evaluate(
        "(() => { const n = document.querySelector('.app-nav'); return n.scrollWidth - n.clientWidth; })()",
      );
      assert.equal(navHidden, 0, 'every section of the console is in sight');
      assert.equal(await horizontalOverflow(page), 0);
      await screenshot(page, 'timezone-console-en');
      await page.getByRole('button', { name: '中文' }).click();
      await page.getByRole('link', { name: '概览' }).waitFor();

      const phone = await browser.page('phone', { locale: 'en' });
      await phone.page.goto(`${h.url}/admin`);
      await phone.page.locator('input[name="externalId"]').fill(DEMO_OPERATOR);
      await phone.page.locator('input[name="password"]').fill(h.password);
      await phone.page.locator('form button[type="submit"]').click();
      const bar = phone.page.getByTestId('zone-bar');
      await bar.waitFor();
      await phone.page.getByRole('button', { name: 'English' }).click();
      await bar.getByText('Times shown in Eastern Time').waitFor();
      await screenshot(phone.page, 'timezone-console-phone');
      assert.equal(await horizontalOverflow(phone.page), 0);
      assert.ok(await phone.page.getByRole('button', { name: 'Sign out' }).isVisible());
      assert.ok(await phone.page.getByText('Operator console').isVisible());
      await phone.context.close();
    });

    test('the messages search reads its dates as days in the operator’s zone', async () => {
      await page.goto(`${h.url}/admin/messages`);
      await page.locator('#messages-title').waitFor();
      const asked = page.waitForRequest((r) => /\/v1\/messages\?.*since=/.test(r.url()));
      await page.locator('input[name="since"]').fill('2026-11-27');
      const since = new URL((await asked).url()).searchParams.get('since');
      // Midnight in New York (UTC−5 in November), not in Shanghai (16:00Z the day before).
      assert.equal(since, '2026-11-27T05:00:00.000Z');
      assert.deepEqual(unexpected(tab.problems), []);
    });

    test('a message scheduled in compose is read as New York wall time', async () => {
      // Straight to compose: the search page's filters may still be settling into its URL.
      await page.goto(`${h.url}/admin/compose`);
      await page.locator('#compose-title').waitFor();
      await page.locator('select[name="source"]').selectOption('lib');
      await page.locator('select[name="category"]').selectOption('library.due');
      await page.getByRole('tab', { name: '学号/工号' }).click();
      await page.locator('textarea[name="ids"]').fill(STUDENT);
      await page.locator('input[name="data.book"]').fill('土壤学（第4版）');
      await page.locator('input[name="data.dueDate"]').fill('2025-02-01');
      await page.getByRole('radio', { name: '定时发送' }).check();
      await page.getByText('时区：北美东部时间 (America/New_York)').waitFor();
      // 09:30 in New York three days from now (a wall time this Shanghai laptop does not show).
      const day = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York' }).format(
        new Date(Date.now() + 3 * 24 * 3600_000),
      );
      await page.locator('input[name="sendAt"]').fill(`${day}T09:30`);
      await page.locator('[data-testid="audience-count"][data-count="1"]').waitFor();
      await page.getByTestId('send').click();
      const dialog = page.getByRole('dialog');
      assert.match(await dialog.innerText(), /09:30（北美东部时间）/);
      await dialog.getByTestId('confirm-send').click();
      await page.getByTestId('sent-note').waitFor();
      const id = page.url().split('/admin/messages/')[1]!;
      const operator = await sessionOf(DEMO_OPERATOR);
      const stored = await operator('GET', `/v1/messages/${id}`);
      const sendAt = stored.body.sendAt as string;
      assert.equal(stored.body.status, 'scheduled');
      assert.equal(
        new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York' }).format(new Date(sendAt)),
        day,
      );
      assert.equal(clockIn(sendAt, 'America/New_York'), '09:30');
      assert.notEqual(clockIn(sendAt, 'Asia/Shanghai'), '09:30');
      assert.deepEqual(unexpected(tab.problems), []);
    });
  });
});
