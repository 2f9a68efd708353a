import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DeskhandError, isDeskhandError } from '../core/errors.ts';
import { parseCallback, ticketIntakeFromCallback, verifyCallbackSignature } from '../integrations/connectwise/webhook.ts';
import type { EngineContext } from '../engine/context.ts';
import { takeInTicket } from '../engine/intake.ts';
import { storableText } from '../integrations/psa.ts';
import { constantTimeEqual } from '../secrets.ts';
import { zodSchema } from './schema.ts';

/**
 * Webhooks from outside systems. Each URL carries the integration id and a per-integration secret;
 * the body is verified by the system's own signature too. Anything that fails answers 400/401 and
 * changes nothing.
 */
export function registerWebhooks(app: FastifyInstance, ctx: EngineContext, onReceived: () => void): void {
  app.register(async (scope) => {
    // Signatures are over the raw bytes: keep the body as received and parse it ourselves.
    scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));

    scope.post(
      '/webhooks/connectwise/:integrationId/:secret',
      {
        schema: {
          tags: ['webhooks'],
          summary: 'ConnectWise Manage callback (ticket added): starts a request',
          params: zodSchema(z.object({ integrationId: z.string(), secret: z.string() })),
        },
      },
      async (request, reply) => {
        const { integrationId, secret } = request.params as { integrationId: string; secret: string };
        const integration = await findIntegration(ctx, integrationId, 'connectwise');
        const secrets = ctx.integrations.secretsOf(integration);
        if (!secrets['webhookSecret'] || !constantTimeEqual(secrets['webhookSecret'], secret)) {
          throw new DeskhandError('unauthorized', 'unknown webhook URL');
        }
        const rawBody = typeof request.body === 'string' ? request.body : '';
        const payload = parseCallback(rawBody);
        const client = ctx.integrations.connectWiseClient(integration);
        await verifyCallbackSignature({
          rawBody,
          signatureHeader: request.headers['x-content-signature'],
          keyUrl: payload.keyUrl,
          configuredSiteUrl: client.siteUrl,
          fetchSigningKey: (url) => client.fetchSigningKey(url),
        }).catch((error: unknown) => {
          throw unverifiable(ctx, integration.id, error);
        });
        const config = integration.config as Record<string, string>;
        const decision = ticketIntakeFromCallback(payload, { apiMemberIdentifier: config['apiMemberIdentifier'] ?? '' });
        if (!decision.create) {
          reply.code(202);
          return { accepted: false, reason: decision.reason };
        }
        // Text from outside is cleaned before it reaches a query: PostgreSQL refuses a NUL byte.
        const company = decision.companyIdentifier === null ? null : storableText(decision.companyIdentifier);
        const clientRow = company
          ? await ctx.db
              .selectFrom('clients')
              .select(['id'])
              .where('msp_id', '=', integration.msp_id)
              .where((eb) => eb(eb.fn('lower', ['psa_company_identifier']), '=', company.toLowerCase()))
              .executeTakeFirst()
          : undefined;
        if (!clientRow) {
          // Tickets of companies deskhand does not serve are left to the technicians.
          reply.code(202);
          return { accepted: false, reason: 'company_not_served' };
        }
        const result = await takeInTicket(ctx, {
          mspId: integration.msp_id,
          clientId: clientRow.id,
          channel: 'psa',
          sourceIntegrationId: integration.id,
          externalRef: String(decision.ticketId),
          // The signed callback carries the ticket: its summary and requester save reading it again.
          requesterEmail: decision.ticket?.contactEmailAddress ?? null,
          subject: decision.ticket?.summary ?? '',
          via: 'webhook:connectwise',
        });
        reply.code(202);
        // A ticket that cannot be taken in is recorded as refused (with a note on it): ConnectWise need not retry it.
        if ('refused' in result) return { accepted: false, reason: 'refused' };
        onReceived();
        return { accepted: true, requestId: result.requestId, duplicate: !result.created };
      },
    );
  });
}

/**
 * A callback whose key URL answers that it is no key for us (an HTTP 4xx other than 429) is refused
 * as unverified (401), like one naming a key the site does not know: anyone who has the webhook URL
 * can name any URL on the ConnectWise site, and its API answers an unauthenticated call 401, which
 * must not come back as a 502 repeating what ConnectWise says about deskhand's API keys. Failures of
 * the site itself (5xx, 429, timeouts, redirects, oversized answers) keep their status; the reason
 * is logged for the operator either way.
 */
function unverifiable(ctx: EngineContext, integrationId: string, error: unknown): unknown {
  if (!isDeskhandError(error) || error.code === 'unauthorized') return error;
  const status = error.details?.['status'];
  ctx.logger.warn({ integrationId, reason: error.message }, 'refused a ConnectWise callback: the signing key it names could not be fetched');
  if (typeof status !== 'number' || status < 400 || status >= 500 || status === 429) return error;
  return new DeskhandError('unauthorized', `The ConnectWise callback names a signing-key URL that gives no signing key (HTTP ${status}); refusing it.`);
}

/** Integration ids are UUIDs: anything else is refused before any lookup (and never cached). */
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function findIntegration(ctx: EngineContext, id: string, kind: string) {
  if (!UUID_PATTERN.test(id)) throw new DeskhandError('unauthorized', 'unknown webhook URL');
  const row = await ctx.integrations.row(id).catch(() => null);
  if (!row || row.kind !== kind || !row.enabled) throw new DeskhandError('unauthorized', 'unknown webhook URL');
  return row;
}
