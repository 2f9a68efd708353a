import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { FINAL } from '../src/demo/stories.ts';
import { pollMissedTickets } from '../src/engine/intake-poll.ts';
import { runDoctor } from '../src/integrations/doctor.ts';
import { silentLogger } from '../src/logger.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * Integration health and the integrations API, at the user's level: the service over HTTP with the
 * ConnectWise and Graph emulators. A ConnectWise private key that the PSA refuses makes the
 * integration unhealthy with the reason as soon as a request meets it, and the request ends visibly
 * (escalated, with the reason) instead of being lost or retried forever; a fixed key makes it
 * healthy again with the next call. The doctor runs on demand and records what it found. A PSA's
 * companies are listed and imported as clients, once.
 */

const AVA = 'ava.chen@northwind-it.example';
const TOM = 'tom.rivera@northwind-it.example';
const ROSA = 'rosa.diaz@woodgrove-tp.example';

interface Health {
  status: 'healthy' | 'unhealthy' | 'unknown';
  checkedAt: string | null;
  checkedBy: 'traffic' | 'doctor' | null;
  lastSuccessAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
}
interface Integration {
  id: string;
  kind: string;
  label: string;
  name: string;
  scope: 'msp' | 'client';
  enabled: boolean;
  client: { id: string; slug: string; name: string } | null;
  health: Health;
}
interface Company {
  externalId: string;
  name: string;
  client: { id: string; slug: string; name: string } | null;
}
interface Imported {
  created: { externalId: string; client: { id: string; slug: string; name: string } }[];
  skipped: { externalId: string; client: { id: string }; reason: string }[];
}

let sb: Sandbox;
let ava = '';
let tom = '';
let rosa = '';
let connectwise = '';
let goodSecrets: Record<string, string> = {};

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger, worker: { concurrency: 2, pollMs: 100, sweepMs: 250, intakePollMs: 0 } });
  [ava, tom, rosa] = await Promise.all([sb.tokenFor(AVA), sb.tokenFor(TOM), sb.tokenFor(ROSA)]);
  const row = await sb.service.ctx.db.selectFrom('integrations').selectAll().where('msp_id', '=', 'northwind').where('kind', '=', 'connectwise').executeTakeFirstOrThrow();
  connectwise = row.id;
  goodSecrets = sb.service.ctx.integrations.secretsOf(row);
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

/** Store these ConnectWise secrets, as an admin changing the integration would. */
async function storeSecrets(secrets: Record<string, string>): Promise<void> {
  const { ctx } = sb.service;
  await ctx.db.updateTable('integrations').set({ secrets_encrypted: ctx.secrets.encryptJson(secrets), updated_at: new Date() }).where('id', '=', connectwise).execute();
  ctx.integrations.invalidate(connectwise);
}

async function integration(id = connectwise, token = ava): Promise<{ status: number; body: Integration }> {
  return sb.api<Integration>('GET', `/api/integrations/${id}`, { token });
}

/** Move the clock past each retry's wait until the request ends (each delivery attempt is bounded). */
async function untilFinal(requestId: string): Promise<Awaited<ReturnType<Sandbox['waitForRequest']>>> {
  for (let round = 0; round < 40; round++) {
    const row = await sb.service.ctx.db.selectFrom('requests').selectAll().where('id', '=', requestId).executeTakeFirstOrThrow();
    const pending = await sb.service.ctx.db.selectFrom('outbox').select('id').where('request_id', '=', requestId).where('status', '=', 'pending').executeTakeFirst();
    if (FINAL.includes(row.state) && !pending) return row;
    sb.clock.advance(11 * 60_000);
    sb.service.worker?.poke();
    await sleep(300);
  }
  throw new Error(`request ${requestId} never ended`);
}

describe('GET /api/integrations', () => {
  it("lists the MSP's integrations with what they are and their health, and never a credential", async () => {
    const { status, body } = await sb.api<{ integrations: Integration[] }>('GET', '/api/integrations', { token: tom });
    expect(status).toBe(200);
    const cw = body.integrations.find((i) => i.id === connectwise)!;
    expect(cw).toMatchObject({ kind: 'connectwise', label: 'ConnectWise PSA', scope: 'msp', enabled: true, client: null });
    expect(['healthy', 'unknown']).toContain(cw.health.status);
    const contoso = body.integrations.find((i) => i.kind === 'm365' && i.client?.slug === 'contoso')!;
    expect(contoso).toMatchObject({ label: 'Microsoft 365', scope: 'client', client: { slug: 'contoso', name: 'Contoso Ltd' } });
    const text = JSON.stringify(body);
    for (const value of Object.values(goodSecrets)) expect(text).not.toContain(value);
    expect(text).not.toMatch(/siteUrl|publicKey|privateKey|clientSecret|settings/);
    // Another MSP's integration is one that does not exist.
    expect((await integration(connectwise, rosa)).status).toBe(404);
  });
});

describe('health from real traffic', () => {
  it('goes unhealthy with the reason when the PSA refuses the stored private key, and the request ends escalated, not lost', async () => {
    await storeSecrets({ ...goodSecrets, privateKey: 'not-the-private-key' });
    const ticket = await sb.openTicket('contoso', 'megan.bowen@contoso.example', 'Please add me to the Marketing team group.');
    const request = await sb.requestForTicket(ticket, 30_000);

    // The diagnosis could not read the ticket: the integration shows why at once.
    let health: Health | undefined;
    for (let i = 0; i < 100 && health?.status !== 'unhealthy'; i++) {
      health = (await integration()).body.health;
      if (health.status !== 'unhealthy') await sleep(100);
    }
    expect(health).toMatchObject({ status: 'unhealthy', checkedBy: 'traffic' });
    expect(health?.lastError).toMatch(/ConnectWise: the API keys were rejected \(HTTP 401/);
    expect(health?.lastError).not.toContain('not-the-private-key');
    expect(health?.lastErrorAt).not.toBeNull();

    // The note cannot reach the ticket either: after its bounded retries the request ends escalated, with the reason.
    const final = await untilFinal(request.id);
    expect([final.state, final.outcome]).toEqual(['escalated', 'escalated']);
    expect(final.last_error).toMatch(/API keys were rejected/);
    const seen = await sb.api<{ request: { state: string; lastError: string | null } }>('GET', `/api/requests/${request.id}`, { token: tom });
    expect(seen.status).toBe(200);
    expect(JSON.stringify(seen.body)).toMatch(/escalated/);
    expect(JSON.stringify(seen.body)).toMatch(/API keys were rejected/);
    const failed = await sb.service.ctx.db.selectFrom('outbox').select(['status', 'attempts']).where('request_id', '=', request.id).execute();
    expect(failed.every((m) => m.status === 'failed')).toBe(true);
  }, 120_000);

  it('is healthy again with the next call once the key is fixed, and keeps the last error with its time', async () => {
    await storeSecrets(goodSecrets);
    const ticket = await sb.openTicket('contoso', 'alex.wilber@contoso.example', "My password slipped my mind and I'm locked out today.");
    const request = await sb.requestForTicket(ticket, 30_000);
    await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL], 60_000);
    await sb.waitForDelivered(request.id, 60_000);
    const { body } = await integration();
    expect(body.health).toMatchObject({ status: 'healthy', checkedBy: 'traffic' });
    expect(body.health.lastSuccessAt).not.toBeNull();
    expect(body.health.lastError).toMatch(/API keys were rejected/);
    expect(Date.parse(body.health.lastSuccessAt!)).toBeGreaterThanOrEqual(Date.parse(body.health.lastErrorAt!));
  }, 120_000);
});

describe('health from the poll for missed tickets', () => {
  it('goes unhealthy when the PSA refuses the poll, which calls it with its own client', async () => {
    expect((await integration()).body.health.status).toBe('healthy');
    await storeSecrets({ ...goodSecrets, privateKey: 'a-third-wrong-key' });
    try {
      await pollMissedTickets(sb.service.ctx, 0);
      const { health } = (await integration()).body;
      expect(health).toMatchObject({ status: 'unhealthy', checkedBy: 'traffic' });
      expect(health.lastError).toMatch(/API keys were rejected/);
    } finally {
      await storeSecrets(goodSecrets);
    }
  });
});

describe('an identity provider with a refused credential', () => {
  it("makes the client's Microsoft 365 integration unhealthy with the reason, and escalates the request with an internal note saying why", async () => {
    const { ctx } = sb.service;
    const row = await ctx.db
      .selectFrom('integrations')
      .innerJoin('clients', 'clients.id', 'integrations.client_id')
      .selectAll('integrations')
      .where('clients.slug', '=', 'contoso')
      .where('integrations.kind', '=', 'm365')
      .executeTakeFirstOrThrow();
    const secrets = ctx.integrations.secretsOf(row);
    const wrong = secrets['clientSecret'] !== undefined ? { ...secrets, clientSecret: 'not-the-client-secret' } : { ...secrets, certificateThumbprint: 'AA'.repeat(20) };
    await ctx.db.updateTable('integrations').set({ secrets_encrypted: ctx.secrets.encryptJson(wrong), updated_at: new Date() }).where('id', '=', row.id).execute();
    ctx.integrations.invalidate(row.id);
    try {
      const ticket = await sb.openTicket('contoso', 'patti.fernandez@contoso.example', 'Please add me to the Marketing team group.');
      const request = await sb.requestForTicket(ticket, 30_000);
      const final = await sb.waitForRequest(request.id, FINAL, 60_000);
      await sb.waitForDelivered(request.id, 60_000);
      expect([final.state, final.outcome]).toEqual(['escalated', 'escalated']);
      // The note reached the PSA's ticket (which still works) and names the refused sign-in.
      const note = await ctx.db.selectFrom('outbox').select(['status', 'payload']).where('request_id', '=', request.id).where('idempotency_key', '=', `${request.id}:note`).executeTakeFirstOrThrow();
      expect(note.status).toBe('delivered');
      expect((note.payload as { text: string }).text).toMatch(/could not complete its diagnosis: .*sign-in refused/);
      const health = (await integration(row.id)).body.health;
      expect(health).toMatchObject({ status: 'unhealthy', checkedBy: 'traffic' });
      expect(health.lastError).toMatch(/sign-in refused/);
      expect(health.lastError).not.toContain('not-the-client-secret');
      // The PSA that carried the note is fine.
      expect((await integration()).body.health.status).toBe('healthy');
    } finally {
      await ctx.db.updateTable('integrations').set({ secrets_encrypted: ctx.secrets.encryptJson(secrets), updated_at: new Date() }).where('id', '=', row.id).execute();
      ctx.integrations.invalidate(row.id);
    }
  }, 120_000);
});

describe('POST /api/integrations/:id/test', () => {
  it("answers the doctor's report and records it as the integration's health", async () => {
    const green = await sb.api<{ ok: boolean; integration: { id: string; checked: boolean; ok: boolean }; tools: unknown[]; health: Health }>('POST', `/api/integrations/${connectwise}/test`, { token: ava });
    expect(green.status).toBe(200);
    expect(green.body).toMatchObject({ ok: true, integration: { id: connectwise, checked: true, ok: true }, health: { status: 'healthy', checkedBy: 'doctor' } });

    await storeSecrets({ ...goodSecrets, privateKey: 'still-not-the-private-key' });
    const red = await sb.api<{ ok: boolean; integration: { ok: boolean; checks: { ok: boolean; detail: string }[] }; health: Health }>('POST', `/api/integrations/${connectwise}/test`, { token: ava });
    expect(red.status).toBe(200);
    expect(red.body.ok).toBe(false);
    expect(red.body.health).toMatchObject({ status: 'unhealthy', checkedBy: 'doctor' });
    expect(red.body.health.lastError).toMatch(/^the doctor found: .*401/);
    expect(JSON.stringify(red.body)).not.toContain('still-not-the-private-key');
    expect((await integration()).body.health.status).toBe('unhealthy');

    // `deskhand doctor` records what it finds too.
    await storeSecrets(goodSecrets);
    await runDoctor({ db: sb.service.ctx.db, registry: sb.service.ctx.integrations, logger: silentLogger });
    expect((await integration()).body.health).toMatchObject({ status: 'healthy', checkedBy: 'doctor' });
  }, 120_000);

  it('is for msp_admin only, and another MSP\'s integration does not exist', async () => {
    expect((await sb.api('POST', `/api/integrations/${connectwise}/test`, { token: tom })).status).toBe(403);
    expect((await sb.api('POST', `/api/integrations/${connectwise}/test`, { token: rosa })).status).toBe(404);
  });
});

describe('a PSA\'s companies, imported as clients', () => {
  it('lists the companies with the client each is linked to', async () => {
    const { status, body } = await sb.api<{ companies: Company[] }>('GET', `/api/integrations/${connectwise}/companies`, { token: ava });
    expect(status).toBe(200);
    expect(body.companies.find((c) => c.externalId === 'contoso')).toMatchObject({ name: 'Contoso Ltd', client: { slug: 'contoso', name: 'Contoso Ltd' } });
    expect((await sb.api('GET', `/api/integrations/${connectwise}/companies`, { token: tom })).status).toBe(403);
    expect((await sb.api('GET', `/api/integrations/${connectwise}/companies`, { token: rosa })).status).toBe(404);
  });

  it('creates a client linked to a chosen company, in the MSP\'s mode, once', async () => {
    const { db } = sb.service.ctx;
    // A company of the PSA that is no deskhand client yet: Fabrikam, unlinked.
    await db.deleteFrom('client_links').where('integration_id', '=', connectwise).where('external_id', '=', 'fabrikam').execute();
    sb.service.ctx.integrations.invalidate(connectwise);
    const listed = await sb.api<{ companies: Company[] }>('GET', `/api/integrations/${connectwise}/companies`, { token: ava });
    expect(listed.body.companies.find((c) => c.externalId === 'fabrikam')).toMatchObject({ name: 'Fabrikam Inc', client: null });

    const clientsBefore = await db.selectFrom('clients').select('id').where('msp_id', '=', 'northwind').execute();
    const first = await sb.api<Imported>('POST', `/api/integrations/${connectwise}/import-clients`, { token: ava, body: { companies: ['fabrikam', 'contoso'] } });
    expect(first.status).toBe(200);
    expect(first.body.created).toHaveLength(1);
    expect(first.body.created[0]).toMatchObject({ externalId: 'fabrikam', client: { name: 'Fabrikam Inc', slug: 'fabrikam-inc' } });
    expect(first.body.skipped).toEqual([expect.objectContaining({ externalId: 'contoso', reason: 'already linked' })]);
    const created = first.body.created[0]!.client;
    const clients = await sb.api<{ mspDefaultOperatingMode: string; clients: { id: string; operatingMode: string; effectiveOperatingMode: string; inherited: boolean }[] }>('GET', '/api/clients', { token: tom });
    expect(clients.body.clients.find((c) => c.id === created.id)).toMatchObject({ operatingMode: 'inherit', effectiveOperatingMode: clients.body.mspDefaultOperatingMode, inherited: true });
    const relisted = await sb.api<{ companies: Company[] }>('GET', `/api/integrations/${connectwise}/companies`, { token: ava });
    expect(relisted.body.companies.find((c) => c.externalId === 'fabrikam')?.client).toEqual(created);

    const again = await sb.api<Imported>('POST', `/api/integrations/${connectwise}/import-clients`, { token: ava, body: { companies: ['FABRIKAM'] } });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ created: [], skipped: [expect.objectContaining({ externalId: 'fabrikam', client: expect.objectContaining({ id: created.id }) })] });
    const clientsAfter = await db.selectFrom('clients').select('id').where('msp_id', '=', 'northwind').execute();
    expect(clientsAfter).toHaveLength(clientsBefore.length + 1);
  });

  it('refuses unknown companies, technicians, and another MSP\'s integration, changing nothing', async () => {
    const { db } = sb.service.ctx;
    const count = async () => (await db.selectFrom('clients').select('id').execute()).length;
    const before = await count();
    const unknown = await sb.api<{ error: { message: string } }>('POST', `/api/integrations/${connectwise}/import-clients`, { token: ava, body: { companies: ['no-such-company', 'contoso'] } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain('"no-such-company"');
    expect((await sb.api('POST', `/api/integrations/${connectwise}/import-clients`, { token: tom, body: { companies: ['contoso'] } })).status).toBe(403);
    expect((await sb.api('POST', `/api/integrations/${connectwise}/import-clients`, { token: rosa, body: { companies: ['contoso'] } })).status).toBe(404);
    const m365 = (await sb.api<{ integrations: Integration[] }>('GET', '/api/integrations', { token: ava })).body.integrations.find((i) => i.kind === 'm365')!;
    expect((await sb.api('POST', `/api/integrations/${m365.id}/import-clients`, { token: ava, body: { companies: ['contoso'] } })).status).toBe(400);
    expect(await count()).toBe(before);
  });
});
