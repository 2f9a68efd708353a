import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { CompanyRecord, ContactRecord, InstanceSeed, StatusRecord } from '../data.ts';
import { type ApiContext, endpoint } from '../endpoint.ts';
import { list } from '../paging.ts';
import { type NoteState, renderNote, renderTicket, type TicketState } from '../records.ts';
import type { ConnectWiseSite } from '../site.ts';
import {
  cwError,
  cwNow,
  type FieldError,
  filtered,
  findRef,
  invalidObject,
  isRef,
  ok,
  type PatchOperation,
  parseBody,
  patchSchema,
  type Reply,
  ReplyError,
  refInput,
} from '../wire.ts';

/**
 * Service tickets and their notes: `service/tickets` (list, count, create, read, JSON-Patch) and
 * `service/tickets/{id}/notes` (list, add, read). A new ticket or note fires the matching callbacks.
 */

const newTicketSchema = z.looseObject({
  summary: z.string().optional(),
  company: refInput.optional(),
  board: refInput.optional(),
  status: refInput.optional(),
  contact: refInput.nullish(),
  priority: refInput.optional(),
  contactEmailAddress: z.string().nullish(),
  externalXRef: z.string().nullish(),
  initialDescription: z.string().nullish(),
  initialInternalAnalysis: z.string().nullish(),
  initialResolution: z.string().nullish(),
});

const newNoteSchema = z.looseObject({
  text: z.string().nullish(),
  detailDescriptionFlag: z.boolean().optional(),
  internalAnalysisFlag: z.boolean().optional(),
  resolutionFlag: z.boolean().optional(),
  customerUpdatedFlag: z.boolean().optional(),
  processNotifications: z.boolean().optional(),
  contact: refInput.nullish(),
});

const TICKET = '/service/tickets/:ticketId(^\\d+$)';

export const ticketRoutes: FastifyPluginAsync<{ site: ConnectWiseSite }> = async (api, { site }) => {
  endpoint(api, site, '/service/tickets', { GET: (c) => list(c, ticketRecords(c)), POST: createTicket });
  endpoint(api, site, '/service/tickets/count', { GET: (c) => ok({ count: filtered(c.query, ticketRecords(c)).length }) });
  endpoint(api, site, TICKET, { GET: (c) => ok(renderTicket(c.site.href, c.instance, ticketOf(c))), PATCH: patchTicket });
  endpoint(api, site, `${TICKET}/notes`, {
    GET: (c) => list(c, ticketOf(c).notes.map((n) => renderNote(c.instance, n))),
    POST: addNote,
  });
  endpoint(api, site, `${TICKET}/notes/:noteId(^\\d+$)`, { GET: note });
};

function ticketRecords(ctx: ApiContext): Record<string, unknown>[] {
  return [...ctx.instance.tickets.values()].map((t) => renderTicket(ctx.site.href, ctx.instance, t));
}

function ticketOf(ctx: ApiContext): TicketState {
  const id = Number(ctx.params['ticketId']);
  const ticket = ctx.instance.tickets.get(id);
  if (!ticket) throw new ReplyError(cwError(404, 'NotFound', `Ticket ${id} not found`));
  return ticket;
}

// --- tickets -----------------------------------------------------------------------------------

function createTicket(ctx: ApiContext): Reply {
  const input = parseBody(newTicketSchema, ctx.body, 'serviceTicket');
  const { seed } = ctx.instance;
  const errors: FieldError[] = [];
  const summary = input.summary?.trim() ?? '';
  if (summary === '') errors.push({ code: 'MissingRequiredField', message: 'The summary field is required.', field: 'summary' });
  else if (summary.length > 100) errors.push({ code: 'InvalidField', message: 'The summary field has a maximum length of 100 characters.', field: 'summary' });
  const company = input.company ? findRef(seed.companies, input.company, 'identifier') : undefined;
  if (!input.company) errors.push({ code: 'MissingRequiredField', message: 'The company field is required.', field: 'company' });
  else if (!company) errors.push({ code: 'InvalidField', message: 'The company was not found.', field: 'company' });
  const board = input.board ? findRef(seed.boards, input.board, 'name') : seed.board;
  if (!board) errors.push({ code: 'InvalidField', message: 'The board was not found.', field: 'board' });
  const boardStatuses = seed.statuses.filter((s) => s.boardId === board?.id);
  const status = input.status ? findRef(boardStatuses, input.status, 'name') : boardStatuses.find((s) => s.defaultFlag);
  if (!status) errors.push({ code: 'InvalidField', message: 'The status was not found on this board.', field: 'status' });
  if ((input.externalXRef ?? '').length > 100) {
    errors.push({ code: 'InvalidField', message: 'The externalXRef field has a maximum length of 100 characters.', field: 'externalXRef' });
  }
  const contact = ticketContact(seed, input, company, errors);
  if (errors.length > 0 || !company || !board || !status) return invalidObject('serviceTicket', errors);

  const now = cwNow();
  const ticket: TicketState = {
    id: ctx.site.takeTicketId(),
    summary,
    companyId: company.id,
    contactId: contact?.id ?? null,
    contactEmailAddress: input.contactEmailAddress ?? contact?.email ?? null,
    externalXRef: input.externalXRef?.trim() || null,
    boardId: board.id,
    statusId: status.id,
    closedFlag: status.closedStatus,
    closedDate: status.closedStatus ? now : null,
    closedBy: status.closedStatus ? ctx.actor.identifier : null,
    dateEntered: now,
    enteredBy: ctx.actor.identifier,
    lastUpdated: now,
    updatedBy: ctx.actor.identifier,
    notes: [],
  };
  // ConnectWise turns these create-only fields into the ticket's first notes.
  const initial: [string | null | undefined, Partial<NoteState>][] = [
    [input.initialDescription, { detailDescriptionFlag: true }],
    [input.initialInternalAnalysis, { internalAnalysisFlag: true }],
    [input.initialResolution, { resolutionFlag: true }],
  ];
  for (const [text, flags] of initial) {
    if (text?.trim()) ticket.notes.push(ctx.site.newNote(ticket, ctx.actor, text, flags, contact?.id ?? null));
  }
  ctx.instance.tickets.set(ticket.id, ticket);
  ctx.site.recordEffect(ctx, ctx.requestUrl.pathname, { op: 'ticket_created', ticketId: ticket.id, noteId: null, flags: null, text: ticket.summary });
  ctx.site.fireTicketCallbacks(ctx.instance, ticket, ctx.actor, 'added');
  return { status: 201, body: renderTicket(ctx.site.href, ctx.instance, ticket) };
}

function ticketContact(
  seed: InstanceSeed,
  input: z.output<typeof newTicketSchema>,
  company: CompanyRecord | undefined,
  errors: FieldError[],
): ContactRecord | undefined {
  if (input.contact?.id !== undefined) {
    const contact = seed.contacts.find((c) => c.id === input.contact?.id);
    if (!contact) errors.push({ code: 'InvalidField', message: 'The contact was not found.', field: 'contact' });
    return contact;
  }
  // Email connectors and portals match the sender's address to a contact of the company.
  const email = input.contactEmailAddress?.toLowerCase();
  return email ? seed.contacts.find((c) => c.email.toLowerCase() === email && c.companyId === company?.id) : undefined;
}

function patchTicket(ctx: ApiContext): Reply {
  const ticket = ticketOf(ctx);
  const operations = parseBody(patchSchema, ctx.body, 'serviceTicket');
  const next: TicketState = { ...ticket };
  const errors: FieldError[] = [];
  for (const operation of operations) applyTicketPatch(ctx, next, operation, errors);
  if (errors.length > 0) return invalidObject('serviceTicket', errors);
  const statusBefore = ticket.statusId;
  Object.assign(ticket, next, { lastUpdated: cwNow(), updatedBy: ctx.actor.identifier });
  if (ticket.statusId !== statusBefore) {
    const status = ctx.instance.seed.statuses.find((s) => s.id === ticket.statusId)!;
    ctx.site.recordEffect(ctx, ctx.requestUrl.pathname, { op: 'status_changed', ticketId: ticket.id, noteId: null, flags: null, text: status.name });
  }
  ctx.site.fireTicketCallbacks(ctx.instance, ticket, ctx.actor, 'updated');
  return ok(renderTicket(ctx.site.href, ctx.instance, ticket));
}

function applyTicketPatch(ctx: ApiContext, ticket: TicketState, operation: PatchOperation, errors: FieldError[]): void {
  const path = operation.path.replace(/^\//, '').toLowerCase();
  const value = operation.value;
  if (operation.op !== 'replace' && operation.op !== 'add') {
    errors.push({ code: 'InvalidField', message: `The ${operation.op} operation is not supported here.`, field: operation.path });
    return;
  }
  if (path === 'summary') {
    if (typeof value !== 'string' || value.trim() === '' || value.length > 100) {
      errors.push({ code: 'InvalidField', message: 'The summary must be 1 to 100 characters.', field: 'summary' });
    } else ticket.summary = value.trim();
    return;
  }
  if (path === 'status' || path === 'status/id' || path === 'status/name') {
    const ref = path === 'status' ? value : path === 'status/id' ? { id: value } : { name: value };
    // Status ids belong to one board: another board's status is refused, as ConnectWise does (its exact message there is unverified).
    const statuses = ctx.instance.seed.statuses.filter((s) => s.boardId === ticket.boardId);
    const status = isRef(ref) ? findRef(statuses, ref, 'name') : undefined;
    if (!status) errors.push({ code: 'InvalidField', message: 'The status was not found on this board.', field: 'status' });
    else setStatus(ticket, status, ctx.actor.identifier);
    return;
  }
  if (path === 'contact' || path === 'contact/id') {
    const id = path === 'contact' ? (isRef(value) ? value.id : value) : value;
    const contact = id === null ? null : ctx.instance.seed.contacts.find((c) => c.id === id);
    if (contact === undefined) errors.push({ code: 'InvalidField', message: 'The contact was not found.', field: 'contact' });
    else ticket.contactId = contact?.id ?? null;
    return;
  }
  if (path === 'contactemailaddress' && (typeof value === 'string' || value === null)) {
    ticket.contactEmailAddress = value;
    return;
  }
  errors.push({ code: 'InvalidField', message: `The emulator does not support patching ${operation.path}.`, field: operation.path });
}

function setStatus(ticket: TicketState, status: StatusRecord, by: string): void {
  ticket.statusId = status.id;
  if (status.closedStatus && !ticket.closedFlag) {
    ticket.closedFlag = true;
    ticket.closedDate = cwNow();
    ticket.closedBy = by;
  } else if (!status.closedStatus) {
    ticket.closedFlag = false;
    ticket.closedDate = null;
    ticket.closedBy = null;
  }
}

// --- notes -------------------------------------------------------------------------------------

function addNote(ctx: ApiContext): Reply {
  const ticket = ticketOf(ctx);
  const input = parseBody(newNoteSchema, ctx.body, 'serviceNote');
  const text = input.text ?? '';
  if (text.trim() === '') {
    return invalidObject('serviceNote', [{ code: 'MissingRequiredField', message: 'The text field is required.', field: 'text' }]);
  }
  if (!input.detailDescriptionFlag && !input.internalAnalysisFlag && !input.resolutionFlag) {
    return invalidObject('serviceNote', [
      {
        code: 'InvalidField',
        message: 'Please choose where to display the notes in order to save this record.',
        field: 'detailDescriptionFlag',
      },
    ]);
  }
  const contactId = input.contact?.id ?? null;
  const note = ctx.site.newNote(ticket, ctx.actor, text, noteFlags(input), contactId);
  ticket.notes.push(note);
  ctx.site.recordEffect(ctx, ctx.requestUrl.pathname, {
    op: 'note_added',
    ticketId: ticket.id,
    noteId: note.id,
    flags: { detailDescription: note.detailDescriptionFlag, internalAnalysis: note.internalAnalysisFlag, resolution: note.resolutionFlag },
    text: note.text,
  });
  ticket.lastUpdated = note.dateCreated;
  ticket.updatedBy = ctx.actor.identifier;
  // ConnectWise has no note callback type: a new note arrives as the ticket being `updated`.
  ctx.site.fireTicketCallbacks(ctx.instance, ticket, ctx.actor, 'updated');
  return { status: 201, body: renderNote(ctx.instance, note) };
}

function note(ctx: ApiContext): Reply {
  const ticket = ticketOf(ctx);
  const id = Number(ctx.params['noteId']);
  const found = ticket.notes.find((n) => n.id === id);
  if (!found) return cwError(404, 'NotFound', `Note ${id} not found`);
  return ok(renderNote(ctx.instance, found));
}

function noteFlags(input: z.output<typeof newNoteSchema>): Partial<NoteState> {
  return {
    detailDescriptionFlag: input.detailDescriptionFlag === true,
    internalAnalysisFlag: input.internalAnalysisFlag === true,
    resolutionFlag: input.resolutionFlag === true,
    customerUpdatedFlag: input.customerUpdatedFlag === true,
    processNotifications: input.processNotifications === true,
  };
}
