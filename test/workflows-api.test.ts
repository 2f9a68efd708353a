import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientList, ErrorAnswer, PlannerPrompt, Workflow, WorkflowList, WorkflowMatchList } from '../src/api/contract.ts';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { silentLogger } from '../src/logger.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * Prompts and workflows over HTTP (issue 14), as an MSP's people meet them: the admin writes the
 * MSP's and a client's planner prompt and workflows, a technician reads them and is refused
 * changes, billing sees none of it, another MSP's admin finds none of it, a step list that would
 * not run is refused with a sentence saying why and nothing stored, and the "try it" match gives
 * the client's workflow before the MSP-wide one and forgets an archived one.
 */
let sb: Sandbox;
const ADMIN = 'ava.chen@northwind-it.example';
const TECHNICIAN = 'tom.rivera@northwind-it.example';
const BILLING = 'ben.okafor@northwind-it.example';
const OTHER_ADMIN = 'rosa.diaz@woodgrove-tp.example';
let contoso = '';
let fabrikam = '';

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
  const clients = await sb.api<ClientList>('GET', '/api/clients', { token: await sb.tokenFor(ADMIN) });
  contoso = clients.body.clients.find((c) => c.slug === 'contoso')!.id;
  fabrikam = clients.body.clients.find((c) => c.slug === 'fabrikam')!.id;
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

async function as<T>(email: string, method: string, path: string, body?: unknown) {
  return sb.api<T>(method, path, { token: await sb.tokenFor(email), ...(body === undefined ? {} : { body }) });
}

async function auditRows(event: string) {
  return sb.service.ctx.db.selectFrom('audit_log').select(['actor', 'event', 'data']).where('msp_id', '=', 'northwind').where('event', '=', event).orderBy('seq').execute();
}

async function workflowCount(): Promise<number> {
  const row = await sb.service.ctx.db.selectFrom('workflows').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('planner prompts', () => {
  it("round-trip the MSP's prompt: the admin sets and clears it, a technician reads it, billing never does; each change audited", async () => {
    expect((await as<PlannerPrompt>(ADMIN, 'GET', '/api/msp/prompt')).body).toEqual({ prompt: null, updatedAt: null, updatedBy: null });
    const set = await as<PlannerPrompt>(ADMIN, 'PUT', '/api/msp/prompt', { prompt: '  Always name the ticket number in the note.  ' });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ prompt: 'Always name the ticket number in the note.', updatedBy: `user:${ADMIN}` });
    expect((await as<PlannerPrompt>(TECHNICIAN, 'GET', '/api/msp/prompt')).body).toEqual(set.body);
    expect((await as(TECHNICIAN, 'PUT', '/api/msp/prompt', { prompt: 'mine now' })).status).toBe(403);
    expect((await as(BILLING, 'GET', '/api/msp/prompt')).status).toBe(403);
    // Another MSP's admin reads their own MSP's prompt, never this one.
    expect((await as<PlannerPrompt>(OTHER_ADMIN, 'GET', '/api/msp/prompt')).body.prompt).toBeNull();

    const tooLong = await as<ErrorAnswer>(ADMIN, 'PUT', '/api/msp/prompt', { prompt: 'x'.repeat(8001) });
    expect(tooLong.status).toBe(400);
    expect((await as<PlannerPrompt>(ADMIN, 'GET', '/api/msp/prompt')).body).toEqual(set.body);

    const cleared = await as<PlannerPrompt>(ADMIN, 'PUT', '/api/msp/prompt', { prompt: '   ' });
    expect(cleared.body.prompt).toBeNull();
    const rows = await auditRows('msp.planner_prompt');
    expect(rows.map((r) => [r.actor, r.data])).toEqual([
      [`user:${ADMIN}`, { from: null, to: 'Always name the ticket number in the note.' }],
      [`user:${ADMIN}`, { from: 'Always name the ticket number in the note.', to: null }],
    ]);
  });

  it("round-trip a client's prompt, refused to a technician's change, billing and another MSP's admin", async () => {
    const path = `/api/clients/${contoso}/prompt`;
    const set = await as<PlannerPrompt>(ADMIN, 'PUT', path, { prompt: 'Contoso wants the manager told about every licence.' });
    expect(set.body.prompt).toBe('Contoso wants the manager told about every licence.');
    expect((await as<PlannerPrompt>(TECHNICIAN, 'GET', path)).body).toEqual(set.body);
    expect((await as<PlannerPrompt>(ADMIN, 'GET', `/api/clients/${fabrikam}/prompt`)).body.prompt).toBeNull();
    expect((await as(TECHNICIAN, 'PUT', path, { prompt: 'no' })).status).toBe(403);
    expect((await as(BILLING, 'GET', path)).status).toBe(403);
    expect((await as(OTHER_ADMIN, 'GET', path)).status).toBe(404);
    expect((await as(OTHER_ADMIN, 'PUT', path, { prompt: 'theirs' })).status).toBe(404);
    expect((await as(ADMIN, 'PUT', path, { prompt: 'x', extra: 1 })).status).toBe(400);
    expect((await as<PlannerPrompt>(ADMIN, 'GET', path)).body).toEqual(set.body);
    expect((await auditRows('client.planner_prompt')).map((r) => r.data)).toEqual([{ clientId: contoso, from: null, to: 'Contoso wants the manager told about every licence.' }]);
  });
});

describe('workflows', () => {
  let mspWide: Workflow;
  let contosos: Workflow;

  it('are created by the admin, MSP-wide and for a client, with steps of literals and templates, and audited', async () => {
    const created = await as<Workflow>(ADMIN, 'POST', '/api/workflows', {
      name: 'New starter',
      trigger: 'A new starter joins the company',
      instructions: 'Create nothing by hand: add the person to All Staff.',
      steps: [{ tool: 'm365.add_user_to_group', args: { user: '{person named in the request}', group: 'All Staff' } }],
    });
    expect(created.status).toBe(200);
    mspWide = created.body;
    expect(mspWide).toMatchObject({ client: null, name: 'New starter', status: 'active', updatedBy: `user:${ADMIN}` });
    const own = await as<Workflow>(ADMIN, 'POST', '/api/workflows', {
      clientId: contoso,
      name: 'Contoso new starter',
      trigger: 'new starter joins Contoso sales',
      instructions: 'Contoso starters get a licence and the Sales group.',
      steps: [
        { tool: 'm365.assign_license', args: { user: '{person named in the request}', sku: '{licence named in the request}' } },
        { tool: 'm365.add_user_to_group', args: { user: '{person named in the request}', group: 'Sales' } },
      ],
    });
    expect(own.status).toBe(200);
    contosos = own.body;
    expect(contosos.client).toMatchObject({ id: contoso, slug: 'contoso' });
    expect((await auditRows('workflow.created')).map((r) => r.data)).toEqual([
      { workflowId: mspWide.id, clientId: null, from: null, to: { name: 'New starter', trigger: mspWide.trigger, instructions: mspWide.instructions, status: 'active', steps: mspWide.steps } },
      { workflowId: contosos.id, clientId: contoso, from: null, to: { name: contosos.name, trigger: contosos.trigger, instructions: contosos.instructions, status: 'active', steps: contosos.steps } },
    ]);
  });

  it('are read by a technician, refused to their changes, and never shown to billing', async () => {
    const list = await as<WorkflowList>(TECHNICIAN, 'GET', '/api/workflows');
    expect(list.body.workflows.map((w) => w.id)).toEqual([mspWide.id, contosos.id]);
    expect((await as<Workflow>(TECHNICIAN, 'GET', `/api/workflows/${contosos.id}`)).body).toEqual(contosos);
    expect((await as<WorkflowList>(TECHNICIAN, 'GET', '/api/workflows?client=msp')).body.workflows.map((w) => w.id)).toEqual([mspWide.id]);
    expect((await as<WorkflowList>(TECHNICIAN, 'GET', '/api/workflows?client=contoso')).body.workflows.map((w) => w.id)).toEqual([contosos.id]);
    expect((await as<WorkflowList>(TECHNICIAN, 'GET', `/api/workflows?client=${fabrikam}`)).body.workflows).toEqual([]);
    expect((await as(TECHNICIAN, 'POST', '/api/workflows', { name: 'x', trigger: 'y' })).status).toBe(403);
    expect((await as(TECHNICIAN, 'PATCH', `/api/workflows/${contosos.id}`, { status: 'archived' })).status).toBe(403);
    expect((await as(BILLING, 'GET', '/api/workflows')).status).toBe(403);
    expect((await as(BILLING, 'GET', `/api/workflows/${contosos.id}`)).status).toBe(403);
    expect((await as(BILLING, 'POST', '/api/workflows/match', { client: contoso, text: 'a new starter joins' })).status).toBe(403);
    expect((await as<Workflow>(ADMIN, 'GET', `/api/workflows/${contosos.id}`)).body).toEqual(contosos);
  });

  it("are not found by another MSP's admin, who cannot put a workflow on this MSP's client either", async () => {
    const before = await workflowCount();
    expect((await as(OTHER_ADMIN, 'GET', `/api/workflows/${mspWide.id}`)).status).toBe(404);
    expect((await as(OTHER_ADMIN, 'PATCH', `/api/workflows/${mspWide.id}`, { status: 'archived' })).status).toBe(404);
    expect((await as<WorkflowList>(OTHER_ADMIN, 'GET', '/api/workflows?status=all')).body.workflows).toEqual([]);
    expect((await as<WorkflowList>(OTHER_ADMIN, 'GET', `/api/workflows?client=${contoso}`)).body.workflows).toEqual([]);
    expect((await as(OTHER_ADMIN, 'POST', '/api/workflows', { clientId: contoso, name: 'x', trigger: 'y' })).status).toBe(404);
    expect((await as(OTHER_ADMIN, 'POST', '/api/workflows/match', { client: contoso, text: 'a new starter joins' })).status).toBe(404);
    expect((await as<WorkflowMatchList>(OTHER_ADMIN, 'POST', '/api/workflows/match', { text: 'A new starter joins the company' })).body.matches).toEqual([]);
    expect(await workflowCount()).toBe(before);
    expect((await as<Workflow>(ADMIN, 'GET', `/api/workflows/${mspWide.id}`)).body).toEqual(mspWide);
  });

  it('refuse a step list that would not run, saying why, and store nothing', async () => {
    const before = await workflowCount();
    const auditBefore = (await auditRows('workflow.created')).length + (await auditRows('workflow.changed')).length;
    const cases: [unknown[], string][] = [
      [[{ tool: 'm365.delete_tenant', args: {} }], 'no tool is called m365.delete_tenant'],
      [[{ tool: 'm365.get_user', args: { user: '{requester}' } }], 'm365.get_user only reads'],
      [[{ tool: 'm365.reset_password', args: { user: '{requester}', mailbox: 'x' } }], 'm365.reset_password has no argument mailbox (it takes user)'],
      [[{ tool: 'm365.reset_password', args: { user: '{the requester}' } }], '"{the requester}" is not a template'],
      [[{ tool: 'm365.assign_license', args: { user: '{requester}', sku: '{group named in the request}' } }], 'stands for a group, and this argument names a licence'],
    ];
    for (const [steps, says] of cases) {
      const created = await as<ErrorAnswer>(ADMIN, 'POST', '/api/workflows', { name: 'Broken', trigger: 'something breaks', steps });
      expect([created.status, created.body.error.code], JSON.stringify(steps)).toEqual([400, 'bad_request']);
      expect(created.body.error.message).toContain(says);
      const patched = await as<ErrorAnswer>(ADMIN, 'PATCH', `/api/workflows/${mspWide.id}`, { name: 'Renamed', steps });
      expect(patched.status).toBe(400);
      expect(patched.body.error.message).toContain(says);
    }
    expect((await as(ADMIN, 'POST', '/api/workflows', { name: 'No trigger', trigger: '  ' })).status).toBe(400);
    expect((await as(ADMIN, 'POST', '/api/workflows', { name: 'Bad status', trigger: 'x y', status: 'deleted' })).status).toBe(400);
    expect((await as(ADMIN, 'PATCH', `/api/workflows/${mspWide.id}`, {})).status).toBe(400);
    expect(await workflowCount()).toBe(before);
    expect((await auditRows('workflow.created')).length + (await auditRows('workflow.changed')).length).toBe(auditBefore);
    expect((await as<Workflow>(ADMIN, 'GET', `/api/workflows/${mspWide.id}`)).body).toEqual(mspWide);
  });

  it("match a request's text: the client's own workflow first, then the MSP-wide one; another client gets the MSP-wide one only", async () => {
    const text = 'Hi, a new starter joins our sales team at Contoso on Monday, please set her up';
    const matched = await as<WorkflowMatchList>(TECHNICIAN, 'POST', '/api/workflows/match', { client: contoso, text });
    expect(matched.status).toBe(200);
    expect(matched.body.matches.map((m) => m.workflow.id)).toEqual([contosos.id, mspWide.id]);
    expect(matched.body.matches[0]!.words).toEqual(expect.arrayContaining(['new', 'starter', 'join']));
    const other = await as<WorkflowMatchList>(ADMIN, 'POST', '/api/workflows/match', { client: fabrikam, text });
    expect(other.body.matches.map((m) => m.workflow.id)).toEqual([mspWide.id]);
    const unrelated = await as<WorkflowMatchList>(ADMIN, 'POST', '/api/workflows/match', { client: contoso, text: 'The printer on the second floor jams every morning' });
    expect(unrelated.body.matches).toEqual([]);
  });

  it('archive (never delete): an archived workflow no longer matches and is listed only when asked; the change is audited', async () => {
    const archived = await as<Workflow>(ADMIN, 'PATCH', `/api/workflows/${contosos.id}`, { status: 'archived' });
    expect(archived.status).toBe(200);
    expect(archived.body).toMatchObject({ id: contosos.id, status: 'archived', name: contosos.name });
    const text = 'A new starter joins the Contoso sales team';
    const matched = await as<WorkflowMatchList>(ADMIN, 'POST', '/api/workflows/match', { client: contoso, text });
    expect(matched.body.matches.map((m) => m.workflow.id)).toEqual([mspWide.id]);
    expect((await as<WorkflowList>(ADMIN, 'GET', '/api/workflows')).body.workflows.map((w) => w.id)).toEqual([mspWide.id]);
    expect((await as<WorkflowList>(ADMIN, 'GET', '/api/workflows?status=archived')).body.workflows.map((w) => w.id)).toEqual([contosos.id]);
    expect((await as<WorkflowList>(ADMIN, 'GET', '/api/workflows?status=all')).body.workflows.map((w) => w.id)).toEqual([mspWide.id, contosos.id]);
    const changed = (await auditRows('workflow.changed')).at(-1)!;
    expect(changed).toMatchObject({ actor: `user:${ADMIN}`, data: { workflowId: contosos.id, clientId: contoso, from: { status: 'active' }, to: { status: 'archived' } } });

    // A draft does not match either; made active again, it does.
    const draft = await as<Workflow>(ADMIN, 'PATCH', `/api/workflows/${contosos.id}`, { status: 'draft', trigger: 'a new starter joins the Contoso sales team' });
    expect(draft.body).toMatchObject({ status: 'draft', trigger: 'a new starter joins the Contoso sales team' });
    expect((await as<WorkflowMatchList>(ADMIN, 'POST', '/api/workflows/match', { client: contoso, text })).body.matches.map((m) => m.workflow.id)).toEqual([mspWide.id]);
    await as(ADMIN, 'PATCH', `/api/workflows/${contosos.id}`, { status: 'active' });
    expect((await as<WorkflowMatchList>(ADMIN, 'POST', '/api/workflows/match', { client: contoso, text })).body.matches.map((m) => m.workflow.id)).toEqual([contosos.id, mspWide.id]);
  });
});
