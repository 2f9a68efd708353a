import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeskhandError } from '../../core/errors.ts';
import { loadDemoWorld } from '../../world/fixture.ts';
import { HaloClient, type HaloClientOptions } from './client.ts';
import { emulatorApiCredentials, emulatorReadOnlyCredentials, type HaloEmulator, startHaloEmulator } from './emulator/index.ts';

let emulator: HaloEmulator;
const keys = emulatorApiCredentials('tailspin');

function client(options: HaloClientOptions = {}, overrides: Partial<ConstructorParameters<typeof HaloClient>[0]> = {}): HaloClient {
  return new HaloClient({ baseUrl: emulator.url, tenant: keys.tenant, clientId: keys.clientId, clientSecret: keys.clientSecret, ...overrides }, options);
}

async function caught(promise: Promise<unknown>): Promise<DeskhandError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeskhandError);
  return error as DeskhandError;
}

function expectNoSecrets(error: DeskhandError): void {
  const text = `${error.message} ${JSON.stringify(error.details ?? {})} ${String(error.cause ?? '')}`;
  expect(text).not.toContain(keys.clientSecret);
}

function openPortalTicket(_url: string, details: string, requester = 'dan.brown@adatum.example'): Promise<number> {
  return emulator.openTicket({ tenant: 'tailspin', client: 'adatum', requester, details });
}

const apiCalls = (path: string) => emulator.requests().filter((r) => r.path.toLowerCase() === path.toLowerCase());

beforeAll(async () => {
  emulator = await startHaloEmulator({ world: loadDemoWorld() });
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(() => {
  emulator.reset();
});

describe('HaloPSA client: signing in', () => {
  it('gets a token with client credentials for the tenant, and keeps it for later calls', async () => {
    const halo = client();
    await halo.listStatuses();
    await halo.listTicketTypes();
    expect(apiCalls('/auth/token')).toHaveLength(1);
    expect(apiCalls('/auth/token')[0]!.query).toEqual({ tenant: 'tailspin' });
    expect(await halo.grantedScope()).toBe('read:tickets edit:tickets read:customers');
  });

  it('a wrong secret is refused: the error names HaloPSA and the token call, never the secret', async () => {
    const error = await caught(client({}, { clientSecret: `${keys.clientSecret}x` }).listStatuses());
    expect(error.message).toMatch(/^HaloPSA POST token: HTTP 401.*invalid_client/);
    expect(error.message).not.toContain(keys.clientSecret);
    expect(apiCalls('/api/Status')).toHaveLength(0);
  });

  it('a wrong tenant and a scope the application lacks are refused', async () => {
    expect((await caught(client({}, { tenant: 'northwind' }).listStatuses())).message).toMatch(/POST token: HTTP 400.*tenant/);
    const readOnly = emulatorReadOnlyCredentials('tailspin');
    const error = await caught(client({}, { clientId: readOnly.clientId, clientSecret: readOnly.clientSecret }).listStatuses());
    expect(error.message).toMatch(/invalid_scope/);
    expectNoSecrets(error);
  });

  it('a 403 names the call and the missing permission', async () => {
    const readOnly = emulatorReadOnlyCredentials('tailspin');
    const halo = client({}, { clientId: readOnly.clientId, clientSecret: readOnly.clientSecret, scope: 'read:tickets' });
    await halo.listStatuses();
    const error = await caught(halo.listClients());
    expect(error.message).toMatch(/^HaloPSA GET Client: HTTP 403 \(the application, its scopes or its agent lack the permission\)/);
  });

  it('an expired token is replaced once, and the call goes through', async () => {
    const halo = client();
    await halo.listStatuses();
    emulator.expireTokens();
    expect((await halo.listStatuses()).length).toBeGreaterThan(0);
    expect(apiCalls('/auth/token')).toHaveLength(2);
    expect(apiCalls('/api/Status').map((r) => r.status)).toEqual([200, 401, 200]);
  });

  it('a 401 that persists is not retried a second time', async () => {
    const halo = client();
    await halo.listStatuses();
    emulator.addFault({ status: 401, count: 5, pathContains: '/api/TicketType' });
    const error = await caught(halo.listTicketTypes());
    expect(error.message).toMatch(/^HaloPSA GET TicketType: HTTP 401/);
    expect(apiCalls('/api/TicketType')).toHaveLength(2);
    expect(apiCalls('/auth/token')).toHaveLength(2);
  });
});

describe('HaloPSA client: paging, faults and timeouts', () => {
  it('reads every page with pageinate, page_size and page_no', async () => {
    for (let i = 0; i < 5; i++) await openPortalTicket(emulator.url, `ticket ${i}`);
    const tickets = await client({ pageSize: 2 }).listTickets({ order: 'id' });
    expect(tickets.map((t) => t.summary)).toEqual(['ticket 0', 'ticket 1', 'ticket 2', 'ticket 3', 'ticket 4']);
    expect(apiCalls('/api/Tickets').map((r) => [r.query['pageinate'], r.query['page_size'], r.query['page_no']])).toEqual([
      ['true', '2', '1'],
      ['true', '2', '2'],
      ['true', '2', '3'],
    ]);
    expect(await client({ pageSize: 2 }).listTickets({}, 3)).toHaveLength(3);
  });

  it('waits out a 429 with Retry-After and tries again', async () => {
    emulator.addFault({ status: 429, retryAfterSeconds: 0.2, pathContains: '/api/Status' });
    const started = Date.now();
    expect((await client().listStatuses()).length).toBeGreaterThan(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(apiCalls('/api/Status').map((r) => r.status)).toEqual([429, 200]);
  });

  it('a Retry-After longer than it waits inline is handed back with the wait', async () => {
    emulator.addFault({ status: 429, retryAfterSeconds: 30, pathContains: '/api/Status' });
    const error = await caught(client().listStatuses());
    expect(error.retryable).toBe(true);
    expect(error.retryAfterMs).toBe(30_000);
    expect(error.message).toMatch(/^HaloPSA GET Status: HTTP 429/);
  });

  it('backs off on 5xx, a bounded number of times', async () => {
    emulator.addFault({ status: 500, count: 1, pathContains: '/api/Status' });
    expect((await client().listStatuses()).length).toBeGreaterThan(0);
    emulator.addFault({ status: 503, count: 10, pathContains: '/api/TicketType' });
    const error = await caught(client({ maxAttempts: 3 }).listTicketTypes());
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/^HaloPSA GET TicketType: HTTP 503/);
    expect(apiCalls('/api/TicketType')).toHaveLength(3);
    expectNoSecrets(error);
  });

  it('gives up on a slow answer after its timeout, naming the call', async () => {
    const halo = client({ timeoutMs: 150, maxAttempts: 1 });
    await halo.listStatuses();
    emulator.addFault({ delayMs: 1000, pathContains: '/api/TicketType' });
    const error = await caught(halo.listTicketTypes());
    expect(error.message).toBe('HaloPSA GET TicketType could not be reached (timed out)');
    expect(error.details?.['timedOut']).toBe(true);
  });

  it('an action whose answer was lost is found, not posted again', async () => {
    const ticket = await openPortalTicket(emulator.url, 'lost answer');
    emulator.addFault({ status: 502, afterEffect: true, method: 'POST', pathContains: '/api/Actions' });
    const action = await client().addAction({ ticket_id: ticket, note: 'Looking into it', outcome: 'Private Note', hiddenfromuser: true, sendemail: false });
    expect(action.note).toBe('Looking into it');
    expect(emulator.effects().filter((e) => e.op === 'action_added')).toHaveLength(1);
  });
});
