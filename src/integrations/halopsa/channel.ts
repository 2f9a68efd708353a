import { DeskhandError } from '../../core/errors.ts';
import { mappedStatus } from '../../core/ticket-status.ts';
import type { PsaCompany, TicketBoard, TicketNote, TicketStatusChange } from '../module.ts';
import { type PsaChannel, type PsaTicket, storableText, storableTextOrNull } from '../psa.ts';
import { type HaloAction, type HaloClient, comparable } from './client.ts';

export interface HaloChannelOptions {
  /** The action type (outcome) of an internal note: Halo's built-in "Private Note" by default. */
  privateNoteOutcome?: string;
  /** The action type of a reply the end user sees (and is emailed): "Email User" by default. */
  replyOutcome?: string;
  /** The name of the agent deskhand's application logs in as ('' : any author matches). */
  apiAgentName?: string;
}

/**
 * HaloPSA as a deskhand PSA channel. The employee's description is the ticket's `details`; the
 * requester is the ticket's end user (`user_email`); the client is the Halo client, by its id.
 *
 * Notes are actions: an internal note is a private action (`hiddenfromuser: true`, no email) and is
 * the only place deskhand's marker goes; a reply is a visible action that emails the end user
 * (`hiddenfromuser: false`, `sendemail: true`), without a marker, found again after a crash by what
 * the employee never reads: its visibility, the same text, and deskhand's agent as its author.
 *
 * Boards are Halo's ticket types: a ticket has exactly one, and MSPs set statuses per ticket type
 * (its workflow). Halo's statuses are one list per tenant, so each board offers every status (a
 * restriction of statuses per ticket type is not read: unverified).
 */
export class HaloChannel implements PsaChannel {
  readonly kind = 'halopsa';
  private readonly privateNoteOutcome: string;
  private readonly replyOutcome: string;
  private readonly apiAgentName: string;

  constructor(
    private readonly client: HaloClient,
    options: HaloChannelOptions = {},
  ) {
    this.privateNoteOutcome = options.privateNoteOutcome || 'Private Note';
    this.replyOutcome = options.replyOutcome || 'Email User';
    this.apiAgentName = (options.apiAgentName ?? '').trim().toLowerCase();
  }

  async getTicket(ref: string): Promise<PsaTicket> {
    const ticket = await this.client.getTicket(ticketId(ref));
    return {
      ref,
      summary: storableText(ticket.summary ?? ''),
      description: storableText(plain(ticket.details ?? ticket.details_html ?? '')).trim(),
      requesterEmail: storableTextOrNull(ticket.user_email?.trim().toLowerCase() || null),
      requesterName: storableTextOrNull(ticket.user_name || null),
      companyIdentifier: typeof ticket.client_id === 'number' && ticket.client_id > 0 ? String(ticket.client_id) : null,
    };
  }

  async getDescription(ref: string): Promise<string> {
    return (await this.getTicket(ref)).description;
  }

  /** Halo's active clients, by id (what a client's link holds). */
  async companies(): Promise<PsaCompany[]> {
    return (await this.client.listClients()).filter((c) => c.inactive !== true).map((c) => ({ externalId: String(c.id), name: storableText(c.name) }));
  }

  async postNote(ref: string, note: TicketNote): Promise<{ id: string }> {
    const internal = note.visibility === 'internal';
    const created = await this.client.addAction({
      ticket_id: ticketId(ref),
      note: internal ? withMarker(note.text, note.marker) : note.text,
      outcome: internal ? this.privateNoteOutcome : this.replyOutcome,
      hiddenfromuser: internal,
      sendemail: !internal,
    });
    return { id: String(created.id) };
  }

  async findNote(ref: string, note: TicketNote): Promise<string | null> {
    const actions = await this.client.listActions(ticketId(ref));
    const found = note.visibility === 'internal' ? actions.find((a) => a.hiddenfromuser === true && hasMarker(a, note.marker)) : actions.find((a) => this.isSameReply(a, note));
    return found ? String(found.id) : null;
  }

  /**
   * The reply an earlier attempt posted: visible to the user, the same text, by deskhand's agent.
   * Unverified on a real tenant: whether Halo keeps an action's text byte for byte (line ends and
   * surrounding blanks are compared loosely) and names the API agent in `who`.
   */
  private isSameReply(action: HaloAction, note: TicketNote): boolean {
    if (action.hiddenfromuser === true) return false;
    if (comparable(action.note ?? plain(action.note_html ?? '')) !== comparable(note.text)) return false;
    const who = (action.who ?? '').trim().toLowerCase();
    return this.apiAgentName === '' || who === '' || who === this.apiAgentName;
  }

  /** Every ticket type, each with every status of the tenant. */
  async boards(): Promise<TicketBoard[]> {
    const [types, statuses] = await Promise.all([this.client.listTicketTypes(), this.client.listStatuses()]);
    return types.map((type) => ({ name: type.name, statuses: statuses.map((s) => s.name) }));
  }

  async setStatus(ref: string, byBoard: Readonly<Record<string, string>>): Promise<TicketStatusChange> {
    const id = ticketId(ref);
    const ticket = await this.client.getTicket(id);
    const types = await this.client.listTicketTypes();
    const board = types.find((t) => t.id === ticket.tickettype_id)?.name ?? null;
    const wanted = board ? mappedStatus(byBoard, board) : undefined;
    if (!board || wanted === undefined) return { board, status: null, changed: false };
    const statuses = await this.client.listStatuses();
    const current = statuses.find((s) => s.id === ticket.status_id);
    if (current && current.name.toLowerCase() === wanted.toLowerCase()) return { board, status: current.name, changed: false };
    const status = statuses.find((s) => s.name.toLowerCase() === wanted.toLowerCase());
    if (!status) throw new DeskhandError('config', `HaloPSA has no status "${wanted}" (any more) for the ticket type "${board}": change the ticket status map of this integration`);
    await this.client.setTicketStatus(id, status.id);
    return { board, status: status.name, changed: true };
  }
}

/** An internal note carries its marker on a last line of its own (once). */
function withMarker(text: string, marker: string): string {
  return marker === '' || text.includes(marker) ? text : `${text}\n${marker}`;
}

function hasMarker(action: HaloAction, marker: string): boolean {
  return marker !== '' && `${action.note ?? ''}\n${action.note_html ?? ''}`.includes(marker);
}

/** Halo keeps details and notes as HTML in places: reduced to text. */
function plain(html: string): string {
  if (!/<[a-z/!]/i.test(html)) return html;
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/p>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

export function ticketId(ref: string): number {
  const id = Number(ref);
  if (!Number.isInteger(id) || id <= 0) throw new DeskhandError('bad_request', `"${ref}" is not a HaloPSA ticket id`);
  return id;
}
