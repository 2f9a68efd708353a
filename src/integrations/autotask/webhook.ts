import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { DeskhandError } from '../../core/errors.ts';

/**
 * Autotask's outbound webhooks (Ticket and TicketNote): a JSON POST signed with the webhook's
 * secret key, `X-Hook-Signature: sha1=<base64(HMAC-SHA1(secretKey, raw body))>` (Autotask's
 * "Secret Key Payload Verification"). The body is
 * `{"Action","Guid","EntityType","Id","Fields","EventTime","SequenceNumber","PersonID"}`; `Fields`
 * holds only the subscribed and display-always fields, so deskhand reads the ticket again.
 */
export const SIGNATURE_HEADER = 'x-hook-signature';

export function webhookSignature(secretKey: string, rawBody: string | Buffer): string {
  return `sha1=${createHmac('sha1', secretKey).update(rawBody).digest('base64')}`;
}

/** Whether the header is the body's signature with this key (constant time); false for a missing one. */
export function signatureMatches(secretKey: string, rawBody: string, header: string | readonly string[] | undefined): boolean {
  const presented = (typeof header === 'string' ? header : header?.[0])?.trim();
  if (!presented || secretKey === '') return false;
  const expected = Buffer.from(webhookSignature(secretKey, rawBody), 'utf8');
  const given = Buffer.from(presented.startsWith('sha1=') ? presented : `sha1=${presented}`, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}

const payloadSchema = z.object({
  Action: z.string().min(1),
  Guid: z.string().optional(),
  EntityType: z.string().min(1),
  Id: z.number().int().positive(),
  Fields: z.record(z.string(), z.unknown()).nullish(),
  EventTime: z.string().optional(),
  SequenceNumber: z.number().optional(),
  PersonID: z.number().int().nullish(),
});

export type WebhookPayload = z.infer<typeof payloadSchema>;

/** Parses a verified body; malformed JSON or a wrong shape is `bad_request` (400). */
export function parseWebhook(rawBody: string): WebhookPayload {
  let json: unknown;
  try {
    json = JSON.parse(rawBody);
  } catch {
    throw new DeskhandError('bad_request', 'The Autotask webhook body is not valid JSON.');
  }
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .slice(0, 4)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new DeskhandError('bad_request', `The Autotask webhook does not have the expected shape (${problems}).`);
  }
  return parsed.data;
}

export type WebhookDecision =
  | { create: true; ticketId: number }
  | { create: false; reason: 'own_change' | 'not_created' | 'note' | 'not_a_ticket' | 'deactivated' };

/**
 * Whether a verified webhook starts a request: only a Ticket Create by someone other than deskhand's
 * own Resource. A TicketNote never starts one (deskhand's own notes come back as TicketNote events
 * when its Resource is not excluded from the webhook; the employee's later notes are for the
 * technicians): it is acknowledged and changes nothing.
 */
export function decide(payload: WebhookPayload, ownResourceId: number | null): WebhookDecision {
  if (payload.Action.toLowerCase() === 'deactivated') return { create: false, reason: 'deactivated' };
  if (ownResourceId !== null && payload.PersonID === ownResourceId) return { create: false, reason: 'own_change' };
  const type = payload.EntityType.toLowerCase();
  if (type === 'ticketnote') return { create: false, reason: 'note' };
  if (type !== 'ticket') return { create: false, reason: 'not_a_ticket' };
  if (payload.Action.toLowerCase() !== 'create') return { create: false, reason: 'not_created' };
  return { create: true, ticketId: payload.Id };
}
