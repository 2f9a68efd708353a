import type { TicketCapability, TicketText } from './module.ts';

/**
 * What the engine needs from a PSA (ConnectWise today; HaloPSA and Autotask later): read the ticket
 * that started a request and write notes on it. Internal notes are seen by technicians only;
 * `customer` notes are the replies the employee sees.
 */
export type NoteVisibility = 'internal' | 'customer';

export type PsaTicket = TicketText;

/** A PSA module's ticket capability, with its kind. */
export interface PsaChannel extends TicketCapability {
  readonly kind: string;
}

/**
 * Text as PostgreSQL can store it: without NUL (PostgreSQL refuses 0x00 in text and jsonb), and
 * with lone UTF-16 surrogates (which have no UTF-8 encoding) replaced by U+FFFD. What a PSA or a
 * webhook sends is cleaned with this at the edge, before anything is written.
 */
export function storableText(text: string): string {
  if (!UNSTORABLE.test(text)) return text;
  return text.replace(/\u0000/g, '').replace(LONE_SURROGATE, '\uFFFD');
}

export function storableTextOrNull(text: string | null | undefined): string | null {
  return text === null || text === undefined ? null : storableText(text);
}

const UNSTORABLE = /[\u0000\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
