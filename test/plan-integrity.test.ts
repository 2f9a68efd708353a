import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ProposedPlan } from '../src/core/plan.ts';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { FINAL } from '../src/demo/stories.ts';
import { silentLogger } from '../src/logger.ts';
import { json } from '../src/store/db.ts';
import { BuiltinPlanner } from '../src/planner/builtin.ts';
import type { Planner, PlannerInput } from '../src/planner/types.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * The spine keeps its promises (issue 6): the plan that runs is the plan that was hashed; a tool
 * disabled, read or write, is never called; a policy tightened after freezing is honoured; dual
 * approval that cannot happen fails closed; and a request the agent cannot finish is never left in
 * silence. Every test drives the real service through the ConnectWise emulator's webhooks, the API
 * and the worker, and checks what reached the emulated systems.
 */

/**
 * The built-in planner, with two probes a test can ask for in the ticket's text: a planner bug (an
 * error no retry can fix) and a fixed plan proposed without reading anything.
 */
class ProbePlanner implements Planner {
  readonly name = 'builtin';
  private readonly inner = new BuiltinPlanner();

  async plan(input: PlannerInput): Promise<ProposedPlan> {
    if (input.request.text.includes('[probe:bug]')) throw new TypeError("Cannot read properties of undefined (reading 'groups')");
    if (input.request.text.includes('[probe:slow-bug]')) {
      // Long enough for the test to hand the claim to another worker meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      throw new TypeError("Cannot read properties of undefined (reading 'licenses')");
    }
    if (input.request.text.includes('[probe:fixed-plan]')) {
      return {
        outcome: 'plan',
        summary: 'Add the requester to SG-App-Zendesk.',
        reasons: ['a fixed plan proposed without reading anything'],
        steps: [{ tool: 'm365.add_user_to_group', args: { user: input.requesterEmail, group: 'SG-App-Zendesk' }, resolved: {}, reason: 'asked for Zendesk' }],
      };
    }
    return this.inner.plan(input);
  }
}

let sb: Sandbox;
const TECHNICIAN = 'tom.rivera@northwind-it.example';
const ADMIN = 'ava.chen@northwind-it.example';
let contosoM365 = '';

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger, planner: new ProbePlanner() });
  const { body } = await sb.api<{ integrations: { id: string; kind: string; client: { slug: string } | null }[] }>('GET', '/api/integrations', {
    token: await sb.tokenFor(ADMIN),
  });
  contosoM365 = body.integrations.find((i) => i.kind === 'm365' && i.client?.slug === 'contoso')!.id;
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

const changedPolicies: string[] = [];

async function setPolicy(tool: string, policy: 'auto' | 'approval_needed' | 'disabled', requireManagerApproval = false): Promise<void> {
  const response = await sb.api('PUT', `/api/integrations/${contosoM365}/policies/${tool}`, {
    token: await sb.tokenFor(ADMIN),
    body: { policy, requireManagerApproval },
  });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  changedPolicies.push(tool);
}

afterEach(async () => {
  // Back to the demo world's policies: the catalog default, or Contoso's own rows.
  const defaults: Record<string, [policy: 'auto' | 'approval_needed', manager: boolean]> = {
    'm365.revoke_sessions': ['auto', false],
    'm365.reset_password': ['approval_needed', true],
    'm365.reset_mfa': ['approval_needed', true],
  };
  for (const tool of changedPolicies.splice(0)) {
    const [policy, manager] = defaults[tool] ?? (tool.startsWith('m365.') && isReadTool(tool) ? ['auto', false] : ['approval_needed', false]);
    await sb.api('PUT', `/api/integrations/${contosoM365}/policies/${tool}`, { token: await sb.tokenFor(ADMIN), body: { policy, requireManagerApproval: manager } });
  }
  sb.emulators.graph.clearFaults();
  sb.emulators.connectwise.clearFaults();
});

function isReadTool(tool: string): boolean {
  return /\.(get|list|find)_/.test(tool);
}

function agentNotes(ticket: number) {
  const view = sb.emulators.connectwise.tickets().find((t) => t.ticket['id'] === ticket);
  return (view?.notes ?? [])
    .filter((n) => (n['member'] as { identifier?: string } | undefined)?.identifier === 'deskhand')
    .map((n) => ({ text: String(n['text']), internal: n['internalAnalysisFlag'] === true, customer: n['detailDescriptionFlag'] === true }));
}

function groupsOf(client: string, upn: string): string[] {
  return sb.emulators.graph.tenant(client).users.find((u) => u.userPrincipalName === upn)!.groups;
}

function graphUserId(client: string, upn: string): string {
  return sb.emulators.graph.tenant(client).users.find((u) => u.userPrincipalName === upn)!.id;
}

/** Graph calls made since `from` (an index into the emulator's request log). */
function graphCallsSince(from: number) {
  return sb.emulators.graph.requests().slice(from);
}

async function openAndWait(client: string, upn: string, text: string, states: string[] = ['awaiting_approval', ...FINAL]) {
  const ticket = await sb.openTicket(client, upn, text);
  const request = await sb.requestForTicket(ticket);
  const row = await sb.waitForRequest(request.id, states, 30_000);
  return { ticket, request: row };
}

async function technicianApproval(requestId: string) {
  return sb.service.ctx.db.selectFrom('approvals').selectAll().where('request_id', '=', requestId).where('kind', '=', 'technician').executeTakeFirstOrThrow();
}

async function approve(approvalId: string) {
  return sb.api<{ requestState: string; combined: string }>('POST', `/api/approvals/${approvalId}/decision`, {
    token: await sb.tokenFor(TECHNICIAN),
    body: { decision: 'approve' },
  });
}

describe('a disabled read tool is never called (defect 1)', () => {
  it('does not read group memberships when m365.list_user_groups is disabled, and says so in the note', async () => {
    await setPolicy('m365.list_user_groups', 'disabled');
    const upn = 'henrietta.mueller@contoso.example';
    const from = sb.emulators.graph.requests().length;
    const { ticket, request } = await openAndWait('contoso', upn, 'Could you give me Zendesk access please?');
    await sb.waitForDelivered(request.id);
    const id = graphUserId('contoso', upn);
    expect(graphCallsSince(from).filter((r) => r.path.includes(`/users/${id}/memberOf`))).toEqual([]);
    // Without the memberships the agent cannot know whether she has Zendesk already: a technician decides.
    expect([request.state, request.outcome]).toEqual(['escalated', 'escalated']);
    const diagnosis = await sb.service.ctx.db.selectFrom('diagnoses').select('reads').where('request_id', '=', request.id).executeTakeFirstOrThrow();
    const reads = diagnosis.reads as { tool: string; result: unknown }[];
    expect(reads.filter((r) => r.tool === 'm365.list_user_groups').map((r) => r.result)).toEqual([{ not_called: 'disabled by the tool policies' }]);
    const note = agentNotes(ticket).find((n) => n.internal && n.text.startsWith('deskhand diagnosis'));
    expect(note?.text).toContain('m365.list_user_groups is disabled by the tool policies');
    expect(note?.text).toMatch(/Not checked, because the tool policies disable these read tools for Contoso[^:]*: m365\.list_user_groups/);
    expect(groupsOf('contoso', upn)).not.toContain('SG-App-Zendesk');
  });

  it('fails closed when the plan needs the manager and m365.get_manager is disabled', async () => {
    await setPolicy('m365.get_manager', 'disabled');
    const upn = 'debra.berger@contoso.example';
    const from = sb.emulators.graph.requests().length;
    const { ticket, request } = await openAndWait('contoso', upn, "I forgot my password and can't sign in.", FINAL);
    await sb.waitForDelivered(request.id);
    expect(graphCallsSince(from).filter((r) => r.path.endsWith('/manager'))).toEqual([]);
    expect([request.state, request.outcome]).toEqual(['escalated', 'escalated']);
    expect(agentNotes(ticket).some((n) => n.internal && n.text.includes('m365.get_manager'))).toBe(true);
    expect(agentNotes(ticket).some((n) => n.customer)).toBe(false);
    expect(await sb.service.ctx.db.selectFrom('approvals').select('id').where('request_id', '=', request.id).execute()).toEqual([]);
    expect(sb.emulators.graph.tenant('contoso').users.find((u) => u.userPrincipalName === upn)!.passwordResets).toBe(0);
  });

  it('still resolves the names of an allowed write step, as part of that step, with the reads disabled', async () => {
    await setPolicy('m365.get_user', 'disabled');
    await setPolicy('m365.find_group', 'disabled');
    const upn = 'isaiah.langer@contoso.example';
    const { request } = await openAndWait('contoso', upn, 'Zendesk please [probe:fixed-plan]');
    expect(request.state).toBe('awaiting_approval');
    const plan = await sb.service.ctx.db.selectFrom('plans').select(['steps']).where('request_id', '=', request.id).executeTakeFirstOrThrow();
    const [step] = plan.steps as { resolved: Record<string, string> }[];
    expect(step!.resolved['user']).toBe(graphUserId('contoso', upn));
    expect(step!.resolved['group']).toBe(sb.emulators.graph.tenant('contoso').groups.find((g) => g.displayName === 'SG-App-Zendesk')!.id);
    const diagnosis = await sb.service.ctx.db.selectFrom('diagnoses').select('reads').where('request_id', '=', request.id).executeTakeFirstOrThrow();
    const reads = diagnosis.reads as { tool: string; result: unknown; purpose?: string }[];
    // Diagnosis did not call them; resolving the step's names did, and is recorded as such.
    for (const tool of ['m365.get_user', 'm365.find_group']) {
      const calls = reads.filter((r) => r.tool === tool);
      expect(calls.filter((r) => r.purpose !== 'resolve').every((r) => (r.result as { not_called?: string }).not_called)).toBe(true);
      expect(calls.some((r) => r.purpose === 'resolve')).toBe(true);
    }
  });
});

describe('the plan that runs is the plan that was hashed (defect 3)', () => {
  it('refuses a plan whose stored steps were altered after freezing: escalated with a note, nothing run', async () => {
    const upn = 'grady.archie@contoso.example';
    const { ticket, request } = await openAndWait('contoso', upn, 'Could you give me Zendesk access?');
    expect(request.state).toBe('awaiting_approval');
    const privileged = sb.emulators.graph.tenant('contoso').groups.find((g) => g.displayName === 'SG-Admins-Privileged')!;
    const plan = await sb.service.ctx.db.selectFrom('plans').select(['id', 'steps']).where('request_id', '=', request.id).executeTakeFirstOrThrow();
    const tampered = (plan.steps as { args: Record<string, string>; resolved: Record<string, string> }[]).map((s) => ({
      ...s,
      args: { ...s.args, group: privileged.displayName },
      resolved: { ...s.resolved, group: privileged.id },
    }));
    await sb.service.ctx.db.updateTable('plans').set({ steps: json(tampered) }).where('id', '=', plan.id).execute();
    const from = sb.emulators.graph.requests().length;
    expect((await approve((await technicianApproval(request.id)).id)).status).toBe(200);
    const final = await sb.waitForRequest(request.id, FINAL, 30_000);
    await sb.waitForDelivered(request.id);
    expect([final.state, final.outcome]).toEqual(['escalated', 'escalated']);
    expect(graphCallsSince(from).filter((r) => r.method !== 'GET')).toEqual([]);
    expect(groupsOf('contoso', upn)).not.toContain('SG-Admins-Privileged');
    expect(groupsOf('contoso', upn)).not.toContain('SG-App-Zendesk');
    expect(agentNotes(ticket).some((n) => n.internal && n.text.includes('differs from the plan that was hashed'))).toBe(true);
    expect(agentNotes(ticket).some((n) => n.customer)).toBe(false);
    expect(await sb.service.ctx.db.selectFrom('step_executions').select('id').where('request_id', '=', request.id).execute()).toEqual([]);
  });

  it('refuses a plan whose canonical text was altered after freezing: escalated with a note, nothing run', async () => {
    const upn = 'pradeep.gupta@contoso.example';
    const { ticket, request } = await openAndWait('contoso', upn, 'Could I get access to Zendesk?');
    expect(request.state).toBe('awaiting_approval');
    const privileged = sb.emulators.graph.tenant('contoso').groups.find((g) => g.displayName === 'SG-Admins-Privileged')!;
    const zendesk = sb.emulators.graph.tenant('contoso').groups.find((g) => g.displayName === 'SG-App-Zendesk')!;
    const plan = await sb.service.ctx.db.selectFrom('plans').select(['id', 'canonical']).where('request_id', '=', request.id).executeTakeFirstOrThrow();
    expect(plan.canonical).toContain(zendesk.id);
    await sb.service.ctx.db.updateTable('plans').set({ canonical: plan.canonical.replaceAll(zendesk.id, privileged.id) }).where('id', '=', plan.id).execute();
    const from = sb.emulators.graph.requests().length;
    expect((await approve((await technicianApproval(request.id)).id)).status).toBe(200);
    const final = await sb.waitForRequest(request.id, FINAL, 30_000);
    await sb.waitForDelivered(request.id);
    expect([final.state, final.outcome]).toEqual(['escalated', 'escalated']);
    expect(graphCallsSince(from).filter((r) => r.method !== 'GET')).toEqual([]);
    expect(groupsOf('contoso', upn)).not.toContain('SG-Admins-Privileged');
    expect(agentNotes(ticket).some((n) => n.internal && n.text.includes('does not match its hash'))).toBe(true);
    expect(agentNotes(ticket).some((n) => n.customer)).toBe(false);
  });
});

describe('policies tightened after the plan was frozen (defect 4)', () => {
  it('asks a technician for an auto plan whose tool became approval_needed before it ran, for the same plan hash', async () => {
    const upn = 'adele.vance@contoso.example';
    // Hold the diagnosis note back, so the plan is frozen (all auto) but has not run yet.
    sb.emulators.connectwise.addFault({ status: 503, count: 1000, method: 'POST', pathContains: '/notes' });
    const ticket = await sb.openTicket('contoso', upn, 'I left myself signed in on a shared computer, please sign me out everywhere.');
    const request = await sb.requestForTicket(ticket);
    const frozen = await waitForPlan(request.id);
    expect([frozen.needs_technician, (frozen.step_policies as { policy: string }[]).map((p) => p.policy)]).toEqual([false, ['auto']]);
    await setPolicy('m365.revoke_sessions', 'approval_needed');
    const revocationsBefore = sb.emulators.graph.tenant('contoso').users.find((u) => u.userPrincipalName === upn)!.sessionRevocations;
    sb.emulators.connectwise.clearFaults();
    await sb.service.ctx.db.updateTable('outbox').set({ next_attempt_at: new Date(0) }).where('request_id', '=', request.id).execute();
    const waiting = await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL], 30_000);
    expect(waiting.state).toBe('awaiting_approval');
    expect(sb.emulators.graph.tenant('contoso').users.find((u) => u.userPrincipalName === upn)!.sessionRevocations).toBe(revocationsBefore);
    const approval = await technicianApproval(request.id);
    expect([approval.status, approval.plan_hash]).toEqual(['pending', frozen.hash]);
    await sb.waitForDelivered(request.id);
    const notice = agentNotes(ticket).find((n) => n.internal && n.text.includes('approval request'));
    expect(notice?.text).toContain('m365.revoke_sessions: auto → approval_needed');
    expect(agentNotes(ticket).some((n) => n.customer)).toBe(false);
    expect((await approve(approval.id)).status).toBe(200);
    const final = await sb.waitForRequest(request.id, FINAL, 30_000);
    expect([final.state, final.outcome]).toEqual(['replied', 'executed']);
    expect(sb.emulators.graph.tenant('contoso').users.find((u) => u.userPrincipalName === upn)!.sessionRevocations).toBe(revocationsBefore + 1);
  });

  it('asks the manager too when manager approval was required after the technician approved', async () => {
    const upn = 'nestor.wilke@contoso.example';
    const { request } = await openAndWait('contoso', upn, 'Can I have access to Zendesk?');
    expect(request.state).toBe('awaiting_approval');
    await setPolicy('m365.add_user_to_group', 'approval_needed', true);
    const mailsBefore = sb.emulators.graph.mail().length;
    const decided = await approve((await technicianApproval(request.id)).id);
    expect(decided.status).toBe(200);
    const waiting = await sb.waitForRequest(request.id, (r) => r.state === 'awaiting_approval' || FINAL.includes(r.state), 30_000);
    expect(waiting.state).toBe('awaiting_approval');
    const approvals = await sb.service.ctx.db.selectFrom('approvals').selectAll().where('request_id', '=', request.id).orderBy('created_at').execute();
    expect(approvals.map((a) => [a.kind, a.status])).toEqual([
      ['technician', 'approved'],
      ['manager', 'pending'],
    ]);
    expect(new Set(approvals.map((a) => a.plan_hash)).size).toBe(1);
    expect(groupsOf('contoso', upn)).not.toContain('SG-App-Zendesk');
    await sb.waitForDelivered(request.id);
    const mail = sb.emulators.graph.mail().slice(mailsBefore).find((m) => m.to.includes('patti.fernandez@contoso.example'));
    const link = mail?.content.match(/https?:\/\/\S+\/approvals\/manager\/\S+/)?.[0];
    expect(link).toBeTruthy();
    const post = await fetch(`${sb.service.url}${new URL(link!).pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'decision=approve',
    });
    expect(post.status).toBe(200);
    const final = await sb.waitForRequest(request.id, FINAL, 30_000);
    expect([final.state, final.outcome]).toEqual(['replied', 'executed']);
    expect(groupsOf('contoso', upn)).toContain('SG-App-Zendesk');
  });

  it('escalates, running nothing, when a tool was disabled between approval and execution', async () => {
    const upn = 'lee.gu@contoso.example';
    const { ticket, request } = await openAndWait('contoso', upn, 'I need Zendesk access.');
    expect(request.state).toBe('awaiting_approval');
    await setPolicy('m365.add_user_to_group', 'disabled');
    const from = sb.emulators.graph.requests().length;
    expect((await approve((await technicianApproval(request.id)).id)).status).toBe(200);
    const final = await sb.waitForRequest(request.id, FINAL, 30_000);
    await sb.waitForDelivered(request.id);
    expect([final.state, final.outcome]).toEqual(['escalated', 'escalated']);
    expect(graphCallsSince(from).filter((r) => r.method !== 'GET')).toEqual([]);
    expect(groupsOf('contoso', upn)).not.toContain('SG-App-Zendesk');
    expect(agentNotes(ticket).some((n) => n.internal && n.text.includes('m365.add_user_to_group is disabled'))).toBe(true);
    expect(agentNotes(ticket).some((n) => n.customer)).toBe(false);
  });
});

describe('dual approval without a sender mailbox (defect 7)', () => {
  it('fails closed at once: escalated with a note, no approval left waiting', async () => {
    const client = await sb.service.ctx.db.selectFrom('clients').select(['id', 'sender_mailbox']).where('slug', '=', 'contoso').executeTakeFirstOrThrow();
    await sb.service.ctx.db.updateTable('clients').set({ sender_mailbox: '' }).where('id', '=', client.id).execute();
    try {
      const upn = 'megan.bowen@contoso.example';
      const { ticket, request } = await openAndWait('contoso', upn, "I can't remember my password, please reset it.", FINAL);
      await sb.waitForDelivered(request.id);
      expect([request.state, request.outcome]).toEqual(['escalated', 'escalated']);
      expect(await sb.service.ctx.db.selectFrom('approvals').select('id').where('request_id', '=', request.id).execute()).toEqual([]);
      expect(agentNotes(ticket).some((n) => n.internal && n.text.includes('no sender mailbox'))).toBe(true);
      expect(await sb.service.ctx.db.selectFrom('outbox').select('id').where('request_id', '=', request.id).where('kind', '=', 'identity.mail').execute()).toEqual([]);
    } finally {
      await sb.service.ctx.db.updateTable('clients').set({ sender_mailbox: client.sender_mailbox }).where('id', '=', client.id).execute();
    }
  });
});

describe('never silent (defects 5 and 10)', () => {
  it('escalates at once, with a note, on an error that retrying cannot fix', async () => {
    const { ticket, request } = await openAndWait('contoso', 'joni.sherman@contoso.example', 'Zendesk is fine [probe:bug]', FINAL);
    await sb.waitForDelivered(request.id);
    expect([request.state, request.outcome]).toEqual(['escalated', 'escalated']);
    // Not retried as if transient: one claim, one attempt.
    const diagnosing = await sb.service.ctx.db.selectFrom('audit_log').select('event').where('request_id', '=', request.id).where('event', 'like', 'request.diagnosing%').execute();
    expect(diagnosing).toHaveLength(1);
    const note = agentNotes(ticket).find((n) => n.internal);
    expect(note?.text).toContain("Cannot read properties of undefined (reading 'groups')");
    expect(agentNotes(ticket).some((n) => n.customer)).toBe(false);
  });

  it('leaves a request to the worker that took it over: a failure after losing the claim ends nothing', async () => {
    const ticket = await sb.openTicket('contoso', 'lidia.holloway@contoso.example', 'Zendesk is fine [probe:slow-bug]');
    const request = await sb.requestForTicket(ticket);
    await sb.waitForRequest(request.id, (r) => r.state === 'diagnosing' && r.lease_owner !== null);
    // Another worker took the request over (this worker's claim ran out while it was planning).
    const until = new Date(sb.clock.now().getTime() + 60_000);
    await sb.service.ctx.db.updateTable('requests').set({ lease_owner: 'another-worker', lease_until: until }).where('id', '=', request.id).execute();
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const row = await sb.service.ctx.db.selectFrom('requests').selectAll().where('id', '=', request.id).executeTakeFirstOrThrow();
    expect([row.state, row.lease_owner]).toEqual(['diagnosing', 'another-worker']);
    expect(await sb.service.ctx.db.selectFrom('plans').select('id').where('request_id', '=', request.id).execute()).toEqual([]);
    expect(agentNotes(ticket)).toEqual([]);
    // The other worker "dies": its claim runs out, this service takes the request up again and ends it visibly.
    await sb.service.ctx.db.updateTable('requests').set({ lease_until: new Date(sb.clock.now().getTime() - 1_000), due_at: new Date(0) }).where('id', '=', request.id).execute();
    const final = await sb.waitForRequest(request.id, FINAL, 30_000);
    expect([final.state, final.outcome]).toEqual(['escalated', 'escalated']);
  });

  it("states a Plan Mode client's real mode when its diagnosis fails, and never replies", async () => {
    const upn = 'alan.turing@fabrikam.example';
    sb.emulators.graph.injectFault({ status: 403, count: 50, method: 'GET', pathContains: 'alan.turing', code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' });
    const { ticket, request } = await openAndWait('fabrikam', upn, 'I need the VPN please.', FINAL);
    await sb.waitForDelivered(request.id);
    expect([request.state, request.outcome]).toEqual(['escalated', 'escalated']);
    const note = agentNotes(ticket).find((n) => n.internal);
    expect(note?.text).toContain('Plan Mode');
    expect(note?.text).not.toContain('Execute Mode');
    expect(note?.text).toContain('Insufficient privileges');
    expect(agentNotes(ticket).some((n) => n.customer)).toBe(false);
  });

  it('gives up, with a note, on a request whose claims keep running out, and runs nothing', async () => {
    const upn = 'miriam.graham@contoso.example';
    const { ticket, request } = await openAndWait('contoso', upn, 'Please give me Zendesk access.');
    expect(request.state).toBe('awaiting_approval');
    const worker = sb.service.worker!;
    await worker.stop();
    try {
      expect((await approve((await technicianApproval(request.id)).id)).status).toBe(200);
      // Six workers took it up and died (each claim ran out without ending), as a poison request would make them.
      const past = new Date(sb.clock.now().getTime() - 1_000);
      await sb.service.ctx.db
        .updateTable('requests')
        .set({ attempts: 6, lease_owner: 'a-worker-that-died', lease_until: past, due_at: past })
        .where('id', '=', request.id)
        .execute();
    } finally {
      await worker.start();
    }
    const final = await sb.waitForRequest(request.id, FINAL, 30_000);
    await sb.waitForDelivered(request.id);
    expect([final.state, final.outcome]).toEqual(['escalated', 'escalated']);
    expect(groupsOf('contoso', upn)).not.toContain('SG-App-Zendesk');
    expect(agentNotes(ticket).some((n) => n.internal && n.text.includes('never finished'))).toBe(true);
    expect(agentNotes(ticket).some((n) => n.customer)).toBe(false);
  });

  it('escalates with a note of its own when the diagnosis note can never be delivered', async () => {
    sb.emulators.connectwise.addFault({ status: 400, count: 8, method: 'POST', pathContains: '/notes' });
    const ticket = await sb.openTicket('contoso', 'christie.cline@contoso.example', 'Could I get Zendesk?');
    const request = await sb.requestForTicket(ticket);
    let final = await sb.service.ctx.db.selectFrom('requests').selectAll().where('id', '=', request.id).executeTakeFirstOrThrow();
    for (let i = 0; i < 40 && !FINAL.includes(final.state); i++) {
      // The outbox's backoff is a row: move the clock past it.
      sb.clock.advance(15 * 60_000);
      await new Promise((resolve) => setTimeout(resolve, 150));
      final = await sb.service.ctx.db.selectFrom('requests').selectAll().where('id', '=', request.id).executeTakeFirstOrThrow();
    }
    expect([final.state, final.outcome]).toEqual(['escalated', 'escalated']);
    await sb.waitForDelivered(request.id);
    const notes = agentNotes(ticket);
    expect(notes.some((n) => n.internal && n.text.includes('could not deliver the internal note'))).toBe(true);
    expect(notes.some((n) => n.customer)).toBe(false);
    expect(groupsOf('contoso', 'christie.cline@contoso.example')).not.toContain('SG-App-Zendesk');
  });
});

describe('never silent in the outbox (defect 5)', () => {
  it('gives up, with a note of its own, on a message whose deliveries keep running out', async () => {
    const upn = 'patti.fernandez@contoso.example';
    sb.emulators.connectwise.addFault({ status: 503, count: 1000, method: 'POST', pathContains: '/notes' });
    const ticket = await sb.openTicket('contoso', upn, 'May I have Zendesk?');
    const request = await sb.requestForTicket(ticket);
    await waitForPlan(request.id);
    const worker = sb.service.worker!;
    await worker.stop();
    try {
      // Eight deliveries were claimed and never finished (their workers died mid-post).
      const past = new Date(sb.clock.now().getTime() - 60_000);
      await sb.service.ctx.db
        .updateTable('outbox')
        .set({ attempts: 8, lease_until: past, next_attempt_at: past })
        .where('idempotency_key', '=', `${request.id}:note`)
        .execute();
      sb.emulators.connectwise.clearFaults();
    } finally {
      await worker.start();
    }
    const final = await sb.waitForRequest(request.id, FINAL, 30_000);
    await sb.waitForDelivered(request.id);
    expect([final.state, final.outcome]).toEqual(['escalated', 'escalated']);
    const note = await sb.service.ctx.db.selectFrom('outbox').select(['status', 'last_error']).where('idempotency_key', '=', `${request.id}:note`).executeTakeFirstOrThrow();
    expect(note.status).toBe('failed');
    expect(agentNotes(ticket).some((n) => n.internal && n.text.includes('without ever finishing'))).toBe(true);
    expect(agentNotes(ticket).some((n) => n.customer)).toBe(false);
  });
});

async function waitForPlan(requestId: string) {
  for (let i = 0; i < 400; i++) {
    const plan = await sb.service.ctx.db.selectFrom('plans').selectAll().where('request_id', '=', requestId).executeTakeFirst();
    if (plan) return plan;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`request ${requestId} was never planned`);
}
