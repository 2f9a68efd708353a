import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientDetail, ClientLinkList, ClientList, IntegrationList, ToolPolicyList } from '../../src/api/contract.ts';
import { startSandbox, type Sandbox } from '../../src/demo/sandbox.ts';
import { emulatorApiCredentials } from '../../src/integrations/connectwise/emulator/data.ts';
import { emulatorAppCredentials, emulatorMspAppCredentials } from '../../src/integrations/m365/emulator/credentials.ts';
import { silentLogger } from '../../src/logger.ts';
import { DEMO_PASSWORD } from '../../src/world/seed.ts';
import { browserRunsHere, horizontalOverflow, launchBrowser, newContext, seriousAxeViolations, widest } from '../support/browser.ts';
import { createTestDatabase } from '../support/db.ts';

/**
 * The dashboard's configuration pages, driven in Chromium against the real service and the
 * emulators: a new MSP, set up from an empty database, connects its PSA and Microsoft 365 from the
 * forms drawn from their schemas, imports its clients, links a client's tenant, switches it to
 * Execute and overrides a tool's policy for it; the API is asked after each step whether it took.
 * Every page is checked by axe, at phone width, and photographed in both themes (in /tmp).
 */

const SHOTS = '/tmp/deskhand-configure';
// The world's MSP whose emulated accounts the new MSP signs in with (the emulators serve the world).
const WORLD_MSP = 'northwind';
const ADMIN = { name: 'Ines Duarte', email: 'ines@fabrikam-msp.example', password: 'correct horse battery staple' };

/** The pages' checks, at 1280 px (axe) and at 390 px (nothing wider than the window), and their photos. */
async function checkPage(browser: Browser, page: Page, name: string): Promise<void> {
  await page.waitForLoadState('networkidle');
  expect(await page.locator('.loading').count(), `${name} is still loading`).toBe(0);
  expect(await seriousAxeViolations(page), `axe on ${name}`).toEqual([]);
  await page.screenshot({ path: `${SHOTS}/${name}-light.png`, fullPage: true });
  const url = page.url();
  const cookies = await page.context().cookies();
  for (const scheme of ['dark', 'light'] as const) {
    const narrow = await newContext(browser, { width: scheme === 'light' ? 390 : 1280, height: 800, colorScheme: scheme });
    try {
      await narrow.context.addCookies(cookies);
      await narrow.page.goto(url);
      await narrow.page.waitForLoadState('networkidle');
      await narrow.page.locator('main h1').first().waitFor();
      if (scheme === 'dark') {
        expect(await seriousAxeViolations(narrow.page), `axe on ${name} (dark)`).toEqual([]);
        await narrow.page.screenshot({ path: `${SHOTS}/${name}-dark.png`, fullPage: true });
      } else {
        await narrow.page.screenshot({ path: `${SHOTS}/${name}-390.png`, fullPage: true });
        expect(await horizontalOverflow(narrow.page), `${name} at 390 px is wider than the window: ${await widest(narrow.page)}`).toBe(0);
      }
      expect(narrow.problems).toEqual([]);
    } finally {
      await narrow.context.close();
    }
  }
}

/** Test connection on an integration's page: every check and every tool passes. */
async function testConnectionIsGreen(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Test connection' }).click();
  const result = page.locator('.test-result');
  await result.waitFor();
  const text = ((await result.textContent()) ?? '').replace(/\s+/g, ' ');
  expect(text, 'the answer of Test connection').toContain('Connected.');
  expect(await result.locator('.badge-bad').count(), text).toBe(0);
}

/** The API as the signed-in browser calls it (its cookies), for the assertions. */
async function apiGet<T>(page: Page, path: string): Promise<T> {
  const response = await page.request.get(new URL(path, page.url()).toString());
  expect(response.status(), `GET ${path}`).toBe(200);
  return (await response.json()) as T;
}

describe.skipIf(!browserRunsHere)('configuring a new MSP from the dashboard', () => {
  let sb: Sandbox;
  let browser: Browser;
  let page: Page;
  let problems: string[];
  let psaId: string;
  let m365Id: string;
  const imported: ClientDetail[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger, seed: false, worker: false });
    const link = sb.setupLink;
    expect(link, 'an empty database gives a setup link').toBeTruthy();
    const token = new URL(link!).hash.replace(/^#token=/, '');
    const setup = await fetch(`${sb.service.url}/api/setup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, mspName: 'Fabrikam Managed IT', defaultOperatingMode: 'plan', admin: ADMIN }),
    });
    expect(setup.status).toBe(200);
    browser = await launchBrowser();
    ({ page, problems } = await newContext(browser));
    page.setDefaultTimeout(20_000);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await sb?.close();
  });

  it('signs the new admin in through the sign-in page, to an empty client list that says how to get clients', async () => {
    await page.goto(`${sb.service.url}/sign-in`);
    await page.getByLabel('Email').fill(ADMIN.email);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/clients$/);
    await expect.poll(() => page.getByText('No clients yet').count()).toBe(1);
    await expect.poll(() => page.getByText(/Import clients/).count()).toBeGreaterThan(0);
    await checkPage(browser, page, 'clients-empty');
  });

  it('connects the PSA from the form drawn from its schema, and Test connection is green', async () => {
    await page.goto(`${sb.service.url}/msp/integrations`);
    await expect.poll(() => page.getByText('Nothing connected yet').count()).toBe(1);
    await page.getByRole('link', { name: 'Connect a system' }).click();
    await page.waitForURL(/\/integrations\/new/);
    await page.getByRole('heading', { name: 'PSA' }).waitFor();
    await checkPage(browser, page, 'new-integration-pick');
    await page.getByRole('link', { name: /ConnectWise/ }).click();
    const cw = emulatorApiCredentials(WORLD_MSP);
    await page.getByLabel(/^Site URL/).fill(sb.emulators.endpoints['connectwise']!);
    await page.getByLabel(/^Company ID/).fill(cw.companyId);
    await page.getByLabel(/^Public key/).fill(cw.publicKey);
    const member = page.getByLabel(/^API member identifier/);
    if ((await member.count()) > 0) await member.fill(cw.memberIdentifier);
    await page.getByLabel(/^Private key/).fill(cw.privateKey);
    await page.getByLabel(/^Client ID/).fill(cw.clientId);
    const webhook = page.getByLabel(/^Webhook secret/);
    if ((await webhook.count()) > 0) await webhook.fill('a-webhook-secret-of-some-length');
    await checkPage(browser, page, 'new-integration-form');
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await page.waitForURL(/\/integrations\/[0-9a-f-]{36}$/);
    psaId = page.url().split('/').pop()!;
    await testConnectionIsGreen(page);
    const { integrations } = await apiGet<IntegrationList>(page, '/api/integrations');
    expect(integrations.find((i) => i.id === psaId)).toMatchObject({ kind: 'connectwise', scope: 'msp', health: { status: 'healthy' } });
    // The secrets are write-only: the settings form says they are set, and no value reaches the page.
    expect(await page.getByRole('button', { name: 'Replace Private key' }).count()).toBe(1);
    expect(await page.content()).not.toContain(cw.privateKey);
    await checkPage(browser, page, 'integration-psa');
  });

  it("imports two clients from the PSA's companies", async () => {
    await page.getByRole('button', { name: "Show the PSA's companies" }).click();
    const boxes = page.locator('input[type="checkbox"][aria-label^="Import "]');
    await boxes.first().waitFor();
    expect(await boxes.count()).toBeGreaterThanOrEqual(2);
    await boxes.nth(0).check();
    await boxes.nth(1).check();
    await page.getByRole('button', { name: 'Import 2 selected' }).click();
    await page.getByText('Imported 2 clients').waitFor();
    // Imported companies are now shown as linked, and cannot be picked again.
    await expect.poll(() => page.locator('input[type="checkbox"][aria-label$=": already imported"]').count()).toBe(2);
    const { clients } = await apiGet<ClientList>(page, '/api/clients');
    expect(clients).toHaveLength(2);
    for (const client of clients) imported.push(await apiGet<ClientDetail>(page, `/api/clients/${client.id}`));
    await page.goto(`${sb.service.url}/clients`);
    for (const client of clients) await page.getByRole('link', { name: client.name }).waitFor();
    expect(await page.getByText('Plan (inherited)').count()).toBe(2);
    await checkPage(browser, page, 'clients');
  });

  it("connects Microsoft 365 with the MSP's multi-tenant app", async () => {
    await page.goto(`${sb.service.url}/integrations/new?kind=m365`);
    const app = emulatorMspAppCredentials(WORLD_MSP);
    await page.getByLabel(/^Client ID/).fill(app.clientId);
    await page.getByLabel(/^Graph base URL/).fill(sb.emulators.endpoints['graph']!);
    await page.getByLabel(/^Login base URL/).fill(sb.emulators.endpoints['login']!);
    await page.getByLabel(/^Client secret/).fill(app.clientSecret);
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await page.waitForURL(/\/integrations\/[0-9a-f-]{36}$/);
    m365Id = page.url().split('/').pop()!;
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.locator('.test-result').waitFor();
  });

  it("links a client's Microsoft 365 tenant, and Test connection is green", async () => {
    const client = imported[0]!;
    await page.goto(`${sb.service.url}/clients/${client.id}/integrations`);
    // The world's client behind the PSA company the client was imported from: its tenant in the emulator.
    const before = await apiGet<ClientLinkList>(page, `/api/clients/${client.id}/links`);
    const company = before.links.find((l) => l.integrationId === psaId)?.externalId;
    expect(company, 'the imported client is linked to its PSA company').toBeTruthy();
    const tenant = emulatorAppCredentials(company!).tenantId;
    const input = page.locator(`#link-${m365Id}`);
    await input.fill(tenant);
    await page.locator('.link-card', { has: input }).getByRole('button', { name: 'Save' }).click();
    await page.locator('.link-card', { has: input }).getByText('Linked', { exact: true }).waitFor();
    await expect.poll(() => page.locator('.link-card', { has: input }).getByRole('link', { name: 'Open the admin consent link' }).count()).toBe(1);
    const { links } = await apiGet<ClientLinkList>(page, `/api/clients/${client.id}/links`);
    expect(links.find((l) => l.integrationId === m365Id)).toMatchObject({ externalId: tenant });
    expect(links.find((l) => l.integrationId === psaId)?.externalId).toBeTruthy();
    await checkPage(browser, page, 'client-integrations');
    await page.goto(`${sb.service.url}/integrations/${m365Id}`);
    await testConnectionIsGreen(page);
  });

  it('switches the client from Plan to Execute on its Overview', async () => {
    const client = imported[0]!;
    await page.goto(`${sb.service.url}/clients/${client.id}`);
    await page.getByText("Inherit — the MSP's default: Plan").waitFor();
    await checkPage(browser, page, 'client-overview');
    await page.getByRole('radio', { name: /^Execute/ }).check();
    await page.getByRole('button', { name: 'Save Operating Mode' }).click();
    await page.getByText(/run in Execute Mode/).waitFor();
    expect(await apiGet<ClientDetail>(page, `/api/clients/${client.id}`)).toMatchObject({ operatingMode: 'execute', effectiveOperatingMode: 'execute', inherited: false });
  });

  it("overrides a tool's policy for the client with manager approval, then goes back to the MSP's", async () => {
    const client = imported[0]!;
    const tool = 'm365.add_user_to_group';
    const policyOf = async () => (await apiGet<ToolPolicyList>(page, `/api/clients/${client.id}/policies?integration=${m365Id}`)).tools.find((t) => t.tool === tool);
    const before = await policyOf();
    expect(before?.source).not.toBe('client');
    await page.goto(`${sb.service.url}/clients/${client.id}/integrations/${m365Id}`);
    const select = page.getByLabel(`Policy for ${tool}`, { exact: true });
    await select.selectOption(before?.policy === 'approval_needed' ? 'auto' : 'approval_needed');
    if (before?.policy === 'approval_needed') {
      // The row is disabled while a change is saved: the second change waits for the first.
      await expect.poll(async () => (await policyOf())?.policy).toBe('auto');
      await expect.poll(() => select.isEnabled()).toBe(true);
      await select.selectOption('approval_needed');
    }
    await expect.poll(async () => (await policyOf())?.policy).toBe('approval_needed');
    const managerApproval = page.getByLabel(`Require manager approval for ${tool}`);
    await expect.poll(() => managerApproval.isEnabled()).toBe(true);
    // A controlled box that saves: it shows the saved value once the save answers, so Playwright's
    // check(), which reads the box at once, can see it unchanged; the API poll below is the proof.
    await managerApproval.click();
    await expect.poll(async () => (await policyOf())?.requireManagerApproval).toBe(true);
    expect(await policyOf()).toMatchObject({ policy: 'approval_needed', requireManagerApproval: true, source: 'client' });
    await page.locator('tr', { has: select }).getByText('Client override').waitFor();
    await checkPage(browser, page, 'client-integration-policies');
    await page.getByRole('button', { name: `Use the MSP's policy for ${tool}` }).click();
    await expect.poll(async () => (await policyOf())?.source).not.toBe('client');
    expect(await policyOf()).toMatchObject({ policy: before?.policy, requireManagerApproval: before?.requireManagerApproval });
    await expect.poll(() => page.getByRole('button', { name: `Use the MSP's policy for ${tool}` }).count()).toBe(0);
  });

  for (const role of ['msp_technician', 'msp_billing'] as const) {
    it(`shows ${role} the policies read-only: no policy to change, no settings or secrets, no Test connection`, async () => {
      const csrf = (await (await page.request.get(`${sb.service.url}/api/session/csrf`)).json()) as { csrfToken: string };
      const email = `${role.replace('msp_', '')}@fabrikam-msp.example`;
      const invite = await page.request.post(`${sb.service.url}/api/users/invites`, {
        headers: { 'x-csrf-token': csrf.csrfToken },
        data: { email, name: `A ${role.replace('msp_', '')}`, role },
      });
      expect(invite.status()).toBe(200);
      const token = /token=([^&]+)/.exec(((await invite.json()) as { link: string }).link)![1]!;
      const user = await newContext(browser);
      try {
        const accepted = await user.page.request.post(`${sb.service.url}/api/invites/accept`, { data: { token, password: `a ${role} password` } });
        expect(accepted.status()).toBe(200);
        const client = imported[0]!;
        await user.page.goto(`${sb.service.url}/clients/${client.id}/integrations/${m365Id}`);
        await user.page.locator('.policy-table tbody tr').first().waitFor();
        await user.page.waitForLoadState('networkidle');
        expect(await user.page.locator('.policy-table select, .policy-table input').count()).toBe(0);
        expect(await user.page.getByRole('button', { name: /Use the MSP's policy/ }).count()).toBe(0);
        expect(await user.page.getByRole('button', { name: 'Test connection' }).count()).toBe(0);
        expect(await user.page.getByRole('heading', { name: 'Settings' }).count()).toBe(0);
        expect(await user.page.getByText('Client secret').count()).toBe(0);
        await user.page.getByText('Only an admin changes policies.').waitFor();
        expect(await seriousAxeViolations(user.page)).toEqual([]);
        // Nor may they change the mode or the links: the pages say so instead of offering controls.
        await user.page.goto(`${sb.service.url}/clients/${client.id}`);
        await user.page.getByText('Only an admin changes it.').waitFor();
        expect(await user.page.getByRole('radio').count()).toBe(0);
        await user.page.goto(`${sb.service.url}/clients/${client.id}/integrations`);
        await user.page.getByRole('heading', { name: "Links to the MSP's systems" }).waitFor();
        await user.page.locator('.link-card').first().waitFor();
        expect(await user.page.locator('.link-card input').count()).toBe(0);
        expect(await user.page.getByRole('button', { name: /^(Save|Unlink)$/ }).count()).toBe(0);
        expect(user.problems).toEqual([]);
      } finally {
        await user.context.close();
      }
    });
  }

  it("shows the MSP's integrations with their health", async () => {
    await page.goto(`${sb.service.url}/msp/integrations`);
    await page.getByRole('link', { name: /ConnectWise/ }).first().waitFor();
    expect(await page.locator('table .badge-ok').count()).toBe(2);
    await checkPage(browser, page, 'msp-integrations');
  });

  it('adds a client by hand, then opens the import from the clients page', async () => {
    await page.goto(`${sb.service.url}/clients`);
    await page.getByRole('button', { name: 'Add client' }).click();
    await page.getByLabel('Name').fill('Woodgrove Labs');
    await page.getByLabel(/^Domain/).fill('woodgrove-labs.example');
    await checkPage(browser, page, 'clients-add');
    await page.locator('form.add-client').getByRole('button', { name: 'Add client' }).click();
    await page.waitForURL(/\/clients\/[0-9a-f-]{36}$/);
    await page.getByRole('heading', { name: 'Woodgrove Labs' }).waitFor();
    const id = page.url().split('/').pop()!;
    expect(await apiGet<ClientDetail>(page, `/api/clients/${id}`)).toMatchObject({ name: 'Woodgrove Labs', domain: 'woodgrove-labs.example', operatingMode: 'inherit', inherited: true });
    // "Import from PSA" opens the PSA's companies on its page.
    await page.goto(`${sb.service.url}/clients`);
    await page.getByRole('link', { name: 'Import from PSA' }).click();
    await page.waitForURL(new RegExp(`/integrations/${psaId}#import$`));
    await page.locator('input[type="checkbox"][aria-label$=": already imported"]').first().waitFor();
  });

  it("answers Not found for another MSP's client, as for one that does not exist", async () => {
    const { db } = sb.service.ctx;
    const otherClient = randomUUID();
    await db.insertInto('msps').values({ id: 'other-msp', name: 'Other MSP', default_operating_mode: 'plan', created_at: new Date() }).execute();
    await db
      .insertInto('clients')
      .values({ id: otherClient, msp_id: 'other-msp', slug: 'elsewhere', name: 'Elsewhere Ltd', domain: 'elsewhere.example', operating_mode: 'plan', sender_mailbox: null, created_at: new Date() })
      .execute();
    for (const id of [otherClient, randomUUID()]) {
      await page.goto(`${sb.service.url}/clients/${id}`);
      await page.getByRole('heading', { name: 'Not found' }).waitFor();
      expect(await page.getByText('Elsewhere Ltd').count()).toBe(0);
    }
    expect((await page.request.get(`${sb.service.url}/api/clients/${otherClient}`)).status()).toBe(404);
    expect(problems).toEqual([]);
  });
});

/** The README's screenshots: the demo world, signed in as its admin, 1280×800. */
describe.skipIf(!browserRunsHere)('README screenshots of the demo world', () => {
  let sb: Sandbox;
  let browser: Browser;

  beforeAll(async () => {
    sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger, worker: false });
    browser = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await sb?.close();
  });

  it('photographs the clients, a client and its policies', async () => {
    // The README's copies only when asked (DESKHAND_README_SCREENSHOTS=docs/screenshots): a test run leaves the tree as it found it.
    const readme = process.env['DESKHAND_README_SCREENSHOTS'] ?? SHOTS;
    mkdirSync(readme, { recursive: true });
    mkdirSync(SHOTS, { recursive: true });
    const { page, problems } = await newContext(browser);
    await page.goto(`${sb.service.url}/sign-in`);
    await page.getByLabel('Email').fill('ava.chen@northwind-it.example');
    await page.getByLabel('Password').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/clients$/);
    await page.locator('.clients-table tbody tr').first().waitFor();
    await page.waitForLoadState('networkidle');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.screenshot({ path: `${readme}/clients.png` });

    const { clients } = await apiGet<ClientList>(page, '/api/clients');
    const client = clients[0]!;
    await page.goto(`${sb.service.url}/clients/${client.id}`);
    await page.getByRole('heading', { name: 'Operating Mode' }).waitFor();
    await page.waitForLoadState('networkidle');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.screenshot({ path: `${readme}/client-overview.png` });

    const { integrations } = await apiGet<IntegrationList>(page, `/api/integrations?client=${client.id}`);
    const m365 = integrations.find((i) => i.kind === 'm365')!;
    await page.goto(`${sb.service.url}/clients/${client.id}/integrations/${m365.id}`);
    await page.locator('.policy-table tbody tr').first().waitFor();
    // Checked first, so the page shows its health; then loaded again without the test's long answer.
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.locator('.test-result').waitFor();
    await page.reload();
    await page.locator('.policy-table tbody tr').first().waitFor();
    await page.waitForLoadState('networkidle');
    expect(await seriousAxeViolations(page)).toEqual([]);
    // The photo starts at the policies: the write tools, with their approvals, come first.
    await page.evaluate(`window.scrollTo(0, document.querySelector('#policies-heading').getBoundingClientRect().top + window.scrollY - 16)`);
    await page.screenshot({ path: `${readme}/integration-policies.png` });

    // The pages with the demo world's data in them: the client's requests and integrations, the MSP's integrations.
    // A ticket opened in the emulated PSA becomes a request (no worker runs: it stays received, and
    // calls no tool), so the client's Activity (its tool calls) says there is none yet.
    const employee = sb.world.clients.find((c) => c.id === client.slug)!.employees[0]!;
    const ticket = await sb.openTicket(client.slug, employee.upn, 'Please add me to the VPN group', 'VPN access');
    await sb.requestForTicket(ticket);
    await page.goto(`${sb.service.url}/clients/${client.id}/activity`);
    await page.getByRole('heading', { name: 'Activity: tool calls' }).waitFor();
    await page.getByText('No tool call yet').waitFor();
    await checkPage(browser, page, 'demo-client-activity');
    await page.goto(`${sb.service.url}/clients/${client.id}/integrations`);
    await page.getByRole('heading', { name: "Links to the MSP's systems" }).waitFor();
    await checkPage(browser, page, 'demo-client-integrations');
    await page.goto(`${sb.service.url}/msp/integrations`);
    await page.locator('table tbody tr').first().waitFor();
    await checkPage(browser, page, 'demo-msp-integrations');
    expect(problems).toEqual([]);
  });
});
