import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeskhandError } from '../../core/errors.ts';
import { loadDemoWorld } from '../../world/fixture.ts';
import { ConnectWiseClient, type ConnectWiseClientOptions } from './client.ts';
import { type ConnectWiseEmulator, emulatorApiCredentials, emulatorPortalCredentials, startConnectWiseEmulator } from './emulator/index.ts';

/**
 * What exactly-once note posting stands on, against the ConnectWise emulator over HTTP: faults that
 * strike after the note is saved (the answer is lost, or the connection drops), the effects log that
 * proves a note was saved once, and a client that looks for its note before posting it again.
 */

let emulator: ConnectWiseEmulator;
let portal: ConnectWiseClient;

function deskhand(options: ConnectWiseClientOptions = {}): ConnectWiseClient {
  return new ConnectWiseClient({ siteUrl: emulator.url, ...emulatorApiCredentials('northwind') }, options);
}

async function newTicket(): Promise<number> {
  const ticket = await portal.createTicket({
    summary: 'Could you give me Zendesk access',
    company: { identifier: 'contoso' },
    contactEmailAddress: 'megan.bowen@contoso.example',
    initialDescription: 'Please add me to Zendesk.',
  });
  return ticket.id;
}

async function rejection(promise: Promise<unknown>): Promise<DeskhandError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeskhandError);
  return error as DeskhandError;
}

async function control(path: string, method = 'GET', body?: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${emulator.url}/_emulator/${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

function notesAdded() {
  return emulator.effects().filter((e) => e.op === 'note_added');
}

function notePosts() {
  return emulator.requests().filter((r) => r.method === 'POST' && r.path.endsWith('/notes'));
}

beforeAll(async () => {
  emulator = await startConnectWiseEmulator({ world: loadDemoWorld() });
  portal = new ConnectWiseClient({ siteUrl: emulator.url, ...emulatorPortalCredentials('northwind') });
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
});

describe('the effects log', () => {
  it('records tickets created and notes added, with ids, flags, member and first line', async () => {
    const ticketId = await newTicket();
    const note = await deskhand().addTicketNote(ticketId, { text: '\ndeskhand diagnosis\nAlex is not in SG-App-Zendesk.', visibility: 'internal' });
    const reply = await deskhand().addTicketNote(ticketId, { text: 'Done: you have access.', visibility: 'discussion' });

    const effects = emulator.effects();
    expect(effects).toEqual([
      expect.objectContaining({ seq: 1, companyId: 'northwind', op: 'ticket_created', ticketId, noteId: null, flags: null, member: 'portal', firstLine: 'Could you give me Zendesk access' }),
      expect.objectContaining({
        seq: 2,
        op: 'note_added',
        ticketId,
        noteId: note.id,
        flags: { detailDescription: false, internalAnalysis: true, resolution: false },
        member: 'deskhand',
        firstLine: 'deskhand diagnosis',
        requestPath: `/v4_6_release/apis/3.0/service/tickets/${ticketId}/notes`,
      }),
      expect.objectContaining({ seq: 3, noteId: reply.id, flags: { detailDescription: true, internalAnalysis: false, resolution: false } }),
    ]);
    expect((await control('effects?companyId=northwind')).body).toEqual({ effects });
    expect(emulator.effects('woodgrove')).toEqual([]);
    expect((await control('reset', 'POST')).status).toBe(204);
    expect(emulator.effects()).toEqual([]);
  });

  it('does not record a refused note', async () => {
    const ticketId = await newTicket();
    await rejection(deskhand().addTicketNote(999_999, { text: 'nowhere', visibility: 'internal' }));
    expect(notesAdded()).toEqual([]);
    expect(emulator.effects().map((e) => e.ticketId)).toEqual([ticketId]);
  });
});

describe('faults after the effect', () => {
  it('a lost answer: the note is saved once, and a client without quick retries sees a retryable error', async () => {
    const ticketId = await newTicket();
    emulator.addFault({ status: 500, count: 1, method: 'POST', pathContains: '/notes', afterEffect: true });
    const error = await rejection(deskhand({ maxAttempts: 1 }).addTicketNote(ticketId, { text: 'diagnosis [ref r1:note]', visibility: 'internal' }));
    expect(error.retryable).toBe(true);
    expect(error.details).toMatchObject({ status: 500 });
    expect(notesAdded()).toHaveLength(1);
    expect(emulator.tickets()[0]!.notes.filter((n) => n['text'] === 'diagnosis [ref r1:note]')).toHaveLength(1);
  });

  it('the client finds its saved note after a lost answer instead of posting it again', async () => {
    const ticketId = await newTicket();
    emulator.addFault({ status: 503, count: 5, method: 'POST', pathContains: '/notes', afterEffect: true });
    const note = await deskhand().addTicketNote(ticketId, { text: 'diagnosis [ref r2:note]', visibility: 'internal' });
    expect(notePosts()).toHaveLength(1);
    expect(notesAdded().map((e) => e.noteId)).toEqual([note.id]);
    expect(note).toMatchObject({ text: 'diagnosis [ref r2:note]', internalAnalysisFlag: true });
    emulator.clearFaults();
  });

  it('a note refused before it was saved is posted again, once', async () => {
    const ticketId = await newTicket();
    emulator.addFault({ status: 503, count: 1, method: 'POST', pathContains: '/notes' });
    await deskhand().addTicketNote(ticketId, { text: 'diagnosis [ref r3:note]', visibility: 'internal' });
    expect(notePosts().map((r) => r.status)).toEqual([503, 201]);
    expect(notesAdded()).toHaveLength(1);
  });

  it('a note with the same text but other flags is not taken for the lost one', async () => {
    const ticketId = await newTicket();
    await deskhand().addTicketNote(ticketId, { text: 'same words', visibility: 'discussion' });
    emulator.addFault({ status: 503, count: 1, method: 'POST', pathContains: '/notes' });
    await deskhand().addTicketNote(ticketId, { text: 'same words', visibility: 'internal' });
    expect(notesAdded().map((e) => e.flags?.internalAnalysis)).toEqual([false, true]);
  });

  it('a dropped connection is a retryable network error; after the effect the note is there, before it is not', async () => {
    const ticketId = await newTicket();
    emulator.addFault({ count: 1, method: 'POST', pathContains: '/notes', afterEffect: true, dropConnection: true });
    const error = await rejection(deskhand({ maxAttempts: 1 }).addTicketNote(ticketId, { text: 'dropped after', visibility: 'internal' }));
    expect(error.code).toBe('upstream_retryable');
    expect(error.message).toContain('could not be reached');
    expect(notesAdded()).toHaveLength(1);
    expect(notePosts().map((r) => r.status)).toEqual([0]);

    emulator.addFault({ count: 1, method: 'POST', pathContains: '/notes', dropConnection: true });
    expect((await rejection(deskhand({ maxAttempts: 1 }).addTicketNote(ticketId, { text: 'dropped before', visibility: 'internal' }))).retryable).toBe(true);
    expect(notesAdded()).toHaveLength(1);
  });

  it('the fault schema asks for something to replace the answer', async () => {
    expect((await control('faults', 'POST', { afterEffect: true })).status).toBe(400);
    expect((await control('faults', 'POST', { status: 200, afterEffect: true })).status).toBe(400);
    expect((await control('faults', 'POST', { count: 2 })).status).toBe(400);
    const created = await control('faults', 'POST', { status: 502, afterEffect: true, pathContains: '/notes' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 502, afterEffect: true, dropConnection: false, remaining: 1 });
    expect((await control('faults', 'POST', { dropConnection: true })).body).toMatchObject({ status: 0, dropConnection: true });
    await control('faults', 'DELETE');
  });
});

describe('latency', () => {
  it('delays every ConnectWise call by the configured range, settable at run time, and reset restores the start option', async () => {
    const slow = await startConnectWiseEmulator({ world: loadDemoWorld(), latencyMs: { min: 150, max: 200 } });
    try {
      const client = new ConnectWiseClient({ siteUrl: slow.url, ...emulatorApiCredentials('northwind') });
      let started = Date.now();
      await client.listTickets();
      expect(Date.now() - started).toBeGreaterThanOrEqual(145);

      const set = await fetch(`${slow.url}/_emulator/latency`, { method: 'POST', body: JSON.stringify({ min: 0, max: 0 }) });
      expect(await set.json()).toEqual({ latencyMs: { min: 0, max: 0 } });
      started = Date.now();
      await client.listTickets();
      expect(Date.now() - started).toBeLessThan(100);

      slow.reset();
      expect(await (await fetch(`${slow.url}/_emulator/latency`)).json()).toEqual({ latencyMs: { min: 150, max: 200 } });
      slow.setLatency(null);
      expect(await (await fetch(`${slow.url}/_emulator/latency`)).json()).toEqual({ latencyMs: null });
      expect((await fetch(`${slow.url}/_emulator/latency`, { method: 'POST', body: JSON.stringify({ min: 9, max: 1 }) })).status).toBe(400);
    } finally {
      await slow.close();
    }
  });
});

describe('opening a ticket', () => {
  /** Tickets are opened by a member whose role may add them (deskhand's own role may not: it never opens one today). */
  function opener(options: ConnectWiseClientOptions = {}): ConnectWiseClient {
    return new ConnectWiseClient({ siteUrl: emulator.url, ...emulatorPortalCredentials('northwind') }, options);
  }

  function ticketsCreated() {
    return emulator.effects().filter((e) => e.op === 'ticket_created');
  }

  function ticketPosts() {
    return emulator.requests().filter((r) => r.method === 'POST' && /\/service\/tickets$/.test(r.path));
  }

  const newTicket = { summary: 'Voicemail: my laptop will not start', company: { identifier: 'contoso' }, contactEmailAddress: 'megan.bowen@contoso.example' } as const;

  it('a lost answer (5xx after the ticket was opened): the client finds its ticket by its marker and opens no second one', async () => {
    emulator.addFault({ status: 503, count: 1, method: 'POST', pathContains: '/service/tickets', afterEffect: true });
    const ticket = await opener().createTicket(newTicket);
    expect(ticketPosts().map((r) => r.status)).toEqual([503]);
    expect(ticketsCreated().map((e) => e.ticketId)).toEqual([ticket.id]);
    expect(emulator.tickets()).toHaveLength(1);
    expect(ticket.externalXRef).toMatch(/^deskhand:/);
  });

  it('a dropped connection after the ticket was opened: still one ticket', async () => {
    emulator.addFault({ count: 1, method: 'POST', pathContains: '/service/tickets', afterEffect: true, dropConnection: true });
    const ticket = await opener().createTicket({ ...newTicket, externalXRef: 'deskhand:call-42' });
    expect(ticket.externalXRef).toBe('deskhand:call-42');
    expect(ticketPosts().map((r) => r.status)).toEqual([0]);
    expect(ticketsCreated().map((e) => e.ticketId)).toEqual([ticket.id]);
  });

  it('a ticket refused before it was opened is posted again, once', async () => {
    emulator.addFault({ status: 503, count: 1, method: 'POST', pathContains: '/service/tickets' });
    const ticket = await opener().createTicket(newTicket);
    expect(ticketPosts().map((r) => r.status)).toEqual([503, 201]);
    expect(ticketsCreated().map((e) => e.ticketId)).toEqual([ticket.id]);
  });

  it('a timeout is not posted again (the call may still land); the ticket lands once and its marker finds it', async () => {
    emulator.addFault({ delayMs: 1_200, count: 1, method: 'POST', pathContains: '/service/tickets' });
    const client = opener({ timeoutMs: 400 });
    const error = await rejection(client.createTicket({ ...newTicket, externalXRef: 'deskhand:call-43' }));
    expect(error.retryable).toBe(true);
    expect(ticketPosts()).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(ticketPosts()).toHaveLength(1);
    expect(ticketsCreated()).toHaveLength(1);
    const found = await client.findTicketByMarker('deskhand:call-43');
    expect(found?.id).toBe(ticketsCreated()[0]!.ticketId);
    expect(await client.findTicketByMarker('deskhand:call-44')).toBeNull();
  });

  it('the emulator answers a lookup by externalXRef with conditions, as ConnectWise does', async () => {
    const first = await opener().createTicket({ ...newTicket, externalXRef: 'deskhand:"quoted" one' });
    await opener().createTicket({ ...newTicket, externalXRef: 'deskhand:other' });
    const found = await deskhand().listTickets({ conditions: 'externalXRef="deskhand:\\"quoted\\" one"' });
    expect(found.map((t) => t.id)).toEqual([first.id]);
    const tooLong = await rejection(opener().createTicket({ ...newTicket, externalXRef: 'x'.repeat(101) }));
    expect(tooLong.message).toContain('externalXRef');
  });
});
