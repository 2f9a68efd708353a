import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestStory } from '../../src/api/contract.ts';
import type { Sandbox } from '../../src/demo/sandbox.ts';
import { FINAL } from '../../src/demo/stories.ts';
import { DEMO_PASSWORD } from '../../src/world/seed.ts';
import { browserRunsHere, horizontalOverflow, launchBrowser, newContext, seriousAxeViolations } from '../support/browser.ts';
import { settledText, signInThroughPage, startDashboardSandbox } from '../support/dashboard.ts';

/**
 * The approvals queue, the approval page and the audit log in Chromium, against the real service
 * with the emulators and the demo world: tickets opened through the PSA emulator, decisions taken by
 * clicking, their effects read back through the API and the database.
 */
const TOM = 'tom.rivera@northwind-it.example';
const PRIYA = 'priya.nair@northwind-it.example';
const SHOTS = join(tmpdir(), 'deskhand-dashboard-shots');
const README_SHOTS = process.env['DESKHAND_README_SCREENSHOTS'] ?? SHOTS;

let sb: Sandbox;
let browser: Browser;
const contexts: BrowserContext[] = [];

async function signedIn(email: string, options: { width?: number } = {}): Promise<{ page: Page; problems: string[] }> {
  const { context, page, problems } = await newContext(browser, options);
  contexts.push(context);
  await signInThroughPage(page, sb.service.url, email, DEMO_PASSWORD);
  return { page, problems };
}

/** A ticket opened as the employee would, once its request waits for approval: the technician approval's id. */
async function awaitingApproval(employee: string, text: string, summary: string): Promise<{ requestId: string; approvalId: string }> {
  const ticket = await sb.openTicket('contoso', employee, text, summary);
  const request = await sb.waitForRequest((await sb.requestForTicket(ticket)).id, ['awaiting_approval', ...FINAL]);
  expect(request.state, `${employee}: ${text}`).toBe('awaiting_approval');
  await sb.waitForDelivered(request.id);
  const approval = await sb.service.ctx.db
    .selectFrom('approvals')
    .select('id')
    .where('request_id', '=', request.id)
    .where('kind', '=', 'technician')
    .where('status', '=', 'pending')
    .executeTakeFirstOrThrow();
  return { requestId: request.id, approvalId: approval.id };
}

async function story(requestId: string): Promise<RequestStory> {
  const answer = await sb.api<RequestStory>('GET', `/api/requests/${requestId}`, { token: await sb.tokenFor(TOM) });
  expect(answer.status).toBe(200);
  return answer.body;
}

/** No serious or critical axe violation, and nothing wider than a phone at 390 px. */
async function checkPage(page: Page, what: string): Promise<void> {
  expect(await seriousAxeViolations(page), `${what}: axe`).toEqual([]);
  const before = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  expect(await horizontalOverflow(page), `${what}: overflow at 390 px`).toBe(0);
  if (before) await page.setViewportSize(before);
}

/** A call of the API from the page, with its session cookie and CSRF token, as the dashboard makes it. */
const fromPage = (page: Page, method: string, path: string) =>
  page.evaluate(
    async ({ method, path }) => {
      const csrf = (await (await fetch('/api/session/csrf')).json()) as { csrfToken: string | null };
      const headers = { 'content-type': 'application/json', ...(csrf.csrfToken ? { 'x-csrf-token': csrf.csrfToken } : {}) };
      const response = await fetch(path, method === 'GET' ? { headers } : { method, headers, body: '{}' });
      return { status: response.status, text: await response.text() };
    },
    { method, path },
  );

describe.runIf(browserRunsHere)('approvals and the audit log in the dashboard (demo world)', () => {
  beforeAll(async () => {
    sb = await startDashboardSandbox();
    browser = await launchBrowser();
    mkdirSync(SHOTS, { recursive: true });
    mkdirSync(README_SHOTS, { recursive: true });
  }, 180_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await sb?.close();
  });

  it('approves from the queue; a second technician is told it was already decided, by whom and when', async () => {
    const { requestId, approvalId } = await awaitingApproval('alex.wilber@contoso.example', 'Could you give me Zendesk access', 'Zendesk for Alex');

    // Priya follows the note's link signed out: sign-in first, then back to the approval.
    const priya = await newContext(browser);
    contexts.push(priya.context);
    // Her page hears of no decision (no live events, as over a dropped connection): her click comes late.
    await priya.page.route('**/api/events', (route) => route.abort());
    await priya.page.goto(`${sb.service.url}/approvals/${approvalId}`);
    await priya.page.getByLabel('Email').fill(PRIYA);
    await priya.page.getByLabel('Password', { exact: true }).fill(DEMO_PASSWORD);
    await priya.page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await priya.page.waitForURL(`**/approvals/${approvalId}`);
    expect(await settledText(priya.page)).toContain('Zendesk for Alex');
    await priya.page.getByRole('button', { name: 'Approve' }).waitFor();
    // Nor does it ask again while Tom decides (its own refreshes would show his decision before her
    // click): her page's reads fail from here on, her decision still goes out.
    let frozen = true;
    await priya.page.route('**/api/**', (route) => (frozen && route.request().method() === 'GET' ? route.abort() : route.fallback()));

    const tom = await signedIn(TOM);
    await tom.page.goto(`${sb.service.url}/approvals`);
    const text = await settledText(tom.page);
    expect(text).toContain('alex.wilber@contoso.example');
    expect(text).toContain('Contoso');
    const card = tom.page.locator('article.approval-card', { hasText: 'Zendesk for Alex' });
    await expect.poll(() => card.textContent()).toMatch(/left/);
    expect(await card.textContent()).toMatch(/SG-App-Zendesk|Zendesk/);
    await checkPage(tom.page, '/approvals');
    await card.getByLabel('Comment (optional)').fill('Approved for the support rota');
    await card.getByRole('button', { name: 'Approve' }).click();
    await tom.page.getByText('Approved: the plan runs now.').first().waitFor();
    // Gone from the queue at once.
    await expect.poll(() => tom.page.locator('article.approval-card', { hasText: 'Zendesk for Alex' }).count()).toBe(0);

    const done = await sb.waitForRequest(requestId, FINAL);
    expect(done.state).toBe('replied');
    const approved = (await story(requestId)).approvals.find((a) => a.id === approvalId);
    expect(approved).toMatchObject({ status: 'approved', comment: 'Approved for the support rota' });
    expect(approved?.decidedBy).toContain('Tom Rivera');

    // Priya's click, after Tom's decision: the API's 409 in words, naming who decided.
    await priya.page.getByRole('button', { name: 'Approve' }).click();
    const alert = priya.page.getByRole('alert').filter({ hasText: 'Already decided' });
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/Already decided: .*already approved by Tom Rivera .* at \d{4}-/);
    expect(priya.problems).toEqual([]);
    // Opened now, the page says who decided and when, and offers no decision.
    frozen = false;
    await priya.page.reload();
    const decided = await settledText(priya.page);
    expect(decided).toMatch(/Already approved by Tom Rivera <tom\.rivera@northwind-it\.example> at .*Approved for the support rota/);
    expect(decided).toContain('replied');
    expect(await priya.page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    await checkPage(priya.page, '/approvals/:id');
    expect(tom.problems).toEqual([]);
  }, 180_000);

  it('denies with a comment after a confirmation; the comment is on the request', async () => {
    const { requestId, approvalId } = await awaitingApproval('isaiah.langer@contoso.example', 'Could you give me Zendesk access', 'Zendesk for Isaiah');
    // Priya watches the queue: Tom's denial elsewhere takes the card off it without a reload (live events).
    const priya = await signedIn(PRIYA);
    await priya.page.goto(`${sb.service.url}/approvals`);
    await settledText(priya.page);
    const priyaCard = priya.page.locator('article.approval-card', { hasText: 'Zendesk for Isaiah' });
    expect(await priyaCard.count()).toBe(1);

    const tom = await signedIn(TOM);
    await tom.page.goto(`${sb.service.url}/approvals/${approvalId}`);
    expect(await settledText(tom.page)).toContain('Could you give me Zendesk access');
    await tom.page.getByLabel('Comment (optional)').fill('Zendesk seats are frozen until January');
    await tom.page.getByRole('button', { name: 'Deny' }).click();
    // Nothing is decided before the confirmation.
    expect((await story(requestId)).approvals.find((a) => a.id === approvalId)?.status).toBe('pending');
    await tom.page.getByRole('button', { name: 'Yes, deny' }).click();
    await tom.page.getByText('Your decision is recorded').waitFor();
    // The queue polls every 30 s: gone within 10 s, it was the event.
    await expect.poll(() => priyaCard.count(), { timeout: 10_000 }).toBe(0);
    expect(priya.problems).toEqual([]);
    const final = await sb.waitForRequest(requestId, FINAL);
    expect(final.state).toBe('replied');
    const denied = (await story(requestId)).approvals.find((a) => a.id === approvalId);
    expect(denied).toMatchObject({ status: 'denied', comment: 'Zendesk seats are frozen until January' });
    await expect.poll(() => settledText(tom.page), { timeout: 15_000 }).toMatch(/Already denied by Tom Rivera.*Zendesk seats are frozen until January/);
    expect(tom.problems).toEqual([]);
  }, 180_000);

  it('shows a reset’s manager part in the queue, and its temporary password once to the approving technician', async () => {
    const { requestId, approvalId } = await awaitingApproval('debra.berger@contoso.example', 'I forgot my password and cannot sign in.', 'Password for Debra');
    const manager = await sb.service.ctx.db.selectFrom('approvals').select('id').where('request_id', '=', requestId).where('kind', '=', 'manager').executeTakeFirstOrThrow();

    const tom = await signedIn(TOM, { width: 1280 });
    await tom.page.goto(`${sb.service.url}/approvals`);
    await settledText(tom.page);
    const card = tom.page.locator('article.approval-card', { hasText: 'Password for Debra' });
    expect(await card.textContent()).toMatch(/Manager.*pending/);
    expect(await card.textContent()).toContain('reset_password');
    // The nav link counts what waits.
    expect(await tom.page.locator('.topbar').getByRole('link', { name: /Approvals/ }).textContent()).toMatch(/Approvals\s*\d+\s*pending/);
    await tom.page.screenshot({ path: join(README_SHOTS, 'approvals-queue.png'), fullPage: true });

    await card.getByRole('button', { name: 'Approve' }).click();
    await tom.page.getByText('Approved: the manager’s approval is still awaited.').first().waitFor();

    // The manager approves through the link the Graph emulator mailed.
    await sb.waitForDelivered(requestId);
    const link = sb.emulators.graph
      .mail()
      .flatMap((m) => m.content.match(/https?:\/\/\S+\/approvals\/manager\/\S+/g) ?? [])
      .find((l) => l.includes(manager.id));
    expect(link, 'the manager’s mail').toBeDefined();
    const post = await fetch(`${sb.service.url}${new URL(link!).pathname}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=approve' });
    expect(post.status).toBe(200);
    const final = await sb.waitForRequest(requestId, FINAL);
    expect(`${final.state}/${final.outcome}`).toBe('replied/executed');

    // Priya did not approve: the password is not hers to see.
    const priya = await signedIn(PRIYA);
    await priya.page.goto(`${sb.service.url}/approvals/${approvalId}`);
    expect(await settledText(priya.page)).toContain('Already approved by Tom Rivera');
    expect(await priya.page.getByRole('button', { name: 'Show the temporary password' }).count()).toBe(0);

    await tom.page.goto(`${sb.service.url}/approvals/${approvalId}`);
    await settledText(tom.page);
    await checkPage(tom.page, '/approvals/:id (reset)');
    await tom.page.getByRole('button', { name: 'Show the temporary password' }).click();
    const password = (await tom.page.getByTestId('temporary-password').textContent()) ?? '';
    expect(password.length).toBeGreaterThanOrEqual(12);
    expect(await tom.page.getByRole('alert').textContent()).toContain('Shown once');
    // Never again: not on the page opened again, and the API refuses.
    await tom.page.reload();
    const after = await settledText(tom.page);
    expect(after).toContain('it is not shown again');
    expect(after).not.toContain(password);
    expect(await tom.page.getByRole('button', { name: 'Show the temporary password' }).count()).toBe(0);
    const step = (await story(requestId)).steps.find((s) => s.tool.endsWith('reset_password'));
    const again = await fromPage(tom.page, 'POST', `/api/requests/${requestId}/steps/${step!.stepIndex}/temporary-password`);
    expect(again.status).toBe(409);
    expect(again.text).not.toContain(password);
    expect(tom.problems).toEqual([]);
  }, 240_000);

  it('shows the audit chain verified, searchable, and where it breaks once a row is edited', async () => {
    const tom = await signedIn(TOM);
    await tom.page.goto(`${sb.service.url}/audit`);
    await settledText(tom.page);
    const result = tom.page.getByTestId('chain-result');
    await expect.poll(() => result.textContent()).toMatch(/Verified: \d+ rows, the chain is intact/);
    const rows = await tom.page.locator('.audit-table tbody tr').count();
    expect(rows).toBeGreaterThan(5);
    await checkPage(tom.page, '/audit');

    // Search: the denial of the test above, by its comment.
    await tom.page.getByLabel('Search', { exact: true }).fill('frozen until January');
    await tom.page.getByRole('button', { name: 'Search', exact: true }).click();
    await expect.poll(() => tom.page.locator('.audit-table tbody tr').count()).toBeLessThan(rows);
    const found = await tom.page.locator('.audit-table tbody').textContent();
    expect(found).toContain('approval.denied');

    // Billing may not read it.
    const ben = await signedIn('ben.okafor@northwind-it.example');
    expect((await fromPage(ben.page, 'GET', '/api/audit')).status).not.toBe(200);

    // An attacker with the database owner's rights edits one row (the append-only trigger off for it).
    const target = await sb.service.ctx.db
      .selectFrom('audit_log')
      .select(['seq', 'msp_id'])
      .where('event', '=', 'approval.denied')
      .orderBy('seq')
      .executeTakeFirstOrThrow();
    await sb.service.ctx.db.transaction().execute(async (tx) => {
      await sql`ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update`.execute(tx);
      await sql`UPDATE audit_log SET data = '{"comment":"approved after all"}'::jsonb WHERE msp_id = ${target.msp_id} AND seq = ${target.seq}`.execute(tx);
      await sql`ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update`.execute(tx);
    });
    await tom.page.getByRole('button', { name: 'Verify again' }).click();
    await expect.poll(() => result.textContent()).toContain(`Broken at seq ${target.seq}: row content does not match its hash`);
    expect(tom.problems).toEqual([]);
  }, 180_000);
});
