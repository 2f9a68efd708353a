import type { FastifyInstance } from 'fastify';
import { WebhookIntake } from '../../api/contract.ts';
import { zodResponse } from '../../api/schema.ts';
import { DeskhandError, describeError, isDeskhandError } from '../../core/errors.ts';
import type { ConnectedIntegration, ConnectHost, ConnectOutcome, IntakeHost } from '../module.ts';
import { storableText } from '../psa.ts';
import type { AutotaskChannel } from './channel.ts';
import type { AutotaskClient, WebhookEntity } from './client.ts';
import { decide, parseWebhook, SIGNATURE_HEADER, signatureMatches } from './webhook.ts';

/**
 * How tickets come in from Autotask: its outbound webhooks (Ticket and TicketNote, signed with the
 * integration's secret key), and a poll for the tickets whose webhook never arrived. Both take a
 * ticket in only for a company linked to one of the MSP's clients, never for a change made by
 * deskhand's own Resource, and idempotently (a re-delivery is the same request).
 */
export interface AutotaskConnection {
  client: AutotaskClient;
  channel: AutotaskChannel;
}

export function autotaskOf(integration: ConnectedIntegration): AutotaskConnection {
  return integration.connection as unknown as AutotaskConnection;
}

const KIND = 'autotask';
const WEBHOOK_ENTITIES: readonly WebhookEntity[] = ['TicketWebhooks', 'TicketNoteWebhooks'];

export function autotaskWebhooks(scope: FastifyInstance, host: IntakeHost): void {
  // The signature is over the raw bytes: keep the body as received and parse it ourselves.
  scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));
  scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));

  scope.post(
    '/:integrationId',
    {
      schema: {
        tags: ['webhooks'],
        operationId: 'autotaskWebhook',
        security: [],
        summary: 'Autotask webhook (Ticket or TicketNote, signed with X-Hook-Signature): a new ticket starts a request',
        params: { type: 'object', properties: { integrationId: { type: 'string' } }, required: ['integrationId'] },
        response: { 202: zodResponse(WebhookIntake) },
      },
    },
    async (request, reply) => {
      const { integrationId } = request.params as { integrationId: string };
      const rawBody = typeof request.body === 'string' ? request.body : '';
      const integration = await host.integration(KIND, integrationId);
      // Unknown integration, missing or wrong signature: answered alike, nothing read or changed.
      if (!integration || !signatureMatches(integration.secrets['webhookSecret'] ?? '', rawBody, request.headers[SIGNATURE_HEADER])) {
        throw new DeskhandError('unauthorized', 'unknown webhook or signature');
      }
      const payload = parseWebhook(rawBody);
      const { client, channel } = autotaskOf(integration);
      const own = await client.ownResourceId().catch(() => null);
      const decision = decide(payload, own);
      reply.code(202);
      if (!decision.create) {
        if (decision.reason === 'deactivated') host.logger.warn({ integration: integration.name }, 'Autotask deactivated a webhook of this integration: it is registered again at the next start');
        return { accepted: false, reason: decision.reason };
      }
      // A ticket gone since the event (deleted, merged): nothing to take in, nothing for Autotask to retry.
      const record = await client.getTicket(decision.ticketId).catch((error: unknown) => {
        if (isDeskhandError(error) && error.code === 'not_found') return null;
        throw error;
      });
      if (!record) return { accepted: false, reason: 'ticket_not_found' };
      // A ticket deskhand's Resource entered (PersonID may be absent from the event) is its own.
      if (own !== null && Number(record['creatorResourceID']) === own) return { accepted: false, reason: 'own_change' };
      const ticket = await channel.ticketFrom(String(decision.ticketId), record);
      const clientRow = ticket.companyIdentifier ? await host.clientByLink(integration.id, storableText(ticket.companyIdentifier)) : null;
      if (!clientRow) return { accepted: false, reason: 'company_not_served' };
      const result = await host.takeIn({
        integration,
        clientId: clientRow.id,
        channel: 'psa',
        externalRef: String(decision.ticketId),
        requesterEmail: ticket.requesterEmail,
        subject: ticket.summary,
        via: `webhook:${KIND}`,
      });
      if ('refused' in result) return { accepted: false, reason: 'refused' };
      if (result.created) host.wake();
      return { accepted: true, requestId: result.requestId, duplicate: !result.created };
    },
  );
}

interface Cursor {
  lastTicketId: number;
  /** Tickets created before this are never taken in by the poll (those from before deskhand). */
  since: string;
  polledAt: string;
}

/** How far before the first poll a ticket may have been created and still be taken in (clock skew). */
const FIRST_POLL_MARGIN_MS = 10 * 60_000;

/**
 * Webhooks can be missed (deskhand was down; Autotask drops an event after 5 attempts in about two
 * minutes). Ask for tickets newer than the last one seen and created since the first poll, of the
 * companies deskhand serves, not entered by deskhand's Resource, and take in any that no webhook
 * brought. The first poll only starts the cursor: it reads nothing (Autotask cannot sort a query,
 * and listing every ticket to find the newest would spend the hourly request budget).
 */
export async function pollAutotask(integration: ConnectedIntegration, host: IntakeHost, intervalMs: number): Promise<number> {
  const key = `intake-cursor:${integration.id}`;
  const { client } = autotaskOf(integration);
  const served = await host.linkedClients(integration.id);
  if (served.length === 0) return 0;
  const claimed = await host.claimCursor<Cursor>(key, intervalMs);
  if (claimed.state === 'busy') return 0;
  const now = host.clock.now();
  if (claimed.value === null || typeof claimed.value.since !== 'string') {
    await host.saveCursor<Cursor>(key, { lastTicketId: 0, since: new Date(now.getTime() - FIRST_POLL_MARGIN_MS).toISOString(), polledAt: now.toISOString() });
    return 0;
  }
  const cursor = claimed.value;
  const companies = served.map((c) => Number(c.externalId)).filter((n) => Number.isInteger(n));
  const tickets = await client.query('Tickets', [
    { op: 'gt', field: 'id', value: cursor.lastTicketId },
    { op: 'gte', field: 'createDate', value: cursor.since },
    { op: 'in', field: 'companyID', value: companies },
  ]);
  const own = await client.ownResourceId().catch(() => null);
  let taken = 0;
  let last = cursor.lastTicketId;
  try {
    for (const ticket of tickets.sort((a, b) => a.id - b.id)) {
      const company = served.find((c) => c.externalId === String(ticket['companyID']));
      const byDeskhand = own !== null && Number(ticket['creatorResourceID']) === own;
      if (company && !byDeskhand) {
        const result = await host.takeIn({
          integration,
          clientId: company.clientId,
          channel: 'psa',
          externalRef: String(ticket.id),
          subject: storableText(String(ticket['title'] ?? '')),
          via: `poll:${KIND}`,
        });
        if (!('refused' in result) && result.created) taken++;
      }
      last = Math.max(last, ticket.id);
    }
  } finally {
    await host.saveCursor<Cursor>(key, { lastTicketId: last, since: cursor.since, polledAt: now.toISOString() });
  }
  if (taken > 0) {
    host.logger.warn({ integration: integration.name, taken }, 'took in Autotask tickets whose webhook never arrived');
    host.wake();
  }
  return taken;
}

/**
 * Make sure Autotask calls this deskhand for new tickets and notes: one TicketWebhooks and one
 * TicketNoteWebhooks entry at this integration's webhook URL with its secret key, deskhand's own
 * Resource excluded (its notes never come back). An entry of this integration at another address is
 * removed; the entry kept gets the current secret. Needs "Can create WebHooks" on the API user's
 * security level. Without a reachable webhook URL the poll alone takes tickets in. Always checks
 * that the API answers with these credentials (the readiness check).
 */
export async function connectAutotask(integration: ConnectedIntegration, host: ConnectHost): Promise<ConnectOutcome> {
  const { client } = autotaskOf(integration);
  const secret = integration.secrets['webhookSecret'];
  try {
    await client.query('Tickets', [{ op: 'gt', field: 'id', value: 0 }], { maxRecords: 1, limit: 1, includeFields: ['id'] });
  } catch (error) {
    return { ok: false, detail: `the Autotask API refused the readiness check: ${describeError(error)}` };
  }
  if (!host.webhookBaseUrl || !secret) return { ok: true, detail: 'API reachable; no webhook URL, so new tickets come in through the poll' };
  const url = `${host.webhookBaseUrl.replace(/\/+$/, '')}/webhooks/${KIND}/${integration.id}`;
  const done: string[] = [];
  try {
    const own = await client.ownResourceId();
    for (const entity of WEBHOOK_ENTITIES) {
      const ours = (await client.listWebhooks(entity)).filter((w) => String(w['webhookUrl'] ?? '').includes(`/webhooks/${KIND}/${integration.id}`));
      let current = ours.find((w) => w['webhookUrl'] === url);
      for (const stale of ours) if (stale !== current) await client.remove(`${entity}/${stale.id}`);
      let id: number;
      if (current) {
        id = current.id;
        await client.update(entity, id, { secretKey: secret, isActive: true });
      } else {
        id = await client.createWebhook(entity, { name: `deskhand ${integration.name}`.slice(0, 50), webhookUrl: url, deactivationUrl: url, secretKey: secret });
        current = { id };
      }
      await client.excludeResource(entity, id, own);
      done.push(`${entity} ${id}`);
    }
    return { ok: true, detail: `webhooks registered (${done.join(', ')}), deskhand's Resource excluded` };
  } catch (error) {
    return { ok: false, detail: `API reachable, but the webhooks could not be registered (the security level needs "Can create WebHooks"): ${describeError(error)}` };
  }
}
