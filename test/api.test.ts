import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { FINAL } from '../src/demo/stories.ts';
import { silentLogger } from '../src/logger.ts';
import { DEMO_PASSWORD } from '../src/world/seed.ts';
import { createTestDatabase } from './support/db.ts';

/** The HTTP API as the dashboard and scripts use it: sign-in, sessions, configuration, the story. */
let sb: Sandbox;

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

/** The session and CSRF cookies as a browser sends them back, and the CSRF token for changes (x-csrf-token). */
async function signIn(email: string, password = DEMO_PASSWORD): Promise<{ status: number; cookie: string | null; csrfToken?: string }> {
  const response = await fetch(`${sb.service.url}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  const setCookies = response.headers.getSetCookie();
  const body = (await response.json()) as { csrfToken?: string };
  return { status: response.status, cookie: setCookies.length > 0 ? setCookies.map((c) => c.split(';')[0]!).join('; ') : null, ...(body.csrfToken ? { csrfToken: body.csrfToken } : {}) };
}

describe('sign-in', () => {
  it('signs a demo user in with the demo password and keeps them signed in by cookie', async () => {
    const { status, cookie } = await signIn('Tom.Rivera@northwind-it.example');
    expect(status).toBe(200);
    expect(cookie).toMatch(/^deskhand_session=/);
    const me = await fetch(`${sb.service.url}/api/me`, { headers: { cookie: cookie! } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ user: { email: 'tom.rivera@northwind-it.example', role: 'msp_technician' }, msp: { id: 'northwind' } });
  });

  it('refuses a wrong password with 401 and no cookie', async () => {
    const { status, cookie } = await signIn('tom.rivera@northwind-it.example', 'wrong-password');
    expect(status).toBe(401);
    expect(cookie).toBeNull();
  });

  it('sets an HttpOnly SameSite cookie and signs out', async () => {
    const response = await fetch(`${sb.service.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ava.chen@northwind-it.example', password: DEMO_PASSWORD }),
    });
    const header = response.headers.get('set-cookie') ?? '';
    expect(header).toContain('HttpOnly');
    expect(header).toContain('SameSite=Lax');
    const cookie = response.headers.getSetCookie().map((c) => c.split(';')[0]!).join('; ');
    const { csrfToken } = (await response.json()) as { csrfToken: string };
    const out = await fetch(`${sb.service.url}/api/session`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrfToken } });
    expect(out.status).toBe(200);
    expect((await fetch(`${sb.service.url}/api/me`, { headers: { cookie } })).status).toBe(401);
  });

  it('refuses cookie-authenticated writes that are not JSON (cross-site forms)', async () => {
    const { cookie, csrfToken } = await signIn('ava.chen@northwind-it.example');
    const response = await fetch(`${sb.service.url}/api/msp`, {
      method: 'PATCH',
      headers: { cookie: cookie!, 'x-csrf-token': csrfToken!, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'defaultOperatingMode=plan',
    });
    expect([400, 415]).toContain(response.status);
    const msp = await sb.service.ctx.db.selectFrom('msps').select('default_operating_mode').where('id', '=', 'northwind').executeTakeFirstOrThrow();
    expect(msp.default_operating_mode).toBe('execute');
  });
});

describe('the OpenAPI document', () => {
  it('describes the routes from their schemas', async () => {
    const response = await fetch(`${sb.service.url}/api/openapi.json`);
    expect(response.status).toBe(200);
    const doc = (await response.json()) as { openapi: string; paths: Record<string, Record<string, { requestBody?: unknown }>> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/requests', '/api/requests/{id}', '/api/approvals', '/api/approvals/{id}/decision', '/healthz']));
    expect(JSON.stringify(doc.paths['/api/approvals/{id}/decision']?.['post']?.requestBody)).toContain('approve');
  });

  it('answers /healthz', async () => {
    expect(await (await fetch(`${sb.service.url}/healthz`)).json()).toEqual({ status: 'ok' });
  });
});

describe('operating modes and policies', () => {
  it('lets only an msp_admin change them, and a client switched to Plan Mode only gets a note', async () => {
    const tom = await sb.tokenFor('tom.rivera@northwind-it.example');
    const ava = await sb.tokenFor('ava.chen@northwind-it.example');
    const { body } = await sb.api<{ mspDefaultOperatingMode: string; clients: { id: string; slug: string; operatingMode: string; effectiveOperatingMode: string; inherited: boolean }[] }>('GET', '/api/clients', { token: tom });
    expect(body.mspDefaultOperatingMode).toBe('execute');
    const contoso = body.clients.find((c) => c.slug === 'contoso')!;
    expect(contoso).toMatchObject({ operatingMode: 'inherit', effectiveOperatingMode: 'execute', inherited: true });
    expect((await sb.api('PATCH', `/api/clients/${contoso.id}`, { token: tom, body: { operatingMode: 'plan' } })).status).toBe(403);
    expect((await sb.api('PATCH', `/api/clients/${contoso.id}`, { token: ava, body: { operatingMode: 'sideways' } })).status).toBe(400);
    expect((await sb.api('PATCH', '/api/msp', { token: ava, body: { defaultOperatingMode: 'plan' } })).status).toBe(200);
    try {
      const ticket = await sb.openTicket('contoso', 'megan.bowen@contoso.example', 'I stayed signed in on a shared computer, please sign me out everywhere.');
      const request = await sb.requestForTicket(ticket);
      const final = await sb.waitForRequest(request.id, FINAL);
      expect([final.state, final.outcome]).toEqual(['planned', 'planned']);
      expect(sb.emulators.graph.tenant('contoso').users.find((u) => u.userPrincipalName === 'megan.bowen@contoso.example')?.sessionRevocations).toBe(0);
      await sb.waitForDelivered(final.id);
      const notes = sb.emulators.connectwise.tickets().find((t) => t.ticket['id'] === ticket)!.notes.filter((n) => (n['member'] as { identifier?: string }).identifier === 'deskhand');
      expect(notes).toHaveLength(1);
      expect(String(notes[0]!['text'])).toContain('auto: runs without approval');
    } finally {
      await sb.api('PATCH', '/api/msp', { token: ava, body: { defaultOperatingMode: 'execute' } });
    }
  });

  it('refuses manager approval without approval_needed, and tools of other integrations', async () => {
    const ava = await sb.tokenFor('ava.chen@northwind-it.example');
    const { body } = await sb.api<{ integrations: { id: string; kind: string; client: { slug: string } | null }[] }>('GET', '/api/integrations', { token: ava });
    const m365 = body.integrations.find((i) => i.kind === 'm365' && i.client?.slug === 'contoso')!;
    expect((await sb.api('PUT', `/api/integrations/${m365.id}/policies/m365.revoke_sessions`, { token: ava, body: { policy: 'auto', requireManagerApproval: true } })).status).toBe(400);
    expect((await sb.api('PUT', `/api/integrations/${m365.id}/policies/slack.post_message`, { token: ava, body: { policy: 'auto' } })).status).toBe(400);
    const billing = await sb.tokenFor('ben.okafor@northwind-it.example');
    expect((await sb.api('PUT', `/api/integrations/${m365.id}/policies/m365.revoke_sessions`, { token: billing, body: { policy: 'disabled' } })).status).toBe(403);
    const raw = JSON.stringify(body);
    expect(raw).not.toMatch(/clientSecret|privateKey|webhookSecret|secrets_encrypted/);
  });

  it('refuses auto for a tool whose result is a secret for the approving technician (m365.reset_password), changing nothing', async () => {
    const ava = await sb.tokenFor('ava.chen@northwind-it.example');
    const { body } = await sb.api<{ integrations: { id: string; kind: string; client: { slug: string } | null }[] }>('GET', '/api/integrations', { token: ava });
    const m365 = body.integrations.find((i) => i.kind === 'm365' && i.client?.slug === 'contoso')!;
    const policyOf = async () =>
      (await sb.api<{ tools: { tool: string; policy: string; requireManagerApproval: boolean }[] }>('GET', `/api/integrations/${m365.id}/policies`, { token: ava })).body.tools.find(
        (t) => t.tool === 'm365.reset_password',
      );
    const before = await policyOf();
    expect(before).toMatchObject({ policy: 'approval_needed', requireManagerApproval: true });
    const auditBefore = await sb.service.ctx.db.selectFrom('audit_log').select('seq').where('event', '=', 'policy.changed').execute();
    const refused = await sb.api<{ error: { code: string; message: string } }>('PUT', `/api/integrations/${m365.id}/policies/m365.reset_password`, { token: ava, body: { policy: 'auto' } });
    expect([400, 422]).toContain(refused.status);
    expect(refused.body.error.message).toMatch(/m365\.reset_password cannot be auto/);
    expect(refused.body.error.message).toMatch(/approving technician/);
    expect(await policyOf()).toEqual(before);
    expect(await sb.service.ctx.db.selectFrom('audit_log').select('seq').where('event', '=', 'policy.changed').execute()).toHaveLength(auditBefore.length);
    // Other policies of the same tool are still allowed.
    expect((await sb.api('PUT', `/api/integrations/${m365.id}/policies/m365.reset_password`, { token: ava, body: { policy: 'approval_needed', requireManagerApproval: true } })).status).toBe(200);
  });
});

describe('the temporary password', () => {
  it('is shown only to the technician who approved, once', async () => {
    const ticket = await sb.openTicket('contoso', 'debra.berger@contoso.example', 'I forgot my password and cannot sign in.');
    const request = await sb.requestForTicket(ticket);
    await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL]);
    const tom = await sb.tokenFor('tom.rivera@northwind-it.example');
    const approvals = await sb.service.ctx.db.selectFrom('approvals').selectAll().where('request_id', '=', request.id).execute();
    expect(approvals.map((a) => a.kind).sort()).toEqual(['manager', 'technician']);
    const technician = approvals.find((a) => a.kind === 'technician')!;
    expect((await sb.api('POST', `/api/approvals/${technician.id}/decision`, { token: tom, body: { decision: 'approve' } })).status).toBe(200);
    const mail = sb.emulators.graph.mail().find((m) => m.to.includes('miriam.graham@contoso.example'))!;
    const link = new URL(mail.content.match(/https?:\/\/\S+\/approvals\/manager\/\S+/)![0]);
    const approve = await fetch(`${sb.service.url}${link.pathname}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=approve' });
    expect(approve.status).toBe(200);
    const final = await sb.waitForRequest(request.id, FINAL);
    expect(final.outcome).toBe('executed');
    const step = await sb.service.ctx.db.selectFrom('step_executions').select(['step_index', 'secret_encrypted']).where('request_id', '=', request.id).where('tool', '=', 'm365.reset_password').executeTakeFirstOrThrow();
    expect(step.secret_encrypted).toMatch(/^v2\./);
    const path = `/api/requests/${request.id}/steps/${step.step_index}/temporary-password`;
    const priya = await sb.tokenFor('priya.nair@northwind-it.example');
    expect((await sb.api('POST', path, { token: priya })).status).toBe(403);
    const rosa = await sb.tokenFor('rosa.diaz@woodgrove-tp.example');
    expect((await sb.api('POST', path, { token: rosa })).status).toBe(404);
    const shown = await sb.api<{ temporaryPassword: string }>('POST', path, { token: tom });
    expect(shown.status).toBe(200);
    expect(shown.body.temporaryPassword).toMatch(/^\S{16,}$/);
    expect((await sb.api('POST', path, { token: tom })).status).toBe(409);
    const after = await sb.service.ctx.db.selectFrom('step_executions').select('secret_encrypted').where('request_id', '=', request.id).where('tool', '=', 'm365.reset_password').executeTakeFirstOrThrow();
    expect(after.secret_encrypted).toBeNull();
    const story = await sb.api('GET', `/api/requests/${request.id}`, { token: tom });
    expect(JSON.stringify(story.body)).not.toContain(shown.body.temporaryPassword);
    expect(JSON.stringify(story.body)).not.toContain(link.pathname.split('/').pop()!);
  });
});

describe('what msp_billing sees', () => {
  it("sees what happened to a request, never its diagnosis (a user's MFA methods), notes, reasons or the employee's message", async () => {
    const message = "I've switched to a new phone and my authenticator app has stopped working.";
    const ticket = await sb.openTicket('contoso', 'joni.sherman@contoso.example', message, 'New phone');
    const request = await sb.requestForTicket(ticket);
    const settled = await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL]);
    expect(settled.state).toBe('awaiting_approval');
    await sb.waitForDelivered(request.id);
    const tom = await sb.tokenFor('tom.rivera@northwind-it.example');
    const ben = await sb.tokenFor('ben.okafor@northwind-it.example');
    const mfa = /microsoftAuthenticator|AuthenticationMethod/;

    // A technician sees the whole story: the diagnosis names the MFA methods.
    const full = await sb.api('GET', `/api/requests/${request.id}`, { token: tom });
    expect(full.status).toBe(200);
    expect(JSON.stringify(full.body)).toMatch(mfa);
    expect(JSON.stringify(full.body)).toContain('authenticator app has stopped');

    const billing = await sb.api<Record<string, unknown>>('GET', `/api/requests/${request.id}`, { token: ben });
    expect(billing.status).toBe(200);
    const raw = JSON.stringify(billing.body);
    expect(raw).not.toMatch(mfa);
    expect(raw).not.toContain('authenticator app has stopped');
    expect(raw).not.toMatch(/"(reasons|text|payload|result|data|body|lastError|comment|summary)"/);
    expect(billing.body).toMatchObject({
      request: { id: request.id, state: 'awaiting_approval', client: { slug: 'contoso' }, requesterEmail: 'joni.sherman@contoso.example', subject: 'New phone' },
      diagnosis: null,
      plan: { steps: expect.arrayContaining([expect.objectContaining({ tool: 'm365.reset_mfa' })]) },
    });
    expect(billing.body['approvals']).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'technician', status: 'pending' })]));

    // The approvals billing may read show the plan's steps, not the reasons drawn from the diagnosis.
    const approvals = await sb.api<{ approvals: { id: string; requestId: string }[] }>('GET', '/api/approvals', { token: ben });
    const mine = approvals.body.approvals.filter((a) => a.requestId === request.id);
    expect(mine.length).toBeGreaterThan(0);
    expect(JSON.stringify(mine)).not.toMatch(mfa);
    for (const approval of mine) {
      const one = await sb.api('GET', `/api/approvals/${approval.id}`, { token: ben });
      expect(one.status).toBe(200);
      expect(JSON.stringify(one.body)).not.toMatch(mfa);
      expect(JSON.stringify(one.body)).not.toMatch(/"(reasons|comment)"/);
    }
    const technicianView = await sb.api('GET', `/api/approvals/${mine[0]!.id}`, { token: tom });
    expect(JSON.stringify(technicianView.body)).toMatch(mfa);

    const list = await sb.api<{ requests: Record<string, unknown>[] }>('GET', '/api/requests', { token: ben });
    expect(list.body.requests.find((r) => r['id'] === request.id)).toBeDefined();
    expect(list.body.requests.every((r) => !('lastError' in r))).toBe(true);
  });
});
