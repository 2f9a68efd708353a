import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientList, IntegrationList } from '../../src/api/contract.ts';
import type { Sandbox } from '../../src/demo/sandbox.ts';
import { demoSetup } from '../../src/integrations/emulators.ts';
import { DEMO_PASSWORD } from '../../src/world/seed.ts';
import { browserRunsHere, horizontalOverflow, launchBrowser, newContext, seriousAxeViolations } from '../support/browser.ts';
import { settledHtml, settledText, signInThroughPage, startDashboardSandbox } from '../support/dashboard.ts';

/**
 * The demo world in the dashboard, per role: what a billing user must never see, and the sign-in,
 * setup, invitation, MSP and account pages checked by axe, at phone width and in the dark theme.
 */
const ADMIN = 'ava.chen@northwind-it.example';
const TECHNICIAN = 'tom.rivera@northwind-it.example';
const BILLING = 'ben.okafor@northwind-it.example';
/** Screenshots to look at; the README's go to DESKHAND_README_SCREENSHOTS (docs/screenshots) when it is set. */
const SHOTS = join(tmpdir(), 'deskhand-dashboard-shots');
const README_SHOTS = process.env['DESKHAND_README_SCREENSHOTS'] ?? SHOTS;

let sb: Sandbox;
let browser: Browser;

describe.runIf(browserRunsHere)('the dashboard per role (demo world)', () => {
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

  /** Every secret the demo world's integrations were connected with (long enough not to match by chance). */
  const plantedSecrets = () =>
    demoSetup(sb.world, sb.emulators.endpoints)
      .integrations.flatMap((integration) => Object.values(integration.secrets ?? {}))
      .filter((value): value is string => typeof value === 'string' && value.length >= 8);

  /** A call of the API from the page, with its session cookie and CSRF token, as the dashboard makes it. */
  const fromPage = (page: Page, method: string, path: string, body?: unknown) =>
    page.evaluate(
      async ({ method, path, body }) => {
        const csrf = (await (await fetch('/api/session/csrf')).json()) as { csrfToken: string | null };
        const response = await fetch(path, {
          method,
          headers: { 'content-type': 'application/json', ...(csrf.csrfToken ? { 'x-csrf-token': csrf.csrfToken } : {}) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        return { status: response.status, text: await response.text() };
      },
      { method, path, body },
    );

  it('shows a billing user the clients and never a secret, nor a request’s details', async () => {
    const secrets = plantedSecrets();
    expect(secrets.length).toBeGreaterThan(3);
    // A request with the employee's words, which billing must never read.
    const words = `my laptop camera stopped working after the update ${Date.now()}`;
    const ticket = await sb.openTicket('contoso', 'megan.bowen@contoso.example', words, 'Camera broken');
    const request = await sb.requestForTicket(ticket);
    // Diagnosed: the words are read from the ticket and the diagnosis is written.
    await sb.waitForRequest(request.id, (row) => row.body !== '' && !['received', 'diagnosing'].includes(row.state));
    // The technician reads them (so the check below can fail).
    const asTechnician = await sb.api<unknown>('GET', `/api/requests/${request.id}`, { token: await sb.tokenFor(TECHNICIAN) });
    expect(JSON.stringify(asTechnician.body)).toContain(words);

    const { context, page, problems } = await newContext(browser);
    await signInThroughPage(page, sb.service.url, BILLING, DEMO_PASSWORD);
    expect(await page.locator('.topbar').textContent()).toContain('Billing');
    await page.goto(`${sb.service.url}/clients`);
    expect(await settledText(page)).toContain('Contoso Ltd');

    const integrations = JSON.parse((await fromPage(page, 'GET', '/api/integrations')).text) as IntegrationList;
    expect(integrations.integrations.length).toBeGreaterThan(0);
    const clients = JSON.parse((await fromPage(page, 'GET', '/api/clients')).text) as ClientList;
    const contoso = clients.clients.find((client) => client.slug === 'contoso')!;
    const pages = [
      '/clients',
      `/clients/${contoso.id}`,
      `/clients/${contoso.id}/integrations`,
      `/clients/${contoso.id}/activity`,
      '/msp',
      '/msp/integrations',
      '/msp/users',
      '/msp/statuses',
      '/account',
      ...integrations.integrations.map((integration) => (integration.client ? `/clients/${integration.client.id}/integrations/${integration.id}` : `/integrations/${integration.id}`)),
    ];
    for (const path of pages) {
      await page.goto(`${sb.service.url}${path}`);
      const html = await settledHtml(page);
      for (const secret of secrets) expect(html.includes(secret), `a secret of the demo world on ${path}`).toBe(false);
      expect(html.includes(words), `the employee's words on ${path}`).toBe(false);
    }
    // Billing edits nothing here: no MSP settings form, no user management.
    await page.goto(`${sb.service.url}/msp`);
    await settledText(page);
    expect(await page.getByRole('button', { name: 'Save' }).count()).toBe(0);
    expect(await page.locator('input[type=radio]').count()).toBe(0);

    // The API behind the page answers billing with what happened, never the words or the diagnosis.
    const story = await fromPage(page, 'GET', `/api/requests/${request.id}`);
    expect(story.status).toBe(200);
    expect(story.text).not.toContain(words);
    expect(JSON.parse(story.text)).toMatchObject({ diagnosis: null });
    expect(problems).toEqual([]);
    await context.close();
  });

  it('lets an admin change the default mode, roles and ticket statuses, and shows the refusal to demote the last admin', async () => {
    const { context, page, problems } = await newContext(browser);
    await signInThroughPage(page, sb.service.url, ADMIN, DEMO_PASSWORD, '/msp');
    await page.getByLabel('Plan', { exact: true }).check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    const msp = () => sb.service.ctx.db.selectFrom('msps').select('default_operating_mode').where('id', '=', 'northwind').executeTakeFirstOrThrow();
    expect((await msp()).default_operating_mode).toBe('plan');
    await page.getByLabel('Execute', { exact: true }).check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    expect((await msp()).default_operating_mode).toBe('execute');

    await page.goto(`${sb.service.url}/msp/users`);
    await settledText(page);
    // Priya becomes billing, then technician again.
    await page.getByLabel('Role of Priya Nair').selectOption('msp_billing');
    const priya = () => sb.service.ctx.db.selectFrom('users').select('role').where('email', '=', 'priya.nair@northwind-it.example').executeTakeFirstOrThrow();
    await expect.poll(async () => (await priya()).role).toBe('msp_billing');
    await page.getByLabel('Role of Priya Nair').selectOption('msp_technician');
    await expect.poll(async () => (await priya()).role).toBe('msp_technician');
    // Ava is Northwind's only admin: the refusal is shown and her role stays.
    await page.getByLabel('Role of Ava Chen').selectOption('msp_technician');
    await page.getByText('Ava Chen was not changed').waitFor();
    await expect.poll(() => page.getByLabel('Role of Ava Chen').inputValue()).toBe('msp_admin');
    expect((await sb.service.ctx.db.selectFrom('users').select('role').where('email', '=', ADMIN).executeTakeFirstOrThrow()).role).toBe('msp_admin');

    // The PSA's Projects board gets a status while waiting on approval, from the PSA's own list.
    await page.goto(`${sb.service.url}/msp/statuses`);
    await settledText(page);
    const waiting = page.getByLabel('Projects: Waiting on approval');
    await waiting.selectOption({ index: 1 });
    const chosen = await waiting.inputValue();
    expect(chosen).not.toBe('');
    await page.getByRole('button', { name: 'Save the statuses' }).click();
    await page.getByText('Saved: the next requests').waitFor();
    const saved = JSON.parse((await fromPage(page, 'GET', `/api/integrations/${await psaId(page)}/ticket-statuses`)).text) as { boards: { board: string; waiting?: string }[] };
    expect(saved.boards.find((board) => board.board === 'Projects')?.waiting).toBe(chosen);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('gives a technician a personal API token shown once, which works until revoked, and the ticket statuses to read', async () => {
    const { context, page, problems } = await newContext(browser);
    await signInThroughPage(page, sb.service.url, TECHNICIAN, DEMO_PASSWORD, '/account');
    await page.getByLabel("New token's name").fill('nightly report');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = await page.getByRole('textbox', { name: 'API token “nightly report”', exact: true }).inputValue();
    expect(secret.length).toBeGreaterThan(20);
    const me = async () => (await fetch(`${sb.service.url}/api/me`, { headers: { authorization: `Bearer ${secret}` } })).status;
    expect(await me()).toBe(200);
    await page.getByRole('button', { name: 'Done, hide it' }).click();
    expect(await page.content()).not.toContain(secret);
    await page.getByRole('cell', { name: 'nightly report', exact: true }).waitFor();
    // Revoking asks first.
    await page.getByRole('button', { name: 'Revoke nightly report' }).click();
    await page.getByRole('button', { name: 'Yes, revoke' }).click();
    await page.getByText('No API tokens').waitFor();
    expect(await me()).toBe(401);

    // The technician reads the ticket statuses, with nothing to change them.
    await page.goto(`${sb.service.url}/msp/statuses`);
    const statuses = await settledText(page);
    expect(statuses).toContain('Help Desk');
    expect(statuses).toContain('Waiting on Approval');
    expect(await page.locator('main select, main button').count()).toBe(0);
    expect(problems).toEqual([]);
    await context.close();
  });

  /** The id of the MSP's PSA integration, asked from the page. */
  const psaId = async (page: Page) => {
    const list = JSON.parse((await fromPage(page, 'GET', '/api/integrations')).text) as IntegrationList;
    return list.integrations.find((integration) => integration.provides.includes('ticket'))!.id;
  };

  /** Each page of the sign-in, setup, invitation, MSP and account set, opened by `open`. */
  async function pagesOf(open: Page, signedOut: Page): Promise<{ name: string; page: Page; url: string }[]> {
    const invite = await fromPage(open, 'POST', '/api/users/invites', { email: `axe.${Date.now()}@northwind-it.example`, name: 'Axe Check', role: 'msp_technician' });
    expect(invite.status).toBe(200);
    const link = (JSON.parse(invite.text) as { link: string }).link;
    return [
      { name: 'sign-in', page: signedOut, url: `${sb.service.url}/sign-in` },
      { name: 'setup', page: signedOut, url: `${sb.service.url}/setup` },
      { name: 'invite', page: signedOut, url: link },
      { name: 'msp-overview', page: open, url: `${sb.service.url}/msp` },
      { name: 'msp-users', page: open, url: `${sb.service.url}/msp/users` },
      { name: 'msp-statuses', page: open, url: `${sb.service.url}/msp/statuses` },
      { name: 'account', page: open, url: `${sb.service.url}/account` },
    ];
  }

  for (const width of [1280, 390]) {
    it(`passes axe on every sign-in, setup, invitation, MSP and account page, with nothing wider than ${width} px`, async () => {
      const admin = await newContext(browser, { width, height: 800 });
      const visitor = await newContext(browser, { width, height: 800 });
      await signInThroughPage(admin.page, sb.service.url, ADMIN, DEMO_PASSWORD);
      for (const { name, page, url } of await pagesOf(admin.page, visitor.page)) {
        await page.goto(url);
        await page.locator('h1').first().waitFor();
        await settledText(page);
        if (width === 1280) expect(await seriousAxeViolations(page), `axe on ${name}`).toEqual([]);
        expect(await horizontalOverflow(page), `overflow of ${name} at ${width} px`).toBe(0);
        await page.screenshot({ path: join(SHOTS, `${name}-${width}.png`), fullPage: true });
      }
      expect([...admin.problems, ...visitor.problems]).toEqual([]);
      await admin.context.close();
      await visitor.context.close();
    });
  }

  it('renders the dark theme (dark background, light text, no axe violation)', async () => {
    const admin = await newContext(browser, { colorScheme: 'dark' });
    const visitor = await newContext(browser, { colorScheme: 'dark' });
    await signInThroughPage(admin.page, sb.service.url, ADMIN, DEMO_PASSWORD);
    for (const { name, page, url } of await pagesOf(admin.page, visitor.page)) {
      await page.goto(url);
      await page.locator('h1').first().waitFor();
      await settledText(page);
      const colours = (await page.evaluate('({ background: getComputedStyle(document.body).backgroundColor, text: getComputedStyle(document.body).color })')) as { background: string; text: string };
      const lightness = (rgb: string) => {
        const [r = 0, g = 0, b = 0] = (rgb.match(/\d+/g) ?? []).map(Number);
        return (r + g + b) / 3;
      };
      expect(lightness(colours.background), `${name}'s background`).toBeLessThan(60);
      expect(lightness(colours.text), `${name}'s text`).toBeGreaterThan(180);
      expect(await seriousAxeViolations(page), `axe on ${name} (dark)`).toEqual([]);
      await page.screenshot({ path: join(SHOTS, `${name}-dark.png`), fullPage: true });
    }
    expect([...admin.problems, ...visitor.problems]).toEqual([]);
    await admin.context.close();
    await visitor.context.close();
  });

  it('saves the README’s screenshots of the MSP overview and the sign-in page at 1280×800', async () => {
    const admin = await newContext(browser);
    await signInThroughPage(admin.page, sb.service.url, ADMIN, DEMO_PASSWORD);
    await admin.page.goto(`${sb.service.url}/msp`);
    await settledText(admin.page);
    await admin.page.screenshot({ path: join(README_SHOTS, 'msp-overview.png') });
    await admin.page.locator('.topbar').getByRole('button', { name: 'Sign out' }).click();
    await admin.page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await settledText(admin.page);
    await admin.page.screenshot({ path: join(README_SHOTS, 'sign-in.png') });
    expect(admin.problems).toEqual([]);
    await admin.context.close();
  });
});
