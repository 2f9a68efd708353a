import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientDetail, ClientList, IntegrationList, Me, Msp, RequestList, ToolPolicy, ToolPolicyList } from '../src/api/contract.ts';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { FINAL } from '../src/demo/stories.ts';
import { silentLogger } from '../src/logger.ts';
import { DEMO_PASSWORD } from '../src/world/seed.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * What the dashboard reads and changes through the configuration routes (issue 11): the clients
 * list with its counts, a client's and the MSP's names, who is signed in until when, the
 * integrations a client uses, and tool policies with where they come from, each change audited
 * from what to what.
 */
let sb: Sandbox;
const ADMIN = 'ava.chen@northwind-it.example';
const TECHNICIAN = 'tom.rivera@northwind-it.example';
const BILLING = 'ben.okafor@northwind-it.example';
const OTHER_ADMIN = 'rosa.diaz@woodgrove-tp.example';

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

async function clients(email = ADMIN): Promise<ClientList> {
  const answer = await sb.api<ClientList>('GET', '/api/clients', { token: await sb.tokenFor(email) });
  expect(answer.status).toBe(200);
  return answer.body;
}

async function auditRows(event: string) {
  return sb.service.ctx.db.selectFrom('audit_log').select(['actor', 'event', 'data', 'at']).where('msp_id', '=', 'northwind').where('event', '=', event).orderBy('seq').execute();
}

describe('the clients list', () => {
  it("counts each client's open requests and pending approvals, and says whether its mode is inherited", async () => {
    // A request waiting for approval: open, with pending approvals (a password reset: technician and manager).
    const ticket = await sb.openTicket('contoso', 'debra.berger@contoso.example', 'I forgot my password and cannot sign in.');
    const request = await sb.requestForTicket(ticket);
    expect((await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL])).state).toBe('awaiting_approval');
    const list = await clients(BILLING);
    expect(list.mspDefaultOperatingMode).toBe('execute');
    expect(list.clients.map((c) => c.slug).sort()).toEqual(['contoso', 'fabrikam']);
    const { db } = sb.service.ctx;
    for (const client of list.clients) {
      const open = await db.selectFrom('requests').select('state').where('client_id', '=', client.id).where('state', 'not in', FINAL).execute();
      const pending = await db.selectFrom('approvals').innerJoin('requests', 'requests.id', 'approvals.request_id').select('approvals.id').where('requests.client_id', '=', client.id).where('approvals.status', '=', 'pending').execute();
      expect([client.slug, client.openRequests, client.pendingApprovals]).toEqual([client.slug, open.length, pending.length]);
    }
    const contoso = list.clients.find((c) => c.slug === 'contoso')!;
    expect(contoso.openRequests).toBeGreaterThanOrEqual(1);
    expect(contoso.pendingApprovals).toBeGreaterThanOrEqual(2);
    expect(contoso).toMatchObject({ operatingMode: 'inherit', effectiveOperatingMode: 'execute', inherited: true, domain: 'contoso.example' });
  });

  it("changes a client's name, domain and mode (msp_admin only), audited from what to what, and answers the client as it is", async () => {
    const fabrikam = (await clients()).clients.find((c) => c.slug === 'fabrikam')!;
    const admin = await sb.tokenFor(ADMIN);
    expect((await sb.api('PATCH', `/api/clients/${fabrikam.id}`, { token: await sb.tokenFor(TECHNICIAN), body: { name: 'Nope' } })).status).toBe(403);
    expect((await sb.api('PATCH', `/api/clients/${fabrikam.id}`, { token: await sb.tokenFor(OTHER_ADMIN), body: { name: 'Nope' } })).status).toBe(404);
    expect((await sb.api('PATCH', `/api/clients/${fabrikam.id}`, { token: admin, body: {} })).status).toBe(400);
    expect((await sb.api('PATCH', `/api/clients/${fabrikam.id}`, { token: admin, body: { name: '   ' } })).status).toBe(400);
    expect((await sb.api('PATCH', `/api/clients/${fabrikam.id}`, { token: admin, body: { operating_mode: 'plan' } })).status).toBe(400);
    const taken = await sb.api<{ error: { code: string } }>('PATCH', `/api/clients/${fabrikam.id}`, { token: admin, body: { domain: 'contoso.example' } });
    expect([taken.status, taken.body.error.code]).toEqual([409, 'conflict']);
    expect((await clients()).clients.find((c) => c.id === fabrikam.id)).toEqual(fabrikam);

    const mode = fabrikam.operatingMode === 'plan' ? 'execute' : 'plan';
    const changed = await sb.api<ClientDetail>('PATCH', `/api/clients/${fabrikam.id}`, { token: admin, body: { name: 'Fabrikam Inc.', domain: 'Fabrikam-Inc.example', operatingMode: mode } });
    expect(changed.status).toBe(200);
    expect(changed.body).toEqual({ ...fabrikam, name: 'Fabrikam Inc.', domain: 'fabrikam-inc.example', operatingMode: mode, effectiveOperatingMode: mode, inherited: false, mspDefaultOperatingMode: 'execute' });
    expect((await clients()).clients.find((c) => c.id === fabrikam.id)).toMatchObject({ name: 'Fabrikam Inc.', operatingMode: mode, inherited: false });
    expect((await auditRows('client.changed')).at(-1)).toMatchObject({ actor: `user:${ADMIN}`, data: { clientId: fabrikam.id, from: { name: fabrikam.name, domain: fabrikam.domain }, to: { name: 'Fabrikam Inc.', domain: 'fabrikam-inc.example' } } });
    expect((await auditRows('client.operating_mode')).at(-1)).toMatchObject({ data: { clientId: fabrikam.id, from: fabrikam.operatingMode, to: mode } });
    const back = await sb.api<ClientDetail>('PATCH', `/api/clients/${fabrikam.id}`, { token: admin, body: { name: fabrikam.name, domain: fabrikam.domain, operatingMode: fabrikam.operatingMode } });
    expect(back.body).toEqual({ ...fabrikam, mspDefaultOperatingMode: 'execute' });
  });
});

describe('the MSP', () => {
  it('is renamed and its default mode set by an msp_admin, audited from what to what', async () => {
    const admin = await sb.tokenFor(ADMIN);
    expect((await sb.api('PATCH', '/api/msp', { token: await sb.tokenFor(TECHNICIAN), body: { name: 'Nope' } })).status).toBe(403);
    expect((await sb.api('PATCH', '/api/msp', { token: admin, body: {} })).status).toBe(400);
    const renamed = await sb.api<Msp>('PATCH', '/api/msp', { token: admin, body: { name: 'Northwind IT' } });
    expect(renamed.body).toEqual({ id: 'northwind', name: 'Northwind IT', defaultOperatingMode: 'execute' });
    expect((await auditRows('msp.renamed')).at(-1)).toMatchObject({ actor: `user:${ADMIN}`, data: { from: 'Northwind IT Services', to: 'Northwind IT' } });
    const me = await sb.api<Me>('GET', '/api/me', { token: admin });
    expect(me.body.msp).toEqual({ id: 'northwind', name: 'Northwind IT', defaultOperatingMode: 'execute' });
    await sb.api('PATCH', '/api/msp', { token: admin, body: { name: 'Northwind IT Services' } });
  });
});

describe('who is signed in', () => {
  it('says when a session ends, and null for an API token', async () => {
    const before = Date.now();
    const signIn = await fetch(`${sb.service.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: TECHNICIAN, password: DEMO_PASSWORD }) });
    const cookie = signIn.headers.getSetCookie().map((c) => c.split(';')[0]!).join('; ');
    const bySession = (await (await fetch(`${sb.service.url}/api/me`, { headers: { cookie } })).json()) as Me;
    const ends = Date.parse(bySession.sessionExpiresAt!);
    expect(ends - before).toBeGreaterThan(11 * 3600_000);
    expect(ends - before).toBeLessThan(13 * 3600_000);
    expect(bySession.user).toMatchObject({ email: TECHNICIAN, role: 'msp_technician' });
    const byToken = await sb.api<Me>('GET', '/api/me', { token: await sb.tokenFor(TECHNICIAN) });
    expect(byToken.body.sessionExpiresAt).toBeNull();
  });
});

describe('the integrations a client uses', () => {
  it('lists its own and the MSP-wide ones it reaches (by id or slug), with what each provides; another MSP gets none', async () => {
    const admin = await sb.tokenFor(ADMIN);
    const all = (await sb.api<IntegrationList>('GET', '/api/integrations', { token: admin })).body.integrations;
    const contoso = (await clients()).clients.find((c) => c.slug === 'contoso')!;
    const m365 = all.find((i) => i.kind === 'm365' && i.client?.slug === 'contoso')!;
    expect(m365).toMatchObject({ scope: 'client', client: { id: contoso.id, slug: 'contoso', name: contoso.name } });
    expect(m365.provides).toContain('identity');
    expect(all.find((i) => i.kind === 'connectwise')).toMatchObject({ scope: 'msp', client: null, provides: expect.arrayContaining(['ticket']) });
    const used = (await sb.api<IntegrationList>('GET', `/api/integrations?client=${contoso.id}`, { token: admin })).body.integrations;
    expect(used.map((i) => i.id)).toContain(m365.id);
    expect(used.map((i) => i.kind)).toContain('connectwise');
    expect(used.every((i) => i.client === null || i.client.id === contoso.id)).toBe(true);
    expect(used.length).toBeLessThan(all.length);
    expect((await sb.api<IntegrationList>('GET', `/api/integrations?client=${contoso.id}`, { token: await sb.tokenFor(OTHER_ADMIN) })).body.integrations).toEqual([]);
    expect((await sb.api<IntegrationList>('GET', '/api/integrations?client=contoso', { token: admin })).body.integrations).toEqual(used);
    expect((await sb.api<IntegrationList>('GET', '/api/integrations?client=contoso', { token: await sb.tokenFor(OTHER_ADMIN) })).body.integrations).toEqual([]);
  });
});

describe('tool policies', () => {
  it('says where each comes from and who set it when; every change is audited from what to what', async () => {
    const admin = await sb.tokenFor(ADMIN);
    const contoso = (await clients()).clients.find((c) => c.slug === 'contoso')!;
    const m365 = (await sb.api<IntegrationList>('GET', '/api/integrations', { token: admin })).body.integrations.find((i) => i.kind === 'm365' && i.client?.slug === 'contoso')!;
    const table = async () => (await sb.api<ToolPolicyList>('GET', `/api/integrations/${m365.id}/policies`, { token: await sb.tokenFor(BILLING) })).body.tools;
    const tool = 'm365.assign_license';
    const before = (await table()).find((t) => t.tool === tool)!;
    expect(before).toMatchObject({ kind: 'write', integrationId: m365.id, integration: m365.name });
    const from = before.source === 'default' ? null : { policy: before.policy, requireManagerApproval: before.requireManagerApproval };

    const set = await sb.api<ToolPolicy>('PUT', `/api/integrations/${m365.id}/policies/${tool}`, { token: admin, body: { policy: 'approval_needed', requireManagerApproval: true } });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ tool, policy: 'approval_needed', requireManagerApproval: true, source: 'integration', integrationId: m365.id, updatedBy: ADMIN });
    expect(Date.parse(set.body.updatedAt!)).toBeGreaterThan(Date.now() - 60_000);
    expect((await table()).find((t) => t.tool === tool)).toEqual(set.body);
    const changes = await auditRows('policy.changed');
    expect(changes.at(-1)).toMatchObject({ actor: `user:${ADMIN}`, data: { integrationId: m365.id, tool, from, to: { policy: 'approval_needed', requireManagerApproval: true } } });
    expect(changes.at(-1)!.at.getTime()).toBeGreaterThan(Date.now() - 60_000);

    // The client's own policy overrides the integration's, then goes back to it.
    const clientTable = async (query = '') => (await sb.api<ToolPolicyList>('GET', `/api/clients/${contoso.id}/policies${query}`, { token: admin })).body.tools;
    const own = await sb.api<ToolPolicy>('PUT', `/api/clients/${contoso.id}/policies/${tool}`, { token: admin, body: { policy: 'disabled' } });
    expect(own.body).toMatchObject({ tool, policy: 'disabled', requireManagerApproval: false, source: 'client', integrationId: m365.id, updatedBy: ADMIN });
    expect((await clientTable()).find((t) => t.tool === tool)).toEqual(own.body);
    expect((await table()).find((t) => t.tool === tool)).toEqual(set.body);
    expect((await auditRows('policy.changed')).at(-1)).toMatchObject({
      data: { integrationId: m365.id, clientId: contoso.id, tool, from: null, to: { policy: 'disabled', requireManagerApproval: false } },
    });
    const inherited = await sb.api<ToolPolicy>('PUT', `/api/clients/${contoso.id}/policies/${tool}`, { token: admin, body: { policy: 'inherit' } });
    expect(inherited.body).toEqual(set.body);
    expect((await auditRows('policy.changed')).at(-1)).toMatchObject({ data: { clientId: contoso.id, tool, from: { policy: 'disabled', requireManagerApproval: false }, to: null } });

    // Narrowed to one integration: only its tools.
    const narrowed = await clientTable(`?integration=${m365.id}`);
    expect(narrowed.length).toBeGreaterThan(0);
    expect(narrowed.every((t) => t.integrationId === m365.id)).toBe(true);
    expect(narrowed.length).toBeLessThan((await clientTable()).length);

    // Refused changes change nothing and audit nothing.
    const count = (await auditRows('policy.changed')).length;
    expect((await sb.api('PUT', `/api/integrations/${m365.id}/policies/${tool}`, { token: await sb.tokenFor(TECHNICIAN), body: { policy: 'auto' } })).status).toBe(403);
    expect((await sb.api('PUT', `/api/clients/${contoso.id}/policies/${tool}`, { token: admin, body: { policy: 'auto', requireManagerApproval: true } })).status).toBe(400);
    expect((await sb.api('PUT', `/api/clients/${contoso.id}/policies/${tool}`, { token: await sb.tokenFor(OTHER_ADMIN), body: { policy: 'auto' } })).status).toBe(404);
    expect((await auditRows('policy.changed')).length).toBe(count);
    expect((await table()).find((t) => t.tool === tool)).toEqual(set.body);
  });
});

describe('the requests list', () => {
  it("names each request's client and filters by a client's id or slug", async () => {
    const token = await sb.tokenFor(TECHNICIAN);
    const contoso = (await clients()).clients.find((c) => c.slug === 'contoso')!;
    const bySlug = (await sb.api<RequestList>('GET', '/api/requests?client=contoso', { token })).body.requests;
    const byId = (await sb.api<RequestList>('GET', `/api/requests?client=${contoso.id}`, { token })).body.requests;
    expect(bySlug.length).toBeGreaterThan(0);
    expect(byId).toEqual(bySlug);
    expect(bySlug.every((r) => r.client?.id === contoso.id && r.client.slug === 'contoso')).toBe(true);
    expect((await sb.api<RequestList>('GET', '/api/requests?client=fabrikam', { token })).body.requests.some((r) => r.client?.slug === 'contoso')).toBe(false);
  });
});
