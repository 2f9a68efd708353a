import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeskhandError } from '../../core/errors.ts';
import { loadDemoWorld } from '../../world/fixture.ts';
import { ConnectWiseChannel } from './channel.ts';
import { ConnectWiseClient, type ConnectWiseClientOptions } from './client.ts';
import { type ConnectWiseEmulator, emulatorApiCredentials, emulatorPortalCredentials, HELP_DESK_BOARD, startConnectWiseEmulator } from './emulator/index.ts';

/**
 * The ticket capability as ConnectWise implements it, against the emulator over HTTP: where the
 * markers live (in internal notes, never in what the employee reads), finding a reply again after a
 * lost answer by its content, and statuses that belong to a board.
 */

let emulator: ConnectWiseEmulator;
let portal: ConnectWiseClient;
const MARKER = '[deskhand ref r1:reply]';

function deskhand(options: ConnectWiseClientOptions = {}): ConnectWiseClient {
  return new ConnectWiseClient({ siteUrl: emulator.url, ...emulatorApiCredentials('northwind') }, options);
}

function channel(options: ConnectWiseClientOptions = {}): ConnectWiseChannel {
  return new ConnectWiseChannel(deskhand(options), emulatorApiCredentials('northwind').memberIdentifier);
}

async function newTicket(board?: string): Promise<number> {
  const ticket = await portal.createTicket({
    summary: 'Could you give me Zendesk access',
    company: { identifier: 'contoso' },
    contactEmailAddress: 'megan.bowen@contoso.example',
    initialDescription: 'Please add me to Zendesk.',
    ...(board ? { board: { name: board } } : {}),
  });
  return ticket.id;
}

function notesOf(ticketId: number): Record<string, unknown>[] {
  return emulator.tickets().find((t) => t.ticket['id'] === ticketId)?.notes ?? [];
}

function customerNotes(ticketId: number): string[] {
  return notesOf(ticketId)
    .filter((n) => n['detailDescriptionFlag'] === true)
    .map((n) => String(n['text']));
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

describe('where markers live', () => {
  it('an internal note carries its marker once; a reply carries none', async () => {
    const ticketId = await newTicket();
    await channel().postNote(String(ticketId), { text: 'diagnosis', visibility: 'internal', marker: '[deskhand ref r1:note]' });
    await channel().postNote(String(ticketId), { text: 'already marked\n[deskhand ref r1:notice]', visibility: 'internal', marker: '[deskhand ref r1:notice]' });
    await channel().postNote(String(ticketId), { text: 'Hello, your request was handled.', visibility: 'customer', marker: MARKER });
    const notes = notesOf(ticketId).map((n) => String(n['text']));
    expect(notes).toContain('diagnosis\n[deskhand ref r1:note]');
    expect(notes).toContain('already marked\n[deskhand ref r1:notice]');
    expect(customerNotes(ticketId)).toEqual(['Please add me to Zendesk.', 'Hello, your request was handled.']);
    expect(customerNotes(ticketId).some((text) => text.includes('[deskhand ref'))).toBe(false);
  });

  it('finds an internal note by its marker, and a reply by its content, visibility and author', async () => {
    const ticketId = await newTicket();
    const ref = String(ticketId);
    const internal = await channel().postNote(ref, { text: 'diagnosis', visibility: 'internal', marker: '[deskhand ref r1:note]' });
    expect(await channel().findNote(ref, { text: 'diagnosis', visibility: 'internal', marker: '[deskhand ref r1:note]' })).toBe(internal.id);
    expect(await channel().findNote(ref, { text: 'diagnosis', visibility: 'internal', marker: '[deskhand ref r2:note]' })).toBeNull();

    const reply = { text: 'Hello, your request was handled.\nReply to this ticket if anything still fails.', visibility: 'customer' as const, marker: MARKER };
    expect(await channel().findNote(ref, reply)).toBeNull();
    // The same words from someone else (the portal, an employee) are not deskhand's reply.
    await portal.addTicketNote(ticketId, { text: reply.text, visibility: 'discussion' });
    expect(await channel().findNote(ref, reply)).toBeNull();
    // Nor are they as an internal note of deskhand's.
    await deskhand().addTicketNote(ticketId, { text: reply.text, visibility: 'internal' });
    expect(await channel().findNote(ref, reply)).toBeNull();
    const posted = await channel().postNote(ref, reply);
    expect(await channel().findNote(ref, reply)).toBe(posted.id);
    expect(await channel().findNote(ref, { ...reply, text: 'Hello, something else.' })).toBeNull();
  });

  it('a reply whose answer was lost is found by the next attempt and never posted twice, and carries no marker', async () => {
    const ticketId = await newTicket();
    const ref = String(ticketId);
    const reply = { text: 'Hello, your IT request has been handled.', visibility: 'customer' as const, marker: MARKER };
    // The note is saved, then the connection drops: the caller (the outbox) cannot know it landed.
    emulator.addFault({ count: 1, method: 'POST', pathContains: '/notes', afterEffect: true, dropConnection: true });
    const error = await rejection(channel({ maxAttempts: 1 }).postNote(ref, reply));
    expect(error.retryable).toBe(true);
    // The outbox's next attempt looks before it posts (src/engine/outbox.ts): it finds the reply.
    const found = await channel().findNote(ref, reply);
    expect(found).not.toBeNull();
    expect(emulator.effects().filter((e) => e.op === 'note_added').map((e) => String(e.noteId))).toEqual([found]);
    expect(customerNotes(ticketId).filter((text) => text === reply.text)).toHaveLength(1);
    expect(customerNotes(ticketId).some((text) => text.includes('[deskhand ref'))).toBe(false);
  });
});

describe('statuses per board', () => {
  it('lists every board with its own statuses', async () => {
    const boards = await channel().boards();
    expect(boards.map((b) => b.name)).toEqual([HELP_DESK_BOARD, 'Projects']);
    expect(boards[0]!.statuses).toEqual(expect.arrayContaining(['New', 'Waiting on Approval', 'In Progress', 'Resolved']));
    expect([...boards[1]!.statuses].sort()).toEqual(['Completed', 'In Progress', 'New']);
  });

  it('the emulator refuses a status of another board, as ConnectWise does', async () => {
    const ticketId = await newTicket();
    const [helpDesk, projects] = await deskhand().listBoards();
    const projectStatus = (await deskhand().listBoardStatuses(projects!.id)).find((s) => s.name === 'In Progress')!;
    const helpDeskStatus = (await deskhand().listBoardStatuses(helpDesk!.id)).find((s) => s.name === 'In Progress')!;
    expect(projectStatus.id).not.toBe(helpDeskStatus.id);
    const refused = await rejection(deskhand().setTicketStatus(ticketId, projectStatus.id));
    expect(refused.message).toContain('status');
    expect((await deskhand().getTicket(ticketId)).status?.name).toBe('New');
    expect((await deskhand().setTicketStatus(ticketId, helpDeskStatus.id)).status?.name).toBe('In Progress');
  });

  it('moves a ticket to the status its board maps, by name; leaves an unmapped board alone; changes nothing twice', async () => {
    const map = { [HELP_DESK_BOARD.toLowerCase()]: 'waiting on approval' };
    const helpDesk = await newTicket();
    expect(await channel().setStatus(String(helpDesk), map)).toEqual({ board: HELP_DESK_BOARD, status: 'Waiting on Approval', changed: true });
    expect(await channel().setStatus(String(helpDesk), map)).toEqual({ board: HELP_DESK_BOARD, status: 'Waiting on Approval', changed: false });
    expect((await deskhand().getTicket(helpDesk)).status?.name).toBe('Waiting on Approval');

    const project = await newTicket('Projects');
    expect(await channel().setStatus(String(project), map)).toEqual({ board: 'Projects', status: null, changed: false });
    expect((await deskhand().getTicket(project)).status?.name).toBe('New');
    expect(emulator.effects().filter((e) => e.op === 'status_changed').map((e) => [e.ticketId, e.firstLine])).toEqual([[helpDesk, 'Waiting on Approval']]);
  });

  it('a status the board no longer has is a configuration error, not a retry', async () => {
    const ticketId = await newTicket();
    const error = await rejection(channel().setStatus(String(ticketId), { [HELP_DESK_BOARD]: 'Gone Fishing' }));
    expect(error.code).toBe('config');
    expect(error.message).toContain('Gone Fishing');
  });
});
