import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadDemoWorld } from '../../../world/fixture.ts';
import { emulatorApiCredentials, emulatorReadOnlyCredentials, type HaloEmulator, startHaloEmulator } from './index.ts';

/** The emulator refuses what Halo refuses: no token, a token without the scope, bodies it cannot take. */
let emulator: HaloEmulator;
const keys = emulatorApiCredentials('tailspin');

async function token(credentials = keys, scope = 'all', tenant = 'tailspin') {
  const response = await fetch(`${emulator.url}/auth/token?tenant=${tenant}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: credentials.clientId, client_secret: credentials.clientSecret, scope }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

async function api(method: string, path: string, bearer: string | null, body?: unknown) {
  const response = await fetch(`${emulator.url}/api/${path}`, {
    method,
    headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as unknown };
}

beforeAll(async () => {
  emulator = await startHaloEmulator({ world: loadDemoWorld() });
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(() => {
  emulator.reset();
});

describe('HaloPSA emulator', () => {
  it('its token endpoint refuses a wrong grant, tenant, secret or scope', async () => {
    expect((await token(keys, 'all', 'northwind')).status).toBe(400);
    expect((await token({ ...keys, clientSecret: 'wrong' })).body).toEqual({ error: 'invalid_client' });
    expect((await token(emulatorReadOnlyCredentials('tailspin'), 'edit:tickets')).body['error']).toBe('invalid_scope');
    expect((await token(keys, 'read:everything')).body['error']).toBe('invalid_scope');
    expect((await token(keys, 'read:tickets')).body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'read:tickets' });
  });

  it('its API refuses a call without a token (401) and one whose scopes do not cover it (403)', async () => {
    expect((await api('GET', 'Status', null)).status).toBe(401);
    expect((await api('GET', 'Status', 'made-up')).status).toBe(401);
    const readOnly = (await token(keys, 'read:tickets')).body['access_token']!;
    expect((await api('GET', 'Status', readOnly)).status).toBe(200);
    expect((await api('GET', 'Client', readOnly)).status).toBe(403);
    expect((await api('POST', 'Actions', readOnly, [{ ticket_id: 1, note: 'x' }])).status).toBe(403);
    expect((await api('GET', 'Webhook', readOnly)).status).toBe(403);
  });

  it('refuses actions it cannot take, and changes nothing', async () => {
    const bearer = (await token()).body['access_token']!;
    const ticket = await emulator.openTicket({ tenant: 'tailspin', client: 'adatum', requester: 'erin.green@adatum.example', details: 'x' });
    expect((await api('GET', 'Actions', bearer)).status).toBe(400);
    expect((await api('POST', 'Actions', bearer, 'not json')).status).toBe(400);
    expect((await api('POST', 'Actions', bearer, [])).status).toBe(400);
    expect((await api('POST', 'Actions', bearer, [{ note: 'no ticket' }])).status).toBe(400);
    expect((await api('POST', 'Actions', bearer, [{ ticket_id: ticket }])).status).toBe(400);
    expect((await api('POST', 'Actions', bearer, [{ ticket_id: ticket, note: 'x', outcome: 'Telepathy' }])).status).toBe(400);
    expect((await api('POST', 'Actions', bearer, [{ ticket_id: ticket, note: 'x', hiddenfromuser: 'yes' }])).status).toBe(400);
    expect((await api('POST', 'Actions', bearer, [{ ticket_id: ticket + 1000, note: 'x' }])).status).toBe(400);
    expect((await api('POST', 'Tickets', bearer, [{ id: ticket, status_id: 77 }])).status).toBe(400);
    expect((await api('GET', 'Tickets?pageinate=true&page_size=0', bearer)).status).toBe(400);
    expect(emulator.effects().map((e) => e.op)).toEqual(['ticket_created']);
  });

  it('a portal ticket needs a user of that client', async () => {
    await expect(emulator.openTicket({ tenant: 'tailspin', client: 'adatum', requester: 'alex.wilber@contoso.example', details: 'x' })).rejects.toThrow(/HTTP 400/);
  });

  it('calls a registered webhook for a new ticket, with Basic authentication', async () => {
    const seen: { authorization?: string; body: string }[] = [];
    const receiver = createServer((request: IncomingMessage, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        seen.push({ ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}), body });
        response.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const bearer = (await token()).body['access_token']!;
      const saved = await api('POST', 'Webhook', bearer, [{ name: 'test', url, method: 0, authentication_type: 1, basic_username: 'deskhand', basic_password: 'pw-123', events: [{ name: 'New Ticket Logged' }] }]);
      expect(saved.status).toBe(201);
      // Events are notification objects, the method an enum: a list of strings or 'POST' is refused.
      expect((await api('POST', 'Webhook', bearer, [{ name: 'x', url, method: 'POST', events: [{ name: 'New Ticket Logged' }] }])).status).toBe(400);
      expect((await api('POST', 'Webhook', bearer, [{ name: 'x', url, method: 0, events: ['New Ticket Logged'] }])).status).toBe(400);
      expect(JSON.stringify(saved.body)).not.toContain('pw-123');
      const ticket = await emulator.openTicket({ tenant: 'tailspin', client: 'adatum', requester: 'erin.green@adatum.example', details: 'Slack please' });
      await emulator.deliveriesSettled();
      expect(seen).toHaveLength(1);
      expect(seen[0]!.authorization).toBe(`Basic ${Buffer.from('deskhand:pw-123').toString('base64')}`);
      expect(JSON.parse(seen[0]!.body)).toMatchObject({ event: 'New Ticket Logged', object_id: ticket, ticket: { id: ticket, client_id: 11 } });
    } finally {
      receiver.close();
    }
  });
});
