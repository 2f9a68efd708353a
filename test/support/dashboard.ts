import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { expect } from 'vitest';
import { DASHBOARD_DIR } from '../../src/api/dashboard.ts';
import { type SandboxOptions, startSandbox, type Sandbox } from '../../src/demo/sandbox.ts';
import { silentLogger } from '../../src/logger.ts';
import { horizontalOverflow, newContext, seriousAxeViolations, widest } from './browser.ts';
import { createTestDatabase } from './db.ts';

/**
 * The dashboard's browser tests: the real service (sandbox: emulators, embedded or given PostgreSQL)
 * serving the built dashboard, and a page signed in through the sign-in form as a user would.
 */

/** The service reads dist/web at start: without a build, every page would be the "not built" notice. */
export function requireBuiltDashboard(): void {
  if (!existsSync(join(DASHBOARD_DIR, 'index.html'))) {
    throw new Error(`the dashboard is not built (no ${DASHBOARD_DIR}index.html): run \`npx vite build web\` first`);
  }
}

/** A sandbox on a fresh database, with the demo world unless `seed: false` (an empty deskhand). */
export async function startDashboardSandbox(options: Partial<Omit<SandboxOptions, 'databaseUrl' | 'logger'>> = {}): Promise<Sandbox> {
  requireBuiltDashboard();
  return startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger, ...options });
}

/** Sign in through the sign-in page and wait until the dashboard shows the signed-in frame. */
export async function signInThroughPage(page: Page, baseUrl: string, email: string, password: string, next?: string): Promise<void> {
  await page.goto(`${baseUrl}/sign-in${next ? `?next=${encodeURIComponent(next)}` : ''}`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.locator('.topbar').getByRole('button', { name: 'Sign out' }).waitFor();
}

/** The page's text once no "Loading…" is left on it (queries answered). */
export async function settledText(page: Page): Promise<string> {
  await expect.poll(() => page.locator('.loading').count(), { timeout: 15_000 }).toBe(0);
  const text = (await page.locator('body').textContent()) ?? '';
  // The router's last resort when a page throws while rendering: never a settled page.
  expect(text, `${page.url()} failed to render`).not.toContain('Something went wrong!');
  return text;
}

/** The page's whole HTML once it has settled: what a secret must never appear in. */
export async function settledHtml(page: Page): Promise<string> {
  await settledText(page);
  return page.content();
}

/**
 * A page as the browser tests check every page: settled, no serious axe violation at 1280 px (light)
 * nor at 390 px (dark), nothing wider than the window at 390 px, a screenshot of each in `shots`.
 */
export async function checkAtTwoWidths(browser: Browser, page: Page, name: string, shots: string): Promise<void> {
  await settledText(page);
  expect(await seriousAxeViolations(page), `axe on ${name}`).toEqual([]);
  await page.screenshot({ path: join(shots, `${name}-1280.png`), fullPage: true });
  const narrow = await newContext(browser, { width: 390, height: 800, colorScheme: 'dark' });
  try {
    await narrow.context.addCookies(await page.context().cookies());
    await narrow.page.goto(page.url());
    await narrow.page.locator('main h1').first().waitFor();
    await settledText(narrow.page);
    expect(await horizontalOverflow(narrow.page), `${name} at 390 px is wider than the window: ${await widest(narrow.page)}`).toBe(0);
    expect(await seriousAxeViolations(narrow.page), `axe on ${name} at 390 px, dark`).toEqual([]);
    await narrow.page.screenshot({ path: join(shots, `${name}-390.png`), fullPage: true });
    expect(narrow.problems).toEqual([]);
  } finally {
    await narrow.context.close();
  }
}
