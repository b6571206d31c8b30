/**
 * Browser tests: playwright-core driving Debian's Chromium (no browser download), the built
 * web app (web/dist) served by an in-process Herald, screenshots under test-results/web/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const ROOT = new URL('../../', import.meta.url).pathname;
const WEB = join(ROOT, 'web');
const DIST_INDEX = join(WEB, 'dist', 'index.html');
export const SCREENSHOTS = join(ROOT, 'test-results', 'web');

export const CHROMIUM = process.env.HERALD_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** The flags this machine needs: root (no sandbox), no GPU, and no calls to Google's hosts. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export const VIEWPORTS = {
  phone: { width: 390, height: 844 },
  desktop: { width: 1440, height: 900 },
} as const;
export type ViewportName = keyof typeof VIEWPORTS;

/**
 * A reason to skip browser tests when Chromium is missing (a developer's machine without it);
 * with CI set that is a failure instead (.ci/run installs it).
 */
export function skipWithoutChromium(): string | false {
  if (existsSync(CHROMIUM)) return false;
  const reason = `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
  if (process.env.CI) throw new Error(`CI is set, so this is a failure: ${reason}`);
  return reason;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'dist' || entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Builds web/dist when it is missing or older than a file under web/ (`npm test` builds it
 * first; this covers a test file run on its own). Herald decides at start whether it has a UI,
 * so this must run before startTestHerald. Concurrent test files wait for one build.
 */
export function ensureWebBuilt(): void {
  const fresh = () => existsSync(DIST_INDEX) && statSync(DIST_INDEX).mtimeMs >= newestMtime(WEB);
  if (fresh()) return;
  const lock = join(ROOT, 'test-results', '.web-build.lock');
  mkdirSync(join(ROOT, 'test-results'), { recursive: true });
  const until = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > until) rmSync(lock, { recursive: true, force: true });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }
  try {
    if (!fresh()) {
      execFileSync(
        process.execPath,
        [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', 'web', '--logLevel', 'warn'],
        { cwd: ROOT, stdio: 'inherit' },
      );
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface TestBrowser {
  readonly browser: Browser;
  /**
   * A fresh context (own cookies and localStorage) and page at this viewport; the device's
   * language and time zone are zh-CN and Asia/Shanghai unless given.
   */
  page(
    viewport: ViewportName,
    options?: { locale?: string; timezoneId?: string },
  ): Promise<TestPage>;
  close(): Promise<void>;
}

export interface TestPage {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Everything that went wrong in the page: uncaught errors, console errors (CSP included). */
  readonly problems: string[];
}

export async function openBrowser(): Promise<TestBrowser> {
  // Playwright gives the browser a fresh, temporary --user-data-dir of its own.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  return {
    browser,
    async page(viewport, options = {}) {
      const phone = viewport === 'phone';
      const context = await browser.newContext({
        viewport: VIEWPORTS[viewport],
        locale: options.locale ?? 'zh-CN',
        timezoneId: options.timezoneId ?? 'Asia/Shanghai',
        ...(phone ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
      });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      page.on('console', (msg) => {
        if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
      });
      return { page, context, problems };
    },
    close: () => browser.close(),
  };
}

/** Saves a screenshot as test-results/web/<name>.png (the whole page). */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Signs in through the login form, as a person would, and waits for the inbox. */
export async function signIn(page: Page, base: string, externalId: string, password: string) {
  await page.goto(`${base}/login`);
  await page.locator('input[name="externalId"]').fill(externalId);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('form button[type="submit"]').click();
  await page.locator('#inbox-title').waitFor();
}

/** How far the page is wider than its viewport (0 = nothing sticks out sideways). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(
    'document.documentElement.scrollWidth - window.innerWidth',
  ) as Promise<number>;
}
