import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeskhandError } from '../../core/errors.ts';
import { loadDemoWorld } from '../../world/fixture.ts';
import { HaloChannel } from './channel.ts';
import { HaloClient } from './client.ts';
import { API_AGENT_NAME, emulatorApiCredentials, type HaloEmulator, startHaloEmulator } from './emulator/index.ts';

let emulator: HaloEmulator;
const keys = emulatorApiCredentials('tailspin');
const MARKER = '[deskhand ref abc123]';

function channel(options: { maxAttempts?: number } = {}): HaloChannel {
  const client = new HaloClient({ baseUrl: emulator.url, tenant: keys.tenant, clientId: keys.clientId, clientSecret: keys.clientSecret }, options);
  return new HaloChannel(client, { apiAgentName: API_AGENT_NAME });
}

const open = (details = 'I need access to Salesforce.') => emulator.openTicket({ tenant: 'tailspin', client: 'adatum', requester: 'Dan.Brown@adatum.example', details, summary: 'Salesforce access' });
const actionsOf = (ticket: number) => emulator.tickets().find((t) => t.id === ticket)!.actions;

beforeAll(async () => {
  emulator = await startHaloEmulator({ world: loadDemoWorld() });
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(() => {
  emulator.reset();
});

describe('HaloPSA ticket channel', () => {
  it('reads the ticket: summary, the employee description, the requester and the Halo client id', async () => {
    const ticket = await open();
    expect(await channel().getTicket(String(ticket))).toEqual({
      ref: String(ticket),
      summary: 'Salesforce access',
      description: 'I need access to Salesforce.',
      requesterEmail: 'dan.brown@adatum.example',
      requesterName: 'Dan Brown',
      companyIdentifier: '11',
    });
  });

  it('the internal note is a private action hidden from the user, without an email, carrying the marker', async () => {
    const ticket = await open();
    await channel().postNote(String(ticket), { text: 'Plan: add Dan to App-Salesforce', visibility: 'internal', marker: MARKER });
    expect(actionsOf(ticket)).toEqual([expect.objectContaining({ note: `Plan: add Dan to App-Salesforce\n${MARKER}`, outcome: 'Private Note', hiddenfromuser: true, sendemail: false, who: API_AGENT_NAME })]);
    expect(await channel().findNote(String(ticket), { text: '', visibility: 'internal', marker: MARKER })).toBe(String(actionsOf(ticket)[0]!.id));
    expect(await channel().findNote(String(ticket), { text: '', visibility: 'internal', marker: '[deskhand ref other]' })).toBeNull();
  });

  it('the reply is a visible action emailed to the user, with no marker', async () => {
    const ticket = await open();
    await channel().postNote(String(ticket), { text: 'You now have Salesforce.', visibility: 'customer', marker: MARKER });
    const [reply] = actionsOf(ticket);
    expect(reply).toEqual(expect.objectContaining({ note: 'You now have Salesforce.', outcome: 'Email User', hiddenfromuser: false, sendemail: true }));
    expect(reply!.note).not.toContain('[deskhand ref');
  });

  it('a reply is found again by its text, author and visibility; a private action with the same text is not it', async () => {
    const ticket = await open();
    const reply = { text: 'You now have Salesforce.', visibility: 'customer' as const, marker: MARKER };
    await channel().postNote(String(ticket), { text: reply.text, visibility: 'internal', marker: '' });
    expect(await channel().findNote(String(ticket), reply)).toBeNull();
    const posted = await channel().postNote(String(ticket), reply);
    expect(await channel().findNote(String(ticket), { ...reply, text: `\n${reply.text}\r\n` })).toBe(posted.id);
    const other = new HaloChannel(new HaloClient({ baseUrl: emulator.url, tenant: keys.tenant, clientId: keys.clientId, clientSecret: keys.clientSecret }), { apiAgentName: 'someone else' });
    expect(await other.findNote(String(ticket), reply)).toBeNull();
  });

  it('after a crash that lost the answer, reconciling finds the reply and no second reply is posted', async () => {
    const ticket = await open();
    const reply = { text: 'Your access is ready.', visibility: 'customer' as const, marker: MARKER };
    emulator.addFault({ status: 500, afterEffect: true, method: 'POST', pathContains: '/api/Actions' });
    // The attempt that "crashed": its post landed, its answer was lost, nothing was retried.
    await expect(channel({ maxAttempts: 1 }).postNote(String(ticket), reply)).rejects.toBeInstanceOf(DeskhandError);
    // What the engine does on resuming: look before posting.
    const found = await channel().findNote(String(ticket), reply);
    expect(found).toBe(String(actionsOf(ticket)[0]!.id));
    expect(emulator.effects().filter((e) => e.op === 'action_added' && e.ticketId === ticket)).toHaveLength(1);
  });

  it('boards are the ticket types, each with the statuses', async () => {
    expect(await channel().boards()).toEqual([
      { name: 'Incident', statuses: ['New', 'In Progress', 'Action Required', 'Waiting on Approval', 'Closed'] },
      { name: 'Service Request', statuses: ['New', 'In Progress', 'Action Required', 'Waiting on Approval', 'Closed'] },
    ]);
  });

  it('moves the ticket to the status its ticket type maps, once; an unmapped type changes nothing', async () => {
    const ticket = await open();
    const ref = String(ticket);
    expect(await channel().setStatus(ref, { 'Service Request': 'Waiting on Approval' })).toEqual({ board: 'Service Request', status: 'Waiting on Approval', changed: true });
    expect(await channel().setStatus(ref, { 'service request': 'waiting on approval' })).toEqual({ board: 'Service Request', status: 'Waiting on Approval', changed: false });
    expect(await channel().setStatus(ref, { Incident: 'Closed' })).toEqual({ board: 'Service Request', status: null, changed: false });
    await expect(channel().setStatus(ref, { 'Service Request': 'Parked' })).rejects.toMatchObject({ code: 'config' });
    expect(emulator.effects().filter((e) => e.op === 'status_changed').map((e) => e.firstLine)).toEqual(['Waiting on Approval']);
  });

  it("lists Halo's active clients by id", async () => {
    expect(await channel().companies()).toEqual([{ externalId: '11', name: 'Adatum Corporation' }]);
  });

  it('refuses a ref that is not a ticket id without calling Halo', async () => {
    await expect(channel().getTicket('12; DROP')).rejects.toMatchObject({ code: 'bad_request' });
    expect(emulator.requests()).toHaveLength(0);
  });
});
