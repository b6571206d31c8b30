import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';
import { client, spawnHerald, type ChildHerald } from '../support/test-herald.js';
import {
  ensureWebBuilt,
  openBrowser,
  screenshot,
  signIn,
  skipWithoutChromium,
  type TestBrowser,
} from '../support/browser.js';

// Herald restarts (a deploy, a crash) while a student has the message center open: the page
// says the connection is lost, comes back by itself, and shows what was sent meanwhile.
const skip = skipWithoutChromium();
const STUDENT = '2024010101';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

describe('live inbox across a Herald restart', { skip }, () => {
  let dataDir: string;
  let port: number;
  let herald: ChildHerald | null = null;
  let browser: TestBrowser;
  let page: Page;
  let password: string;
  let jwcKey: string;

  const start = async () => {
    herald = await spawnHerald(dataDir, { HERALD_PORT: String(port), HERALD_DEMO: 'true' });
    return herald;
  };

  before(async () => {
    ensureWebBuilt();
    dataDir = mkdtempSync(join(tmpdir(), 'herald-web-restart-'));
    port = await freePort();
    const first = await start();
    const banner = first.output();
    password = /every user's password: (\S+)/.exec(banner)?.[1] ?? '';
    jwcKey = /^\s+jwc\s+(hk_\S+)/m.exec(banner)?.[1] ?? '';
    assert.ok(password && jwcKey, `demo secrets in the banner:\n${banner}`);
    browser = await openBrowser();
    page = (await browser.page('phone')).page;
  });

  after(async () => {
    await browser?.close();
    await herald?.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('the page shows the lost connection, reconnects, and misses nothing', async () => {
    const url = `http://127.0.0.1:${port}`;
    await signIn(page, url, STUDENT, password);
    await page.locator('[data-testid="live-status"].live-open').waitFor();

    await herald!.kill('SIGTERM');
    herald = null;
    await page.locator('.notice', { hasText: '连接中断，正在重连…' }).waitFor();
    await screenshot(page, 'phone-live-reconnecting');

    await start();
    // Sent at once, before the page is back: the stream resumes after the last item it saw.
    const res = await client(url, jwcKey)('POST', '/v1/messages', {
      category: 'exam.reminder',
      to: { users: [STUDENT] },
      data: DEMO_EXAMPLES['exam.reminder'],
    });
    assert.equal(res.status, 202);
    await page.getByTestId('inbox-item').filter({ hasText: '考试提醒：植物生理学' }).waitFor({
      timeout: 45_000,
    });
    await page.locator('[data-testid="live-status"].live-open').waitFor();
    assert.equal(await page.getByTestId('nav-badge').textContent(), '1');
  });
});
