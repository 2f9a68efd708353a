/**
 * Looking for planted secrets in everything a deployment writes or answers: each secret in every
 * form it could reasonably take on the way (as is, JSON-escaped, URL- and form-encoded, HTML-escaped,
 * hex, and base64 or base64url at each of the three byte alignments it could sit at inside a longer
 * encoded text). A finding names the secret, the form and the place, never the value itself.
 */

export interface PlantedSecret {
  /** What it is, e.g. "ConnectWise private key". */
  name: string;
  value: string | Buffer;
}

export type PlaceKind = 'log line' | 'response' | 'note' | 'mail' | 'row' | 'emulator record';

export interface Place {
  kind: PlaceKind;
  /** Where it was found, for the report (e.g. `GET /api/requests/:id 200`, `outbox row 12`). */
  where: string;
  text: string;
}

export interface Finding {
  secret: string;
  form: string;
  place: Place;
  /** The text around the match, with the match itself masked. */
  context: string;
}

/** Encoded fragments shorter than this would match by chance; every planted secret is far longer. */
const SHORTEST_FRAGMENT = 12;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * The part of `bytes`' base64 encoding that does not depend on its neighbours, for each offset
 * (0, 1 or 2 bytes into a 3-byte group) at which it can start inside a longer buffer.
 */
function base64Cores(bytes: Buffer, alphabet: 'base64' | 'base64url'): string[] {
  const cores: string[] = [];
  for (const offset of [0, 1, 2]) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
    // Character i carries bits [6i, 6i + 6); keep those that lie wholly inside the value's bits.
    const start = Math.ceil((8 * offset) / 6);
    const end = Math.floor((8 * (offset + bytes.length)) / 6);
    cores.push(padded.toString(alphabet).slice(start, end));
  }
  return cores;
}

/** Every form of a secret this search checks, each with its name. */
export function formsOf(value: string | Buffer): { form: string; text: string }[] {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const forms = new Map<string, string>();
  const add = (form: string, text: string): void => {
    if (text.length >= SHORTEST_FRAGMENT && !forms.has(text)) forms.set(text, form);
  };
  if (typeof value === 'string') {
    add('as is', value);
    add('JSON-escaped', JSON.stringify(value).slice(1, -1));
    add('URL-encoded', encodeURIComponent(value));
    add('URL-encoded (lower-case hex)', encodeURIComponent(value).replace(/%[0-9A-F]{2}/g, (percent) => percent.toLowerCase()));
    add('form-encoded', new URLSearchParams({ v: value }).toString().slice(2));
    add('HTML-escaped', escapeHtml(value));
  }
  add('hex', bytes.toString('hex'));
  add('hex (upper-case)', bytes.toString('hex').toUpperCase());
  for (const alphabet of ['base64', 'base64url'] as const) {
    for (const [offset, core] of base64Cores(bytes, alphabet).entries()) add(`${alphabet} (offset ${offset})`, core);
  }
  return [...forms.entries()].map(([text, form]) => ({ form, text }));
}

function masked(text: string, index: number, length: number): string {
  const from = Math.max(0, index - 60);
  const to = Math.min(text.length, index + length + 60);
  return `${text.slice(from, index)}«${'•'.repeat(8)}»${text.slice(index + length, to)}`.replace(/\s+/g, ' ');
}

/** Every place where any form of any secret occurs (one finding per secret, form and place). */
export function findPlanted(secrets: PlantedSecret[], places: Place[]): Finding[] {
  const needles = secrets.map((secret) => ({ secret: secret.name, forms: formsOf(secret.value) }));
  const findings: Finding[] = [];
  for (const place of places) {
    for (const needle of needles) {
      for (const { form, text } of needle.forms) {
        const index = place.text.indexOf(text);
        if (index >= 0) findings.push({ secret: needle.secret, form, place, context: masked(place.text, index, text.length) });
      }
    }
  }
  return findings;
}

/** How many times a secret (in any form) occurs in one text: overlapping forms of one occurrence count once. */
export function occurrences(value: string | Buffer, text: string): number {
  const spans: [number, number][] = [];
  for (const { text: needle } of formsOf(value)) {
    for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) spans.push([at, at + needle.length]);
  }
  spans.sort((a, b) => a[0] - b[0]);
  let count = 0;
  let reach = -1;
  for (const [from, to] of spans) {
    if (from >= reach) count++;
    reach = Math.max(reach, to);
  }
  return count;
}
