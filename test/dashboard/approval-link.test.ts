import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../src/demo/sandbox.ts';
import { FINAL } from '../../src/demo/stories.ts';
import { DEMO_PASSWORD } from '../../src/world/seed.ts';
import { browserRunsHere, launchBrowser, newContext, seriousAxeViolations } from '../support/browser.ts';
import { settledText, startDashboardSandbox } from '../support/dashboard.ts';

/**
 * The link in a ticket's approval note opens the approval in the dashboard, through sign-in when
 * needed and back to it afterwards (issue 12); the page follows a decision made elsewhere without
 * reloading, and says so while live updates are cut off.
 */
const TECHNICIAN = 'tom.rivera@northwind-it.example';
const SECOND_TECHNICIAN = 'priya.nair@northwind-it.example';

let sb: Sandbox;
let browser: Browser;

describe.runIf(browserRunsHere)("the approval note's link", () => {
  beforeAll(async () => {
    sb = await startDashboardSandbox();
    browser = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await sb?.close();
  });

  /** A ticket waiting for a technician, and the link its approval note carries. */
  async function ticketAwaitingApproval(): Promise<{ requestId: string; link: string; approvalId: string }> {
    const ticket = await sb.openTicket('contoso', 'alex.wilber@contoso.example', 'Could you give me Zendesk access, please?');
    const request = await sb.requestForTicket(ticket);
    const waiting = await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL], 30_000);
    expect(waiting.state, String(waiting.last_error)).toBe('awaiting_approval');
    await sb.waitForDelivered(request.id, 30_000);
    const notes = sb.emulators.connectwise.tickets().find((t) => t.ticket['id'] === ticket)!.notes.map((n) => String(n['text'] ?? ''));
    const line = notes.flatMap((text) => text.split('\n')).find((l) => l.startsWith('Decide in deskhand: '));
    expect(line, notes.join('\n---\n')).toBeDefined();
    const link = line!.slice('Decide in deskhand: '.length);
    const match = new RegExp(`^${sb.service.ctx.publicUrl}/approvals/([0-9a-f-]{36})$`).exec(link);
    expect(match, link).not.toBeNull();
    return { requestId: request.id, link, approvalId: match![1]! };
  }

  it('is a dashboard page (not the JSON API), and the manager link pages stay their own', async () => {
    const { link } = await ticketAwaitingApproval();
    const page = await fetch(link, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<div id="root">');
    const manager = await fetch(`${sb.service.url}/approvals/manager/not-a-link`, { headers: { accept: 'text/html' } });
    expect(await manager.text()).not.toContain('<div id="root">');
  }, 90_000);

  it('opened signed out: sign-in, then the approval; a decision made elsewhere shows without reloading', async () => {
    const { link, approvalId } = await ticketAwaitingApproval();
    const { context, page, problems } = await newContext(browser);
    try {
      await page.goto(link);
      await page.waitForURL((url) => url.pathname === '/sign-in');
      expect(new URL(page.url()).searchParams.get('next')).toBe(`/approvals/${approvalId}`);
      await page.getByLabel('Email').fill(TECHNICIAN);
      await page.getByLabel('Password', { exact: true }).fill(DEMO_PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL((url) => url.pathname === `/approvals/${approvalId}`);
      await page.getByRole('heading', { name: 'Approval', level: 1 }).waitFor();
      const text = await settledText(page);
      const approval = await sb.service.ctx.db.selectFrom('approvals').select(['plan_hash', 'status']).where('id', '=', approvalId).executeTakeFirstOrThrow();
      expect(text).toContain(approval.plan_hash);
      expect(text).toContain('pending');
      expect(await seriousAxeViolations(page)).toEqual([]);

      // Another technician decides through the API: the open page follows (server-sent events).
      const decided = await sb.api('POST', `/api/approvals/${approvalId}/decision`, { token: await sb.tokenFor(SECOND_TECHNICIAN), body: { decision: 'approve', planHash: approval.plan_hash } });
      expect(decided.status).toBe(200);
      await page.getByText('Priya Nair', { exact: false }).waitFor({ timeout: 15_000 });
      await expect.poll(async () => page.locator('main').textContent(), { timeout: 15_000 }).toContain('approved');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);

  it('says "Live updates paused" while the event stream is unreachable, and stops saying it once it is back', async () => {
    const { context, page } = await newContext(browser);
    try {
      await page.goto(`${sb.service.url}/sign-in?next=${encodeURIComponent('/clients')}`);
      await page.getByLabel('Email').fill(TECHNICIAN);
      await page.getByLabel('Password', { exact: true }).fill(DEMO_PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL((url) => url.pathname === '/clients');
      const banner = page.getByRole('status').filter({ hasText: 'Live updates paused — reconnecting…' });
      await settledText(page);
      expect(await banner.count()).toBe(0);

      await page.route('**/api/events', (route) => route.abort('connectionrefused'));
      await page.reload();
      await banner.waitFor({ timeout: 15_000 });

      await page.unroute('**/api/events');
      await banner.waitFor({ state: 'detached', timeout: 20_000 });
    } finally {
      await context.close();
    }
  }, 90_000);
});
