import type { FastifyInstance } from 'fastify';
import { WebhookIntake } from '../../api/contract.ts';
import { zodResponse } from '../../api/schema.ts';
import { DeskhandError, describeError, isDeskhandError } from '../../core/errors.ts';
import type { ConnectedIntegration, ConnectHost, ConnectOutcome, IntakeHost } from '../module.ts';
import { storableText } from '../psa.ts';
import { callbackUrl, matchSecretSegment, oldFormCallbackUrl } from './callback-url.ts';
import type { ConnectWiseChannel } from './channel.ts';
import type { ConnectWiseClient } from './client.ts';
import { allOf, condition, conditionIn } from './conditions.ts';
import { parseCallback, ticketIntakeFromCallback, verifyCallbackSignature } from './webhook.ts';

/**
 * How tickets come in from ConnectWise: its callbacks (a signed POST to a URL that carries the
 * integration id and a per-integration secret), and a poll for the tickets whose callback never
 * arrived. Both take a ticket in only for a company linked to one of the MSP's clients, never for a
 * ticket deskhand's own API member entered, and idempotently (a re-delivery is the same request).
 */
export interface ConnectWiseConnection {
  client: ConnectWiseClient;
  channel: ConnectWiseChannel;
}

export function connectWiseOf(integration: ConnectedIntegration): ConnectWiseConnection {
  return integration.connection as unknown as ConnectWiseConnection;
}

const KIND = 'connectwise';

export function connectWiseWebhooks(scope: FastifyInstance, host: IntakeHost): void {
  // Signatures are over the raw bytes: keep the body as received and parse it ourselves.
  scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));
  scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));

  scope.post(
    '/:integrationId/:secret',
    {
      schema: {
        tags: ['webhooks'],
        operationId: 'connectwiseWebhook',
        security: [],
        summary: 'ConnectWise Manage callback (ticket added): starts a request',
        params: { type: 'object', properties: { integrationId: { type: 'string' }, secret: { type: 'string' } }, required: ['integrationId', 'secret'] },
        response: { 202: zodResponse(WebhookIntake) },
      },
    },
    async (request, reply) => {
      const { integrationId, secret } = request.params as { integrationId: string; secret: string };
      const integration = await host.integration(KIND, integrationId);
      // Every URL deskhand does not know is answered alike: no hint whether the id or the secret was wrong.
      const segment = integration ? matchSecretSegment(integration.secrets['webhookSecret'] ?? '', secret) : ({ match: 'none' } as const);
      if (!integration || segment.match === 'none') throw new DeskhandError('unauthorized', 'unknown webhook URL');
      const rawBody = typeof request.body === 'string' ? request.body : '';
      const payload = parseCallback(rawBody);
      // A registration of the old form (`/<secret>`), called with the record id appended: the
      // digits must be this callback's record, else the URL is not one deskhand gave out.
      if (segment.match === 'appended' && segment.recordId !== payload.id) {
        throw new DeskhandError('unauthorized', 'unknown webhook URL: the digits after its secret are not the record id of the callback');
      }
      const { client, channel } = connectWiseOf(integration);
      await verifyCallbackSignature({
        rawBody,
        signatureHeader: request.headers['x-content-signature'],
        keyUrl: payload.keyUrl,
        configuredSiteUrl: client.siteUrl,
        trustedOrigins: client.trustedOrigins,
        companyId: client.companyId,
        fetchSigningKey: (url) => client.fetchSigningKey(url),
      }).catch((error: unknown) => {
        throw unverifiable(host, integration.id, error);
      });
      const decision = ticketIntakeFromCallback(payload, { apiMemberIdentifier: String(integration.settings['apiMemberIdentifier'] ?? '') });
      reply.code(202);
      if (!decision.create) return { accepted: false, reason: decision.reason };
      // A callback without the ticket (ConnectWise sends the entity only for some levels): read it.
      const ticket = decision.ticket
        ? { summary: decision.ticket.summary, requesterEmail: decision.ticket.contactEmailAddress ?? null, company: decision.companyIdentifier }
        : await channel.getTicket(String(decision.ticketId)).then((t) => ({ summary: t.summary, requesterEmail: t.requesterEmail, company: t.companyIdentifier }));
      // Text from outside is cleaned before it reaches a query: PostgreSQL refuses a NUL byte.
      const company = ticket.company === null ? null : storableText(ticket.company);
      const clientRow = company ? await host.clientByLink(integration.id, company) : null;
      // Tickets of companies deskhand does not serve are left to the technicians.
      if (!clientRow) return { accepted: false, reason: 'company_not_served' };
      const result = await host.takeIn({
        integration,
        clientId: clientRow.id,
        channel: 'psa',
        externalRef: String(decision.ticketId),
        // The signed callback carries the ticket: its summary and requester save reading it again.
        requesterEmail: ticket.requesterEmail,
        subject: ticket.summary,
        via: `webhook:${KIND}`,
      });
      // A ticket that cannot be taken in is recorded as refused (with a note on it): ConnectWise need not retry it.
      if ('refused' in result) return { accepted: false, reason: 'refused' };
      if (result.created) host.wake();
      return { accepted: true, requestId: result.requestId, duplicate: !result.created };
    },
  );
}

/**
 * A callback whose key URL answers that it is no key for us (an HTTP 4xx other than 429) is refused
 * as unverified (401), like one naming a key the site does not know: anyone who has the webhook URL
 * can name any URL on the ConnectWise site, and its API answers an unauthenticated call 401, which
 * must not come back as a 502 repeating what ConnectWise says about deskhand's API keys. Failures of
 * the site itself (5xx, 429, timeouts, redirects, oversized answers) keep their status; the reason
 * is logged for the operator either way.
 */
function unverifiable(host: IntakeHost, integrationId: string, error: unknown): unknown {
  if (isDeskhandError(error) && error.code === 'unauthorized' && typeof error.details?.['keyHost'] === 'string') {
    // A key URL off the site's trusted hosts: nothing was fetched. The hosts only, never the URL.
    host.logger.warn(
      { integrationId, keyHost: error.details['keyHost'], siteHost: error.details['siteHost'] },
      'refused a ConnectWise callback: its signing-key URL is not on a ConnectWise host of the configured site',
    );
  }
  if (!isDeskhandError(error) || error.code === 'unauthorized') return error;
  const status = error.details?.['status'];
  host.logger.warn({ integrationId, reason: error.message }, 'refused a ConnectWise callback: the signing key it names could not be fetched');
  if (typeof status !== 'number' || status < 400 || status >= 500 || status === 429) return error;
  return new DeskhandError('unauthorized', `The ConnectWise callback names a signing-key URL that gives no signing key (HTTP ${status}); refusing it.`);
}

interface Cursor {
  lastTicketId: number;
  polledAt: string;
}

/**
 * Webhooks can be missed: the service was down when ConnectWise called, and ConnectWise gave up.
 * Ask for tickets newer than the last one seen, for the companies deskhand serves, and take in any
 * that no webhook brought. One worker polls an integration per interval (the cursor is claimed).
 */
export async function pollConnectWise(integration: ConnectedIntegration, host: IntakeHost, intervalMs: number): Promise<number> {
  const key = `intake-cursor:${integration.id}`;
  const { client } = connectWiseOf(integration);
  const served = await host.linkedClients(integration.id);
  if (served.length === 0) return 0;
  const claimed = await host.claimCursor<Cursor>(key, intervalMs);
  if (claimed.state === 'busy') return 0;
  const now = host.clock.now();
  if (claimed.value === null) {
    // First poll: start from the newest ticket, so tickets from before deskhand are left alone.
    const newest = await client.listTickets({ orderBy: 'id desc', pageSize: 1, limit: 1 }).then((t) => t[0]?.id ?? 0);
    await host.saveCursor<Cursor>(key, { lastTicketId: newest, polledAt: now.toISOString() });
    return 0;
  }
  const tickets = await client.listTickets({
    conditions: allOf(condition('id', '>', claimed.value.lastTicketId), conditionIn('company/identifier', served.map((c) => c.externalId))),
    orderBy: 'id asc',
    pageSize: 200,
  });
  const own = String(integration.settings['apiMemberIdentifier'] ?? '').toLowerCase();
  let taken = 0;
  let refused = 0;
  // The cursor moves past each ticket once it is dealt with: taken in, left alone, or refused (one
  // that cannot be taken in is recorded as such and never stops the poll). An error that is not the
  // ticket's fault (the database is down) keeps the cursor before it, so the next poll tries again.
  let last = claimed.value.lastTicketId;
  try {
    for (const ticket of tickets) {
      const enteredBy = String((ticket._info as Record<string, unknown> | undefined)?.['enteredBy'] ?? '').toLowerCase();
      const company = ticket.company?.identifier?.toLowerCase();
      const client = served.find((c) => c.externalId.toLowerCase() === company);
      if (ticket.closedFlag !== true && !(own && enteredBy === own) && client) {
        const result = await host.takeIn({
          integration,
          clientId: client.clientId,
          channel: 'psa',
          externalRef: String(ticket.id),
          requesterEmail: ticket.contactEmailAddress ?? null,
          subject: ticket.summary,
          via: `poll:${KIND}`,
        });
        if ('refused' in result) refused++;
        else if (result.created) taken++;
      }
      last = Math.max(last, ticket.id);
    }
  } finally {
    await host.saveCursor<Cursor>(key, { lastTicketId: last, polledAt: now.toISOString() });
  }
  if (taken > 0) host.logger.warn({ integration: integration.name, taken }, 'took in tickets whose webhook never arrived');
  if (refused > 0) host.logger.warn({ integration: integration.name, refused }, 'refused tickets that cannot be taken in (see their internal notes)');
  return taken;
}

/**
 * Make sure ConnectWise calls this deskhand back for new tickets: one callback at this service's
 * webhook URL, in the form whose secret survives an appended record id (see callback-url.ts). An
 * existing registration with that URL is reused; one of the old form (`/<secret>`) is updated to it
 * in place; any other registration of this integration (an old address, an old secret) is removed.
 * Self-suppressed so that deskhand's own notes do not come back. Without a reachable webhook URL the
 * poll alone takes tickets in.
 */
export async function connectConnectWise(integration: ConnectedIntegration, host: ConnectHost): Promise<ConnectOutcome> {
  const { client } = connectWiseOf(integration);
  const secret = integration.secrets['webhookSecret'];
  if (!host.webhookBaseUrl || !secret) {
    // Still check that the API answers with these credentials.
    await client.listTickets({ orderBy: 'id desc', pageSize: 1, limit: 1 });
    return { ok: true, detail: 'API reachable; no webhook URL, so new tickets come in through the poll' };
  }
  const url = callbackUrl(host.webhookBaseUrl, KIND, integration.id, secret);
  const oldForm = oldFormCallbackUrl(host.webhookBaseUrl, KIND, integration.id, secret);
  try {
    const ours = (await client.listCallbacks()).filter((entry) => entry.url?.includes(`/webhooks/${KIND}/${integration.id}/`));
    const current = ours.find((entry) => entry.url === url);
    const toUpdate = current ? undefined : ours.find((entry) => entry.url === oldForm);
    for (const stale of ours) {
      if (stale !== current && stale !== toUpdate) await client.deleteCallback(stale.id);
    }
    if (toUpdate) await client.updateCallbackUrl(toUpdate.id, url);
    const { created } = await client.registerCallback({
      url,
      description: 'deskhand: new tickets start requests',
      type: 'ticket',
      level: 'owner',
      objectId: 1,
      isSelfSuppressedFlag: true,
    });
    const detail = toUpdate ? 'callback updated to a URL that survives an appended record id' : created ? 'callback registered' : 'callback already registered';
    return { ok: true, detail };
  } catch (error) {
    // Never the URL: it carries the secret.
    return { ok: false, detail: `could not register the callback: ${describeError(error)}` };
  }
}
