import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadDemoWorld } from '../../../world/fixture.ts';
import { signatureMatches } from '../webhook.ts';
import { type AutotaskEmulator, emulatorApiCredentials, emulatorCompanyId, startAutotaskEmulator } from './index.ts';

/** The emulator refuses what Autotask refuses, and signs its webhooks as Autotask does. */
const world = loadDemoWorld();
const credentials = emulatorApiCredentials('woodgrove');
let emulator: AutotaskEmulator;
const headers = { ApiIntegrationCode: credentials.integrationCode, UserName: credentials.username, Secret: credentials.secret, 'content-type': 'application/json' };

async function call(method: string, path: string, body?: unknown, with_: Record<string, string> = headers) {
  const response = await fetch(`${emulator.url}/ATServicesRest/V1.0/${path}`, { method, headers: with_, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: response.status, body: (await response.json().catch(() => null)) as Record<string, unknown> };
}

beforeAll(async () => {
  emulator = await startAutotaskEmulator({ world });
});
afterAll(async () => {
  await emulator?.close();
});
beforeEach(() => emulator.reset());

describe('the Autotask emulator', () => {
  it('answers zoneInformation for its API users only, with itself as the zone', async () => {
    const known = await fetch(`${emulator.zoneLookupUrl}v1.0/zoneInformation?user=${encodeURIComponent(credentials.username)}`);
    expect(await known.json()).toMatchObject({ url: `${emulator.url}/ATServicesRest/` });
    expect((await fetch(`${emulator.zoneLookupUrl}v1.0/zoneInformation?user=nobody@example.com`)).status).toBe(404);
  });

  it('refuses a call without each of the three headers, or with a wrong one', async () => {
    const filter = { filter: [{ op: 'gt', field: 'id', value: 0 }] };
    expect((await call('POST', 'Companies/query', filter)).status).toBe(200);
    for (const drop of ['ApiIntegrationCode', 'UserName', 'Secret']) {
      const without = Object.fromEntries(Object.entries(headers).filter(([k]) => k !== drop));
      expect((await call('POST', 'Companies/query', filter, without)).status, drop).toBe(401);
    }
    expect((await call('POST', 'Companies/query', filter, { ...headers, ApiIntegrationCode: 'OTHER' })).status).toBe(401);
  });

  it('refuses queries without a filter, with an unknown operator or field, or MaxRecords outside 1-500', async () => {
    expect((await call('POST', 'Tickets/query', {})).status).toBe(500);
    expect((await call('POST', 'Tickets/query', { filter: [{ op: 'like', field: 'id', value: 1 }] })).status).toBe(500);
    expect((await call('POST', 'Tickets/query', { filter: [{ op: 'eq', field: 'nope', value: 1 }] })).status).toBe(500);
    expect((await call('POST', 'Tickets/query', { MaxRecords: 501, filter: [{ op: 'gt', field: 'id', value: 0 }] })).status).toBe(500);
    const ok = await call('POST', 'Tickets/query', { MaxRecords: 500, filter: [{ op: 'or', items: [{ op: 'eq', field: 'status', value: 1 }, { op: 'eq', field: 'status', value: 5 }] }] });
    expect(ok.status).toBe(200);
  });

  it('creates notes only through the ticket, with a title and picklist values', async () => {
    const ticket = emulator.openTicket({ client: 'litware', requester: 'ivan.petrov@litware.example', title: 't', description: 'd' });
    const note = { title: 'x', description: 'y', noteType: 3, publish: 2 };
    expect((await call('POST', 'TicketNotes', { ...note, ticketID: ticket.id })).status).toBe(404);
    expect((await call('POST', `Tickets/${ticket.id}/Notes`, { ...note, title: '' })).status).toBe(500);
    expect((await call('POST', `Tickets/${ticket.id}/Notes`, { ...note, publish: 9 })).status).toBe(500);
    expect((await call('POST', `Tickets/${ticket.id}/Notes`, { ...note, noteType: 99 })).status).toBe(500);
    expect((await call('POST', `Tickets/${ticket.id + 1}/Notes`, note)).status).toBe(404);
    const created = await call('POST', `Tickets/${ticket.id}/Notes`, note);
    expect(created.status).toBe(200);
    expect(typeof created.body['itemId']).toBe('number');
    expect(emulator.effects().filter((e) => e.op === 'note_added')).toHaveLength(1);
  });

  it('signs its webhooks with the secret key, and skips an excluded resource', async () => {
    const received: { body: string; signature: string | undefined }[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ body, signature: req.headers['x-hook-signature'] as string | undefined });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    try {
      const secretKey = 'k'.repeat(40);
      const base = { name: 'n', webhookUrl: url, deactivationUrl: url, secretKey, isActive: true, isSubscribedToCreateEvents: true };
      expect((await call('POST', 'TicketWebhooks', { ...base, secretKey: 'x'.repeat(65) })).status).toBe(500);
      expect((await call('POST', 'TicketWebhooks', { ...base, deactivationUrl: '' })).status).toBe(500);
      const hook = await call('POST', 'TicketNoteWebhooks', base);
      const ticketHook = await call('POST', 'TicketWebhooks', base);
      expect(ticketHook.status).toBe(200);
      const ticket = emulator.openTicket({ client: 'litware', requester: 'ivan.petrov@litware.example', title: 't', description: 'd' });
      await emulator.deliveriesSettled();
      expect(received).toHaveLength(1);
      expect(JSON.parse(received[0]!.body)).toMatchObject({ Action: 'Create', EntityType: 'Ticket', Id: ticket.id, Fields: { CompanyID: emulatorCompanyId(world, 'litware') } });
      expect(signatureMatches(secretKey, received[0]!.body, received[0]!.signature)).toBe(true);
      expect(signatureMatches('another-key', received[0]!.body, received[0]!.signature)).toBe(false);
      // deskhand's Resource excluded from the note webhook: its note sends nothing.
      const resources = await call('POST', 'Resources/query', { filter: [{ op: 'eq', field: 'userName', value: credentials.username }] });
      const own = (resources.body['items'] as { id: number }[])[0]!.id;
      expect((await call('POST', `TicketNoteWebhooks/${String(hook.body['itemId'])}/ExcludedResources`, { resourceID: own })).status).toBe(200);
      await call('POST', `Tickets/${ticket.id}/Notes`, { title: 'x', description: 'y', noteType: 3, publish: 2 });
      emulator.addTechnicianNote(ticket.id, 'from a technician');
      await emulator.deliveriesSettled();
      expect(received.map((r) => JSON.parse(r.body).EntityType)).toEqual(['Ticket', 'TicketNote']);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('answers faults: 429 with Retry-After, 500, and reset clears them', async () => {
    emulator.addFault({ status: 429, retryAfterSeconds: 7, count: 1 });
    const response = await fetch(`${emulator.url}/ATServicesRest/V1.0/Companies/query`, { method: 'POST', headers, body: JSON.stringify({ filter: [{ op: 'gt', field: 'id', value: 0 }] }) });
    expect([response.status, response.headers.get('retry-after')]).toEqual([429, '7']);
    emulator.addFault({ status: 500, count: 3 });
    emulator.reset();
    expect((await call('POST', 'Companies/query', { filter: [{ op: 'gt', field: 'id', value: 0 }] })).status).toBe(200);
    expect(emulator.requests().every((r) => !JSON.stringify(r).includes(credentials.secret))).toBe(true);
  });
});
