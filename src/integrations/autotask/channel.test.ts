import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../logger.ts';
import { loadDemoWorld } from '../../world/fixture.ts';
import type { ConnectedIntegration } from '../module.ts';
import { AutotaskChannel } from './channel.ts';
import { AutotaskClient } from './client.ts';
import { doctorAutotask } from './doctor.ts';
import { type AutotaskEmulator, API_RESOURCE_ID, emulatorApiCredentials, emulatorCompanyId, startAutotaskEmulator } from './emulator/index.ts';
import { autotask } from './index.ts';

/** The ticket capability and the doctor against the emulator over HTTP. */
const world = loadDemoWorld();
let emulator: AutotaskEmulator;
const credentials = emulatorApiCredentials('woodgrove');

function channel(secret = credentials.secret) {
  return new AutotaskChannel(new AutotaskClient({ ...credentials, secret, zoneLookupUrl: emulator.zoneLookupUrl, developmentLoopback: true }));
}

function open(requester = 'ivan.petrov@litware.example') {
  return emulator.openTicket({ client: 'litware', requester, title: 'I need Zendesk', description: '  Could you give me Zendesk access?  ' }).id;
}

beforeAll(async () => {
  emulator = await startAutotaskEmulator({ world });
});
afterAll(async () => {
  await emulator?.close();
});
beforeEach(() => emulator.reset());

describe('AutotaskChannel', () => {
  it('reads the ticket: title, description, the contact as requester, the company id', async () => {
    const id = open();
    expect(await channel().getTicket(String(id))).toEqual({
      ref: String(id),
      summary: 'I need Zendesk',
      description: 'Could you give me Zendesk access?',
      requesterEmail: 'ivan.petrov@litware.example',
      requesterName: 'Ivan Petrov',
      companyIdentifier: String(emulatorCompanyId(world, 'litware')),
    });
  });

  it('writes the internal note Internal Only with its marker, the reply All Autotask Users without it', async () => {
    const id = open();
    const ch = channel();
    await ch.postNote(String(id), { text: 'Plan: add to SG-App-Zendesk', visibility: 'internal', marker: '[deskhand ref abc]' });
    await ch.postNote(String(id), { text: 'You now have Zendesk.', visibility: 'customer', marker: '[deskhand ref def]' });
    const notes = emulator.tickets().find((t) => t.ticket.id === id)!.notes;
    expect(notes.map((n) => [n['publish'], n['description']])).toEqual([
      [2, 'Plan: add to SG-App-Zendesk\n[deskhand ref abc]'],
      [1, 'You now have Zendesk.'],
    ]);
    expect(notes.every((n) => n['creatorResourceID'] === API_RESOURCE_ID && typeof n['title'] === 'string' && n['title'] !== '')).toBe(true);
  });

  it('finds a reply again after a crash by content, author and publish type, and nothing else', async () => {
    const id = open();
    const ch = channel();
    const reply = { text: 'You now have Zendesk.', visibility: 'customer', marker: '[deskhand ref r1]' } as const;
    expect(await ch.findNote(String(id), reply)).toBeNull();
    // The same words from a technician, or in an internal note, are not deskhand's reply.
    emulator.addTechnicianNote(id, 'You now have Zendesk.');
    await ch.postNote(String(id), { text: 'You now have Zendesk.', visibility: 'internal', marker: '' });
    expect(await ch.findNote(String(id), reply)).toBeNull();
    const posted = await ch.postNote(String(id), reply);
    expect(await ch.findNote(String(id), { ...reply, text: 'You now have Zendesk.\r\n' })).toBe(posted.id);
    // Reconciliation found it: the engine posts nothing more. One reply on the ticket.
    expect(emulator.tickets().find((t) => t.ticket.id === id)!.notes.filter((n) => n['publish'] === 1)).toHaveLength(1);
    const internal = await ch.postNote(String(id), { text: 'note', visibility: 'internal', marker: '[deskhand ref i1]' });
    expect(await ch.findNote(String(id), { text: '', visibility: 'internal', marker: '[deskhand ref i1]' })).toBe(internal.id);
  });

  it('lists queues with the status picklist, and moves a ticket by its queue', async () => {
    const id = open();
    const ch = channel();
    const boards = await ch.boards();
    expect(boards.map((b) => b.name)).toEqual(['Client Portal', 'Level I Support']);
    expect(boards[0]!.statuses).toContain('Waiting Approval');
    expect(await ch.setStatus(String(id), { 'Level I Support': 'In Progress' })).toEqual({ board: 'Client Portal', status: null, changed: false });
    expect(await ch.setStatus(String(id), { 'client portal': 'In Progress' })).toEqual({ board: 'Client Portal', status: 'In Progress', changed: true });
    expect(await ch.setStatus(String(id), { 'Client Portal': 'in progress' })).toEqual({ board: 'Client Portal', status: 'In Progress', changed: false });
    await expect(ch.setStatus(String(id), { 'Client Portal': 'Gone' })).rejects.toThrow(/status "Gone" does not exist/);
    expect(emulator.effects().filter((e) => e.op === 'status_changed').map((e) => e.firstLine)).toEqual(['In Progress']);
  });

  it('lists the active companies by id', async () => {
    const companies = await channel().companies();
    expect(companies).toContainEqual({ externalId: String(emulatorCompanyId(world, 'litware')), name: 'Litware Inc' });
  });
});

describe('doctorAutotask', () => {
  function connected(secret: string): ConnectedIntegration {
    const settings = { username: credentials.username, integrationCode: credentials.integrationCode, zoneLookupUrl: emulator.zoneLookupUrl, emulated: true, developmentLoopback: true };
    const secrets = { secret, webhookSecret: 'x'.repeat(32) };
    return { id: 'i', mspId: 'woodgrove', name: 'Autotask', kind: 'autotask', settings, secrets, connection: autotask.connect({ integrationId: 'i', name: 'Autotask', kind: 'autotask', settings, secrets }) };
  }
  const host = { logger: silentLogger, linkedClients: async () => [] };

  it('reports every part ok with the right credentials', async () => {
    const report = await doctorAutotask(connected(credentials.secret), host);
    expect(report.tools.filter((t) => t.status !== 'ok')).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checks.find((c) => c.name.startsWith('TicketNotes publish'))?.ok).toBe(true);
  });

  it('reports the refused credentials with the fix, never the secret', async () => {
    const report = await doctorAutotask(connected('not-the-secret-999'), host);
    expect(report.ok).toBe(false);
    expect(report.tools.every((t) => t.status === 'missing')).toBe(true);
    expect(report.checks[0]?.fix).toMatch(/tracking identifier/);
    expect(JSON.stringify(report)).not.toContain('not-the-secret-999');
  });
});
