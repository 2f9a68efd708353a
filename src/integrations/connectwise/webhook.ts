import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { DeskhandError, isDeskhandError } from '../../core/errors.ts';
import { assertKeyUrlOnSite } from './client.ts';
import { type ConnectWiseTicket, ticketSchema } from './schemas.ts';

/**
 * Intake of ConnectWise callbacks (webhooks). A callback is an unauthenticated POST whose body names
 * the URL of the key that signs it, so the order matters: parse the body, check that the key URL is
 * on the configured site (else fetch nothing), fetch the key, check the signature, and only then
 * decide whether the callback starts a deskhand request.
 */

export const SIGNATURE_HEADER = 'x-content-signature';

/**
 * The longest signing-key URL a callback may name. ConnectWise's are about 150 characters; the
 * URL keys the cache of signing keys, so a longer one is refused before it is fetched or kept.
 */
export const MAX_KEY_URL_LENGTH = 2048;

export type CallbackAction = 'added' | 'updated' | 'deleted';

/** A parsed callback, with ConnectWise's inconsistent key casing (MessageId/MessageID) resolved. */
export interface CallbackPayload {
  messageId: string;
  /** The ConnectWise site that sent it, e.g. `na.myconnectwise.net`. */
  fromUrl: string | null;
  /** The PSA login company. */
  companyId: string | null;
  /** Identifier of the member whose change caused the callback (e.g. `deskhand`). */
  memberId: string | null;
  action: CallbackAction;
  /** Lower-case record type: `ticket`, `contact`, `company`, ... */
  type: string;
  /** The record's id. */
  id: number;
  /** The record as ConnectWise serialised it; null on `deleted`. */
  entity: Record<string, unknown> | null;
  keyUrl: string;
  /** The callback registration that fired. */
  callbackObjectRecId: number | null;
}

const integer = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]);
const optionalText = z
  .union([z.string(), z.number()])
  .nullish()
  .transform((v) => (v === undefined || v === null || v === '' ? null : String(v)));

/** Keys are lower-cased before this schema runs (see `lowerCaseKeys`). */
const callbackSchema = z.object({
  messageid: z.string().min(1),
  fromurl: optionalText,
  companyid: optionalText,
  memberid: optionalText,
  action: z
    .string()
    .transform((v) => v.toLowerCase())
    .pipe(z.enum(['added', 'updated', 'deleted'])),
  type: z
    .string()
    .min(1)
    .transform((v) => v.toLowerCase()),
  id: integer,
  entity: z.union([z.string(), z.record(z.string(), z.unknown()), z.null()]).optional(),
  metadata: z.object({ key_url: z.string().min(1) }),
  callbackobjectrecid: integer.nullish(),
});

/** How each lower-cased key is spelled in ConnectWise's docs, for error messages. */
const displayKey: Record<string, string> = {
  messageid: 'MessageId',
  fromurl: 'FromUrl',
  companyid: 'CompanyId',
  memberid: 'MemberId',
  action: 'Action',
  type: 'Type',
  id: 'ID',
  entity: 'Entity',
  metadata: 'Metadata',
  key_url: 'key_url',
  callbackobjectrecid: 'CallbackObjectRecId',
};

/** Parses a callback body; malformed JSON or a wrong shape is a DeskhandError `bad_request`. */
export function parseCallback(rawBody: string | Buffer): CallbackPayload {
  const json = parseJsonObject(typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8'), 'The ConnectWise callback');
  const normalised = lowerCaseKeys(json);
  const metadata = normalised['metadata'];
  if (metadata !== null && typeof metadata === 'object' && !Array.isArray(metadata)) {
    normalised['metadata'] = lowerCaseKeys(metadata as Record<string, unknown>);
  }
  const parsed = callbackSchema.safeParse(normalised);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .slice(0, 4)
      .map((issue) => `${issue.path.map((p) => displayKey[String(p)] ?? String(p)).join('.')}: ${issue.message}`)
      .join('; ');
    throw new DeskhandError('bad_request', `The ConnectWise callback does not have the expected shape (${problems}).`);
  }
  const data = parsed.data;
  const entity = parseEntity(data.entity);
  if (data.type === 'ticket' && entity !== null) assertTicketEntity(entity, data.id);
  return {
    messageId: data.messageid,
    fromUrl: data.fromurl,
    companyId: data.companyid,
    memberId: data.memberid,
    action: data.action,
    type: data.type,
    id: data.id,
    entity,
    keyUrl: data.metadata.key_url,
    callbackObjectRecId: data.callbackobjectrecid ?? null,
  };
}

/**
 * A ticket callback's Entity, when it carries one, is the ticket it announces: a record that is not
 * a ticket, or another ticket, makes the payload malformed (it would otherwise read as a ticket of
 * no known company). Without an Entity the callback is still read (the ticket can be loaded).
 */
function assertTicketEntity(entity: Record<string, unknown>, id: number): void {
  const ticket = ticketSchema.safeParse(entity);
  if (!ticket.success) {
    const problems = ticket.error.issues
      .slice(0, 4)
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
    throw new DeskhandError('bad_request', `The callback Entity is not a ticket (${problems}).`);
  }
  if (ticket.data.id !== id) {
    throw new DeskhandError('bad_request', `The callback Entity is ticket ${ticket.data.id}, not ticket ${id} that the callback announces.`);
  }
}

/** `Entity` is the record serialised as a JSON string inside the JSON body: a second parse. */
function parseEntity(entity: string | Record<string, unknown> | null | undefined): Record<string, unknown> | null {
  if (entity === undefined || entity === null) return null;
  if (typeof entity !== 'string') return entity;
  if (entity.trim() === '' || entity.trim() === 'null') return null;
  return parseJsonObject(entity, 'The callback Entity');
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DeskhandError('bad_request', `${what} is not valid JSON.`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DeskhandError('bad_request', `${what} is not a JSON object.`);
  }
  return value as Record<string, unknown>;
}

function lowerCaseKeys(object: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) out[key.toLowerCase()] = value;
  return out;
}

// --- signatures --------------------------------------------------------------------------------

/** `base64(HMAC-SHA256(key = SHA-256(signing_key) as raw bytes, message = raw body))`. */
export function callbackSignature(signingKey: string, rawBody: string | Buffer): string {
  const key = createHash('sha256').update(signingKey, 'utf8').digest();
  return createHmac('sha256', key).update(rawBody).digest('base64');
}

function signaturesEqual(expected: string, presented: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(presented, 'utf8');
  // Lengths of a base64 SHA-256 are public; only the content needs a constant-time compare.
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Signing keys by key URL, for a few minutes: every callback names the same URL, and fetching it on
 * each one would double ConnectWise traffic. Bounded, so a flood of distinct (valid-host) URLs cannot
 * grow memory; concurrent callbacks share one fetch.
 */
export class SigningKeyCache {
  private readonly entries: LRUCache<string, { key: Promise<string> }>;

  constructor(options: { ttlMs?: number; maxEntries?: number; now?: () => number } = {}) {
    const now = options.now;
    this.entries = new LRUCache({
      max: options.maxEntries ?? 64,
      ttl: options.ttlMs ?? 10 * 60_000,
      ...(now ? { perf: { now }, ttlResolution: 0 } : {}),
    });
  }

  /** The key for this URL and whether it was fetched just now (`fresh`) or came from the cache. */
  async get(keyUrl: string, load: (keyUrl: string) => Promise<string>): Promise<{ key: string; fresh: boolean }> {
    const cached = this.entries.get(keyUrl);
    if (cached) return { key: await cached.key, fresh: false };
    const key = load(keyUrl);
    this.entries.set(keyUrl, { key });
    try {
      return { key: await key, fresh: true };
    } catch (error) {
      if (this.entries.get(keyUrl)?.key === key) this.entries.delete(keyUrl);
      throw error;
    }
  }

  forget(keyUrl: string): void {
    this.entries.delete(keyUrl);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Shared by every verification that does not bring its own cache. */
export const defaultSigningKeyCache = new SigningKeyCache();

export interface VerifyCallbackInput {
  rawBody: string | Buffer;
  /** The `x-content-signature` header as received. */
  signatureHeader: string | readonly string[] | null | undefined;
  /** `Metadata.key_url` from the parsed body (untrusted until checked here). */
  keyUrl: string;
  /** The ConnectWise site deskhand is configured for; the key URL must be on it or a ConnectWise host of its region. */
  configuredSiteUrl: string;
  /** The origins trusted for the site (`client.trustedOrigins`); the site alone when absent. */
  trustedOrigins?: ReadonlySet<string>;
  /** The login company: a key URL naming another company is refused. */
  companyId?: string;
  /** Usually `client.fetchSigningKey.bind(client)`. Never called for a key URL on another host. */
  fetchSigningKey: (keyUrl: string) => Promise<string>;
  cache?: SigningKeyCache;
}

/**
 * Resolves when the callback is genuinely from the configured ConnectWise site; otherwise throws
 * DeskhandError `unauthorized` (missing header, foreign key URL, or wrong signature). Errors from
 * fetching the key pass through (they are upstream problems, not forgeries).
 */
export async function verifyCallbackSignature(input: VerifyCallbackInput): Promise<void> {
  const presented = headerValue(input.signatureHeader);
  if (presented === undefined) {
    throw new DeskhandError('unauthorized', `The ConnectWise callback has no ${SIGNATURE_HEADER} header; refusing it.`);
  }
  if (input.keyUrl.length > MAX_KEY_URL_LENGTH) {
    throw new DeskhandError('unauthorized', `The callback names a signing-key URL longer than ${MAX_KEY_URL_LENGTH} characters; refusing it.`);
  }
  assertKeyUrlOnSite(input.keyUrl, input.configuredSiteUrl, {
    ...(input.trustedOrigins ? { origins: input.trustedOrigins } : {}),
    ...(input.companyId !== undefined ? { companyId: input.companyId } : {}),
  });
  const cache = input.cache ?? defaultSigningKeyCache;
  const first = await signingKey(cache, input);
  if (signaturesEqual(callbackSignature(first.key, input.rawBody), presented)) return;
  if (!first.fresh) {
    // ConnectWise may have rotated the key since we cached it: one fresh look before refusing.
    cache.forget(input.keyUrl);
    const again = await signingKey(cache, input);
    if (signaturesEqual(callbackSignature(again.key, input.rawBody), presented)) return;
  }
  throw new DeskhandError('unauthorized', 'The ConnectWise callback signature does not match; refusing it.');
}

async function signingKey(cache: SigningKeyCache, input: VerifyCallbackInput): Promise<{ key: string; fresh: boolean }> {
  try {
    return await cache.get(input.keyUrl, input.fetchSigningKey);
  } catch (error) {
    // A key id the site does not know is what a made-up key URL on the right host looks like.
    if (isDeskhandError(error) && error.code === 'not_found') {
      throw new DeskhandError('unauthorized', 'The ConnectWise callback names a signing key the site does not know; refusing it.');
    }
    throw error;
  }
}

function headerValue(header: string | readonly string[] | null | undefined): string | undefined {
  const value = typeof header === 'string' ? header : header?.[0];
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

// --- intake decision ---------------------------------------------------------------------------

export type TicketIntakeDecision =
  | {
      create: true;
      ticketId: number;
      /** The ticket as the callback carried it; reload it through the API before acting. */
      ticket: ConnectWiseTicket | null;
      companyIdentifier: string | null;
      /** The member whose change created the ticket. */
      memberId: string | null;
      messageId: string;
    }
  | { create: false; reason: 'not_a_ticket' | 'not_added' | 'own_change' | 'closed'; explanation: string };

export interface IntakeIdentity {
  /** The identifier of deskhand's own API member in this ConnectWise (the member its keys belong to). */
  apiMemberIdentifier: string;
}

/**
 * Whether a verified callback should start a deskhand request: only a newly `added` ticket, and
 * never one deskhand caused itself (its notes and updates come back as callbacks too, and must not
 * start the agent again).
 */
export function ticketIntakeFromCallback(payload: CallbackPayload, self: IntakeIdentity): TicketIntakeDecision {
  if (payload.type !== 'ticket') {
    return { create: false, reason: 'not_a_ticket', explanation: `A ${payload.type} callback never starts a request.` };
  }
  if (payload.memberId !== null && payload.memberId.toLowerCase() === self.apiMemberIdentifier.toLowerCase()) {
    return { create: false, reason: 'own_change', explanation: `Ticket ${payload.id} was changed by deskhand's own API member.` };
  }
  if (payload.action !== 'added') {
    return { create: false, reason: 'not_added', explanation: `Ticket ${payload.id} was ${payload.action}, not added.` };
  }
  const ticket = ticketFromEntity(payload);
  if (ticket?.closedFlag === true) {
    return { create: false, reason: 'closed', explanation: `Ticket ${payload.id} was created already closed.` };
  }
  return {
    create: true,
    ticketId: payload.id,
    ticket,
    companyIdentifier: ticket?.company?.identifier ?? null,
    memberId: payload.memberId,
    messageId: payload.messageId,
  };
}

/** The ticket in the callback, if it parses and is the ticket the callback is about. */
function ticketFromEntity(payload: CallbackPayload): ConnectWiseTicket | null {
  const parsed = ticketSchema.safeParse(payload.entity);
  return parsed.success && parsed.data.id === payload.id ? parsed.data : null;
}
