import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { databaseKind } from './db.ts';

/**
 * The dashboard's tests drive Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it
 * when missing) with playwright-core, against the real server over HTTP. They run in the embedded
 * database's pass of `.ci/run` (the pages do not depend on the database; the API tests run on both),
 * or everywhere with DESKHAND_TEST_EVERY_DATABASE=1.
 */
export const CHROMIUM = process.env['DESKHAND_CHROMIUM'] ?? '/usr/bin/chromium';

export const browserRunsHere = databaseKind() === 'embedded' || process.env['DESKHAND_TEST_EVERY_DATABASE'] === '1';

/** The flags that work on these machines: no sandbox as root, no GPU, and no calls to Google's hosts. */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's package (apt-get install -y chromium) or set DESKHAND_CHROMIUM`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}

/**
 * A fresh browser context (its own cookies) at a 1280×800 window that fails the test on any page
 * error or Content-Security-Policy violation the console reports.
 */
export async function newContext(browser: Browser, options: { width?: number; height?: number; colorScheme?: 'light' | 'dark' } = {}): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: options.width ?? 1280, height: options.height ?? 800 }, colorScheme: options.colorScheme ?? 'light' });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    const text = message.text();
    if (message.type() === 'error' && /Content.Security.Policy|Refused to/i.test(text)) problems.push(`CSP: ${text}`);
  });
  return { context, page, problems };
}

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * axe-core's check of the page as it is now (WCAG 2 A and AA rules and best practices): the serious
 * and critical violations, each with the elements it found. The script is added through
 * Playwright's evaluate, so the page's CSP does not need to allow it.
 */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  const result = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] })`)) as {
    violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
  };
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) }));
}

/** Nothing wider than the window: no layout broken into a sideways scroll of the whole page. */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth') as Promise<number>;
}

/** The elements that reach past the window's right edge (outside a sideways-scrolling table), to name in a failure. */
export async function widest(page: Page): Promise<string> {
  return page.evaluate(`[...document.querySelectorAll('body *')]
    .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1 && !el.closest('.table-wrap'))
    .slice(-5)
    .map((el) => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ').join('.') : '') + ' ' + Math.round(el.getBoundingClientRect().right))
    .join(', ')`) as Promise<string>;
}
