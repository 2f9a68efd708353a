import type { FastifyInstance } from 'fastify';
import { WebhookIntakes } from '../../api/contract.ts';
import { zodResponse } from '../../api/schema.ts';
import { DeskhandError, describeError, isDeskhandError } from '../../core/errors.ts';
import { constantTimeEqual } from '../../secrets.ts';
import type { ConnectedIntegration, ConnectHost, ConnectOutcome, IntakeHost } from '../module.ts';
import type { HaloChannel } from './channel.ts';
import type { HaloClient } from './client.ts';
import { parseWebhook } from './webhook.ts';

/**
 * How tickets come in from HaloPSA: its webhook for "New Ticket Logged" (a POST with Basic
 * authentication whose password is the integration's webhook secret, to a URL naming the
 * integration), and a poll for the tickets whose webhook never arrived. Halo signs nothing
 * (no HMAC is documented), so the body is only a hint: the ticket is read back through the API, and
 * taken in only for a Halo client linked to one of the MSP's clients, idempotently (a re-delivery is
 * the same request).
 */
export interface HaloConnection {
  client: HaloClient;
  channel: HaloChannel;
}

export function haloOf(integration: ConnectedIntegration): HaloConnection {
  return integration.connection as unknown as HaloConnection;
}

const KIND = 'halopsa';
/** The user name deskhand gives Halo for the webhook's Basic authentication (only the password is a secret). */
export const WEBHOOK_USERNAME = 'deskhand';
/** The Halo notification event that starts requests. */
export const NEW_TICKET_EVENT = 'New Ticket Logged';

export function webhookUrl(webhookBaseUrl: string, integrationId: string): string {
  return `${webhookBaseUrl.replace(/\/+$/, '')}/webhooks/${KIND}/${integrationId}`;
}

export function haloWebhooks(scope: FastifyInstance, host: IntakeHost): void {
  scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));
  scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));

  scope.post(
    '/:integrationId',
    {
      schema: {
        tags: ['webhooks'],
        operationId: 'halopsaWebhook',
        security: [],
        summary: 'HaloPSA webhook (New Ticket Logged): starts a request',
        params: { type: 'object', properties: { integrationId: { type: 'string' } }, required: ['integrationId'] },
        response: { 202: zodResponse(WebhookIntakes) },
      },
    },
    async (request, reply) => {
      const { integrationId } = request.params as { integrationId: string };
      const integration = await host.integration(KIND, integrationId);
      // Every caller deskhand does not know is answered alike: no hint whether the id or the secret was wrong.
      if (!integration || !basicPasswordMatches(request.headers.authorization, integration.secrets['webhookSecret'] ?? '')) {
        throw new DeskhandError('unauthorized', 'unknown webhook or wrong credentials');
      }
      const events = parseWebhook(typeof request.body === 'string' ? request.body : '');
      reply.code(202);
      const { channel } = haloOf(integration);
      const results: { ticket: number; accepted: boolean; reason?: string; requestId?: string; duplicate?: boolean }[] = [];
      for (const event of events) {
        if (!/new ticket/i.test(event.event)) {
          results.push({ ticket: event.ticketId, accepted: false, reason: 'event_ignored' });
          continue;
        }
        // The body is not signed: what it says about the ticket is read again from Halo.
        const ticket = await channel.getTicket(String(event.ticketId)).catch((error: unknown) => {
          // A ticket Halo does not have (deleted since, or never there) starts nothing; other failures go back to Halo, which retries.
          if (isDeskhandError(error) && error.details?.['status'] === 404) return null;
          throw error;
        });
        if (!ticket) {
          results.push({ ticket: event.ticketId, accepted: false, reason: 'ticket_not_found' });
          continue;
        }
        const clientRow = ticket.companyIdentifier ? await host.clientByLink(integration.id, ticket.companyIdentifier) : null;
        if (!clientRow) {
          results.push({ ticket: event.ticketId, accepted: false, reason: 'client_not_served' });
          continue;
        }
        const result = await host.takeIn({
          integration,
          clientId: clientRow.id,
          channel: 'psa',
          externalRef: String(event.ticketId),
          requesterEmail: ticket.requesterEmail,
          subject: ticket.summary,
          via: `webhook:${KIND}`,
        });
        if ('refused' in result) {
          results.push({ ticket: event.ticketId, accepted: false, reason: 'refused' });
          continue;
        }
        if (result.created) host.wake();
        results.push({ ticket: event.ticketId, accepted: true, requestId: result.requestId, duplicate: !result.created });
      }
      return { results };
    },
  );
}

/** `Authorization: Basic base64(user:password)` whose password is the secret (compared in constant time). */
export function basicPasswordMatches(header: string | undefined, secret: string): boolean {
  if (secret === '' || !header) return false;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header.trim());
  if (!match) return false;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  return constantTimeEqual(secret, decoded.slice(colon + 1));
}

interface Cursor {
  lastTicketId: number;
  polledAt: string;
}

/**
 * Webhooks can be missed (deskhand was down, Halo gave up). Ask for each served client's open
 * tickets newer than the last one seen and take in any that no webhook brought. One worker polls an
 * integration per interval (the cursor is claimed).
 */
export async function pollHalo(integration: ConnectedIntegration, host: IntakeHost, intervalMs: number): Promise<number> {
  const key = `intake-cursor:${integration.id}`;
  const { client } = haloOf(integration);
  const served = await host.linkedClients(integration.id);
  if (served.length === 0) return 0;
  const claimed = await host.claimCursor<Cursor>(key, intervalMs);
  if (claimed.state === 'busy') return 0;
  const now = host.clock.now();
  if (claimed.value === null) {
    // First poll: start from the newest ticket, so tickets from before deskhand are left alone.
    const newest = (await client.listTickets({ order: 'id', orderdesc: true }, 1))[0]?.id ?? 0;
    await host.saveCursor<Cursor>(key, { lastTicketId: newest, polledAt: now.toISOString() });
    return 0;
  }
  const since = claimed.value.lastTicketId;
  let last = since;
  let taken = 0;
  try {
    for (const link of served) {
      const clientId = Number(link.externalId);
      if (!Number.isInteger(clientId) || clientId <= 0) continue;
      // The newest 200 open tickets per client: more new tickets than that between two polls would leave the oldest to a later look.
      const tickets = (await client.listTickets({ client_id: clientId, open_only: true, order: 'id', orderdesc: true }, 200)).filter((t) => t.id > since).sort((a, b) => a.id - b.id);
      for (const ticket of tickets) {
        const result = await host.takeIn({
          integration,
          clientId: link.clientId,
          channel: 'psa',
          externalRef: String(ticket.id),
          requesterEmail: ticket.user_email?.toLowerCase() || null,
          subject: ticket.summary ?? '',
          via: `poll:${KIND}`,
        });
        if (!('refused' in result) && result.created) taken++;
        last = Math.max(last, ticket.id);
      }
    }
  } finally {
    await host.saveCursor<Cursor>(key, { lastTicketId: last, polledAt: now.toISOString() });
  }
  if (taken > 0) {
    host.logger.warn({ integration: integration.name, taken }, 'took in HaloPSA tickets whose webhook never arrived');
    host.wake();
  }
  return taken;
}

/**
 * Make sure Halo calls this deskhand for new tickets: one webhook at this integration's URL, for
 * "New Ticket Logged", with Basic authentication (the password is the webhook secret), saved through
 * `POST /api/Webhook` (the route and its fields come from a third-party digest of Halo's API and are
 * unverified; the README has the manual set-up for when it is refused). Idempotent: the existing
 * webhook with this URL is updated (its password cannot be read back), else one is created.
 */
export async function connectHalo(integration: ConnectedIntegration, host: ConnectHost): Promise<ConnectOutcome> {
  const { client } = haloOf(integration);
  const secret = integration.secrets['webhookSecret'];
  if (!host.webhookBaseUrl || !secret) {
    await client.listTickets({ order: 'id', orderdesc: true }, 1);
    return { ok: true, detail: 'API reachable; no webhook URL, so new tickets come in through the poll' };
  }
  const url = webhookUrl(host.webhookBaseUrl, integration.id);
  try {
    const existing = (await client.listWebhooks()).find((w) => w.url === url);
    // Field types as Halo's API reference lists them (a third-party copy; unverified): method and
    // authentication_type are enums (0 POST; 1 Basic Auth), type 0 an outbound webhook, and each
    // event a notification object named as in Halo's list of events.
    await client.saveWebhook({
      ...(existing ? { id: existing.id } : {}),
      name: 'deskhand: new tickets start requests',
      type: 0,
      url,
      method: 0,
      content_type: 'application/json',
      active: true,
      authentication_type: 1,
      basic_username: WEBHOOK_USERNAME,
      basic_password: secret,
      payload_type: 0,
      events: [{ name: NEW_TICKET_EVENT }],
    });
    return { ok: true, detail: existing ? 'webhook updated' : 'webhook registered' };
  } catch (error) {
    // Never the password; the URL carries none.
    return { ok: false, detail: `could not register the webhook through the API (${describeError(error)}): set it up in Halo by hand (see the HaloPSA README); the poll takes tickets in meanwhile` };
  }
}
