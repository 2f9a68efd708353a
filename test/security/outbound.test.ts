import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeskhandError } from '../../src/core/errors.ts';
import { startSandbox, type Sandbox } from '../../src/demo/sandbox.ts';
import { FINAL } from '../../src/demo/stories.ts';
import { basicAuthorization } from '../../src/integrations/connectwise/client.ts';
import { connectWiseOf } from '../../src/integrations/connectwise/intake.ts';
import { nonLoopbackAddress, type RecordingServer, startRecordingServer, streamBody } from '../../src/integrations/outbound-testing.ts';
import { silentLogger } from '../../src/logger.ts';
import { json } from '../../src/store/db.ts';
import type { IntegrationRow } from '../../src/store/schema.ts';
import { pointAtEmulators } from '../../src/world/seed.ts';
import { demoSetup } from '../../src/integrations/emulators.ts';
import { loadDemoWorld } from '../../src/world/fixture.ts';
import { createTestDatabase } from '../support/db.ts';

/**
 * Outbound safety, where the service meets it: integrations built from their configuration rows,
 * a ticket's story, a ConnectWise callback. Base URLs are https (http only on loopback, for the
 * built-in emulators, under the development setting the demo world's seeding writes); credentials
 * never follow a redirect; answers are cut off at their limit while they stream in. The hostile
 * sites are real HTTP servers that record everything they see.
 */

const MiB = 1024 * 1024;
/** Planted credentials: none may appear in an error, a note or another server's log. */
const PLANTED = {
  privateKey: 'planted-cw-private-key-7f3a',
  clientId: 'planted-cw-client-id-91c2',
  webhookSecret: 'planted-webhook-secret-5d0e',
  clientSecret: 'planted-graph-client-secret-c4b8',
  token: 'planted-graph-access-token-e61f',
};
const CW_AUTH = basicAuthorization('hostile', 'public-key', PLANTED.privateKey);

let sb: Sandbox;
const servers: RecordingServer[] = [];
const HOSTILE_MSP = 'outbound-hostile';
let hostileClientId: string;

async function server(handler: Parameters<typeof startRecordingServer>[0], host?: string): Promise<RecordingServer> {
  const started = await startRecordingServer(handler, host);
  servers.push(started);
  return started;
}

/**
 * A ConnectWise or Microsoft 365 integration of an MSP that serves no client with a PSA company (so
 * that the worker's poll never calls it): only what a test does reaches its servers.
 */
async function integration(kind: 'connectwise' | 'm365', config: Record<string, unknown>): Promise<IntegrationRow> {
  const secrets: Record<string, string> =
    kind === 'connectwise' ? { privateKey: PLANTED.privateKey, clientId: PLANTED.clientId, webhookSecret: PLANTED.webhookSecret } : { clientSecret: PLANTED.clientSecret };
  const base =
    kind === 'connectwise' ? { codebase: 'v4_6_release/', companyId: 'hostile', publicKey: 'public-key', apiMemberIdentifier: 'deskhand' } : { tenantId: 'hostile-tenant', clientId: 'hostile-app' };
  const now = new Date();
  // One Microsoft 365 integration per client: a new one replaces the last.
  if (kind === 'm365') await sb.service.ctx.db.deleteFrom('integrations').where('client_id', '=', hostileClientId).execute();
  const row = await sb.service.ctx.db
    .insertInto('integrations')
    .values({
      id: randomUUID(),
      msp_id: HOSTILE_MSP,
      client_id: kind === 'm365' ? hostileClientId : null,
      kind,
      name: `hostile ${kind} ${servers.length}`,
      config: json({ ...base, ...config }),
      secrets_encrypted: sb.service.ctx.secrets.encryptJson(secrets),
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  sb.service.ctx.integrations.invalidate();
  return row;
}

function expectNothingPlanted(text: string): void {
  for (const value of [...Object.values(PLANTED), CW_AUTH.slice('Basic '.length)]) expect(text).not.toContain(value);
}

async function rejection(promise: Promise<unknown>): Promise<DeskhandError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeskhandError);
  return error as DeskhandError;
}

function thrownBy(fn: () => unknown): DeskhandError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DeskhandError);
    return error as DeskhandError;
  }
  throw new Error('expected a DeskhandError');
}

/** A Microsoft identity platform that hands out the planted token to anyone who asks. */
async function tokenServer(): Promise<RecordingServer> {
  return server((_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token_type: 'Bearer', expires_in: 3600, access_token: PLANTED.token })),
  );
}

/** A ConnectWise callback naming `keyUrl` as its signing key, posted to the integration's webhook URL. */
async function postCallback(row: IntegrationRow, keyUrl: string): Promise<{ status: number; text: string }> {
  const body = JSON.stringify({ MessageId: randomUUID(), Action: 'added', Type: 'ticket', ID: 1, Metadata: { key_url: keyUrl } });
  const response = await fetch(`${sb.service.url}/webhooks/connectwise/${row.id}/${PLANTED.webhookSecret}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-content-signature': 'c2lnbmF0dXJl' },
    body,
  });
  return { status: response.status, text: await response.text() };
}

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
  const db = sb.service.ctx.db;
  await db.insertInto('msps').values({ id: HOSTILE_MSP, name: 'Outbound test MSP', default_operating_mode: 'plan', created_at: new Date() }).execute();
  hostileClientId = randomUUID();
  await db
    .insertInto('clients')
    .values({ id: hostileClientId, msp_id: HOSTILE_MSP, slug: 'hostile', name: 'Hostile client', domain: 'hostile.example', operating_mode: 'plan', sender_mailbox: null, created_at: new Date() })
    .execute();
}, 120_000);

afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await sb?.close();
});

describe('configured base URLs: https, http only on loopback under the development setting', () => {
  it('the demo world marks its integrations with the development setting, and they work over http on loopback', async () => {
    const rows = await sb.service.ctx.db.selectFrom('integrations').selectAll().where('msp_id', '!=', HOSTILE_MSP).execute();
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const config = row.config as Record<string, unknown>;
      expect(config['developmentLoopback'], row.name).toBe(true);
      for (const field of ['siteUrl', 'graphBaseUrl', 'loginBaseUrl']) if (config[field] !== undefined) expect(String(config[field])).toMatch(/^http:\/\/127\.0\.0\.1:/);
    }
    const connectwise = rows.find((r) => r.kind === 'connectwise')!;
    expect((await connectWiseOf(sb.service.ctx.integrations.connected(connectwise)).client.listCallbacks()).length).toBeGreaterThan(0);
  });

  it('a demo world loaded before the development setting existed gets it on the next start (pointAtEmulators)', async () => {
    const db = sb.service.ctx.db;
    const rows = await db.selectFrom('integrations').selectAll().where('msp_id', '!=', HOSTILE_MSP).execute();
    for (const row of rows) {
      const { developmentLoopback: _, ...older } = row.config as Record<string, unknown>;
      await db.updateTable('integrations').set({ config: json(older) }).where('id', '=', row.id).execute();
    }
    await pointAtEmulators(db, demoSetup(loadDemoWorld(), sb.emulators.endpoints).pointAt, new Date());
    sb.service.ctx.integrations.invalidate();
    const after = await db.selectFrom('integrations').selectAll().where('msp_id', '!=', HOSTILE_MSP).execute();
    expect(after.map((r) => (r.config as Record<string, unknown>)['developmentLoopback'])).toEqual(rows.map(() => true));
  });

  it('refuses http:// to loopback without the development setting: the error names the field, never a secret, and nothing is called', async () => {
    const before = sb.emulators.connectwise.requests().length;
    const row = await integration('connectwise', { siteUrl: sb.emulators.endpoints.connectwise });
    const error = thrownBy(() => connectWiseOf(sb.service.ctx.integrations.connected(row)).client);
    expect(error.code).toBe('config');
    expect(error.message).toContain('siteUrl');
    expect(error.message).toContain('https://');
    expect(error.message).toContain('developmentLoopback');
    expect(error.message).not.toContain(sb.emulators.endpoints.connectwise);
    expectNothingPlanted(`${error.message} ${JSON.stringify(error.details)}`);
    expect(sb.emulators.connectwise.requests().length).toBe(before);

    for (const field of ['graphBaseUrl', 'loginBaseUrl'] as const) {
      const hostileCalls = () => sb.emulators.graph.requests().filter((r) => r.path.includes('hostile-tenant') || r.tenantId === 'hostile-tenant').length;
      // The other URL is Microsoft's own (https): only `field` is http:// to loopback.
      const loopback = { graphBaseUrl: sb.emulators.endpoints.graph, loginBaseUrl: sb.emulators.endpoints.login };
      await integration('m365', { graphBaseUrl: 'https://graph.microsoft.com/v1.0', loginBaseUrl: 'https://login.microsoftonline.com', [field]: loopback[field] });
      const m365 = await rejection(sb.service.ctx.integrations.identityForClient(hostileClientId));
      expect(m365.code, field).toBe('config');
      expect(m365.message).toContain(field);
      expectNothingPlanted(m365.message);
      expect(hostileCalls()).toBe(0);
    }
  });

  it('refuses http:// to an address that is not loopback even with the development setting, before connecting to it', async () => {
    const address = nonLoopbackAddress();
    const target = address ? await server((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('[]'), address) : undefined;
    const siteUrl = target?.url ?? 'http://psa.deskhand-test.invalid';
    const row = await integration('connectwise', { siteUrl, developmentLoopback: true });
    const error = await rejection((async () => connectWiseOf(sb.service.ctx.integrations.connected(row)).client.listCallbacks())());
    expect(error.code).toBe('config');
    expect(error.message).toMatch(/siteUrl must be an https:\/\/ URL/);
    expect(error.message).toMatch(/cleartext/);
    if (target) expect(target.connections).toBe(0);

    await integration('m365', { graphBaseUrl: `${siteUrl}/v1.0`, developmentLoopback: true });
    expect((await rejection(sb.service.ctx.integrations.identityForClient(hostileClientId))).message).toContain('graphBaseUrl');
    if (target) expect(target.connections).toBe(0);
  });

  it('takes https:// to any host', async () => {
    const row = await integration('connectwise', { siteUrl: 'https://api-na.myconnectwise.net' });
    expect(connectWiseOf(sb.service.ctx.integrations.connected(row)).client.siteUrl).toBe('https://api-na.myconnectwise.net');
  });

  it("a request for a client whose Microsoft 365 URL is refused escalates with a note naming the field, and Graph is never called", async () => {
    const db = sb.service.ctx.db;
    const contoso = await db.selectFrom('clients').select('id').where('slug', '=', 'contoso').executeTakeFirstOrThrow();
    const row = await db.selectFrom('integrations').selectAll().where('client_id', '=', contoso.id).where('kind', '=', 'm365').executeTakeFirstOrThrow();
    const config = row.config as Record<string, unknown>;
    const tenantId = String(config['tenantId']);
    const { developmentLoopback: _, ...withoutSetting } = config;
    await db.updateTable('integrations').set({ config: json(withoutSetting), updated_at: new Date() }).where('id', '=', row.id).execute();
    sb.service.ctx.integrations.invalidate();
    try {
      const graphBefore = sb.emulators.graph.requests().filter((r) => r.tenantId === tenantId).length;
      const ticket = await sb.openTicket('contoso', 'megan.bowen@contoso.example', 'Can I have Zendesk, please?');
      const request = await sb.requestForTicket(ticket);
      const final = await sb.waitForRequest(request.id, FINAL);
      expect(final.state).toBe('escalated');
      await sb.waitForDelivered(request.id);
      const view = sb.emulators.connectwise.tickets().find((t) => t.ticket['id'] === ticket);
      const notes = (view?.notes ?? []).map((n) => String(n['text'] ?? '')).join('\n');
      expect(notes).toContain('graphBaseUrl');
      expect(notes).toContain('https://');
      expectNothingPlanted(notes);
      expect(sb.emulators.graph.requests().filter((r) => r.tenantId === tenantId).length).toBe(graphBefore);
    } finally {
      await db.updateTable('integrations').set({ config: json(config), updated_at: new Date() }).where('id', '=', row.id).execute();
      sb.service.ctx.integrations.invalidate();
    }
  });
});

describe('credentials never follow a redirect', () => {
  it('ConnectWise: the API keys reach the configured site only', async () => {
    const elsewhere = await server((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":1,"summary":"stolen"}'));
    const site = await server((_req, res) => res.writeHead(302, { location: `${elsewhere.url}/v4_6_release/apis/3.0/service/tickets/1` }).end());
    const row = await integration('connectwise', { siteUrl: site.url, developmentLoopback: true });
    const error = await rejection(connectWiseOf(sb.service.ctx.integrations.connected(row)).client.getTicket(1));
    expect(error.code).toBe('upstream');
    expect(error.message).toMatch(/redirect/);
    expectNothingPlanted(`${error.message} ${JSON.stringify(error.details)}`);
    expect(site.requests[0]?.headers.authorization).toBe(CW_AUTH);
    expect(elsewhere.connections).toBe(0);
  });

  it('Microsoft 365: neither the client secret nor the access token reaches another host', async () => {
    const elsewhere = await server((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"value":[]}'));
    // The token endpoint redirects the POST that carries the client secret.
    const login = await server((_req, res) => res.writeHead(307, { location: `${elsewhere.url}/token` }).end());
    await integration('m365', { graphBaseUrl: `${elsewhere.url}/v1.0`, loginBaseUrl: login.url, developmentLoopback: true });
    const signIn = await rejection((await sb.service.ctx.integrations.identityForClient(hostileClientId))!.mailAlreadySent('it@hostile.example', 's', 'm1'));
    expect(signIn.message).toMatch(/redirect/);
    expect(login.requests).toHaveLength(1);
    expect(elsewhere.connections).toBe(0);

    // Graph itself redirects a call that carries the token.
    const graph = await server((_req, res) => res.writeHead(302, { location: `${elsewhere.url}/v1.0/users` }).end());
    await integration('m365', { graphBaseUrl: `${graph.url}/v1.0`, loginBaseUrl: (await tokenServer()).url, developmentLoopback: true });
    const call = await rejection((await sb.service.ctx.integrations.identityForClient(hostileClientId))!.mailAlreadySent('it@hostile.example', 's', 'm2'));
    expect(call.message).toMatch(/redirect/);
    expectNothingPlanted(call.message);
    expect(graph.requests[0]?.headers.authorization).toBe(`Bearer ${PLANTED.token}`);
    expect(elsewhere.connections).toBe(0);
  });

  it('a ConnectWise callback whose signing key redirects elsewhere is refused, and the other host sees nothing', async () => {
    const elsewhere = await server((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"signing_key":"attacker"}'));
    const site = await server((_req, res) => res.writeHead(302, { location: `${elsewhere.url}/key` }).end());
    const row = await integration('connectwise', { siteUrl: site.url, developmentLoopback: true });
    const answer = await postCallback(row, `${site.url}/v4_6_release/system/callbackkey/index.rails?id=k1`);
    expect(answer.status).toBe(502);
    expect(answer.text).toMatch(/redirect/);
    expectNothingPlanted(answer.text);
    expect(site.requests[0]?.headers['clientid']).toBe(PLANTED.clientId);
    expect(elsewhere.connections).toBe(0);
  });
});

describe('answers are cut off at their limit while they stream in', () => {
  it('ConnectWise: a chunked answer past 10 MiB fails the call; the site could hand over only a fraction of it', async () => {
    let finished = false;
    const site = await server(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      await streamBody(res, { totalBytes: 96 * MiB, chunk: ' ' });
      finished = !res.destroyed;
    });
    const row = await integration('connectwise', { siteUrl: site.url, developmentLoopback: true });
    const error = await rejection(connectWiseOf(sb.service.ctx.integrations.connected(row)).client.getTicket(1));
    expect(error.message).toMatch(/larger than 10 MiB/);
    expect(site.requests).toHaveLength(1);
    expect(finished).toBe(false);
    expect(site.bytesSent()).toBeLessThan(32 * MiB);
  });

  it('Microsoft Graph: an answer announcing 1 GiB is refused before its body is read', async () => {
    const graph = await server(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1024 * MiB) });
      await streamBody(res, { totalBytes: 96 * MiB, chunk: ' ' });
      res.destroy();
    });
    await integration('m365', { graphBaseUrl: `${graph.url}/v1.0`, loginBaseUrl: (await tokenServer()).url, developmentLoopback: true });
    const error = await rejection((await sb.service.ctx.integrations.identityForClient(hostileClientId))!.mailAlreadySent('it@hostile.example', 's', 'm3'));
    expect(error.message).toMatch(/larger than 10 MiB/);
    expect(graph.requests).toHaveLength(1);
    expect(graph.bytesSent()).toBeLessThan(16 * MiB);
  });

  it('a ConnectWise signing key is read up to 64 KiB: a callback naming an endless key is refused (502), and reading stopped early', async () => {
    const site = await server(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      await streamBody(res, { totalBytes: 96 * MiB, chunk: ' ' });
    });
    const row = await integration('connectwise', { siteUrl: site.url, developmentLoopback: true });
    const before = await sb.service.ctx.db.selectFrom('requests').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    const answer = await postCallback(row, `${site.url}/v4_6_release/system/callbackkey/index.rails?id=endless`);
    expect(answer.status).toBe(502);
    expect(answer.text).toMatch(/larger than 64 KiB/);
    expectNothingPlanted(answer.text);
    // Fetched once, not again and again for one callback.
    expect(site.requests).toHaveLength(1);
    expect(site.bytesSent()).toBeLessThan(16 * MiB);
    const after = await sb.service.ctx.db.selectFrom('requests').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
  });

  it('a ConnectWise signing key that never comes is given up after two tries of 5 s: the callback is answered, not held', async () => {
    const site = await server(() => undefined);
    const row = await integration('connectwise', { siteUrl: site.url, developmentLoopback: true });
    const started = Date.now();
    const answer = await postCallback(row, `${site.url}/v4_6_release/system/callbackkey/index.rails?id=slow`);
    const elapsed = Date.now() - started;
    expect(answer.status).toBe(503);
    expect(answer.text).toMatch(/timed out/);
    expect(site.requests).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(9_000);
    expect(elapsed).toBeLessThan(14_000);
  }, 30_000);

  it('a ConnectWise callback naming a signing-key URL longer than 2 KiB is refused without fetching it', async () => {
    const site = await server((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"signing_key":"k"}'));
    const row = await integration('connectwise', { siteUrl: site.url, developmentLoopback: true });
    const answer = await postCallback(row, `${site.url}/v4_6_release/system/callbackkey/index.rails?id=${'k'.repeat(4096)}`);
    expect(answer.status).toBe(401);
    expect(site.connections).toBe(0);
  });
});
