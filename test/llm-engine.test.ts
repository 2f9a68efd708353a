import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../src/demo/sandbox.ts';
import { runPlanning } from '../src/engine/diagnose.ts';
import { plannerJournal } from '../src/store/planner-journal.ts';
import { silentLogger } from '../src/logger.ts';
import { createTestDatabase } from './support/db.ts';
import { type ScriptedModel, type ScriptedReply, startScriptedModel } from './support/scripted-model.ts';

/**
 * An MSP connects a language model like any other system (its key encrypted, never shown again);
 * a ticket is then planned by it through the running service, and the request's story shows the
 * model's calls, tokens and cost. The model is a scripted OpenAI-compatible server over HTTP.
 */
const ADMIN = 'ava.chen@northwind-it.example';
const ALEX = 'alex.wilber@contoso.example';
const KEY = 'sk-scripted-key-that-must-never-show';

let sb: Sandbox;
let model: ScriptedModel;
let token = '';
let integrationId = '';

const answer = (outcome: string, reason: string, steps: unknown[] = []): ScriptedReply => ({ toolCalls: [{ name: 'answer', args: { outcome, reason, steps } }], usage: { prompt: 1200, completion: 80 } });

beforeAll(async () => {
  model = await startScriptedModel(
    (request) => {
      const text = JSON.stringify(request.messages);
      // The first call reads who is asking; the next answers.
      if (!text.includes('"tool_call_id"')) return { toolCalls: [{ name: 'read', args: { tool: 'm365.get_user', args: { user: ALEX } } }], usage: { prompt: 1000, completion: 40 } };
      return answer('plan', 'Alex may have Zendesk: the runbook grants it through its group.', [
        { tool: 'm365.add_user_to_group', args: { user: ALEX, group: 'SG-App-Zendesk' }, reason: 'The runbook grants Zendesk through SG-App-Zendesk.' },
      ]);
    },
    { apiKey: KEY, model: 'scripted-1' },
  );
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
  token = await sb.tokenFor(ADMIN);
}, 120_000);

afterAll(async () => {
  await sb?.close();
  await model?.close();
});

describe('a language model connected by the MSP', () => {
  it('is connected from the same form as any system; its key is stored and never shown', async () => {
    const refused = await sb.api<{ error: { message: string } }>('POST', '/api/integrations', {
      token,
      body: { kind: 'llm', name: 'Model', settings: { provider: 'openai-compatible', model: 'scripted-1', baseUrl: 'http://10.1.2.3:8000/v1' }, secrets: { apiKey: KEY } },
    });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).not.toContain(KEY);

    const created = await sb.api<{ id: string; provides: string[] }>('POST', '/api/integrations', {
      token,
      body: { kind: 'llm', name: 'Scripted model', settings: { provider: 'openai-compatible', model: 'scripted-1', baseUrl: model.url }, secrets: { apiKey: KEY } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    expect(created.body.provides).toEqual(['planner']);
    integrationId = created.body.id;
    const configuration = await sb.api('GET', `/api/integrations/${integrationId}/configuration`, { token });
    expect(configuration.status).toBe(200);
    expect(JSON.stringify(configuration.body)).not.toContain(KEY);
    const stored = await sb.service.ctx.db.selectFrom('integrations').select('secrets_encrypted').where('id', '=', integrationId).executeTakeFirstOrThrow();
    expect(JSON.stringify(stored)).not.toContain(KEY);
  });

  it("plans a ticket, and the request's story shows the model's calls, tokens and cost and its reads", async () => {
    // The MSP's and the client's prompts, and a workflow whose trigger matches the ticket.
    const contoso = await sb.service.ctx.db.selectFrom('clients').select('id').where('slug', '=', 'contoso').executeTakeFirstOrThrow();
    expect((await sb.api('PUT', '/api/msp/prompt', { token, body: { prompt: 'Northwind house rule: be brief.' } })).status).toBe(200);
    expect((await sb.api('PUT', `/api/clients/${contoso.id}/prompt`, { token, body: { prompt: 'Contoso rule: mention the Zendesk training.' } })).status).toBe(200);
    const workflow = await sb.api<{ id: string }>('POST', '/api/workflows', {
      token,
      body: { clientId: contoso.id, name: 'Zendesk for support', trigger: 'Zendesk access customer tickets', instructions: 'Check the support rota first.' },
    });
    expect(workflow.status, JSON.stringify(workflow.body)).toBe(200);
    const ticket = await sb.openTicket('contoso', ALEX, 'Could you give me Zendesk access? I take customer tickets now.');
    const request = await sb.requestForTicket(ticket);
    await sb.waitForRequest(request.id, (row) => row.state !== 'received' && row.state !== 'diagnosing');
    const story = await sb.api<{ plan: { planner: string; outcome: string; usage: { model: string; modelCalls: number; inputTokens: number; outputTokens: number; costUsd: number | null } | null; steps: { tool: string; args: Record<string, string> }[] }; diagnosis: { reads: { tool: string }[] } }>(
      'GET',
      `/api/requests/${request.id}`,
      { token },
    );
    expect(story.status).toBe(200);
    expect(story.body.plan).toMatchObject({ planner: 'llm', outcome: 'plan', usage: { model: 'openai-compatible:scripted-1', modelCalls: 2, inputTokens: 2200, outputTokens: 120, costUsd: 0 } });
    expect(story.body.plan.steps).toEqual([expect.objectContaining({ tool: 'm365.add_user_to_group', args: { user: ALEX, group: 'SG-App-Zendesk' } })]);
    expect(story.body.diagnosis.reads.map((r) => r.tool)).toContain('m365.get_user');
    // Each model response was journaled as it arrived.
    const journal = await sb.service.ctx.db.selectFrom('planner_journal').select(['kind', 'step']).where('request_id', '=', request.id).orderBy('step').execute();
    expect(journal).toEqual([
      { kind: 'model', step: 0 },
      { kind: 'model', step: 1 },
    ]);
    expect(model.requests.every((r) => r.headers['authorization'] === `Bearer ${KEY}`)).toBe(true);
    // The three tiers, in order, then the workflow, as the model read them; the story shows what was used.
    const system = JSON.stringify(model.requests[0]?.messages[0]);
    const at = (text: string) => system.indexOf(text);
    expect(at('You are deskhand')).toBeGreaterThanOrEqual(0);
    expect(at('You are deskhand')).toBeLessThan(at('Northwind house rule'));
    expect(at('Northwind house rule')).toBeLessThan(at('Contoso rule'));
    expect(at('Contoso rule')).toBeLessThan(at('Zendesk for support'));
    const used = await sb.api<{ plan: { plannerContext: unknown } }>('GET', `/api/requests/${request.id}`, { token });
    expect(used.body.plan.plannerContext).toEqual({
      prompts: { msp: 'Northwind house rule: be brief.', client: 'Contoso rule: mention the Zendesk training.' },
      workflows: [{ id: workflow.body.id, name: 'Zendesk for support', scope: 'client' }],
    });
    expect(JSON.stringify(story.body)).not.toContain(KEY);
  });

  it('resumes from the journal in PostgreSQL: a diagnosis run again pays for no model call already made', async () => {
    const db = sb.service.ctx.db;
    const contoso = await db.selectFrom('clients').select(['id', 'name', 'domain', 'slug']).where('slug', '=', 'contoso').executeTakeFirstOrThrow();
    const planned = await db.selectFrom('planner_journal').select('request_id').where('kind', '=', 'model').executeTakeFirstOrThrow();
    const planner = await sb.service.ctx.integrations.plannerForClient(contoso.id);
    const identity = await sb.service.ctx.integrations.identityForClient(contoso.id);
    expect(planner?.name).toBe('llm');
    const before = model.calls();
    const again = await runPlanning({
      planner: planner!,
      catalog: sb.service.ctx.catalog,
      identity: identity!,
      client: { slug: contoso.slug, name: contoso.name, domain: contoso.domain },
      text: 'Could you give me Zendesk access? I take customer tickets now.',
      requesterEmail: ALEX,
      runbooks: async () => [],
      journal: plannerJournal(db, planned.request_id),
    });
    expect(again.proposed.outcome).toBe('plan');
    expect(model.calls()).toBe(before);
    expect(again.proposed.reasons.join('\n')).toMatch(/2 calls; 2 of them replayed from the journal, not paid again/);
  });

  it('leaves the built-in planner to MSPs without a model', async () => {
    const ticket = await sb.openTicket('adatum', 'dan.brown@adatum.example', 'salesforce for me please');
    const request = await sb.requestForTicket(ticket);
    await sb.waitForRequest(request.id, (row) => row.state !== 'received' && row.state !== 'diagnosing');
    const plan = await sb.service.ctx.db.selectFrom('plans').select(['planner', 'usage']).where('request_id', '=', request.id).executeTakeFirstOrThrow();
    expect(plan).toEqual({ planner: 'builtin', usage: null });
  });
});

describe('workflows with steps, applied by the built-in planner', () => {
  it("plans the workflow's steps with its templates filled from the request, and names it in the note", async () => {
    const kim = await sb.tokenFor('kim.lee@tailspin-ms.example');
    const created = await sb.api<{ id: string }>('POST', '/api/workflows', {
      token: kim,
      body: {
        name: 'New phone',
        trigger: 'new phone authenticator',
        instructions: 'Reset the sign-in methods so the employee registers the new phone.',
        steps: [
          { tool: 'm365.reset_mfa', args: { user: '{requester}' } },
          { tool: 'm365.revoke_sessions', args: { user: '{requester}' } },
        ],
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    // Adatum's runbooks say nothing about phones: without the workflow, the built-in planner escalates.
    const ticket = await sb.openTicket('adatum', 'erin.green@adatum.example', 'I have a new phone and the authenticator app has to be set up again.');
    const request = await sb.requestForTicket(ticket);
    await sb.waitForRequest(request.id, (row) => row.state !== 'received' && row.state !== 'diagnosing');
    const story = await sb.api<{ plan: { planner: string; outcome: string; steps: { tool: string; args: Record<string, string> }[]; reasons: string[]; plannerContext: { prompts: unknown; workflows: { name: string }[] } } }>(
      'GET',
      `/api/requests/${request.id}`,
      { token: kim },
    );
    expect(story.body.plan).toMatchObject({ planner: 'builtin', outcome: 'plan' });
    expect(story.body.plan.steps.map((s) => [s.tool, s.args['user']])).toEqual([
      ['m365.reset_mfa', 'erin.green@adatum.example'],
      ['m365.revoke_sessions', 'erin.green@adatum.example'],
    ]);
    expect(story.body.plan.reasons.join('\n')).toMatch(/Workflow "New phone" matches the request/);
    expect(story.body.plan.plannerContext).toEqual({ prompts: null, workflows: [{ id: created.body.id, name: 'New phone', scope: 'msp' }] });
  });
});
