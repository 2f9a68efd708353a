import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { deterministicUuid } from '../../../world/ids.ts';
import { callbackSignature, SIGNATURE_HEADER } from '../webhook.ts';
import { PORTAL_MEMBER_IDENTIFIER } from './data.ts';
import { type Instance, renderTicket } from './records.ts';
import { CALLBACK_ID_START, type ConnectWiseSite, newSigningKey, TICKET_ID_START } from './site.ts';
import { ReplyError } from './wire.ts';

/**
 * A callback sent on demand to any URL (`/_emulator/callbacks/forge`, `forgeCallback`): signed with
 * a key the site serves, with a random key, or not at all, so that tests can prove a receiver
 * refuses what ConnectWise did not sign. It names a real ticket or a made-up one.
 */

export const forgeSchema = z.object({
  url: z.string().url(),
  companyId: z.string().optional(),
  ticketId: z.number().int().positive().optional(),
  action: z.enum(['added', 'updated', 'deleted']).default('added'),
  memberId: z.string().default(PORTAL_MEMBER_IDENTIFIER),
  signature: z.enum(['valid', 'invalid', 'none']).default('none'),
  keyUrl: z.string().optional(),
  signingKey: z.string().optional(),
});

export interface ForgeCallbackInput {
  url: string;
  companyId?: string;
  ticketId?: number;
  action?: 'added' | 'updated' | 'deleted';
  memberId?: string;
  /** `valid`: signed with the key behind keyUrl (or `signingKey`); `invalid`: signed with a random key; `none`: no header. */
  signature?: 'valid' | 'invalid' | 'none';
  keyUrl?: string;
  signingKey?: string;
}

export interface ForgeCallbackResult {
  status: number | null;
  responseBody: string;
  rawBody: string;
  signature: string | null;
  keyUrl: string;
}

export async function forgeCallback(site: ConnectWiseSite, input: z.output<typeof forgeSchema>): Promise<ForgeCallbackResult> {
  const instance = input.companyId ? site.instances.get(input.companyId.toLowerCase()) : site.instances.values().next().value;
  if (!instance) throw new ReplyError({ status: 400, body: { error: 'no such ConnectWise company in the emulator' } });
  const ticket = input.ticketId === undefined ? undefined : instance.tickets.get(input.ticketId);
  const keyUrl = input.keyUrl ?? site.keyUrl(instance.seed.companyId, forgeKeyId(site, instance));
  const payload = {
    MessageId: site.messageId(),
    FromUrl: new URL(site.siteUrl).host,
    CompanyId: instance.seed.companyId,
    MemberId: input.memberId,
    Action: input.action,
    Type: 'ticket',
    ID: input.ticketId ?? TICKET_ID_START - 1,
    Entity: input.action === 'deleted' ? null : JSON.stringify(ticket ? renderTicket(site.href, instance, ticket) : forgedTicket(input.ticketId)),
    Metadata: { key_url: keyUrl },
    CallbackObjectRecId: CALLBACK_ID_START - 1,
  };
  const rawBody = JSON.stringify(payload);
  const signature = forgedSignature(site, input, keyUrl, rawBody);
  try {
    const response = await fetch(input.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(signature ? { [SIGNATURE_HEADER]: signature } : {}) },
      body: rawBody,
      signal: AbortSignal.timeout(5_000),
    });
    return { status: response.status, responseBody: (await response.text()).slice(0, 2_000), rawBody, signature, keyUrl };
  } catch (error) {
    return { status: null, responseBody: error instanceof Error ? error.message : String(error), rawBody, signature, keyUrl };
  }
}

function forgedSignature(site: ConnectWiseSite, input: z.output<typeof forgeSchema>, keyUrl: string, rawBody: string): string | null {
  if (input.signature === 'none') return null;
  if (input.signature === 'invalid') return callbackSignature(randomBytes(24).toString('base64'), rawBody);
  const key = input.signingKey ?? site.signingKeys.get(new URL(keyUrl, site.siteUrl).searchParams.get('id') ?? '')?.key;
  if (key === undefined) throw new ReplyError({ status: 400, body: { error: 'no signing key for that key URL; pass signingKey' } });
  return callbackSignature(key, rawBody);
}

/** A key that forged-but-valid callbacks are signed with, served like any registration's key. */
function forgeKeyId(site: ConnectWiseSite, instance: Instance): string {
  const id = deterministicUuid('connectwise', 'forge-key', instance.seed.companyId);
  if (!site.signingKeys.has(id)) site.signingKeys.set(id, { companyId: instance.seed.companyId, key: newSigningKey() });
  return id;
}

function forgedTicket(ticketId: number | undefined): Record<string, unknown> {
  return { id: ticketId ?? TICKET_ID_START - 1, summary: 'Forged ticket', recordType: 'ServiceTicket', closedFlag: false };
}
