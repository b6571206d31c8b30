import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
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
  horizontalOverflow,
  openBrowser,
  SCREENSHOTS,
  skipWithoutChromium,
  VIEWPORTS,
  type TestBrowser,
  type TestPage,
  type ViewportName,
} from '../support/browser.js';

// Deleting from the console: a group, a source and a category each go after one confirmation
// that says what will happen and asks for the item's key; Herald's refusal (a source that has
// sent messages, a category messages were sent in) is said in words with what to do instead.
// The dialogs are saved as test-results/web/{phone,desktop}-console-delete-*.png.
const skip = skipWithoutChromium();

async function consoleSignIn(page: Page, base: string, password: string) {
  await page.goto(`${base}/admin`);
  await page.locator('input[name="externalId"]').fill(DEMO_OPERATOR);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('form button[type="submit"]').click();
  await page.locator('#dashboard-title').waitFor();
}

/** The dialog as the screen shows it (over its page), after checking that it fits the width. */
async function shootDialog(tab: TestPage, viewport: ViewportName, name: string) {
  const { page } = tab;
  await page.evaluate('document.fonts.ready');
  assert.equal(await horizontalOverflow(page), 0, `${name} on a ${viewport} is too wide`);
  const box = await page.locator('dialog.modal').boundingBox();
  assert.ok(box, 'the dialog is shown');
  assert.ok(box.x >= 0 && box.x + box.width <= VIEWPORTS[viewport].width, `${name} fits sideways`);
  await page.screenshot({ path: join(SCREENSHOTS, `${viewport}-console-delete-${name}.png`) });
}

/** Types the key into the confirmation; the delete button waits for the whole of it. */
async function typeKey(dialog: Locator, key: string, button: string) {
  const remove = dialog.getByRole('button', { name: button, exact: true });
  assert.equal(await remove.isDisabled(), true, 'delete is not offered before the key is typed');
  await dialog.locator('input[name="confirm-key"]').fill(key.slice(0, -1));
  assert.equal(await remove.isDisabled(), true, 'a key typed in part is not enough');
  await dialog.locator('input[name="confirm-key"]').fill(key);
  assert.equal(await remove.isEnabled(), true);
  return remove;
}

describe('deleting groups, sources and categories in the console', { skip }, () => {
  let h: TestHerald;
  let browser: TestBrowser;
  let admin: ReturnType<typeof client>;
  let desktop: TestPage;
  let phone: TestPage;

  before(async () => {
    ensureWebBuilt();
    h = await startTestHerald();
    admin = client(h.url, ADMIN_TOKEN);
    // 教务处 (jwc) sends an exam reminder: from then on neither it nor that category can go.
    const sent = await client(h.url, h.keys.jwc)('POST', '/v1/messages', {
      category: 'exam.reminder',
      to: { users: ['2024010101'] },
      data: DEMO_EXAMPLES['exam.reminder'],
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    browser = await openBrowser();
    desktop = await browser.page('desktop');
    phone = await browser.page('phone');
    await consoleSignIn(desktop.page, h.url, h.password);
    await consoleSignIn(phone.page, h.url, h.password);
    // The operator's account reads Chinese; on the phone they switch to English.
    await phone.page.getByRole('button', { name: 'English' }).click();
    await phone.page.getByRole('link', { name: 'Dashboard' }).waitFor();
  });

  after(async () => {
    await browser?.close();
    await h?.close();
  });

  test('a group is created, then deleted once its key is typed', async () => {
    const page = desktop.page;
    await page.goto(`${h.url}/admin/people/groups`);
    await page.getByRole('button', { name: '新建群组' }).click();
    const form = page.locator('dialog.modal form');
    await form.locator('input[name="key"]').fill('thesis-2025');
    await form.locator('input[name="name"]').fill('论文答辩 2025');
    await form.locator('textarea').fill('2024010101\n2024010102\n2024010103');
    await form.locator('button[type="submit"]').click();
    const group = page.locator('[data-testid="groups"] > li', { hasText: 'thesis-2025' });
    await group.getByText('3 人').waitFor();

    await group.getByRole('button', { name: '成员' }).click();
    await group.getByRole('button', { name: '删除群组' }).click();
    const dialog = page.getByTestId('confirm-delete');
    await dialog.waitFor();
    const words = await dialog.innerText();
    assert.match(words, /论文答辩 2025\s+thesis-2025/);
    assert.match(words, /该群组目前有 3 名成员/);
    assert.match(words, /指定发送给该群组的定时消息将不会再送达其成员/);
    assert.match(words, /此操作无法撤销/);
    assert.match(words, /请输入标识 thesis-2025 以确认/);
    const remove = await typeKey(dialog, 'thesis-2025', '删除');
    await shootDialog(desktop, 'desktop', 'group');

    await remove.click();
    await page
      .getByTestId('deleted-note')
      .getByText('已删除群组“论文答辩 2025”（thesis-2025）。')
      .waitFor();
    await dialog.waitFor({ state: 'detached' });
    await eventually(async () => (await group.count()) === 0 || undefined, 5_000, 'the group gone');
    assert.equal((await admin('GET', '/v1/groups/thesis-2025')).status, 404);
    // The other groups are still there.
    await page.locator('[data-testid="groups"]').getByText('class-2024-agronomy-1').waitFor();
  });

  test('on a phone, in English, the same dialog fits and deletes', async () => {
    const created = await admin('POST', '/v1/groups', {
      key: 'reading-club',
      name: 'Reading club',
      members: ['2024010101'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const page = phone.page;
    await page.goto(`${h.url}/admin/people/groups`);
    const group = page.locator('[data-testid="groups"] > li', { hasText: 'reading-club' });
    await group.getByRole('button', { name: 'Members' }).click();
    await group.getByRole('button', { name: 'Delete group' }).click();
    const dialog = page.getByTestId('confirm-delete');
    const words = await dialog.innerText();
    assert.match(words, /It has 1 member now/);
    assert.match(words, /Scheduled messages that name this group will no longer reach its members/);
    assert.match(words, /To confirm, type its key reading-club/);
    const remove = await typeKey(dialog, 'reading-club', 'Delete');
    await shootDialog(phone, 'phone', 'group');
    await remove.click();
    await page.getByText('Group "Reading club" (reading-club) was deleted.').waitFor();
    assert.equal(await group.count(), 0);
    assert.equal((await admin('GET', '/v1/groups/reading-club')).status, 404);
  });

  test('a source that has sent messages is refused in words, with the advice, and stays', async () => {
    const page = desktop.page;
    await page.goto(`${h.url}/admin/setup/sources/jwc`);
    await page.locator('#source-title').getByText('教务处').waitFor();
    await page.getByRole('button', { name: '删除来源' }).click();
    const dialog = page.getByTestId('confirm-delete');
    assert.match(await dialog.innerText(), /只有从未发送过消息的来源才能删除/);
    const remove = await typeKey(dialog, 'jwc', '删除');
    await remove.click();

    const refusal = dialog.getByRole('alert');
    await refusal.getByText('“教务处”已发送过消息，因此不能删除：这些消息的记录需要它。').waitFor();
    assert.match(await refusal.innerText(), /如要停止它发送，请改为撤销它的 API 密钥。/);
    // Words only: no problem document, no code, no English detail from Herald.
    assert.doesNotMatch(await dialog.innerText(), /[{}"]|conflict|409|revoke/i);
    // Trying again would not help: delete is gone; what helps is offered instead.
    assert.equal(await dialog.getByRole('button', { name: '删除', exact: true }).count(), 0);
    await shootDialog(desktop, 'desktop', 'source-refused');
    await dialog.getByRole('button', { name: '前往 API 密钥' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.ok(await page.locator('#keys-title').isVisible());
    await page.getByTestId('api-keys').waitFor();

    assert.equal((await admin('GET', '/v1/sources/jwc')).status, 200);
    await page.goto(`${h.url}/admin/setup/sources`);
    await page.getByTestId('sources-table').getByText('教务处').waitFor();
  });

  test('a source that has sent nothing is deleted, with its keys', async () => {
    const created = await admin('POST', '/v1/sources', {
      key: 'yjsy',
      name: '研究生院',
      categories: ['exam.reminder'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal((await admin('POST', '/v1/sources/yjsy/api-keys')).status, 201);
    const page = desktop.page;
    await page.goto(`${h.url}/admin/setup/sources/yjsy`);
    await page.getByRole('button', { name: '删除来源' }).click();
    const dialog = page.getByTestId('confirm-delete');
    assert.match(
      await dialog.innerText(),
      /它的 API 密钥将一并删除：此后任何系统都不能再以“研究生院”的名义发送/,
    );
    await shootDialog(desktop, 'desktop', 'source');
    await (await typeKey(dialog, 'yjsy', '删除')).click();
    await page.waitForURL(/\/admin\/setup\/sources$/);
    await page.getByText('已删除来源“研究生院”（yjsy）及其 API 密钥。').waitFor();
    assert.equal(await page.getByTestId('sources-table').getByText('yjsy').count(), 0);
    assert.equal((await admin('GET', '/v1/sources/yjsy')).status, 404);
  });

  test('a fresh category is deleted with its templates; one messages used is kept', async () => {
    const category = await admin('POST', '/v1/categories', {
      key: 'thesis.defense',
      name: { 'zh-CN': '论文答辩', en: 'Thesis defense' },
      defaultChannels: ['in_app'],
    });
    assert.equal(category.status, 201, JSON.stringify(category.body));
    const template = await admin('PUT', '/v1/templates/thesis.defense/in_app/zh-CN', {
      title: '答辩安排',
      body: '{{ data.time }} 答辩',
    });
    assert.equal(template.status, 201, JSON.stringify(template.body));

    const page = desktop.page;
    await page.goto(`${h.url}/admin/setup/categories`);
    const row = page.locator('[data-testid="categories-table"] tbody tr', {
      hasText: 'thesis.defense',
    });
    await row.getByRole('button', { name: '删除类别“论文答辩”' }).click();
    const dialog = page.getByTestId('confirm-delete');
    await dialog.getByText('它的 1 个模板及其全部历史版本将一并删除：站内信 zh-CN。').waitFor();
    assert.match(await dialog.innerText(), /论文答辩\s+thesis\.defense/);
    await shootDialog(desktop, 'desktop', 'category');
    await (await typeKey(dialog, 'thesis.defense', '删除')).click();
    await page.getByText('已删除类别“论文答辩”（thesis.defense）及其模板。').waitFor();
    assert.equal(await row.count(), 0);
    assert.equal((await admin('GET', '/v1/categories/thesis.defense')).status, 404);
    const templates = await admin('GET', '/v1/templates?category=thesis.defense');
    assert.deepEqual(templates.body.items, []);

    // On a phone, in English: the exam reminder was sent, so Herald keeps it, and says why.
    const p = phone.page;
    await p.goto(`${h.url}/admin/setup/categories`);
    await p.getByRole('button', { name: 'Delete category Exam reminder' }).click();
    const refusedDialog = p.getByTestId('confirm-delete');
    assert.match(await refusedDialog.innerText(), /Sources that may send it \(教务处\)/);
    await (await typeKey(refusedDialog, 'exam.reminder', 'Delete')).click();
    const refusal = refusedDialog.getByRole('alert');
    await refusal
      .getByText(
        'Messages were sent in "Exam reminder", so it cannot be deleted: their history needs it.',
      )
      .waitFor();
    assert.match(await refusal.innerText(), /Keep the category\./);
    await shootDialog(phone, 'phone', 'category-refused');
    await refusedDialog.getByRole('button', { name: 'Close' }).last().click();
    await refusedDialog.waitFor({ state: 'detached' });
    assert.equal((await admin('GET', '/v1/categories/exam.reminder')).status, 200);
  });

  test('no page raised an error beyond the refusals asked for', () => {
    // The first "who is signed in?" is answered 401; the two refusals are 409s.
    const expected = /Failed to load resource: the server responded with a status of (401|409)/;
    for (const tab of [desktop, phone]) {
      assert.deepEqual(
        tab.problems.filter((p) => !expected.test(p)),
        [],
      );
    }
  });
});
