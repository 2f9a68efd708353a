import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientList, ToolCallList } from '../../src/api/contract.ts';
import type { Sandbox } from '../../src/demo/sandbox.ts';
import { FINAL } from '../../src/demo/stories.ts';
import { DEMO_PASSWORD } from '../../src/world/seed.ts';
import { browserRunsHere, launchBrowser, newContext } from '../support/browser.ts';
import { checkAtTwoWidths, settledText, signInThroughPage, startDashboardSandbox } from '../support/dashboard.ts';

/**
 * The requests pages in Chromium against the real service and the emulators: a ticket opened in the
 * PSA emulator is found in the queue by its text, its story told as a timeline, approved by a
 * technician (through the API) and followed to `replied`; a Plan Mode client's review lists its
 * notes; a client's Activity lists the tool calls. Axe and a phone's width on every page.
 */
const SHOTS = join(tmpdir(), 'deskhand-requests-shots');
const README_SHOTS = process.env['DESKHAND_README_SCREENSHOTS'] ?? SHOTS;
const TECHNICIAN = 'tom.rivera@northwind-it.example';
const BILLING = 'ben.okafor@northwind-it.example';

let sb: Sandbox;
let browser: Browser;


async function clientId(slug: string): Promise<string> {
  const list = await sb.api<ClientList>('GET', '/api/clients', { token: await sb.tokenFor(TECHNICIAN) });
  return list.body.clients.find((c) => c.slug === slug)!.id;
}

describe.runIf(browserRunsHere)('the requests pages', () => {
  beforeAll(async () => {
    sb = await startDashboardSandbox();
    browser = await launchBrowser();
    mkdirSync(SHOTS, { recursive: true });
    mkdirSync(README_SHOTS, { recursive: true });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await sb?.close();
  });

  it("finds a ticket in the queue by its text, tells its story, and follows it to replied once a technician approves", async () => {
    const ticket = await sb.openTicket('contoso', 'alex.wilber@contoso.example', 'Could you give me Zendesk access');
    const request = await sb.requestForTicket(ticket);
    const { page, problems } = await newContext(browser);
    await signInThroughPage(page, sb.service.url, TECHNICIAN, DEMO_PASSWORD);
    await page.locator('.topbar').getByRole('link', { name: 'Requests' }).click();
    await page.getByRole('heading', { level: 1, name: 'Requests' }).waitFor();
    await page.getByLabel('Text').fill('zendesk');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get('q')).toBe('zendesk');
    const row = page.getByRole('link', { name: 'Could you give me Zendesk access' }).first();
    await row.waitFor();
    await checkAtTwoWidths(browser, page, 'requests', SHOTS);
    await row.click();
    await page.waitForURL(`**/requests/${request.id}`);
    // The story reaches the approval without a reload: the page follows the request live.
    const waiting = await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL]);
    expect(waiting.state).toBe('awaiting_approval');
    await sb.waitForDelivered(request.id);
    await page.getByRole('heading', { name: /Technician's approval: pending/ }).waitFor({ timeout: 15_000 });
    await page.getByRole('heading', { name: 'Internal note' }).waitFor({ timeout: 15_000 });
    const text = await settledText(page);
    for (const part of ['Intake', 'Diagnosis', 'Internal note', 'SHA-256', 'policy: approval needed', 'left']) expect(text, part).toContain(part);
    const hash = (await sb.service.ctx.db.selectFrom('plans').select('hash').where('request_id', '=', request.id).executeTakeFirstOrThrow()).hash;
    expect(text).toContain(hash);
    await checkAtTwoWidths(browser, page, 'request-waiting', SHOTS);

    // No reload: the state, the approval and the steps arrive by the live events.
    const navigations: string[] = [];
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations.push(frame.url());
    });
    // A technician approves through the API (the approvals page has its own test).
    const approval = await sb.service.ctx.db.selectFrom('approvals').select(['id', 'plan_hash']).where('request_id', '=', request.id).where('kind', '=', 'technician').executeTakeFirstOrThrow();
    const decided = await sb.api('POST', `/api/approvals/${approval.id}/decision`, { token: await sb.tokenFor(TECHNICIAN), body: { decision: 'approve', planHash: approval.plan_hash, comment: 'Approved for the sales team' } });
    expect(decided.status).toBe(200);
    expect((await sb.waitForRequest(request.id, FINAL)).state).toBe('replied');
    await sb.waitForDelivered(request.id);
    await page.locator('.request-state').getByText('replied').waitFor({ timeout: 15_000 });
    await page.getByRole('heading', { name: 'Reply to the employee' }).waitFor({ timeout: 15_000 });
    expect(navigations, 'the page was not reloaded').toEqual([]);
    const done = await settledText(page);
    for (const part of ["Technician's approval: approved", 'Approved for the sales team', 'Step 1 executed', 'succeeded', 'Reply to the employee']) expect(done, part).toContain(part);
    await checkAtTwoWidths(browser, page, 'request-story', SHOTS);
    await page.screenshot({ path: join(README_SHOTS, 'request-story.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('shows a denial with its comment on the timeline as it happens', async () => {
    const request = await sb.requestForTicket(await sb.openTicket('contoso', 'debra.berger@contoso.example', 'I forgot my password and cannot sign in.'));
    expect((await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL])).state).toBe('awaiting_approval');
    const { page, problems } = await newContext(browser);
    await signInThroughPage(page, sb.service.url, TECHNICIAN, DEMO_PASSWORD);
    await page.goto(`${sb.service.url}/requests/${request.id}`);
    await page.getByRole('heading', { name: /Technician's approval: pending/ }).waitFor();
    // Dual approval: the manager's part waits too, with its time left.
    await page.getByRole('heading', { name: /Manager's approval: pending/ }).waitFor();
    const approval = await sb.service.ctx.db.selectFrom('approvals').select(['id', 'plan_hash']).where('request_id', '=', request.id).where('kind', '=', 'technician').executeTakeFirstOrThrow();
    const comment = `Call the employee first ${Date.now()}`;
    const denied = await sb.api('POST', `/api/approvals/${approval.id}/decision`, { token: await sb.tokenFor(TECHNICIAN), body: { decision: 'deny', planHash: approval.plan_hash, comment } });
    expect(denied.status).toBe(200);
    await page.getByRole('heading', { name: "Technician's approval: denied" }).waitFor({ timeout: 15_000 });
    await page.getByText(comment).first().waitFor();
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("lists a Plan Mode client's notes in its review, linked from its Overview", async () => {
    const request = await sb.requestForTicket(await sb.openTicket('fabrikam', 'alan.turing@fabrikam.example', 'Could you give me Zendesk access'));
    await sb.waitForRequest(request.id, FINAL);
    await sb.waitForDelivered(request.id);
    const note = await sb.service.ctx.db
      .selectFrom('outbox')
      .select('payload')
      .where('request_id', '=', request.id)
      .where('kind', '=', 'ticket.note')
      .execute();
    const internal = note.map((n) => n.payload as { purpose: string; text: string }).find((p) => p.purpose === 'internal_note')!;
    const { page, problems } = await newContext(browser);
    await signInThroughPage(page, sb.service.url, TECHNICIAN, DEMO_PASSWORD);
    await page.goto(`${sb.service.url}/clients/${await clientId('fabrikam')}`);
    await page.getByRole('link', { name: 'Review its Plan Mode notes' }).click();
    await page.getByRole('heading', { level: 1, name: /Plan Mode review/ }).waitFor();
    const text = await settledText(page);
    // The note as posted (its first line, whitespace aside) and the plan's steps with their policies.
    expect(text.replace(/\s+/g, ' ')).toContain(internal.text.split('\n')[0]!.replace(/\s+/g, ' ').trim());
    const plan = await sb.service.ctx.db.selectFrom('plans').select(['steps', 'step_policies']).where('request_id', '=', request.id).executeTakeFirstOrThrow();
    const steps = plan.steps as { tool: string }[];
    expect(steps.length).toBeGreaterThan(0);
    steps.forEach((step, index) => {
      expect(text).toContain(step.tool);
      expect(text).toContain((plan.step_policies as { policy: string }[])[index]!.policy.replaceAll('_', ' '));
    });
    await checkAtTwoWidths(browser, page, 'plan-review', SHOTS);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("lists a client's tool calls on its Activity tab, each linked to its request", async () => {
    const contoso = await clientId('contoso');
    const calls = await sb.api<ToolCallList>('GET', `/api/clients/${contoso}/tool-calls`, { token: await sb.tokenFor(TECHNICIAN) });
    expect(calls.body.toolCalls.length).toBeGreaterThan(0);
    const { page, problems } = await newContext(browser);
    await signInThroughPage(page, sb.service.url, TECHNICIAN, DEMO_PASSWORD);
    await page.goto(`${sb.service.url}/clients/${contoso}/activity`);
    await page.getByRole('table', { name: /Tool calls/ }).waitFor();
    const rows = page.getByRole('table', { name: /Tool calls/ }).locator('tbody tr');
    expect(await rows.count()).toBe(calls.body.toolCalls.length);
    const step = calls.body.toolCalls.find((c) => c.kind === 'step')!;
    const text = await settledText(page);
    expect(text).toContain(step.tool);
    expect(text).toContain('technician: approved by');
    await checkAtTwoWidths(browser, page, 'client-activity', SHOTS);
    expect(problems).toEqual([]);
    await page.context().close();

    // Billing reads the requests there, not the tool calls, and the story's reduced view.
    const billing = await newContext(browser);
    await signInThroughPage(billing.page, sb.service.url, BILLING, DEMO_PASSWORD);
    await billing.page.goto(`${sb.service.url}/clients/${contoso}/activity`);
    expect(await settledText(billing.page)).toContain('are for technicians');
    await billing.page.goto(`${sb.service.url}/requests/${step.request.id}`);
    const story = await settledText(billing.page);
    expect(story).toContain('details (what the agent read, its reasons, notes and replies) are for technicians');
    expect(story).not.toContain('Internal note');
    await checkAtTwoWidths(browser, billing.page, 'request-billing', SHOTS);
    expect(billing.problems).toEqual([]);
    await billing.context.close();
  });
});
