import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientList, PlannerPrompt, Workflow, WorkflowList } from '../../src/api/contract.ts';
import type { Sandbox } from '../../src/demo/sandbox.ts';
import { toolCatalog } from '../../src/integrations/catalog.ts';
import { FINAL } from '../../src/demo/stories.ts';
import { DEMO_PASSWORD } from '../../src/world/seed.ts';
import { TOOL_ARGUMENTS } from '../../web/src/components/workflow-tools.ts';
import { browserRunsHere, launchBrowser, newContext, seriousAxeViolations } from '../support/browser.ts';
import { checkAtTwoWidths, settledText, signInThroughPage, startDashboardSandbox } from '../support/dashboard.ts';
import { type ScriptedModel, startScriptedModel } from '../support/scripted-model.ts';

/**
 * The planner's pages in Chromium against the real service and the emulators (issue 14): an admin
 * writes the MSP's and a client's planner prompts and a client's workflow with two steps, finds it
 * with "Try it" and archives it, which the API and "Try it" both confirm; a technician reads the
 * same without a control to change them; billing is not shown them; a request planned by the
 * built-in planner says so in its story. Axe on every new page.
 */
const SHOTS = join(tmpdir(), 'deskhand-planner-shots');
const ADMIN = 'ava.chen@northwind-it.example';
const TECHNICIAN = 'tom.rivera@northwind-it.example';
const BILLING = 'ben.okafor@northwind-it.example';
const MSP_PROMPT = 'Address employees by their first name. Mention our service desk number, 0800 555 0100, when a technician must call.';
const CLIENT_PROMPT = 'Fabrikam calls its groups "teams"; use that word in replies.';
const WORKFLOW = 'Sales starter access';

let sb: Sandbox;
let browser: Browser;
let fabrikam: { id: string; name: string };
let requestId: string;
let model: ScriptedModel | undefined;


async function apiAs<T>(email: string, method: string, path: string): Promise<T> {
  const answer = await sb.api<T>(method, path, { token: await sb.tokenFor(email) });
  expect(answer.status, `${method} ${path}`).toBe(200);
  return answer.body;
}

describe("the step editor's arguments", () => {
  // No route lists a tool's arguments, so the dashboard writes them down: this keeps them the catalog's.
  it('names every write tool of the catalog with its own arguments and the objects they name', () => {
    const catalog = Object.fromEntries(toolCatalog.filter((tool) => tool.kind === 'write').map((tool) => [tool.name, tool.argObjects]));
    expect(TOOL_ARGUMENTS).toEqual(catalog);
  });
});

describe.runIf(browserRunsHere)('the planner pages: prompts, workflows, and the planner in a story', () => {
  beforeAll(async () => {
    sb = await startDashboardSandbox();
    browser = await launchBrowser();
    mkdirSync(SHOTS, { recursive: true });
    const clients = await apiAs<ClientList>(TECHNICIAN, 'GET', '/api/clients');
    const found = clients.clients.find((c) => c.slug === 'fabrikam');
    expect(found).toBeDefined();
    fabrikam = { id: found!.id, name: found!.name };
    // Another client's request, opened now so that the worker plans it while the pages are driven;
    // its client has no workflow, so the built-in planner works from its own rules.
    requestId = (await sb.requestForTicket(await sb.openTicket('contoso', 'debra.berger@contoso.example', 'I am locked out of my account, could you reset my password please'))).id;
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await sb?.close();
    await model?.close();
  });

  it("lets an admin write the MSP's and a client's prompts, and a client's workflow that Try it finds until it is archived", async () => {
    const { page, problems } = await newContext(browser);
    page.setDefaultTimeout(20_000);
    await signInThroughPage(page, sb.service.url, ADMIN, DEMO_PASSWORD, '/msp');
    await page.getByRole('navigation', { name: 'MSP sections' }).getByRole('link', { name: 'Planner' }).click();
    await page.waitForURL('**/msp/planner');
    const mspPrompt = page.getByLabel('Prompt', { exact: true });
    await mspPrompt.fill(MSP_PROMPT);
    await expect.poll(() => page.getByText(`${MSP_PROMPT.length} of 8000 characters`).count()).toBe(1);
    await page.getByRole('button', { name: 'Save prompt' }).click();
    await page.getByText('Saved.').waitFor();
    const savedMsp = await apiAs<PlannerPrompt>(ADMIN, 'GET', '/api/msp/prompt');
    expect(savedMsp).toMatchObject({ prompt: MSP_PROMPT, updatedBy: `user:${ADMIN}` });
    expect(await settledText(page)).toContain('can never add a tool or change a policy');
    await checkAtTwoWidths(browser, page, 'msp-planner', SHOTS);

    await page.goto(`${sb.service.url}/clients/${fabrikam.id}/planner`);
    await page.getByLabel('Prompt', { exact: true }).fill(CLIENT_PROMPT);
    await page.getByRole('button', { name: 'Save prompt' }).click();
    await page.getByText('Saved.').waitFor();
    expect((await apiAs<PlannerPrompt>(ADMIN, 'GET', `/api/clients/${fabrikam.id}/prompt`)).prompt).toBe(CLIENT_PROMPT);
    await checkAtTwoWidths(browser, page, 'client-planner', SHOTS);

    // A workflow: from the top navigation, the new-workflow form, two steps with {requester}.
    await page.locator('.topbar').getByRole('link', { name: 'Workflows' }).click();
    await page.getByRole('heading', { level: 1, name: 'Workflows' }).waitFor();
    await page.getByRole('link', { name: 'New workflow' }).click();
    await page.waitForURL('**/workflows/new');
    await page.getByLabel('Name', { exact: true }).fill(WORKFLOW);
    await page.getByLabel('Scope', { exact: true }).selectOption(fabrikam.id);
    await page.getByLabel('Trigger', { exact: true }).fill('a new starter joins the sales team');
    await page.getByLabel('Instructions', { exact: true }).fill('Give the new starter the sales group and a licence.');
    const addStep = page.getByRole('button', { name: 'Add a step' });
    await expect.poll(() => addStep.isEnabled()).toBe(true);
    await addStep.click();
    await page.getByLabel('Step 1: tool', { exact: true }).selectOption('m365.add_user_to_group');
    await page.getByLabel('Step 1: template for user', { exact: true }).selectOption('{requester}');
    await page.getByLabel('Step 1: group', { exact: true }).fill('SG-Sales');
    await addStep.click();
    await page.getByLabel('Step 2: tool', { exact: true }).selectOption('m365.assign_license');
    await page.getByLabel('Step 2: template for user', { exact: true }).selectOption('{requester}');
    // The licence left empty: the API's refusal is shown beside the form, naming the step.
    await page.getByRole('button', { name: 'Create workflow' }).click();
    const refusal = page.locator('.workflow-form .note-error');
    await refusal.waitFor();
    expect(await refusal.textContent()).toMatch(/step 2 \(m365\.assign_license\), argument sku/);
    await page.getByLabel('Step 2: sku', { exact: true }).fill('SPE_E3');
    await page.getByRole('button', { name: 'Create workflow' }).click();
    await page.waitForURL(/\/workflows\/[0-9a-f-]{36}$/);
    const id = page.url().split('/').pop()!;
    const created = await apiAs<Workflow>(ADMIN, 'GET', `/api/workflows/${id}`);
    expect(created).toMatchObject({ name: WORKFLOW, status: 'active', client: { id: fabrikam.id } });
    expect(created.steps).toEqual([
      { tool: 'm365.add_user_to_group', args: { user: '{requester}', group: 'SG-Sales' } },
      { tool: 'm365.assign_license', args: { user: '{requester}', sku: 'SPE_E3' } },
    ]);
    await checkAtTwoWidths(browser, page, 'workflow-admin', SHOTS);

    // The list shows it with its scope, status and trigger; Try it finds it for Fabrikam.
    await page.locator('.topbar').getByRole('link', { name: 'Workflows' }).click();
    const row = page.getByRole('row').filter({ hasText: WORKFLOW });
    await row.waitFor();
    for (const part of [fabrikam.name, 'Active', 'a new starter joins the sales team']) expect(await row.textContent()).toContain(part);
    const tryIt = async () => {
      await page.getByLabel('Request', { exact: true }).fill('Hello, a new starter joins our sales team on Monday');
      await page.getByLabel('Client', { exact: true }).selectOption(fabrikam.id);
      await page.getByRole('button', { name: 'Find matching workflows' }).click();
    };
    await tryIt();
    const matches = page.getByRole('list', { name: 'Matching workflows' });
    await matches.waitFor();
    const matched = (await matches.textContent()) ?? '';
    expect(matched).toContain(WORKFLOW);
    expect(matched).toMatch(/matched words: .*starter/);
    await checkAtTwoWidths(browser, page, 'workflows', SHOTS);

    await row.getByRole('button', { name: `Archive ${WORKFLOW}` }).click();
    await expect.poll(async () => (await apiAs<Workflow>(ADMIN, 'GET', `/api/workflows/${id}`)).status).toBe('archived');
    await expect.poll(() => page.getByRole('row').filter({ hasText: WORKFLOW }).count()).toBe(0);
    await tryIt();
    await page.getByText('No workflow matches').waitFor();
    expect(problems).toEqual([]);
    await page.context().close();
  }, 120_000);

  it('shows a technician the prompts and workflows with nothing to change them, and billing neither', async () => {
    const { page, problems } = await newContext(browser);
    page.setDefaultTimeout(20_000);
    await signInThroughPage(page, sb.service.url, TECHNICIAN, DEMO_PASSWORD, '/msp/planner');
    await page.getByText(MSP_PROMPT).waitFor();
    const text = await settledText(page);
    expect(text).toContain('Only an admin changes it.');
    expect(await page.locator('main textarea').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Save prompt' }).count()).toBe(0);
    await checkAtTwoWidths(browser, page, 'msp-planner-technician', SHOTS);

    await page.goto(`${sb.service.url}/clients/${fabrikam.id}/planner`);
    await page.getByText(CLIENT_PROMPT).waitFor();
    expect(await page.locator('main textarea').count()).toBe(0);

    await page.locator('.topbar').getByRole('link', { name: 'Workflows' }).click();
    await page.getByLabel('Status', { exact: true }).selectOption('all');
    const row = page.getByRole('row').filter({ hasText: WORKFLOW });
    await row.waitFor();
    expect(await row.textContent()).toContain('Archived');
    expect(await page.getByRole('link', { name: 'New workflow' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Archive|^Restore/ }).count()).toBe(0);
    await row.getByRole('link', { name: WORKFLOW }).click();
    await page.getByRole('heading', { name: 'What it says' }).waitFor();
    expect(await settledText(page)).toContain('{requester}');
    expect(await page.locator('main input, main select, main textarea').count()).toBe(0);
    await checkAtTwoWidths(browser, page, 'workflow-technician', SHOTS);
    expect(problems).toEqual([]);
    await page.context().close();

    // Billing: no Workflows in the navigation, no Planner tab; the API refuses it the same.
    const billing = await newContext(browser);
    await signInThroughPage(billing.page, sb.service.url, BILLING, DEMO_PASSWORD, '/msp');
    await billing.page.getByRole('navigation', { name: 'MSP sections' }).waitFor();
    expect(await billing.page.locator('.topbar').getByRole('link', { name: 'Workflows' }).count()).toBe(0);
    expect(await billing.page.getByRole('navigation', { name: 'MSP sections' }).getByRole('link', { name: 'Planner' }).count()).toBe(0);
    expect((await sb.api<WorkflowList>('GET', '/api/workflows', { token: await sb.tokenFor(BILLING) })).status).toBe(403);
    expect(billing.problems).toEqual([]);
    await billing.context.close();
  }, 90_000);

  it('says in a request\'s story that the built-in planner planned it', async () => {
    await sb.waitForRequest(requestId, ['awaiting_approval', ...FINAL]);
    const plan = await sb.service.ctx.db.selectFrom('plans').select('planner').where('request_id', '=', requestId).executeTakeFirst();
    expect(plan?.planner, 'the request was planned').toBe('builtin');
    const { page, problems } = await newContext(browser);
    page.setDefaultTimeout(20_000);
    await signInThroughPage(page, sb.service.url, TECHNICIAN, DEMO_PASSWORD, `/requests/${requestId}`);
    await page.getByRole('heading', { name: /^Plan:/ }).waitFor();
    const facts = page.locator('.planner-facts');
    expect(await facts.textContent()).toContain('Built-in planner');
    expect(await facts.textContent()).toContain('None matched.');
    // The built-in planner reads no prompt: nothing to unfold.
    expect(await facts.locator('details').count()).toBe(0);
    expect(await seriousAxeViolations(page), 'axe on the story').toEqual([]);
    expect(problems).toEqual([]);
    await page.context().close();
  }, 60_000);

  it("tells in a request's story which model planned it, its calls, tokens and cost, the prompts it read and the workflow that matched", async () => {
    const ALAN = 'alan.turing@fabrikam.example';
    model = await startScriptedModel(
      (request) => {
        // The first call reads who is asking; the next answers.
        if (!JSON.stringify(request.messages).includes('"tool_call_id"')) return { toolCalls: [{ name: 'read', args: { tool: 'm365.get_user', args: { user: ALAN } } }], usage: { prompt: 1000, completion: 40 } };
        return { toolCalls: [{ name: 'answer', args: { outcome: 'escalate', reason: 'A technician decides on this one.', steps: [] } }], usage: { prompt: 1200, completion: 80 } };
      },
      { apiKey: 'sk-scripted', model: 'scripted-1' },
    );
    const token = await sb.tokenFor(ADMIN);
    // Fabrikam's own model (contoso keeps the built-in planner), and an active workflow of Fabrikam's.
    const connected = await sb.api('POST', '/api/integrations', {
      token,
      body: { kind: 'llm', name: 'Fabrikam model', clientId: fabrikam.id, settings: { provider: 'openai-compatible', model: 'scripted-1', baseUrl: model.url }, secrets: { apiKey: 'sk-scripted' } },
    });
    expect(connected.status, JSON.stringify(connected.body)).toBe(200);
    const workflow = await sb.api<Workflow>('POST', '/api/workflows', { token, body: { clientId: fabrikam.id, name: 'Zendesk for support', trigger: 'Zendesk access for the support team' } });
    expect(workflow.status, JSON.stringify(workflow.body)).toBe(200);
    const request = await sb.requestForTicket(await sb.openTicket('fabrikam', ALAN, 'Could I have Zendesk access? I joined the support team.'));
    await sb.waitForRequest(request.id, (row) => row.state !== 'received' && row.state !== 'diagnosing');
    const { page, problems } = await newContext(browser);
    page.setDefaultTimeout(20_000);
    await signInThroughPage(page, sb.service.url, TECHNICIAN, DEMO_PASSWORD, `/requests/${request.id}`);
    await page.getByRole('heading', { name: /^Plan:/ }).waitFor();
    const facts = page.locator('.planner-facts');
    const text = ((await facts.textContent()) ?? '').replace(/\s+/g, ' ');
    for (const part of ['Language model openai-compatible:scripted-1', '2 calls', '2,200 input tokens', '120 output tokens']) expect(text, part).toContain(part);
    // The scripted model is an OpenAI-compatible one on this machine: priced at nothing.
    expect(text).toContain('$0.00 (US dollars)');
    // The prompts the model read, folded until asked for.
    await facts.getByText("The MSP's prompt the model read").click();
    await facts.getByText(MSP_PROMPT).waitFor();
    await facts.getByText("The client's prompt the model read").click();
    await facts.getByText(CLIENT_PROMPT).waitFor();
    expect(await seriousAxeViolations(page), 'axe on a model-planned story').toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'story-model-1280.png'), fullPage: true });
    await facts.getByRole('link', { name: 'Zendesk for support' }).click();
    await page.waitForURL(`**/workflows/${workflow.body.id}`);
    await page.getByRole('heading', { level: 1, name: 'Zendesk for support' }).waitFor();
    expect(problems).toEqual([]);
    await page.context().close();
  }, 60_000);
});
