import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ProposedPlan } from '../src/core/plan.ts';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { FINAL } from '../src/demo/stories.ts';
import { requiredGrants } from '../src/integrations/m365/requirements.ts';
import { silentLogger } from '../src/logger.ts';
import { BuiltinPlanner } from '../src/planner/builtin.ts';
import type { Planner, PlannerInput } from '../src/planner/types.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * Roles and hybrid tenants (issue 9, point 4), through the real service, the ConnectWise emulator
 * and the Graph emulator: a password reset the app's service principal has no Entra role for, an
 * account synced from an on-premises Active Directory, a default MFA phone that cannot be deleted,
 * a role-assignable group. Each ends as Graph's refusal explained (what is missing and the fix) with
 * an honest reply, never a retry; the default phone ends `executed` in part, the note and the reply
 * naming the method that remains.
 */

/** The built-in planner, plus a fixed one-step plan on request: `[probe:step <tool> <group?>]`. */
class ProbePlanner implements Planner {
  readonly name = 'builtin';
  private readonly inner = new BuiltinPlanner();

  async plan(input: PlannerInput): Promise<ProposedPlan> {
    const probe = /\[probe:step (m365\.\w+)(?: ([\w-]+))?\]/.exec(input.request.text);
    if (!probe) return this.inner.plan(input);
    const args: Record<string, string> = { user: input.requesterEmail, ...(probe[2] ? { group: probe[2] } : {}) };
    return { outcome: 'plan', summary: `${probe[1]} for the requester.`, reasons: ['a fixed plan for the test'], steps: [{ tool: probe[1]!, args, resolved: {}, reason: 'asked for it' }] };
  }
}

let sb: Sandbox;
const TECHNICIAN = 'tom.rivera@northwind-it.example';
const ADMIN = 'ava.chen@northwind-it.example';
let contosoM365 = '';

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger, planner: new ProbePlanner() });
  const { body } = await sb.api<{ integrations: { id: string; kind: string; client: { slug: string } | null }[] }>('GET', '/api/integrations', { token: await sb.tokenFor(ADMIN) });
  contosoM365 = body.integrations.find((i) => i.kind === 'm365' && i.client?.slug === 'contoso')!.id;
  // A technician's approval only: the manager's is another story.
  for (const tool of ['m365.reset_password', 'm365.reset_mfa', 'm365.add_user_to_group']) {
    const response = await sb.api('PUT', `/api/integrations/${contosoM365}/policies/${tool}`, { token: await sb.tokenFor(ADMIN), body: { policy: 'approval_needed', requireManagerApproval: false } });
    expect(response.status).toBe(200);
  }
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

afterEach(() => {
  sb.emulators.graph.setGrants('contoso', requiredGrants());
});

function agentNotes(ticket: number) {
  const view = sb.emulators.connectwise.tickets().find((t) => t.ticket['id'] === ticket);
  return (view?.notes ?? [])
    .filter((n) => (n['member'] as { identifier?: string } | undefined)?.identifier === 'deskhand')
    .map((n) => ({ text: String(n['text']), internal: n['internalAnalysisFlag'] === true, customer: n['detailDescriptionFlag'] === true }));
}

const user = (upn: string) => sb.emulators.graph.tenant('contoso').users.find((u) => u.userPrincipalName === upn)!;

/** Opens a ticket, approves its plan as a technician, and waits for the end and its messages. */
async function approvedStory(upn: string, text: string) {
  const ticket = await sb.openTicket('contoso', upn, text);
  const request = await sb.requestForTicket(ticket);
  const waiting = await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL], 30_000);
  expect(waiting.state, waiting.last_error ?? '').toBe('awaiting_approval');
  const approval = await sb.service.ctx.db.selectFrom('approvals').select('id').where('request_id', '=', request.id).where('kind', '=', 'technician').executeTakeFirstOrThrow();
  const decided = await sb.api('POST', `/api/approvals/${approval.id}/decision`, { token: await sb.tokenFor(TECHNICIAN), body: { decision: 'approve' } });
  expect(decided.status).toBe(200);
  const final = await sb.waitForRequest(request.id, FINAL, 30_000);
  await sb.waitForDelivered(request.id);
  const steps = await sb.service.ctx.db.selectFrom('step_executions').select(['tool', 'status', 'attempts', 'error']).where('request_id', '=', request.id).execute();
  return { final, notes: agentNotes(ticket), steps };
}

function expectHonestFailure(story: Awaited<ReturnType<typeof approvedStory>>, tool: string) {
  expect([story.final.state, story.final.outcome]).toEqual(['failed', 'failed']);
  // Refused for good: one attempt, no retry.
  expect(story.steps).toEqual([expect.objectContaining({ tool, status: 'failed', attempts: 1 })]);
  const failure = story.notes.find((n) => n.internal && n.text.includes('could not finish'));
  expect(failure?.text).toContain(tool);
  const reply = story.notes.find((n) => n.customer);
  expect(reply?.text).toContain('could not finish it automatically');
  expect(reply?.text).toContain('Nothing was changed');
  return failure!.text;
}

describe('an app without the Entra role a password reset needs', () => {
  it('fails the reset at once, naming User Administrator and how to assign it, with an honest reply', async () => {
    sb.emulators.graph.setGrants('contoso', { roles: [] });
    const upn = 'pradeep.gupta@contoso.example';
    const story = await approvedStory(upn, 'I forgot my password [probe:step m365.reset_password]');
    const note = expectHonestFailure(story, 'm365.reset_password');
    expect(note).toContain('User Administrator');
    expect(note).toContain("assign the Entra role User Administrator to the app's service principal");
    expect(note).toContain('Authorization_RequestDenied');
    expect(user(upn).passwordResets).toBe(0);
  });

  it("names Privileged Authentication Administrator for an administrator's password, and its risk", async () => {
    const upn = 'diego.siciliani@contoso.example';
    const story = await approvedStory(upn, 'I forgot my password [probe:step m365.reset_password]');
    const note = expectHonestFailure(story, 'm365.reset_password');
    expect(note).toContain('is an administrator (a member of the role-assignable group SG-Admins-Privileged)');
    expect(note).toContain('Privileged Authentication Administrator');
    expect(note).toContain("can reset any user's credentials");
    expect(user(upn).passwordResets).toBe(0);
  });
});

describe('a user synced from on-premises Active Directory', () => {
  it('fails the reset with "change it there", never retried', async () => {
    const upn = 'adele.vance@contoso.example';
    const story = await approvedStory(upn, 'I forgot my password [probe:step m365.reset_password]');
    const note = expectHonestFailure(story, 'm365.reset_password');
    expect(note).toContain("synced from the client's on-premises Active Directory");
    expect(note).toContain('reset the password there');
    expect(note).toContain('on-premises mastered Directory Sync objects');
    expect(user(upn).passwordResets).toBe(0);
  });

  it("escalates a change to a synced group's members at diagnosis, before anyone is asked to approve it", async () => {
    const upn = 'isaiah.langer@contoso.example';
    const ticket = await sb.openTicket('contoso', upn, 'The F: drive please [probe:step m365.add_user_to_group SG-Finance-Share]');
    const request = await sb.requestForTicket(ticket);
    const final = await sb.waitForRequest(request.id, FINAL, 30_000);
    await sb.waitForDelivered(request.id);
    expect([final.state, final.outcome]).toEqual(['escalated', 'escalated']);
    const approvals = await sb.service.ctx.db.selectFrom('approvals').select('id').where('request_id', '=', request.id).execute();
    expect(approvals).toEqual([]);
    const note = agentNotes(ticket).find((n) => n.internal && n.text.includes('SG-Finance-Share is synchronized from the on-premises directory'));
    expect(note?.text).toContain('must be changed in on-premises Active Directory');
    expect(user(upn).groups).not.toContain('SG-Finance-Share');
    expect(sb.emulators.graph.requests().filter((r) => r.method !== 'GET' && r.path.includes('/members'))).toEqual([]);
  });
});

describe('a role-assignable group', () => {
  it('is refused without RoleManagement.ReadWrite.Directory, and the note says so', async () => {
    const upn = 'joni.sherman@contoso.example';
    const story = await approvedStory(upn, 'Admin group please [probe:step m365.add_user_to_group SG-Admins-Privileged]');
    const note = expectHonestFailure(story, 'm365.add_user_to_group');
    expect(note).toContain('SG-Admins-Privileged is a role-assignable group');
    expect(note).toContain('RoleManagement.ReadWrite.Directory');
    expect(user(upn).groups).not.toContain('SG-Admins-Privileged');
  });
});

describe('a default MFA phone method', () => {
  it('removes the other methods and ends executed, the note and the reply naming the phone that remains', async () => {
    const upn = 'lynne.robbins@contoso.example';
    const story = await approvedStory(upn, 'New phone, the authenticator is gone [probe:step m365.reset_mfa]');
    expect([story.final.state, story.final.outcome]).toEqual(['replied', 'executed']);
    expect(story.steps).toEqual([expect.objectContaining({ tool: 'm365.reset_mfa', status: 'succeeded', attempts: 1 })]);
    expect(user(upn).authMethods.map((m) => m.type)).toEqual(['passwordAuthenticationMethod', 'phoneAuthenticationMethod']);
    const note = story.notes.find((n) => n.internal && n.text.includes('could only be done in part'));
    expect(note?.text).toContain('m365.reset_mfa');
    expect(note?.text).toContain('the phone method stays registered');
    const reply = story.notes.find((n) => n.customer);
    expect(reply?.text).toContain('Partly done');
    expect(reply?.text).toContain('the phone method stays registered');
    expect(reply?.text).toContain('default sign-in method');
  });
});
