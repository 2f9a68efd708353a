import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadDemoWorld } from '../../world/fixture.ts';
import { AutotaskClient, zoneUrlProblem } from './client.ts';
import { type AutotaskEmulator, emulatorApiCredentials, emulatorCompanyId, startAutotaskEmulator } from './emulator/index.ts';

/** The Autotask client against its emulator over real HTTP: zone, headers, paging, faults, errors. */
const world = loadDemoWorld();
let emulator: AutotaskEmulator;
const credentials = emulatorApiCredentials('woodgrove');

function client(overrides: Partial<{ secret: string; integrationCode: string; username: string }> = {}, options: ConstructorParameters<typeof AutotaskClient>[1] = {}) {
  return new AutotaskClient({ ...credentials, ...overrides, zoneLookupUrl: emulator.zoneLookupUrl, developmentLoopback: true }, { maxInlineWaitMs: 2_000, ...options });
}

beforeAll(async () => {
  emulator = await startAutotaskEmulator({ world });
});
afterAll(async () => {
  await emulator?.close();
});
beforeEach(() => emulator.reset());

describe('AutotaskClient', () => {
  it('finds the zone from the API user name once, then sends the three headers to the zone', async () => {
    const at = client();
    const zone = await at.getZone();
    expect(zone.apiBaseUrl).toBe(`${emulator.url}/ATServicesRest/V1.0/`);
    await at.activeCompanies();
    await at.activeCompanies();
    const log = emulator.requests();
    expect(log.filter((r) => r.path.toLowerCase().includes('zoneinformation'))).toHaveLength(1);
    const api = log.filter((r) => r.path.startsWith('/ATServicesRest/V1.0/'));
    expect(api.length).toBe(2);
    expect(api.every((r) => r.headers.length === 3 && r.status === 200)).toBe(true);
  });

  it('refuses a zone URL off autotask.net or in cleartext unless emulated', async () => {
    expect(() => new AutotaskClient({ ...credentials, zoneLookupUrl: emulator.zoneLookupUrl, developmentLoopback: false })).toThrow(/zone lookup URL must be an https/);
    expect(zoneUrlProblem('https://webservices14.autotask.net/ATServicesRest/', false)).toBeUndefined();
    expect(zoneUrlProblem('https://evil.example/ATServicesRest/', false)).toMatch(/autotask\.net/);
    expect(zoneUrlProblem('http://webservices14.autotask.net/ATServicesRest/', false)).toMatch(/https/);
  });

  it('lists every company across pages (nextPageUrl)', async () => {
    const at = client();
    for (let i = 0; i < 5; i++) emulator.openTicket({ client: 'litware', requester: 'ivan.petrov@litware.example', title: `t${i}`, description: 'd' });
    const all = await at.query('Tickets', [{ op: 'gt', field: 'id', value: 0 }], { maxRecords: 2 });
    expect(all.map((t) => t['title'])).toEqual(['t0', 't1', 't2', 't3', 't4']);
    expect(emulator.requests().filter((r) => r.path.toLowerCase().includes('/query/next'))).toHaveLength(2);
    const companies = await at.activeCompanies();
    expect(companies.map((c) => c.id)).toContain(emulatorCompanyId(world, 'litware'));
  });

  it('waits out a 429 with Retry-After, and a 500 with backoff, then succeeds', async () => {
    const at = client();
    await at.getZone();
    emulator.addFault({ status: 429, retryAfterSeconds: 1, pathContains: 'Companies/query' });
    const started = Date.now();
    await at.activeCompanies();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    emulator.addFault({ status: 500, count: 2, pathContains: 'Companies/query' });
    await expect(at.activeCompanies()).resolves.not.toHaveLength(0);
    emulator.addFault({ status: 500, count: 5, pathContains: 'Companies/query' });
    await expect(at.activeCompanies()).rejects.toThrow(/Autotask POST Companies\/query: HTTP 500/);
  });

  it('gives up on a 429 whose Retry-After is too long, with the wait for a durable retry', async () => {
    const at = client();
    emulator.addFault({ status: 429, retryAfterSeconds: 60, pathContains: 'Companies/query' });
    const error = (await at.activeCompanies().catch((e: unknown) => e)) as { code: string; retryAfterMs: number };
    expect(error.code).toBe('upstream_retryable');
    expect(error.retryAfterMs).toBe(60_000);
  });

  it('keeps to the thread limit: at most 3 calls at once per entity', async () => {
    const at = client();
    await at.getZone();
    emulator.addFault({ delayMs: 150, count: 10, pathContains: 'Companies/query' });
    await Promise.all(Array.from({ length: 10 }, () => at.activeCompanies()));
    await Promise.all([at.ticketNotes(1), at.ticketNotes(2)]);
    expect(emulator.maxConcurrent()['companies']).toBe(3);
  });

  it('times out a slow call', async () => {
    const at = client({}, { timeoutMs: 300, maxAttempts: 1 });
    await at.getZone();
    emulator.addFault({ delayMs: 1_500, pathContains: 'Companies/query' });
    await expect(at.activeCompanies()).rejects.toThrow(/timed out/);
  });

  it('names the call on a refusal, never the credentials', async () => {
    const wrong = client({ secret: 'wrong-secret-value-123' });
    const error = (await wrong.activeCompanies().catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/Autotask POST Companies\/query: HTTP 401/);
    for (const value of ['wrong-secret-value-123', credentials.integrationCode, credentials.username]) expect(error.message).not.toContain(value);
    expect(JSON.stringify(error)).not.toContain('wrong-secret-value-123');
  });

  it('adds notes through the ticket child URL (the emulator refuses POST TicketNotes) and finds its own resource', async () => {
    const at = client();
    const ticket = emulator.openTicket({ client: 'litware', requester: 'ivan.petrov@litware.example', title: 'x', description: 'y' });
    const id = await at.addTicketNote(ticket.id, { title: 't', description: 'hello', noteType: 3, publish: 2 });
    const notes = await at.ticketNotes(ticket.id);
    expect(notes.map((n) => n.id)).toEqual([id]);
    expect(notes[0]!['creatorResourceID']).toBe(await at.ownResourceId());
    await expect(at.create('TicketNotes', { ticketID: ticket.id, title: 't', description: 'x', noteType: 3, publish: 2 })).rejects.toThrow(/404/);
  });

  it('does not post a note twice when the answer is lost after a 5xx', async () => {
    const at = client();
    const ticket = emulator.openTicket({ client: 'litware', requester: 'ivan.petrov@litware.example', title: 'x', description: 'y' });
    emulator.addFault({ status: 503, pathContains: `/Notes`, method: 'POST' });
    await at.addTicketNote(ticket.id, { title: 't', description: 'once', noteType: 3, publish: 2 });
    expect((await at.ticketNotes(ticket.id)).filter((n) => n['description'] === 'once')).toHaveLength(1);
  });

  it('does not post a note twice when Autotask made it but the answer was lost (5xx after the effect)', async () => {
    const at = client();
    const ticket = emulator.openTicket({ client: 'litware', requester: 'ivan.petrov@litware.example', title: 'x', description: 'y' });
    emulator.addFault({ status: 502, pathContains: `/Notes`, method: 'POST', afterEffect: true });
    const id = await at.addTicketNote(ticket.id, { title: 't', description: 'landed', noteType: 3, publish: 1 });
    const landed = (await at.ticketNotes(ticket.id)).filter((n) => n['description'] === 'landed');
    expect(landed.map((n) => n.id)).toEqual([id]);
    expect(emulator.requests().filter((r) => r.method === 'POST' && r.path.endsWith('/Notes')).map((r) => r.status)).toEqual([502]);
  });
});
