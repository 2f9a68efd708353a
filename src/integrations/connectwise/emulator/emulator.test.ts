import { afterEach, describe, expect, it } from 'vitest';
import { loadDemoWorld } from '../../../world/fixture.ts';
import { basicAuthorization, ConnectWiseClient } from '../client.ts';
import {
  type ConnectWiseEmulator,
  emulatorApiCredentials,
  emulatorPortalCredentials,
  startConnectWiseEmulator,
  TICKET_ID_START,
} from './index.ts';

/**
 * The emulator's own promises to the demo, the benchmarks and the `deskhand emulators` process:
 * ids derived from the fixture, credentials per MSP, and the `/_emulator/` control surface over HTTP.
 */

const started: ConnectWiseEmulator[] = [];

async function start(options: { publicUrl?: string } = {}): Promise<ConnectWiseEmulator> {
  const emulator = await startConnectWiseEmulator({ world: loadDemoWorld(), ...options });
  started.push(emulator);
  return emulator;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((e) => e.close()));
});

async function control(emulator: ConnectWiseEmulator, method: string, path: string, body?: unknown) {
  const response = await fetch(`${emulator.url}/_emulator/${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>) };
}

function apiClient(emulator: ConnectWiseEmulator, mspId = 'northwind'): ConnectWiseClient {
  return new ConnectWiseClient({ siteUrl: emulator.url, ...emulatorApiCredentials(mspId) });
}

describe('ConnectWise emulator', () => {
  it('derives company, contact, member and board ids from the fixture: two runs agree', async () => {
    const snapshot = async (emulator: ConnectWiseEmulator) => {
      const api = apiClient(emulator);
      const company = await api.findCompanyByIdentifier('fabrikam');
      const deskhand = await api.getMember('deskhand');
      const [board] = await api.listBoards();
      const ticket = await new ConnectWiseClient({ siteUrl: emulator.url, ...emulatorPortalCredentials('northwind') }).createTicket({
        summary: 'Laptop will not boot',
        company: { identifier: 'fabrikam' },
        contactEmailAddress: 'grace.hopper@fabrikam.example',
      });
      return { company: company?.id, member: deskhand?.id, board: board?.id, ticket: ticket.id, contact: ticket.contact?.id };
    };
    const first = await snapshot(await start());
    const second = await snapshot(await start());
    expect(first).toEqual(second);
    expect(first.ticket).toBe(TICKET_ID_START);
    expect(first.contact).toBeGreaterThan(0);
  });

  it('only knows the MSPs whose PSA is ConnectWise, and only their own keys', async () => {
    const emulator = await start();
    await expect(apiClient(emulator, 'tailspin').getMember('deskhand')).rejects.toMatchObject({ details: { status: 401 } });
    // Northwind's public key with another MSP's company id is refused too.
    const mixed = { ...emulatorApiCredentials('northwind'), companyId: 'woodgrove' };
    await expect(new ConnectWiseClient({ siteUrl: emulator.url, ...mixed }).getMember('deskhand')).rejects.toMatchObject({
      details: { status: 401 },
    });
    const companies = await apiClient(emulator).listTickets();
    expect(companies).toEqual([]);
  });

  it('answers unknown endpoints like ConnectWise', async () => {
    const emulator = await start();
    const keys = emulatorApiCredentials('northwind');
    const response = await fetch(`${emulator.apiBaseUrl}service/nothing`, {
      headers: { authorization: basicAuthorization(keys.companyId, keys.publicKey, keys.privateKey), clientId: keys.clientId },
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ code: 'ConnectWiseApi', message: 'The endpoint does not exist.' });
  });

  it('exposes tickets with their notes, faults, deliveries and reset under /_emulator/', async () => {
    const emulator = await start();
    const portal = new ConnectWiseClient({ siteUrl: emulator.url, ...emulatorPortalCredentials('northwind') });
    const ticket = await portal.createTicket({
      summary: 'Shared mailbox missing',
      company: { identifier: 'contoso' },
      initialDescription: 'I cannot see the Sales mailbox.',
    });
    await apiClient(emulator).addTicketNote(ticket.id, { text: 'internal diagnosis', visibility: 'internal' });

    const listed = await control(emulator, 'GET', 'tickets');
    const [view] = listed.body!['tickets'] as { companyId: string; ticket: { id: number }; notes: Record<string, unknown>[] }[];
    expect(view!.companyId).toBe('northwind');
    expect(view!.ticket.id).toBe(ticket.id);
    expect(view!.notes.map((n) => [n['text'], n['detailDescriptionFlag'], n['internalAnalysisFlag']])).toEqual([
      ['I cannot see the Sales mailbox.', true, false],
      ['internal diagnosis', false, true],
    ]);

    const fault = await control(emulator, 'POST', 'faults', { status: 500, count: 1, pathContains: '/service/tickets', method: 'GET' });
    expect(fault.status).toBe(201);
    expect((await control(emulator, 'GET', 'faults')).body!['faults']).toHaveLength(1);
    const raw = await fetch(`${emulator.apiBaseUrl}service/tickets/${ticket.id}`);
    expect(raw.status).toBe(500);
    expect((await control(emulator, 'GET', 'faults')).body!['faults']).toEqual([]);
    expect((await control(emulator, 'POST', 'faults', { status: 'x' })).status).toBe(400);

    expect((await control(emulator, 'GET', 'callbacks/deliveries')).body).toEqual({ deliveries: [] });
    expect((await control(emulator, 'GET', 'info')).body).toMatchObject({
      system: 'connectwise',
      codebase: 'v4_6_release/',
      companies: [{ companyId: 'northwind', clients: ['contoso', 'fabrikam'] }],
    });

    expect((await control(emulator, 'POST', 'reset')).status).toBe(204);
    expect((await control(emulator, 'GET', 'tickets')).body).toEqual({ tickets: [] });
  });

  it('delays a request without failing it when a fault has a success status', async () => {
    const emulator = await start();
    emulator.addFault({ status: 200, delayMs: 300, pathContains: '/system/members' });
    const began = Date.now();
    await apiClient(emulator).getMember('deskhand');
    expect(Date.now() - began).toBeGreaterThanOrEqual(280);
  });

  it('advertises a public URL in links when given one', async () => {
    const emulator = await start({ publicUrl: 'http://cw.emulator.test:9000/' });
    expect(emulator.url).toBe('http://cw.emulator.test:9000');
    const keys = emulatorApiCredentials('northwind');
    const response = await fetch(`http://127.0.0.1:${emulator.port}/v4_6_release/apis/3.0/service/tickets`, {
      headers: { authorization: basicAuthorization(keys.companyId, keys.publicKey, keys.privateKey), clientId: keys.clientId },
    });
    expect(response.headers.get('link')).toContain('http://cw.emulator.test:9000/v4_6_release/apis/3.0/service/tickets?page=1');
  });
});
