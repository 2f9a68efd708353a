import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../src/demo/sandbox.ts';
import { browserRunsHere, horizontalOverflow, launchBrowser, newContext, seriousAxeViolations } from '../support/browser.ts';
import { settledText, signInThroughPage, startDashboardSandbox } from '../support/dashboard.ts';

/**
 * A new MSP sets deskhand up from nothing, in the browser: the setup link of the log, the admin's
 * sign-out and sign-in, a technician invited from the Users tab who signs in through the link, and
 * what the technician may not change.
 */
const ADMIN = { name: 'Dana Whitfield', email: 'dana@harbor-it.example', password: 'correct horse battery staple' };
const TECHNICIAN = { name: 'Sam Ortiz', email: 'sam@harbor-it.example', password: 'a long technician passphrase' };

/** Screenshots to look at. */
const SHOTS = join(tmpdir(), 'deskhand-dashboard-shots');

let sb: Sandbox;
let browser: Browser;

describe.runIf(browserRunsHere)('first run, from an empty database', () => {
  beforeAll(async () => {
    // No demo world and no worker: an empty deskhand, as `deskhand start --no-demo` runs it.
    sb = await startDashboardSandbox({ seed: false, worker: false });
    browser = await launchBrowser();
    mkdirSync(SHOTS, { recursive: true });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await sb?.close();
  });

  it('sets up the MSP through the setup link, signs out and in, invites a technician who signs in and may change nothing', async () => {
    const admin = await newContext(browser);
    const { page } = admin;
    const setupLink = sb.service.setupLink;
    expect(setupLink).toMatch(/\/setup#token=/);
    // The host the log's links name (localhost), so that its cookies are the pages' cookies.
    const base = new URL(setupLink!).origin;

    // Before the setup, the sign-in page says where the setup link is.
    await page.goto(`${base}/sign-in`);
    await page.getByText('deskhand has no MSP yet').waitFor();

    // The setup form on a phone, in the dark theme: nothing wider than the screen, nothing axe minds.
    const phone = await newContext(browser, { width: 390, colorScheme: 'dark' });
    await phone.page.goto(setupLink!);
    await phone.page.getByLabel('MSP name').waitFor();
    expect(await horizontalOverflow(phone.page)).toBe(0);
    expect(await seriousAxeViolations(phone.page)).toEqual([]);
    await phone.page.screenshot({ path: join(SHOTS, 'setup-form-390-dark.png'), fullPage: true });
    expect(phone.problems).toEqual([]);
    await phone.context.close();

    // The setup form: a password too short is explained before anything is sent.
    await page.goto(setupLink!);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.getByLabel('MSP name').fill('Harbor IT');
    await page.getByLabel('Execute', { exact: true }).check();
    await page.getByLabel('Your name').fill(ADMIN.name);
    await page.getByLabel('Email').fill(ADMIN.email);
    await page.getByLabel('Password', { exact: true }).fill('short');
    await page.getByLabel('Confirm the password').fill('short');
    await page.getByRole('button', { name: 'Create the MSP and sign in' }).click();
    await page.getByText('Use at least 12 characters').waitFor();
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByLabel('Confirm the password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Create the MSP and sign in' }).click();

    // Signed in, on the MSP's page, told what to do next; the MSP is what the form said.
    await page.waitForURL(/\/msp$/);
    await page.getByRole('heading', { name: 'Welcome: your MSP is set up' }).waitFor();
    await settledText(page);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'msp-welcome-1280.png'), fullPage: true });
    expect(await page.locator('.topbar').textContent()).toContain(ADMIN.name);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Harbor IT');
    expect(await page.getByLabel('Execute', { exact: true }).isChecked()).toBe(true);
    const msp = await sb.service.ctx.db.selectFrom('msps').select(['name', 'default_operating_mode']).executeTakeFirstOrThrow();
    expect(msp).toEqual({ name: 'Harbor IT', default_operating_mode: 'execute' });

    // The setup link is used up: opening it again says deskhand is set up.
    await page.goto(setupLink!);
    await page.getByRole('heading', { name: 'deskhand is already set up' }).waitFor();

    // Sign out; a wrong password is explained; the right one signs in again.
    await page.goto(`${base}/msp`);
    await page.locator('.topbar').getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect((await page.evaluate(`fetch('/api/me').then((r) => r.status)`)) as number).toBe(401);
    await page.getByLabel('Email').fill(ADMIN.email);
    await page.getByLabel('Password', { exact: true }).fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    expect(await page.getByRole('alert').textContent()).toContain('Wrong email or password');
    // `next` goes back to a page of this dashboard, never to another site (an open redirect).
    await signInThroughPage(page, base, ADMIN.email, ADMIN.password, '//evil.example/msp');
    expect(page.url()).toBe(`${base}/clients`);
    await page.locator('.topbar').getByRole('button', { name: 'Sign out' }).click();
    await signInThroughPage(page, base, ADMIN.email, ADMIN.password, '/msp/users');
    await page.waitForURL(/\/msp\/users$/);

    // Invite a technician: the link is shown once.
    await page.getByLabel('Email').fill(TECHNICIAN.email);
    await page.getByLabel('Name').fill(TECHNICIAN.name);
    await page.getByLabel('Role', { exact: true }).selectOption('msp_technician');
    await page.getByRole('button', { name: 'Create the invitation link' }).click();
    const shown = page.getByRole('textbox', { name: `Invitation link for ${TECHNICIAN.name}`, exact: true });
    const link = await shown.inputValue();
    expect(link).toMatch(/\/invite#token=/);
    expect(await page.getByText('will not show it again').count()).toBe(1);
    await page.getByRole('cell', { name: TECHNICIAN.email }).waitFor();
    await page.getByRole('button', { name: 'Done, hide it' }).click();
    expect(await page.getByText(link).count()).toBe(0);

    // The technician opens the link in their own browser, sees the invitation and sets a password.
    const technician = await newContext(browser);
    const tech = technician.page;
    await tech.goto(link);
    await tech.getByText('Harbor IT').waitFor();
    expect(await tech.locator('.facts').textContent()).toContain('Technician');
    await tech.getByLabel('Password', { exact: true }).fill(TECHNICIAN.password);
    await tech.getByLabel('Confirm the password').fill(TECHNICIAN.password);
    await tech.getByRole('button', { name: 'Set the password and sign in' }).click();
    await tech.waitForURL(/\/clients$/);
    await tech.locator('.topbar').getByRole('link', { name: `${TECHNICIAN.name} Technician` }).waitFor();

    // The technician reads the MSP's overview and users tab without a control to change them.
    await tech.goto(`${base}/msp`);
    const overview = await settledText(tech);
    expect(overview).toContain('Only an admin of your MSP changes these settings');
    expect(await tech.locator('main input, main select, main textarea').count()).toBe(0);
    expect(await tech.getByRole('button', { name: 'Save' }).count()).toBe(0);
    await tech.goto(`${base}/msp/users`);
    await settledText(tech);
    expect(await tech.locator('main input, main select, main textarea').count()).toBe(0);
    expect(await tech.locator('main button').count()).toBe(0);

    // And the API refuses the change from the technician's own session.
    const refused = (await tech.evaluate(`(async () => {
      const { csrfToken } = await (await fetch('/api/session/csrf')).json();
      const response = await fetch('/api/msp', { method: 'PATCH', headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken }, body: JSON.stringify({ defaultOperatingMode: 'plan' }) });
      return response.status;
    })()`)) as number;
    expect(refused).toBe(403);
    expect((await sb.service.ctx.db.selectFrom('msps').select('default_operating_mode').executeTakeFirstOrThrow()).default_operating_mode).toBe('execute');

    // The invitation link is used up.
    const again = await newContext(browser);
    await again.page.goto(link);
    await again.page.getByText('This invitation link does not work any more').waitFor();

    expect([...admin.problems, ...technician.problems, ...again.problems]).toEqual([]);
    await Promise.all([admin.context.close(), technician.context.close(), again.context.close()]);
  });
});
