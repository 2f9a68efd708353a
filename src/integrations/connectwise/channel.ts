import { DeskhandError } from '../../core/errors.ts';
import { type NoteVisibility, type PsaChannel, type PsaTicket, storableText, storableTextOrNull } from '../psa.ts';
import { type ConnectWiseClient, contactEmail } from './client.ts';

/**
 * ConnectWise as a deskhand PSA channel: the ticket's first Discussion note is the employee's
 * description; internal notes use `internalAnalysisFlag`, replies `detailDescriptionFlag`. What a
 * ticket says is cleaned here, at the edge, into text PostgreSQL can store (`storableText`).
 */
export class ConnectWiseChannel implements PsaChannel {
  readonly kind = 'connectwise';

  constructor(private readonly client: ConnectWiseClient) {}

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

  /** The first Discussion note: what the employee wrote when opening the ticket. */
  async getDescription(ref: string): Promise<string> {
    const notes = await this.client.getTicketNotes(ticketId(ref));
    return storableText(notes.find((note) => note.detailDescriptionFlag === true)?.text ?? '').trim();
  }

  async postNote(ref: string, note: { text: string; visibility: NoteVisibility }): Promise<{ id: string }> {
    const created = await this.client.addTicketNote(ticketId(ref), {
      text: note.text,
      visibility: note.visibility === 'internal' ? 'internal' : 'discussion',
      ...(note.visibility === 'customer' ? { processNotifications: true } : {}),
    });
    return { id: String(created.id) };
  }

  async findNoteWithMarker(ref: string, marker: string): Promise<string | null> {
    const notes = await this.client.getTicketNotes(ticketId(ref));
    const found = notes.find((note) => note.text?.includes(marker));
    return found ? String(found.id) : null;
  }
}

function ticketId(ref: string): number {
  const id = Number(ref);
  if (!Number.isInteger(id) || id <= 0) throw new DeskhandError('bad_request', `"${ref}" is not a ConnectWise ticket id`);
  return id;
}
