/**
 * What the engine needs from a PSA (ConnectWise today; HaloPSA and Autotask later): read the ticket
 * that started a request and write notes on it. Internal notes are seen by technicians only;
 * `customer` notes are the replies the employee sees.
 */
export type NoteVisibility = 'internal' | 'customer';

export interface PsaTicket {
  ref: string;
  summary: string;
  description: string;
  requesterEmail: string | null;
  requesterName: string | null;
  companyIdentifier: string | null;
}

export interface PsaChannel {
  readonly kind: string;
  getTicket(ref: string): Promise<PsaTicket>;
  /** Only the employee's description (when the summary and requester are already known). */
  getDescription(ref: string): Promise<string>;
  postNote(ref: string, note: { text: string; visibility: NoteVisibility }): Promise<{ id: string }>;
  /** Whether a note containing `marker` is already on the ticket (reconciling after a crash). */
  findNoteWithMarker(ref: string, marker: string): Promise<string | null>;
}
