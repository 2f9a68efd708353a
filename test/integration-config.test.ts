import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { emulatorApiCredentials } from '../src/integrations/connectwise/emulator/data.ts';
import { emulatorAppCredentials, emulatorMspAppCredentials } from '../src/integrations/m365/emulator/credentials.ts';
import { silentLogger } from '../src/logger.ts';
import { createTestDatabase } from './support/db.ts';
import { tokenOf, WebSession } from './support/web-session.ts';

/**
 * Connecting systems from the dashboard (issue 11), over real HTTP: a new MSP, set up through the
 * setup link on a deskhand started without the demo world, connects the built-in ConnectWise
 * emulator from the form's fields; it works as a seeded one (Test connection green, companies
 * imported, tickets coming in). Secrets never come back; the emulator settings are the service's own.
 */
let sb: Sandbox;
let admin: WebSession;

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger, seed: false });
  admin = new WebSession(sb.service.url);
  const setup = await admin.call('POST', '/api/setup', {
    token: tokenOf(sb.setupLink!),
    mspName: 'Fresh MSP',
    admin: { name: 'Fay Admin', email: 'fay@fresh-msp.example', password: 'fay has a long password' },
  });
  expect(setup.status).toBe(200);
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

type Kind = { kind: string; scope: string; clientOverride: boolean; provides: string[]; settingsSchema: { properties: Record<string, unknown>; required?: string[] }; secretsSchema: { properties: Record<string, unknown>; required?: string[] }; clientLink: { label: string } | null };
type ErrorBody = { error: { code: string; message: string } };

const cw = emulatorApiCredentials('northwind');
const PRIVATE_KEY = cw.privateKey;
const cwBody = () => ({
  kind: 'connectwise',
  name: 'ConnectWise Manage',
  settings: { siteUrl: sb.emulators.endpoints.connectwise, companyId: cw.companyId, publicKey: cw.publicKey, apiMemberIdentifier: cw.memberIdentifier },
  secrets: { privateKey: PRIVATE_KEY, clientId: cw.clientId },
});

describe('integration kinds', () => {
  it('lists every system with its forms as JSON Schema, without the settings deskhand keeps for itself', async () => {
    const answer = await admin.call<{ kinds: Kind[] }>('GET', '/api/integration-kinds');
    expect(answer.status).toBe(200);
    const kinds = new Map(answer.body.kinds.map((k) => [k.kind, k]));
    expect([...kinds.keys()].sort()).toEqual(['autotask', 'connectwise', 'halopsa', 'hudu', 'itglue', 'llm', 'm365']);
    const connectwise = kinds.get('connectwise')!;
    expect(connectwise).toMatchObject({ scope: 'msp', clientOverride: false, provides: ['ticket', 'approvalNotice'], clientLink: { label: 'ConnectWise company identifier' } });
    expect(Object.keys(connectwise.settingsSchema.properties)).toEqual(expect.arrayContaining(['siteUrl', 'companyId', 'publicKey']));
    expect(connectwise.settingsSchema.required).toEqual(expect.arrayContaining(['siteUrl', 'companyId', 'publicKey']));
    expect(Object.keys(connectwise.secretsSchema.properties).sort()).toEqual(['clientId', 'privateKey']);
    expect(kinds.get('m365')).toMatchObject({ scope: 'msp', clientOverride: true, clientLink: { label: 'Entra tenant id' } });
    for (const kind of answer.body.kinds) {
      for (const hidden of ['emulated', 'developmentLoopback', 'emulatorSiteAliases']) expect(Object.keys(kind.settingsSchema.properties ?? {})).not.toContain(hidden);
    }
  });
});

describe('connecting ConnectWise from the form', () => {
  let id = '';

  it('refuses the development settings, bad settings and unknown fields, naming the field and never a secret', async () => {
    const loopback = await admin.call<ErrorBody>('POST', '/api/integrations', { ...cwBody(), settings: { ...cwBody().settings, developmentLoopback: true, emulated: true } });
    expect(loopback.status).toBe(400);
    expect(loopback.body.error.message).toMatch(/settings\.(developmentLoopback|emulated)/);
    const missing = await admin.call<ErrorBody>('POST', '/api/integrations', { ...cwBody(), settings: { ...cwBody().settings, companyId: '' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/^settings\.companyId: /);
    const noKey = await admin.call<ErrorBody>('POST', '/api/integrations', { ...cwBody(), secrets: { clientId: cw.clientId } });
    expect(noKey.status).toBe(400);
    expect(noKey.body.error.message).toMatch(/secrets\.privateKey/);
    const unknown = await admin.call<ErrorBody>('POST', '/api/integrations', { ...cwBody(), secrets: { ...cwBody().secrets, password: PRIVATE_KEY } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/secrets\.password/);
    // http:// anywhere but a running emulator is refused as for any integration.
    const http = await admin.call<ErrorBody>('POST', '/api/integrations', { ...cwBody(), settings: { ...cwBody().settings, siteUrl: 'http://127.0.0.1:9' } });
    expect(http.status).toBe(400);
    expect(http.body.error.message).toMatch(/siteUrl must be an https:\/\/ URL/);
    const kind = await admin.call<ErrorBody>('POST', '/api/integrations', { ...cwBody(), kind: 'servicenow' });
    expect(kind.status).toBe(400);
    for (const answer of [loopback, missing, noKey, unknown, http, kind]) expect(JSON.stringify(answer.body)).not.toContain(PRIVATE_KEY);
    expect(await sb.service.ctx.db.selectFrom('integrations').select('id').execute()).toEqual([]);
  });

  it('creates the integration pointing at the running emulator, and the service marks it emulated itself', async () => {
    const created = await admin.call<{ id: string; kind: string; scope: string; provides: string[]; health: { status: string } }>('POST', '/api/integrations', cwBody());
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ kind: 'connectwise', label: 'ConnectWise PSA', name: 'ConnectWise Manage', scope: 'msp', enabled: true, client: null, provides: ['ticket', 'approvalNotice'] });
    expect(JSON.stringify(created.body)).not.toContain(PRIVATE_KEY);
    id = created.body.id;
    const row = await sb.service.ctx.db.selectFrom('integrations').select(['config', 'secrets_encrypted']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.config).toMatchObject({ emulated: true, developmentLoopback: true, siteUrl: sb.emulators.endpoints.connectwise });
    expect(row.secrets_encrypted).not.toContain(PRIVATE_KEY);
    const audit = await sb.service.ctx.db.selectFrom('audit_log').select(['event', 'data']).where('event', '=', 'integration.created').execute();
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain(PRIVATE_KEY);
  });

  it('answers its configuration with the names of its secrets only (webhook secret generated)', async () => {
    const config = await admin.call<{ settings: Record<string, unknown>; secretsSet: string[] }>('GET', `/api/integrations/${id}/configuration`);
    expect(config.status).toBe(200);
    expect(config.body.settings).toMatchObject({ siteUrl: sb.emulators.endpoints.connectwise, companyId: cw.companyId });
    for (const hidden of ['emulated', 'developmentLoopback', 'emulatorSiteAliases']) expect(config.body.settings).not.toHaveProperty(hidden);
    expect(config.body.secretsSet).toEqual(['clientId', 'privateKey', 'webhookSecret']);
    expect(JSON.stringify(config.body)).not.toContain(PRIVATE_KEY);
  });

  it('Test connection is green', async () => {
    const tested = await admin.call<{ ok: boolean; health: { status: string } }>('POST', `/api/integrations/${id}/test`);
    expect(tested.status).toBe(200);
    expect(tested.body.ok).toBe(true);
    expect(tested.body.health.status).toBe('healthy');
  });

  it("reads the PSA's boards", async () => {
    const boards = await admin.call<{ boards: { name: string; statuses: string[] }[] }>('GET', `/api/integrations/${id}/boards`);
    expect(boards.status).toBe(200);
    expect(boards.body.boards.find((b) => b.name === 'Help Desk')?.statuses).toEqual(expect.arrayContaining(['New', 'In Progress']));
  });

  it('imports clients from its companies, and a ticket opened for one comes in as a request', async () => {
    const companies = await admin.call<{ companies: { externalId: string }[] }>('GET', `/api/integrations/${id}/companies`);
    expect(companies.body.companies.map((c) => c.externalId)).toEqual(expect.arrayContaining(['contoso', 'fabrikam']));
    const imported = await admin.call<{ created: { client: { slug: string } }[] }>('POST', `/api/integrations/${id}/import-clients`, { companies: ['contoso'] });
    expect(imported.status).toBe(200);
    expect(imported.body.created.map((c) => c.client.slug)).toEqual(['contoso-ltd']);
    const ticket = await sb.openTicket('contoso', 'alex.wilber@contoso.example', 'Could you give me Zendesk access');
    const request = await sb.requestForTicket(ticket);
    expect(request).toMatchObject({ msp_id: 'fresh-msp', source_integration_id: id });
  });

  it('replaces settings, keeps an omitted secret, replaces a given one and clears a null one; validated as at creation', async () => {
    const before = await sb.service.ctx.db.selectFrom('integrations').select('secrets_encrypted').where('id', '=', id).executeTakeFirstOrThrow();
    const { settings } = cwBody();
    const renamed = await admin.call<{ integration: { name: string }; settings: Record<string, unknown>; secretsSet: string[] }>('PUT', `/api/integrations/${id}/configuration`, {
      name: 'ConnectWise (main)',
      settings: { ...settings, codebase: 'v2025_1/' },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body.integration.name).toBe('ConnectWise (main)');
    expect(renamed.body.settings['codebase']).toBe('v2025_1/');
    expect(renamed.body.secretsSet).toEqual(['clientId', 'privateKey', 'webhookSecret']);
    const row = await sb.service.ctx.db.selectFrom('integrations').select(['config', 'secrets_encrypted']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.config).toMatchObject({ emulated: true, developmentLoopback: true });
    expect(sb.service.ctx.secrets.decryptJson(row.secrets_encrypted!)).toEqual(sb.service.ctx.secrets.decryptJson(before.secrets_encrypted!));
    const cleared = await admin.call<ErrorBody>('PUT', `/api/integrations/${id}/configuration`, { secrets: { privateKey: null } });
    expect(cleared.status).toBe(400);
    expect(cleared.body.error.message).toMatch(/secrets\.privateKey/);
    const internal = await admin.call<ErrorBody>('PUT', `/api/integrations/${id}/configuration`, { settings: { ...settings, developmentLoopback: true } });
    expect(internal.status).toBe(400);
    const replaced = await admin.call('PUT', `/api/integrations/${id}/configuration`, { settings: { ...settings, codebase: 'v4_6_release/' }, secrets: { privateKey: 'a-wrong-private-key' } });
    expect(replaced.status).toBe(200);
    const failing = await admin.call<{ ok: boolean }>('POST', `/api/integrations/${id}/test`);
    expect(failing.body.ok).toBe(false);
    expect((await admin.call('PUT', `/api/integrations/${id}/configuration`, { secrets: { privateKey: PRIVATE_KEY } })).status).toBe(200);
    expect((await admin.call<{ ok: boolean }>('POST', `/api/integrations/${id}/test`)).body.ok).toBe(true);
  });

  it('only an admin reads or changes configuration; another MSP sees no such integration', async () => {
    const invite = await admin.call<{ link: string }>('POST', '/api/users/invites', { email: 'tech@fresh-msp.example', name: 'Tech', role: 'msp_technician' });
    const tech = new WebSession(sb.service.url);
    expect((await tech.call('POST', '/api/invites/accept', { token: tokenOf(invite.body.link), password: 'tech has a long password' })).status).toBe(200);
    expect((await tech.call('GET', '/api/integration-kinds')).status).toBe(200);
    expect((await tech.call('GET', `/api/integrations/${id}/configuration`)).status).toBe(403);
    expect((await tech.call('PUT', `/api/integrations/${id}/configuration`, { name: 'x' })).status).toBe(403);
    expect((await tech.call('POST', '/api/integrations', cwBody())).status).toBe(403);
    expect((await new WebSession(sb.service.url).call('GET', '/api/integration-kinds')).status).toBe(401);
  });
});

describe("the MSP's page and its clients", () => {
  const contosoId = async () => (await sb.service.ctx.db.selectFrom('clients').select('id').where('slug', '=', 'contoso-ltd').executeTakeFirstOrThrow()).id;

  it('names the approval channels: the PSA that notes the plan on the ticket', async () => {
    const msp = await admin.call<{ id: string; name: string; approvalChannels: { kind: string; how: string }[] }>('GET', '/api/msp');
    expect(msp.status).toBe(200);
    expect(msp.body).toMatchObject({ id: 'fresh-msp', name: 'Fresh MSP', defaultOperatingMode: 'plan' });
    expect(msp.body.approvalChannels).toEqual([expect.objectContaining({ kind: 'connectwise', label: 'ConnectWise PSA', how: expect.stringMatching(/internal note/) })]);
  });

  it('creates a client by hand, and answers one client with its counts', async () => {
    const created = await admin.call<{ id: string; slug: string }>('POST', '/api/clients', { name: 'Hand Made Co.', domain: 'handmade.example' });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ slug: 'hand-made-co', name: 'Hand Made Co.', operatingMode: 'inherit', effectiveOperatingMode: 'plan', inherited: true, openRequests: 0, pendingApprovals: 0, mspDefaultOperatingMode: 'plan' });
    const again = await admin.call<{ slug: string }>('POST', '/api/clients', { name: 'Hand Made Co.' });
    expect(again.body.slug).toBe('hand-made-co-2');
    const contoso = await admin.call<{ openRequests: number; pendingApprovals: number }>('GET', `/api/clients/${await contosoId()}`);
    expect(contoso.status).toBe(200);
    const db = sb.service.ctx.db;
    const open = await db.selectFrom('requests').select('state').where('client_id', '=', await contosoId()).where('state', 'not in', ['planned', 'replied', 'escalated', 'failed']).execute();
    expect(contoso.body.openRequests).toBe(open.length);
    expect((await db.selectFrom('requests').select('id').where('client_id', '=', await contosoId()).execute()).length).toBe(1);
    expect((await admin.call('GET', `/api/clients/${crypto.randomUUID()}`)).status).toBe(404);
  });

  it("links a client's Microsoft 365 tenant on the MSP's multi-tenant app, with the admin consent URL", async () => {
    const app = emulatorMspAppCredentials('tailspin');
    const created = await admin.call<{ id: string }>('POST', '/api/integrations', {
      kind: 'm365',
      name: 'Microsoft 365 (multi-tenant app)',
      settings: { clientId: app.clientId, graphBaseUrl: sb.emulators.endpoints.graph },
      secrets: { clientSecret: app.clientSecret },
    });
    expect(created.status).toBe(200);
    const m365Id = created.body.id;
    const notPsa = await admin.call<ErrorBody>('GET', `/api/integrations/${m365Id}/boards`);
    expect(notPsa.status).toBe(400);
    expect(notPsa.body.error.message).toMatch(/not a PSA/);
    const client = await contosoId();
    const links = await admin.call<{ links: { integrationId: string; kind: string; label: string; externalId: string | null; consentUrl: string | null }[] }>('GET', `/api/clients/${client}/links`);
    expect(links.status).toBe(200);
    expect(links.body.links.map((l) => [l.kind, l.externalId])).toEqual([
      ['connectwise', 'contoso'],
      ['m365', null],
    ]);
    expect(links.body.links[0]!.consentUrl).toBeNull();
    const tenant = emulatorAppCredentials('contoso').tenantId;
    const linked = await admin.call<{ externalId: string; consentUrl: string; label: string }>('PUT', `/api/clients/${client}/links/${m365Id}`, { externalId: tenant });
    expect(linked.status).toBe(200);
    expect(linked.body).toMatchObject({ externalId: tenant, label: 'Entra tenant id' });
    // The identity platform's admin consent endpoint, in the client's tenant, for the app's application permissions.
    const consent = new URL(linked.body.consentUrl);
    expect(consent.origin).toBe(new URL(sb.emulators.endpoints.login).origin);
    expect(consent.pathname).toMatch(new RegExp(`/${tenant}/v2\\.0/adminconsent$`));
    expect(Object.fromEntries(consent.searchParams)).toMatchObject({ client_id: app.clientId, scope: `${new URL(sb.emulators.endpoints.graph).origin}/.default`, redirect_uri: `${sb.service.ctx.publicUrl}/clients` });
    expect(links.body.links[1]!.consentUrl).toMatch(/\/organizations\/v2\.0\/adminconsent\?/);
    // One tenant, one client; a value the link's schema refuses; another MSP's or an unknown id.
    const handMade = (await sb.service.ctx.db.selectFrom('clients').select('id').where('slug', '=', 'hand-made-co').executeTakeFirstOrThrow()).id;
    expect((await admin.call('PUT', `/api/clients/${handMade}/links/${m365Id}`, { externalId: tenant.toUpperCase() })).status).toBe(409);
    expect((await admin.call('PUT', `/api/clients/${handMade}/links/${m365Id}`, { externalId: '' })).status).toBe(400);
    expect((await admin.call('PUT', `/api/clients/${handMade}/links/${crypto.randomUUID()}`, { externalId: 'x' })).status).toBe(404);
    const stored = await sb.service.ctx.db.selectFrom('client_links').select('external_id').where('client_id', '=', client).where('integration_id', '=', m365Id).executeTakeFirstOrThrow();
    expect(stored.external_id).toBe(tenant);
    const unlinked = await admin.call<{ externalId: string | null }>('DELETE', `/api/clients/${client}/links/${m365Id}`);
    expect(unlinked.status).toBe(200);
    expect(unlinked.body.externalId).toBeNull();
    expect(await sb.service.ctx.db.selectFrom('client_links').select('external_id').where('client_id', '=', client).where('integration_id', '=', m365Id).executeTakeFirst()).toBeUndefined();
    const audit = await sb.service.ctx.db.selectFrom('audit_log').select('event').where('event', 'in', ['client.linked', 'client.unlinked']).execute();
    expect(audit.map((a) => a.event)).toEqual(['client.linked', 'client.unlinked']);
  });

  it('a technician reads clients and links but changes neither', async () => {
    const tech = new WebSession(sb.service.url);
    expect(await tech.signIn('tech@fresh-msp.example', 'tech has a long password')).toBe(200);
    const client = await contosoId();
    expect((await tech.call('GET', `/api/clients/${client}`)).status).toBe(200);
    expect((await tech.call('GET', `/api/clients/${client}/links`)).status).toBe(200);
    expect((await tech.call('POST', '/api/clients', { name: 'Nope' })).status).toBe(403);
    const cwId = (await sb.service.ctx.db.selectFrom('integrations').select('id').where('kind', '=', 'connectwise').executeTakeFirstOrThrow()).id;
    expect((await tech.call('DELETE', `/api/clients/${client}/links/${cwId}`)).status).toBe(403);
  });
});
