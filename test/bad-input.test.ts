import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProposedPlan } from '../src/core/plan.ts';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { FINAL } from '../src/demo/stories.ts';
import { silentLogger } from '../src/logger.ts';
import { BuiltinPlanner } from '../src/planner/builtin.ts';
import type { Planner, PlannerInput } from '../src/planner/types.ts';
import { createUser } from '../src/store/users.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * Bad input gets a clear error and changes nothing: forged and malformed webhooks, plans that name
 * unknown or disabled tools or bad arguments, approvals of another MSP, by the wrong role, twice,
 * for another plan, and one's own.
 */

/** Stands in for a planner gone wrong (an LLM inventing tools): its plans must never run. */
class ScriptedPlanner implements Planner {
  readonly name = 'scripted';
  private readonly builtin = new BuiltinPlanner();
  constructor(private readonly scripts: Map<string, (input: PlannerInput) => ProposedPlan>) {}
  async plan(input: PlannerInput): Promise<ProposedPlan> {
    for (const [marker, script] of this.scripts) if (input.request.text.includes(marker)) return script(input);
    return this.builtin.plan(input);
  }
}

const rogue = new Map<string, (input: PlannerInput) => ProposedPlan>([
  ['ROGUE-UNKNOWN-TOOL', (i) => plan([{ tool: 'm365.delete_tenant', args: { user: i.requesterEmail } }])],
  ['ROGUE-BAD-ARGS', () => plan([{ tool: 'm365.add_user_to_group', args: { user: 'not an email', group: 'SG-App-Zendesk' } }])],
  ['ROGUE-NO-GROUP', (i) => plan([{ tool: 'm365.add_user_to_group', args: { user: i.requesterEmail, group: 'SG-Does-Not-Exist' } }])],
  ['ROGUE-READ-AS-WRITE', (i) => plan([{ tool: 'm365.get_user', args: { user: i.requesterEmail } }])],
  ['ROGUE-DISABLED', (i) => plan([{ tool: 'm365.disable_account', args: { user: i.requesterEmail } }])],
]);

function plan(steps: { tool: string; args: Record<string, string> }[]): ProposedPlan {
  return { outcome: 'plan', summary: 'scripted', reasons: ['scripted for a test'], steps: steps.map((s) => ({ ...s, resolved: {}, reason: 'scripted' })) };
}

let sb: Sandbox;
let webhookUrl: string;
const TOM = 'tom.rivera@northwind-it.example';

async function requestCount(): Promise<number> {
  const row = await sb.service.ctx.db.selectFrom('requests').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

async function openAndSettle(client: string, email: string, text: string, states = ['awaiting_approval', ...FINAL]) {
  const ticket = await sb.openTicket(client, email, text);
  const request = await sb.requestForTicket(ticket);
  const row = await sb.waitForRequest(request.id, states);
  await sb.waitForDelivered(row.id);
  return { ticket, row: await sb.waitForRequest(row.id, () => true) };
}

async function pendingApprovalOf(requestId: string): Promise<{ id: string; planHash: string }> {
  const { body } = await sb.api<{ approvals: { id: string; requestId: string; planHash: string; kind: string }[] }>('GET', '/api/approvals', { token: await sb.tokenFor(TOM) });
  const found = body.approvals.find((a) => a.requestId === requestId && a.kind === 'technician');
  if (!found) throw new Error('no pending approval');
  return found;
}

async function contosoIdentityIntegration(): Promise<string> {
  const row = await sb.service.ctx.db
    .selectFrom('integrations')
    .innerJoin('clients', 'clients.id', 'integrations.client_id')
    .select('integrations.id')
    .where('clients.slug', '=', 'contoso')
    .where('integrations.kind', '=', 'm365')
    .executeTakeFirstOrThrow();
  return row.id;
}

function userId(upn: string): string {
  return sb.emulators.graph.tenant('contoso').users.find((u) => u.userPrincipalName === upn)!.id;
}

function agentNotes(ticket: number) {
  const view = sb.emulators.connectwise.tickets().find((t) => t.ticket['id'] === ticket);
  return (view?.notes ?? []).filter((n) => (n['member'] as { identifier?: string } | undefined)?.identifier === 'deskhand');
}

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger, planner: new ScriptedPlanner(rogue) });
  const row = await sb.service.ctx.db.selectFrom('integrations').selectAll().where('kind', '=', 'connectwise').where('msp_id', '=', 'northwind').executeTakeFirstOrThrow();
  webhookUrl = `${sb.service.url}/webhooks/connectwise/${row.id}/${sb.service.ctx.integrations.secretsOf(row)['webhookSecret']}`;
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

describe('webhooks', () => {
  it('refuses a callback with a forged signature (401) and creates nothing', async () => {
    const before = await requestCount();
    const forged = await sb.emulators.connectwise.forgeCallback({ url: webhookUrl, signature: 'invalid', action: 'added' });
    expect(forged.status).toBe(401);
    expect(forged.responseBody).toContain('signature');
    const unsigned = await sb.emulators.connectwise.forgeCallback({ url: webhookUrl, signature: 'none', action: 'added' });
    expect(unsigned.status).toBe(401);
    expect(await requestCount()).toBe(before);
  });

  it('never fetches a signing key from a host other than the configured ConnectWise site', async () => {
    let hits = 0;
    const attacker: Server = createServer((_req, res) => {
      hits++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ signing_key: 'attacker-key' }));
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    const port = (attacker.address() as AddressInfo).port;
    try {
      const before = await requestCount();
      const result = await sb.emulators.connectwise.forgeCallback({
        url: webhookUrl,
        signature: 'valid',
        signingKey: 'attacker-key',
        keyUrl: `http://127.0.0.1:${port}/v4_6_release/system/callbackkey/index.rails?companyName=northwind&id=x`,
      });
      expect(result.status).toBe(401);
      expect(hits).toBe(0);
      expect(await requestCount()).toBe(before);
    } finally {
      attacker.close();
    }
  });

  it('answers 400 to a malformed body and 401 to an unknown URL, changing nothing', async () => {
    const before = await requestCount();
    const malformed = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"Action": "added", "ID": ' });
    expect(malformed.status).toBe(400);
    const body = (await malformed.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('bad_request');
    const shapeless = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"hello":"world"}' });
    expect(shapeless.status).toBe(400);
    const wrongSecret = await fetch(webhookUrl.replace(/\/[^/]+$/, '/not-the-secret'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(wrongSecret.status).toBe(401);
    const unknownIntegration = await fetch(`${sb.service.url}/webhooks/connectwise/00000000-0000-4000-8000-000000000000/x`, { method: 'POST', body: '{}' });
    expect(unknownIntegration.status).toBe(401);
    expect(await requestCount()).toBe(before);
  });

  it('ignores the agent\'s own changes and a retried delivery of the same ticket', async () => {
    const { ticket, row } = await openAndSettle('contoso', 'lidia.holloway@contoso.example', 'Can I have Zendesk, please?', FINAL);
    expect(row.state).toBe('replied');
    const before = await requestCount();
    // The agent's notes fired `updated` callbacks: none started a request. A replayed `added` is the same request.
    const replay = await sb.emulators.connectwise.forgeCallback({ url: webhookUrl, signature: 'valid', ticketId: ticket, action: 'added', companyId: 'northwind', memberId: 'portal' });
    expect(replay.status).toBe(202);
    expect(JSON.parse(replay.responseBody)).toMatchObject({ accepted: true, duplicate: true, requestId: row.id });
    const own = await sb.emulators.connectwise.forgeCallback({ url: webhookUrl, signature: 'valid', ticketId: ticket, action: 'added', companyId: 'northwind', memberId: 'deskhand' });
    expect(JSON.parse(own.responseBody)).toMatchObject({ accepted: false, reason: 'own_change' });
    expect(await requestCount()).toBe(before);
  });
});

describe('plans that must not run', () => {
  const cases: [string, string, RegExp][] = [
    ['ROGUE-UNKNOWN-TOOL', 'an unknown tool', /m365\.delete_tenant/],
    ['ROGUE-BAD-ARGS', 'arguments out of schema', /user/],
    ['ROGUE-NO-GROUP', 'a group that does not exist', /SG-Does-Not-Exist/],
    ['ROGUE-READ-AS-WRITE', 'a read tool as a step', /m365\.get_user/],
  ];
  for (const [marker, what, problem] of cases) {
    it(`escalates with a note a plan with ${what}, and runs nothing`, async () => {
      const graphCallsBefore = sb.emulators.graph.requests().filter((r) => r.method !== 'GET').length;
      const { ticket, row } = await openAndSettle('contoso', 'alex.wilber@contoso.example', `Please help ${marker}`, FINAL);
      expect([row.state, row.outcome]).toEqual(['escalated', 'escalated']);
      const notes = agentNotes(ticket);
      expect(notes).toHaveLength(1);
      expect(notes[0]!['internalAnalysisFlag']).toBe(true);
      expect(String(notes[0]!['text'])).toContain('rejected by validation');
      expect(String(notes[0]!['text'])).toMatch(problem);
      const story = await sb.api<{ plan: { rejectedProblems: string[]; steps: unknown[] }; approvals: unknown[] }>('GET', `/api/requests/${row.id}`, { token: await sb.tokenFor(TOM) });
      expect(story.body.plan.steps).toEqual([]);
      expect(story.body.plan.rejectedProblems.join(' ')).toMatch(problem);
      expect(story.body.approvals).toEqual([]);
      expect(sb.emulators.graph.requests().filter((r) => r.method !== 'GET').length).toBe(graphCallsBefore);
    });
  }

  it('never offers or runs a disabled tool, whatever the planner says', async () => {
    const admin = await sb.tokenFor('ava.chen@northwind-it.example');
    const integration = await contosoIdentityIntegration();
    expect((await sb.api('PUT', `/api/integrations/${integration}/policies/m365.disable_account`, { token: admin, body: { policy: 'disabled' } })).status).toBe(200);
    try {
      const { ticket, row } = await openAndSettle('contoso', 'allan.deyoung@contoso.example', 'Please ROGUE-DISABLED', FINAL);
      expect(row.state).toBe('escalated');
      expect(String(agentNotes(ticket)[0]!['text'])).toMatch(/m365\.disable_account/);
      expect(String(agentNotes(ticket)[0]!['text'])).toMatch(/disabled|not offered|not allowed/i);
      expect(sb.emulators.graph.requests().some((r) => r.method === 'PATCH' && r.path.includes(userId('allan.deyoung@contoso.example')))).toBe(false);
    } finally {
      await sb.api('PUT', `/api/integrations/${integration}/policies/m365.disable_account`, { token: admin, body: { policy: 'approval_needed' } });
    }
  });

  it("applies the fixture's policies: Litware disables m365.disable_account", async () => {
    const rosa = await sb.tokenFor('rosa.diaz@woodgrove-tp.example');
    const { body } = await sb.api<{ integrations: { id: string; kind: string; client: { slug: string } | null }[] }>('GET', '/api/integrations', { token: rosa });
    const litware = body.integrations.find((i) => i.kind === 'm365' && i.client?.slug === 'litware');
    const policies = await sb.api<{ tools: { tool: string; policy: string }[] }>('GET', `/api/integrations/${litware!.id}/policies`, { token: rosa });
    expect(policies.body.tools.find((t) => t.tool === 'm365.disable_account')?.policy).toBe('disabled');
    expect(policies.body.tools.find((t) => t.tool === 'm365.get_user')?.policy).toBe('auto');
    expect(policies.body.tools.find((t) => t.tool === 'm365.enable_account')?.policy).toBe('approval_needed');
  });

  it('does not execute a step whose tool was disabled after the plan was approved', async () => {
    const { row } = await openAndSettle('contoso', 'debra.berger@contoso.example', 'I need DocuSign access please');
    expect(row.state).toBe('awaiting_approval');
    const admin = await sb.tokenFor('ava.chen@northwind-it.example');
    const integration = { id: await contosoIdentityIntegration() };
    const disable = await sb.api('PUT', `/api/integrations/${integration.id}/policies/m365.add_user_to_group`, { token: admin, body: { policy: 'disabled' } });
    expect(disable.status).toBe(200);
    try {
      const approval = await pendingApprovalOf(row.id);
      const decided = await sb.api('POST', `/api/approvals/${approval.id}/decision`, { token: await sb.tokenFor(TOM), body: { decision: 'approve' } });
      expect(decided.status).toBe(200);
      const final = await sb.waitForRequest(row.id, FINAL);
      // Before its first step: escalated with a note, nothing run (DESIGN: the lifecycle).
      expect([final.state, final.outcome]).toEqual(['escalated', 'escalated']);
      const debra = sb.emulators.graph.tenant('contoso').users.find((u) => u.userPrincipalName === 'debra.berger@contoso.example');
      expect(debra?.groups).not.toContain('SG-App-DocuSign');
    } finally {
      await sb.api('PUT', `/api/integrations/${integration.id}/policies/m365.add_user_to_group`, { token: admin, body: { policy: 'approval_needed' } });
    }
  });
});

describe('approvals', () => {
  let requestId: string;
  let approval: { id: string; planHash: string };

  beforeAll(async () => {
    const { row } = await openAndSettle('contoso', 'pradeep.gupta@contoso.example', 'Can I have Figma access?');
    expect(row.state).toBe('awaiting_approval');
    requestId = row.id;
    approval = await pendingApprovalOf(requestId);
  });

  async function status(): Promise<string> {
    const row = await sb.service.ctx.db.selectFrom('approvals').select('status').where('id', '=', approval.id).executeTakeFirstOrThrow();
    return row.status;
  }

  it('answers 401 without credentials and with a bad token', async () => {
    expect((await sb.api('GET', '/api/approvals')).status).toBe(401);
    expect((await sb.api('GET', '/api/approvals', { token: 'dh_not-a-token' })).status).toBe(401);
    expect((await sb.api('POST', `/api/approvals/${approval.id}/decision`, { body: { decision: 'approve' } })).status).toBe(401);
    expect(await status()).toBe('pending');
  });

  it("answers 404 for another MSP's approval and request", async () => {
    const rosa = await sb.tokenFor('rosa.diaz@woodgrove-tp.example');
    expect((await sb.api('POST', `/api/approvals/${approval.id}/decision`, { token: rosa, body: { decision: 'approve' } })).status).toBe(404);
    expect((await sb.api('GET', `/api/approvals/${approval.id}`, { token: rosa })).status).toBe(404);
    expect((await sb.api('GET', `/api/requests/${requestId}`, { token: rosa })).status).toBe(404);
    const list = await sb.api<{ approvals: { id: string }[] }>('GET', '/api/approvals', { token: rosa });
    expect(list.body.approvals.map((a) => a.id)).not.toContain(approval.id);
    expect(await status()).toBe('pending');
  });

  it('answers 403 to a role that may not approve (msp_billing)', async () => {
    const ben = await sb.tokenFor('ben.okafor@northwind-it.example');
    const result = await sb.api<{ error: { code: string; message: string } }>('POST', `/api/approvals/${approval.id}/decision`, { token: ben, body: { decision: 'approve' } });
    expect(result.status).toBe(403);
    expect(result.body.error.message).toContain('msp_technician');
    expect((await sb.api('GET', `/api/approvals/${approval.id}`, { token: ben })).status).toBe(200);
    expect(await status()).toBe('pending');
  });

  it('answers 400 to a malformed decision', async () => {
    const tom = await sb.tokenFor(TOM);
    expect((await sb.api('POST', `/api/approvals/${approval.id}/decision`, { token: tom, body: { decision: 'maybe' } })).status).toBe(400);
    expect((await sb.api('POST', `/api/approvals/not-a-uuid/decision`, { token: tom, body: { decision: 'approve' } })).status).toBe(400);
    expect(await status()).toBe('pending');
  });

  it('answers 400 to a decision whose comment holds a NUL character, and decides nothing', async () => {
    const tom = await sb.tokenFor(TOM);
    const result = await sb.api<{ error: { code: string; message: string } }>('POST', `/api/approvals/${approval.id}/decision`, { token: tom, body: { decision: 'approve', comment: 'fine\u0000by me' } });
    expect(result.status).toBe(400);
    expect(result.body.error.message).toMatch(/comment.*NUL/);
    expect(await status()).toBe('pending');
  });

  it('answers 409 when the plan the technician reviewed is not the plan awaiting approval', async () => {
    const tom = await sb.tokenFor(TOM);
    const result = await sb.api<{ error: { code: string } }>('POST', `/api/approvals/${approval.id}/decision`, { token: tom, body: { decision: 'approve', planHash: 'f'.repeat(64) } });
    expect(result.status).toBe(409);
    expect(await status()).toBe('pending');
  });

  it('approves once; deciding again answers 409 and runs nothing twice', async () => {
    const tom = await sb.tokenFor(TOM);
    const first = await sb.api('POST', `/api/approvals/${approval.id}/decision`, { token: tom, body: { decision: 'approve', planHash: approval.planHash, comment: 'ok' } });
    expect(first.status).toBe(200);
    const final = await sb.waitForRequest(requestId, FINAL);
    expect(final.outcome).toBe('executed');
    const again = await sb.api<{ error: { message: string } }>('POST', `/api/approvals/${approval.id}/decision`, { token: tom, body: { decision: 'deny' } });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toContain('already approved');
    const steps = await sb.service.ctx.db.selectFrom('step_executions').select('status').where('request_id', '=', requestId).execute();
    expect(steps.map((s) => s.status)).toEqual(['succeeded']);
    const story = await sb.api<{ approvals: { decidedBy: string; comment: string }[]; audit: { event: string }[] }>('GET', `/api/requests/${requestId}`, { token: tom });
    expect(story.body.approvals[0]).toMatchObject({ comment: 'ok' });
    expect(story.body.approvals[0]!.decidedBy).toContain(TOM);
    expect(story.body.audit.map((a) => a.event)).toContain('approval.decision_refused');
  });

  it('refuses that anyone approves their own request (403)', async () => {
    await createUser(sb.service.ctx.db, { mspId: 'northwind', email: 'henrietta.mueller@contoso.example', name: 'Henrietta (also on the MSP team)', role: 'msp_technician', at: new Date() });
    const { row } = await openAndSettle('contoso', 'henrietta.mueller@contoso.example', 'Could you give me Zendesk access?');
    const own = await pendingApprovalOf(row.id);
    const result = await sb.api('POST', `/api/approvals/${own.id}/decision`, { token: await sb.tokenFor('henrietta.mueller@contoso.example'), body: { decision: 'approve' } });
    expect(result.status).toBe(403);
    const still = await sb.service.ctx.db.selectFrom('approvals').select('status').where('id', '=', own.id).executeTakeFirstOrThrow();
    expect(still.status).toBe('pending');
  });

  it('answers 404 to a manager link with a forged signature', async () => {
    const forged = await fetch(`${sb.service.url}/approvals/manager/${approval.id}.secret.signature`);
    expect(forged.status).toBe(404);
    const post = await fetch(`${sb.service.url}/approvals/manager/${approval.id}.secret.signature`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=approve' });
    expect(post.status).toBe(404);
  });
});

describe('malformed input answers 400, never 500', () => {
  const NIL = '00000000-0000-4000-8000-000000000000';

  async function send(method: string, path: string, init: { token?: string; headers?: Record<string, string>; body?: string } = {}) {
    const response = await fetch(`${sb.service.url}${path}`, {
      method,
      headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
      body: init.body,
    });
    const text = await response.text();
    return { status: response.status, text };
  }

  it('ignores a cookie whose value is not valid percent-encoding, on every route (/healthz included)', async () => {
    const health = await send('GET', '/healthz', { headers: { cookie: 'x=%zz' } });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.text)).toEqual({ status: 'ok' });
    expect((await send('GET', '/api/me', { headers: { cookie: 'x=%zz; deskhand_session=%E0%A4%A' } })).status).toBe(401);
    const session = await fetch(`${sb.service.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: TOM, password: 'deskhand-demo' }) });
    const cookie = session.headers.get('set-cookie')!.split(';')[0]!;
    const me = await send('GET', '/api/me', { headers: { cookie: `x=%zz; ${cookie}; y=%` } });
    expect(me.status).toBe(200);
    expect(JSON.parse(me.text)).toMatchObject({ user: { email: TOM } });
  });

  it('answers 400 to a NUL character in a query parameter', async () => {
    const tom = await sb.tokenFor(TOM);
    for (const query of ['state=%00', 'client=contoso%00', 'status=pending%00']) {
      const path = query.startsWith('status') ? `/api/approvals?${query}` : `/api/requests?${query}`;
      const result = await send('GET', path, { token: tom });
      expect(result.status, `${path}: ${result.text}`).toBe(400);
      expect(result.text).toMatch(/NUL/);
    }
  });

  it('answers 400 to a NUL character in the sign-in email or password, with no cookie', async () => {
    for (const body of [{ email: 'tom.rivera@northwind-it.example\u0000', password: 'deskhand-demo' }, { email: TOM, password: 'deskhand-demo\u0000' }]) {
      const response = await fetch(`${sb.service.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(response.status).toBe(400);
      expect(await response.text()).toMatch(/NUL/);
      expect(response.headers.get('set-cookie')).toBeNull();
    }
  });

  it('answers 400 to an integer out of range in a path', async () => {
    const tom = await sb.tokenFor(TOM);
    const id = (await sb.service.ctx.db.selectFrom('requests').select('id').where('msp_id', '=', 'northwind').executeTakeFirstOrThrow()).id;
    for (const index of ['2147483648', '99999999999', '9007199254740993', '1e3', '-1', '0x10']) {
      const result = await send('POST', `/api/requests/${id}/steps/${index}/temporary-password`, { token: tom });
      expect(result.status, `${index}: ${result.text}`).toBe(400);
    }
    expect((await send('POST', `/api/requests/${id}/steps/2147483647/temporary-password`, { token: tom })).status).toBe(404);
  });

  it('answers a manager link holding a NUL character, or a comment with one, with 400 and decides nothing', async () => {
    const { row } = await openAndSettle('contoso', 'isaiah.langer@contoso.example', 'I forgot my password and cannot sign in.');
    expect(row.state).toBe('awaiting_approval');
    const links = sb.emulators.graph.mail().flatMap((m) => m.content.match(/https?:\/\/\S+\/approvals\/manager\/\S+/g) ?? []);
    const manager = await sb.service.ctx.db.selectFrom('approvals').select(['id', 'status']).where('request_id', '=', row.id).where('kind', '=', 'manager').executeTakeFirstOrThrow();
    const link = new URL(links.find((l) => l.includes(manager.id))!).pathname;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expect((await send('GET', `${link}%00`)).status).toBe(400);
    expect((await send('POST', link, { headers: form, body: 'decision=approve&comment=ok%00' })).status).toBe(400);
    expect((await send('POST', `${link}%00`, { headers: form, body: 'decision=approve' })).status).toBe(400);
    // A comment that is not text is refused, not ignored (found by the fuzz suite).
    const typeConfused = await send('POST', link, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ decision: 'approve', comment: [[]] }) });
    expect(typeConfused.status).toBe(400);
    const after = await sb.service.ctx.db.selectFrom('approvals').select('status').where('id', '=', manager.id).executeTakeFirstOrThrow();
    expect(after.status).toBe('pending');
  });

  it('answers every route of the API document with a 4xx, never 500, for NUL, out-of-range, malformed and invalid-UUID input', async () => {
    const ava = await sb.tokenFor('ava.chen@northwind-it.example');
    const doc = (await (await fetch(`${sb.service.url}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> } }>>;
    };
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method: method.toUpperCase(), op })));
    operations.push({ path: '/approvals/manager/{link}', method: 'GET', op: {} }, { path: '/approvals/manager/{link}', method: 'POST', op: {} });
    expect(operations.length).toBeGreaterThan(12);
    const badSegments = ['%00', 'a%00b', '%zz', '99999999999999999999', '2147483648', '-1', 'not-a-uuid', '00000000-0000-0000-0000-00000000000g', NIL, 'x'.repeat(290)];
    const failures: string[] = [];
    const check = async (label: string, method: string, path: string, init: { headers?: Record<string, string>; body?: string; anonymous?: boolean } = {}) => {
      const result = await send(method, path, { ...(init.anonymous ? {} : { token: ava }), ...init });
      if (result.status >= 500) failures.push(`${label} ${method} ${path.slice(0, 120)}: ${result.status} ${result.text.slice(0, 200)}`);
      return result;
    };
    for (const { path, method, op } of operations) {
      const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
      const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
      for (const bad of badSegments) {
        for (const target of params) {
          const concrete = params.reduce((p, name) => p.replace(`{${name}}`, name === target ? bad : name === 'index' ? '0' : name === 'tool' ? 'm365.get_user' : NIL), path);
          await check('path', method, concrete, { ...(body !== undefined ? { body } : {}) });
        }
      }
      const valid = params.reduce((p, name) => p.replace(`{${name}}`, name === 'index' ? '0' : name === 'tool' ? 'm365.get_user' : NIL), path);
      for (const parameter of (op.parameters ?? []).filter((p) => p.in === 'query')) {
        for (const bad of ['%00', 'x%00', '%zz', '%ED%A0%80', '99999999999999999999', '-1']) {
          const result = await check('query', method, `${valid}?${parameter.name}=${bad}`);
          if (bad.includes('%00') && result.status !== 400) failures.push(`query ${method} ${valid}?${parameter.name}=${bad}: ${result.status}, not 400`);
        }
      }
      await check('cookie', method, valid, { anonymous: true, headers: { cookie: 'x=%zz; deskhand_session=%' }, ...(body !== undefined ? { body } : {}) });
      const properties = Object.keys(op.requestBody?.content?.['application/json']?.schema?.properties ?? {});
      if (body !== undefined && properties.length > 0) {
        const nul = JSON.stringify(Object.fromEntries(properties.map((name) => [name, 'x\u0000y'])));
        const result = await check('body', method, valid, { body: nul });
        if (result.status !== 400 && result.status !== 401) failures.push(`body ${method} ${valid}: ${result.status}, not 400`);
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
