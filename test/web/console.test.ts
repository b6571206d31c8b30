import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { DEMO_EXAMPLES, DEMO_OPERATOR } from '../../src/demo/demo-seed.js';
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

// The proof of issue 5, operator side: an operator signs in at /admin, composes a message to
// two classes (recipient count and preview before sending), sends it, and a student of each
// class has it in their inbox; the dashboard and the message's page show real figures; the
// language switch changes the console.
const skip = skipWithoutChromium();
const CLASS = '农学院/作物学系/2024级1班'; // 12 students, the group class-2024-agronomy-1
const CLASS_B = '农学院/种子科学与工程系/2024级1班'; // 12 more students
const DEPARTMENT = '农学院/作物学系'; // CLASS, its 2023 class, teachers and postgraduates
const STUDENT = '2024010101'; // 龙辉, in CLASS
const STUDENT_B = '2024010201'; // in CLASS_B
const OUTSIDER = '2024020101'; // a student of another college

/** Signs in at /admin through the console's form. */
async function consoleSignIn(page: Page, base: string, externalId: string, password: string) {
  await page.goto(`${base}/admin`);
  await page.locator('input[name="externalId"]').fill(externalId);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('form button[type="submit"]').click();
}

/** Expands the org tree down to `path` and ticks that unit, as an operator would. */
async function chooseOrgUnit(page: Page, path: string) {
  const parts = path.split('/');
  for (let depth = 1; depth < parts.length; depth++) {
    const unit = parts.slice(0, depth).join('/');
    const item = page.locator(`li[role="treeitem"]:has(> .tree-row input[value="${unit}"])`);
    if ((await item.getAttribute('aria-expanded')) !== 'true') {
      await item.locator('> .tree-row .tree-toggle').click();
    }
  }
  await page.locator(`input[name="org-unit"][value="${path}"]`).check();
}

/** The count the compose page shows, once it shows `expected`. */
async function countShows(page: Page, expected: number) {
  const count = page.locator('[data-testid="audience-count"][data-count]');
  await eventually(
    async () => (await count.getAttribute('data-count')) === String(expected) || undefined,
    10_000,
    `the count to show ${expected}`,
  );
  return count;
}

describe('operator console in a browser', { skip }, () => {
  let h: TestHerald;
  let browser: TestBrowser;
  let operatorTab: TestPage;
  let page: Page;
  let admin: ReturnType<typeof client>;
  let sentId: string;

  before(async () => {
    ensureWebBuilt();
    h = await startTestHerald();
    admin = client(h.url, ADMIN_TOKEN);
    // Something to count on the dashboard: 教务处 sends a reminder to the class through the API.
    const res = await client(h.url, h.keys.jwc)('POST', '/v1/messages', {
      category: 'exam.reminder',
      to: { groups: ['class-2024-agronomy-1'] },
      data: DEMO_EXAMPLES['exam.reminder'],
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const id = res.body.id as string;
    await eventually(async () => {
      const m = await admin('GET', `/v1/messages/${id}`);
      return m.body.status === 'completed' || undefined;
    });
    browser = await openBrowser();
    operatorTab = await browser.page('desktop', { locale: 'zh-CN' });
    page = operatorTab.page;
  });

  after(async () => {
    await browser?.close();
    await h?.close();
  });

  test('an account without operator rights is told so in words, and may switch', async () => {
    const tab = await browser.page('desktop', { locale: 'zh-CN' });
    await consoleSignIn(tab.page, h.url, OUTSIDER, h.password);
    const notice = tab.page.getByTestId('not-operator');
    await notice.getByText('该账号不是运营人员').waitFor();
    assert.match(await notice.innerText(), /没有运营权限/);
    assert.doesNotMatch(await tab.page.locator('body').innerText(), /[{}"]|forbidden/);
    await notice.getByRole('button', { name: '使用其他账号登录' }).click();
    await tab.page.locator('input[name="externalId"]').waitFor();
    await tab.context.close();
  });

  test('a wrong password is refused in words', async () => {
    await consoleSignIn(page, h.url, DEMO_OPERATOR, 'not-the-password');
    await page.getByText('工号或密码错误。').waitFor();
  });

  test('the operator signs in and the dashboard shows the last 24 hours', async () => {
    await consoleSignIn(page, h.url, DEMO_OPERATOR, h.password);
    await page.locator('#dashboard-title').waitFor();
    assert.equal(await page.title(), '运营控制台 · Herald');
    const dashboard = page.getByTestId('dashboard');
    await dashboard.waitFor();
    // 12 students × in-app, SMS and WeChat: 36 deliveries, every in-app one delivered.
    assert.equal(await page.getByTestId('kpi-messages').locator('.kpi-value').textContent(), '1');
    assert.equal(
      await page.getByTestId('kpi-deliveries').locator('.kpi-value').textContent(),
      '36',
    );
    const inApp = page.locator('[data-testid="channel-table"] tr[data-channel="in_app"]');
    assert.match(await inApp.innerText(), /站内信[\s\S]*12[\s\S]*12/);
    await page.getByTestId('hourly-chart').waitFor();
    assert.match(await page.getByTestId('refreshed').innerText(), /每 10 秒自动刷新/);
  });

  test('the dashboard refreshes itself', async () => {
    const before = await page.getByTestId('kpi-messages').locator('.kpi-value').textContent();
    const res = await client(h.url, h.keys.hq)('POST', '/v1/messages', {
      category: 'canteen.menu',
      to: { users: [STUDENT] },
      data: DEMO_EXAMPLES['canteen.menu'],
    });
    assert.equal(res.status, 202);
    await eventually(
      async () =>
        (await page.getByTestId('kpi-messages').locator('.kpi-value').textContent()) !== before ||
        undefined,
      20_000,
      'the dashboard to show the new message without a reload',
    );
  });

  test('compose to two classes: the count and the preview before sending; students of both have it', async () => {
    const student = await browser.page('phone', { locale: 'zh-CN' });
    await signIn(student.page, h.url, STUDENT, h.password);
    const studentB = await browser.page('phone', { locale: 'zh-CN' });
    await signIn(studentB.page, h.url, STUDENT_B, h.password);

    await page.getByRole('link', { name: '发送' }).first().click();
    await page.locator('#compose-title').waitFor();
    await page.locator('select[name="source"]').selectOption('jwc');
    await page.locator('select[name="category"]').selectOption('exam.reminder');
    await chooseOrgUnit(page, CLASS);
    // The count is asked for before anything is sent.
    let count = await countShows(page, 12);
    assert.match(await count.innerText(), /12\s*人/);
    assert.match(await count.innerText(), /龙辉（2024010101）/);

    // A second class adds its 12 students; each ticked unit is a removable chip.
    await chooseOrgUnit(page, CLASS_B);
    count = await countShows(page, 24);
    const chips = page.getByTestId('audience-chips');
    assert.deepEqual(await chips.locator('.chip > span').allInnerTexts(), [CLASS, CLASS_B]);
    assert.match(await page.getByTestId('org-chosen').innerText(), /已选 2 个单位/);
    await chips.getByRole('button', { name: `移除 ${CLASS_B}` }).click();
    await countShows(page, 12);
    assert.equal(
      await page.locator(`input[name="org-unit"][value="${CLASS_B}"]`).isChecked(),
      false,
      'removing the chip unticks the unit',
    );
    // Ticking the department takes in the class inside it: one chip, the class shown included.
    await page.locator(`input[name="org-unit"][value="${DEPARTMENT}"]`).check();
    const classBox = page.locator(`input[name="org-unit"][value="${CLASS}"]`);
    assert.deepEqual(await chips.locator('.chip > span').allInnerTexts(), [DEPARTMENT]);
    assert.equal(await classBox.isChecked(), true);
    assert.equal(await classBox.isDisabled(), true);
    // The count is the department's, as the tree shows it (teachers and postgraduates included).
    const inTree = await page
      .locator(`.tree-row:has(input[value="${DEPARTMENT}"]) .tree-count`)
      .first()
      .innerText();
    await countShows(page, Number(inTree));
    await page.locator(`input[name="org-unit"][value="${DEPARTMENT}"]`).uncheck();
    await chooseOrgUnit(page, CLASS);
    await chooseOrgUnit(page, CLASS_B);
    await countShows(page, 24);

    // The form asks for what the templates use; sending without it is stopped, in words.
    await page.getByTestId('send').click();
    const problems = page.getByTestId('compose-problems');
    assert.match(await problems.innerText(), /请填写 course/);
    await page.locator('input[name="data.course"]').fill('土壤学');
    await page.locator('input[name="data.time"]').fill('2025-01-10 14:00–16:00');
    await page.locator('input[name="data.room"]').fill('南区实验楼 101');

    // The preview renders the real template with this data.
    const preview = page.getByTestId('preview');
    await preview.getByText('考试提醒：土壤学').waitFor();
    await preview.getByRole('tab', { name: '短信' }).click();
    await preview.getByText(/《土壤学》考试/).waitFor();
    assert.equal(await page.getByTestId('compose-problems').count(), 0);

    await page.getByTestId('send').click();
    const dialog = page.getByRole('dialog');
    assert.match(await dialog.innerText(), /以教务处的名义向 24 人发送“考试提醒”/);
    // The confirmation names the units it goes to.
    const audience = dialog.getByTestId('confirm-audience');
    assert.match(await audience.innerText(), /2 个组织单位/);
    assert.deepEqual(await audience.locator('.aud-units li').allInnerTexts(), [CLASS, CLASS_B]);
    await dialog.getByTestId('confirm-send').click();
    await page.getByTestId('sent-note').waitFor();
    sentId = page.url().split('/admin/messages/')[1]!;
    assert.match(sentId, /^[0-9a-f-]{36}$/);

    // A student of each class sees it arrive, live.
    for (const tab of [student, studentB]) {
      await tab.page
        .getByTestId('inbox-item')
        .filter({ hasText: '考试提醒：土壤学' })
        .waitFor({ timeout: 15_000 });
      await tab.context.close();
    }

    // Herald recorded who sent it and to whom.
    const stored = await admin('GET', `/v1/messages/${sentId}`);
    assert.equal(stored.body.source, 'jwc');
    assert.deepEqual(stored.body.sentBy, { kind: 'operator', externalId: DEMO_OPERATOR });
    assert.deepEqual(stored.body.to, { filter: { orgPrefixes: [CLASS, CLASS_B] } });
  });

  test("the message's page: counts per channel × status and each recipient's attempts", async () => {
    await eventually(
      async () => (await page.getByText('所有投递均已完成。').count()) > 0 || undefined,
      15_000,
      'the page to see the message completed',
    );
    const inApp = page.locator('[data-testid="counts-table"] tr[data-channel="in_app"]');
    assert.equal(await inApp.locator('td[data-status="delivered"]').textContent(), '24');
    const deliveries = page.getByTestId('delivery');
    // 24 students × in-app, SMS and WeChat: 72 deliveries, listed 50 at a time.
    await eventually(async () => ((await deliveries.count()) === 50 ? true : undefined));
    await page.getByRole('button', { name: '加载更多' }).click();
    await eventually(async () => ((await deliveries.count()) === 72 ? true : undefined));
    await page.getByText('已全部显示，共 72 条。').waitFor();

    await page.getByPlaceholder('按姓名或学号/工号搜索接收人').fill('龙辉');
    await eventually(async () => ((await deliveries.count()) === 3 ? true : undefined));
    const sms = deliveries.filter({ hasText: '短信' });
    assert.match(await sms.innerText(), /龙辉[\s\S]*2024010101[\s\S]*已发送/);
    await sms.getByRole('button', { name: '1 次尝试' }).click();
    assert.match(await sms.getByTestId('attempts').innerText(), /#1[\s\S]*sandbox[\s\S]*已发送/);
  });

  test('the messages list finds the message by its content', async () => {
    await page.getByRole('link', { name: '消息', exact: true }).click();
    await page.locator('#messages-title').waitFor();
    await page.locator('input[name="q"]').fill('土壤学');
    const rows = page.getByTestId('message-row');
    await eventually(async () => ((await rows.count()) === 1 ? true : undefined));
    assert.match(
      await rows.first().innerText(),
      /考试提醒[\s\S]*教务处[\s\S]*农学院\/作物学系\/2024级1班/,
    );
    await rows.first().click();
    await page.waitForURL(`**/admin/messages/${sentId}`);
  });

  test('a group by rule: two classes ticked in the org tree', async () => {
    await page.goto(`${h.url}/admin/people/groups`);
    await page.getByTestId('groups').waitFor();
    await page.getByRole('button', { name: '新建群组' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.locator('input[name="key"]').fill('agronomy-2024-firsts');
    await dialog.locator('input[name="name"]').fill('2024级各系1班');
    await dialog.getByRole('radio', { name: '按规则' }).check();
    await chooseOrgUnit(page, CLASS);
    await chooseOrgUnit(page, CLASS_B);
    await dialog.getByText('已选 2 个单位').waitFor();
    await dialog.getByRole('button', { name: '新建', exact: true }).click();
    await page.getByTestId('groups').getByText('2024级各系1班').waitFor();
    const group = await admin('GET', '/v1/groups/agronomy-2024-firsts');
    assert.deepEqual(group.body.filter, { orgPrefixes: [CLASS, CLASS_B] });
    const members = await admin('GET', '/v1/groups/agronomy-2024-firsts/members?limit=100');
    assert.equal((members.body.items as unknown[]).length, 24);
  });

  test('a scheduled message waits, and says until when', async () => {
    await page.getByRole('link', { name: '发送' }).first().click();
    await page.locator('select[name="source"]').selectOption('lib');
    await page.locator('select[name="category"]').selectOption('library.due');
    await page.getByRole('tab', { name: '学号/工号' }).click();
    await page.locator('textarea[name="ids"]').fill(STUDENT);
    await page.locator('input[name="data.book"]').fill('土壤学（第4版）');
    await page.locator('input[name="data.dueDate"]').fill('2025-02-01');
    await page.getByRole('radio', { name: '定时发送' }).check();
    // The time offered is an hour from now, in the operator's time zone (named beside it).
    await page.getByText('时区：北京时间 (Asia/Shanghai)').waitFor();
    await page.locator('[data-testid="audience-count"][data-count="1"]').waitFor();
    await page.getByTestId('send').click();
    const dialog = page.getByRole('dialog');
    assert.match(await dialog.innerText(), /消息将于 .+ 发出/);
    await dialog.getByTestId('confirm-send').click();
    await page.getByTestId('sent-note').getByText('消息已设为定时发送。').waitFor();
    assert.match(await page.getByTestId('no-deliveries').innerText(), /之前不会发送/);
    const id = page.url().split('/admin/messages/')[1]!;
    const stored = await admin('GET', `/v1/messages/${id}`);
    assert.equal(stored.body.status, 'scheduled');
    const wait = Date.parse(stored.body.sendAt as string) - Date.now();
    assert.ok(wait > 55 * 60_000 && wait <= 61 * 60_000, `sends in about an hour (${wait} ms)`);
  });

  test('the language switch changes the console', async () => {
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('link', { name: 'Dashboard' }).waitFor();
    await page.getByText('Deliveries per channel').waitFor();
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByText('refreshes every 10 seconds').waitFor();
    assert.equal(await page.title(), 'Operator console · Herald');
    await page.getByRole('button', { name: '中文' }).click();
    await page.getByRole('link', { name: '概览' }).waitFor();
  });

  test('no page raised an error', () => {
    // The first question "who is signed in?" is answered 401 before the sign-in.
    const expected = /Failed to load resource: the server responded with a status of 401/;
    assert.deepEqual(
      operatorTab.problems.filter((p) => !expected.test(p)),
      [],
    );
  });
});
