import { DeskhandError } from '../../core/errors.ts';
import { mappedStatus } from '../../core/ticket-status.ts';
import type { PsaCompany, TicketBoard, TicketNote, TicketStatusChange } from '../module.ts';
import { type PsaChannel, type PsaTicket, storableText, storableTextOrNull } from '../psa.ts';
import type { AutotaskClient, AutotaskRecord, PicklistValue } from './client.ts';

/**
 * Autotask as a deskhand PSA channel. A ticket's `description` is what the employee wrote; its
 * company is the client (`companyID`, what a client's link holds); its contact gives the requester.
 *
 * Notes: the internal note and the approval notice are ticket notes with the "Internal Only"
 * publish type (technicians only) and carry deskhand's marker on a last line; the reply is a note
 * with the "All Autotask Users" publish type and never carries a marker. Publish values differ per
 * database, so they are read from the TicketNotes picklist by label, never hard-coded. A reply is
 * found again after a crash by what Autotask keeps beside it and the employee never reads: its
 * publish type, its author (the API user's Resource) and the same text.
 *
 * Boards: Autotask has no boards; tickets live in queues (`queueID`), and the ticket status picklist
 * is one list for every queue. So `boards()` lists the queues, each offering every active status,
 * and the status map is by queue name.
 */
export const INTERNAL_PUBLISH_LABEL = /^internal only$/i;
export const ALL_USERS_PUBLISH_LABEL = /^all autotask users$/i;
const NOTE_TITLE = { internal: 'deskhand: internal note', customer: 'Update on your request' } as const;

export class AutotaskChannel implements PsaChannel {
  readonly kind = 'autotask';

  constructor(private readonly client: AutotaskClient) {}

  async getTicket(ref: string): Promise<PsaTicket> {
    return this.ticketFrom(ref, await this.client.getTicket(ticketId(ref)));
  }

  /** The ticket as deskhand reads it, from the record Autotask answered (its contact read for the requester). */
  async ticketFrom(ref: string, ticket: AutotaskRecord): Promise<PsaTicket> {
    const contactId = numberOrNull(ticket['contactID']);
    const contact = contactId !== null ? await this.client.getContact(contactId) : null;
    const email = typeof contact?.['emailAddress'] === 'string' ? contact['emailAddress'].trim().toLowerCase() : '';
    const name = contact ? [contact['firstName'], contact['lastName']].filter((p) => typeof p === 'string' && p !== '').join(' ') : '';
    const company = numberOrNull(ticket['companyID']);
    return {
      ref,
      summary: storableText(String(ticket['title'] ?? '')),
      description: storableText(String(ticket['description'] ?? '')).trim(),
      requesterEmail: storableTextOrNull(email || null),
      requesterName: storableTextOrNull(name || null),
      companyIdentifier: company === null ? null : String(company),
    };
  }

  async getDescription(ref: string): Promise<string> {
    const ticket = await this.client.getTicket(ticketId(ref));
    return storableText(String(ticket['description'] ?? '')).trim();
  }

  /** The active companies, by their id (what a client's link holds). */
  async companies(): Promise<PsaCompany[]> {
    return (await this.client.activeCompanies())
      .map((c) => ({ externalId: String(c.id), name: storableText(String(c['companyName'] ?? c.id)) }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async postNote(ref: string, note: TicketNote): Promise<{ id: string }> {
    const internal = note.visibility === 'internal';
    const publish = await this.publishValue(internal);
    const id = await this.client.addTicketNote(ticketId(ref), {
      title: NOTE_TITLE[note.visibility],
      description: internal ? withMarker(note.text, note.marker) : note.text,
      noteType: await this.noteType(),
      publish,
    });
    return { id: String(id) };
  }

  async findNote(ref: string, note: TicketNote): Promise<string | null> {
    const notes = await this.client.ticketNotes(ticketId(ref));
    if (note.visibility === 'internal') {
      const found = notes.find((n) => note.marker !== '' && String(n['description'] ?? '').includes(note.marker));
      return found ? String(found.id) : null;
    }
    const [publish, own] = await Promise.all([this.publishValue(false), this.client.ownResourceId()]);
    const found = notes.find((n) => Number(n['publish']) === publish && Number(n['creatorResourceID']) === own && comparable(String(n['description'] ?? '')) === comparable(note.text));
    return found ? String(found.id) : null;
  }

  async boards(): Promise<TicketBoard[]> {
    const [queues, statuses] = await Promise.all([this.client.picklist('Tickets', 'queueID'), this.client.picklist('Tickets', 'status')]);
    return queues.map((q) => ({ name: q.label, statuses: statuses.map((s) => s.label) }));
  }

  async setStatus(ref: string, byBoard: Readonly<Record<string, string>>): Promise<TicketStatusChange> {
    const id = ticketId(ref);
    const ticket = await this.client.getTicket(id);
    const queues = await this.client.picklist('Tickets', 'queueID');
    const queue = queues.find((q) => q.value === String(ticket['queueID'] ?? ''))?.label ?? null;
    const wanted = queue ? mappedStatus(byBoard, queue) : undefined;
    if (!queue || wanted === undefined) return { board: queue, status: null, changed: false };
    const statuses = await this.client.picklist('Tickets', 'status');
    const status = statuses.find((s) => s.label.toLowerCase() === wanted.toLowerCase());
    if (!status) throw new DeskhandError('config', `the Autotask ticket status "${wanted}" does not exist (any more): change the ticket status map of this integration`);
    if (String(ticket['status']) === status.value) return { board: queue, status: status.label, changed: false };
    await this.client.update('Tickets', id, { status: Number(status.value) });
    return { board: queue, status: status.label, changed: true };
  }

  private async publishValue(internal: boolean): Promise<number> {
    const values = await this.client.picklist('TicketNotes', 'publish');
    const wanted = internal ? INTERNAL_PUBLISH_LABEL : ALL_USERS_PUBLISH_LABEL;
    const found = values.find((v) => wanted.test(v.label.trim()));
    if (!found) {
      throw new DeskhandError(
        'config',
        `Autotask: the ticket note publish types (${values.map((v) => v.label).join(', ') || 'none'}) have no "${internal ? 'Internal Only' : 'All Autotask Users'}"; deskhand never guesses who may read a note`,
      );
    }
    return Number(found.value);
  }

  /** The note type: the picklist's default value, else its first active one. */
  private async noteType(): Promise<number> {
    const values: PicklistValue[] = await this.client.picklist('TicketNotes', 'noteType');
    const chosen = values.find((v) => v.isDefaultValue === true) ?? values[0];
    if (!chosen) throw new DeskhandError('config', 'Autotask: the ticket note type picklist is empty');
    return Number(chosen.value);
  }
}

/** An internal note carries its marker on a last line of its own (once). */
function withMarker(text: string, marker: string): string {
  return marker === '' || text.includes(marker) ? text : `${text}\n${marker}`;
}

function comparable(text: string): string {
  return text.replace(/\r\n?/g, '\n').trim();
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) ? value : null;
}

export function ticketId(ref: string): number {
  const id = Number(ref);
  if (!Number.isInteger(id) || id <= 0) throw new DeskhandError('bad_request', `"${ref}" is not an Autotask ticket id`);
  return id;
}

export type { AutotaskRecord };
