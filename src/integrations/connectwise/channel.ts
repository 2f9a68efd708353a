import { DeskhandError } from '../../core/errors.ts';
import { mappedStatus } from '../../core/ticket-status.ts';
import type { PsaCompany, TicketBoard, TicketNote, TicketStatusChange } from '../module.ts';
import { type PsaChannel, type PsaTicket, storableText, storableTextOrNull } from '../psa.ts';
import { type ConnectWiseClient, contactEmail } from './client.ts';
import type { ConnectWiseNote } from './schemas.ts';

/**
 * ConnectWise as a deskhand PSA channel: the ticket's first Discussion note is the employee's
 * description; internal notes use `internalAnalysisFlag`, replies `detailDescriptionFlag`. What a
 * ticket says is cleaned here, at the edge, into text PostgreSQL can store (`storableText`).
 *
 * Where deskhand's markers live: at the end of an internal note (technicians only), never in a reply.
 * A reply is found again by what ConnectWise keeps beside it and the employee never reads: Discussion
 * visibility, the same text, and deskhand's API member as its author.
 *
 * Statuses: a ticket's status must be one of its board's statuses (ids differ per board and per
 * site), so the mapping is by board and status name, resolved to an id on the ticket's own board.
 */
export class ConnectWiseChannel implements PsaChannel {
  readonly kind = 'connectwise';

  /** `apiMember`: the identifier of deskhand's API member ('' when not configured: any author matches). */
  constructor(
    private readonly client: ConnectWiseClient,
    private readonly apiMember = '',
  ) {}

  async getTicket(ref: string): Promise<PsaTicket> {
    const id = ticketId(ref);
    const [ticket, description] = await Promise.all([this.client.getTicket(id), this.getDescription(ref)]);
    let requesterEmail = ticket.contactEmailAddress?.trim() || null;
    let requesterName = ticket.contactName ?? ticket.contact?.name ?? null;
    if (!requesterEmail && ticket.contact?.id) {
      const contact = await this.client.getContact(ticket.contact.id);
      requesterEmail = contactEmail(contact);
      requesterName ??= [contact['firstName'], contact['lastName']].filter((p) => typeof p === 'string').join(' ') || null;
    }
    return {
      ref,
      summary: storableText(ticket.summary),
      description,
      requesterEmail: storableTextOrNull(requesterEmail?.toLowerCase()),
      requesterName: storableTextOrNull(requesterName),
      companyIdentifier: storableTextOrNull(ticket.company?.identifier),
    };
  }

  /** The site's companies, by their identifier (what a client's link holds). */
  async companies(): Promise<PsaCompany[]> {
    return (await this.client.listCompanies()).map((company) => ({ externalId: company.identifier, name: storableText(company.name) }));
  }

  /** The first Discussion note: what the employee wrote when opening the ticket. */
  async getDescription(ref: string): Promise<string> {
    const notes = await this.client.getTicketNotes(ticketId(ref));
    return storableText(notes.find((note) => note.detailDescriptionFlag === true)?.text ?? '').trim();
  }

  async postNote(ref: string, note: TicketNote): Promise<{ id: string }> {
    const internal = note.visibility === 'internal';
    const created = await this.client.addTicketNote(ticketId(ref), {
      text: internal ? withMarker(note.text, note.marker) : note.text,
      visibility: internal ? 'internal' : 'discussion',
      ...(internal ? {} : { processNotifications: true }),
    });
    return { id: String(created.id) };
  }

  async findNote(ref: string, note: TicketNote): Promise<string | null> {
    const notes = await this.client.getTicketNotes(ticketId(ref));
    const found = note.visibility === 'internal' ? notes.find((n) => hasMarker(n, note.marker)) : notes.find((n) => this.isSameReply(n, note));
    return found ? String(found.id) : null;
  }

  /**
   * The reply an earlier attempt posted: Discussion (not internal), the same text, by deskhand's API
   * member. Unverified on a real site: whether ConnectWise keeps a note's text byte for byte (line
   * ends and surrounding blanks are compared loosely) and fills `createdBy`/`member` with the API
   * member's identifier; a note without either is not ruled out by its author. A reply posted by an
   * older deskhand still carries its marker, which finds it as well.
   */
  private isSameReply(n: ConnectWiseNote, note: TicketNote): boolean {
    if (note.marker && hasMarker(n, note.marker)) return true;
    if (n.detailDescriptionFlag !== true || n.internalAnalysisFlag === true) return false;
    if (comparable(n.text ?? '') !== comparable(note.text)) return false;
    const member = this.apiMember.toLowerCase();
    const authors = [n.createdBy, n.member?.identifier].filter((a): a is string => typeof a === 'string' && a !== '').map((a) => a.toLowerCase());
    return member === '' || authors.length === 0 || authors.includes(member);
  }

  /** Every active board with the names of its active statuses. */
  async boards(): Promise<TicketBoard[]> {
    const boards = (await this.client.listBoards()).filter((b) => b.inactiveFlag !== true);
    return Promise.all(
      boards.map(async (board) => ({
        name: board.name,
        statuses: (await this.client.listBoardStatuses(board.id)).filter((s) => s.inactiveFlag !== true).map((s) => s.name),
      })),
    );
  }

  async setStatus(ref: string, byBoard: Readonly<Record<string, string>>): Promise<TicketStatusChange> {
    const id = ticketId(ref);
    const ticket = await this.client.getTicket(id);
    const board = ticket.board;
    const wanted = board?.name ? mappedStatus(byBoard, board.name) : undefined;
    if (!board || wanted === undefined) return { board: board?.name ?? null, status: null, changed: false };
    if (ticket.status?.name?.toLowerCase() === wanted.toLowerCase()) return { board: board.name ?? null, status: ticket.status.name, changed: false };
    const status = (await this.client.listBoardStatuses(board.id)).find((s) => s.name.toLowerCase() === wanted.toLowerCase());
    if (!status) {
      throw new DeskhandError('config', `the ConnectWise board "${board.name}" has no status "${wanted}" (any more): change the ticket status map of this integration`);
    }
    await this.client.setTicketStatus(id, status.id);
    return { board: board.name ?? null, status: status.name, changed: true };
  }
}

/** An internal note carries its marker on a last line of its own (once). */
function withMarker(text: string, marker: string): string {
  return marker === '' || text.includes(marker) ? text : `${text}\n${marker}`;
}

function hasMarker(note: ConnectWiseNote, marker: string): boolean {
  return marker !== '' && (note.text ?? '').includes(marker);
}

function comparable(text: string): string {
  return text.replace(/\r\n?/g, '\n').trim();
}

function ticketId(ref: string): number {
  const id = Number(ref);
  if (!Number.isInteger(id) || id <= 0) throw new DeskhandError('bad_request', `"${ref}" is not a ConnectWise ticket id`);
  return id;
}
