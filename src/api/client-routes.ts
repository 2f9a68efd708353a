import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DeskhandError } from '../core/errors.ts';
import { FINAL_STATES } from '../core/lifecycle.ts';
import type { EngineContext } from '../engine/context.ts';
import type { IntegrationModule } from '../integrations/module.ts';
import { appendAudit, inTransaction } from '../store/audit.ts';
import type { Db, Tx } from '../store/db.ts';
import { requireAdmin, requireUser } from './auth.ts';
import { type ClientCounts, ClientCreateBody, ClientDetail, type ClientLink, ClientLinkBody, ClientLinkList, ClientLink as ClientLinkSchema } from './contract.ts';
import { freeSlug } from './integration-routes.ts';
import { zodResponse, zodSchema } from './schema.ts';

/**
 * Clients by hand (msp_admin), one client with its counts (every signed-in user), and a client's
 * links to the MSP's integrations (its PSA company, its identity provider's tenant with the
 * multi-tenant app's admin consent link, its documentation): read by every signed-in user, set by
 * msp_admin.
 */
const idParams = zodSchema(z.object({ id: z.uuid() }));
const linkParams = zodSchema(z.object({ id: z.uuid(), integrationId: z.uuid() }));

export function registerClientRoutes(app: FastifyInstance, ctx: EngineContext): void {
  const { db } = ctx;

  app.post(
    '/api/clients',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'createClient',
        summary: 'Create a client by hand (one with no PSA company to import); its slug comes from its name',
        body: zodSchema(ClientCreateBody),
        response: { 200: zodResponse(ClientDetail) },
      },
    },
    async (request): Promise<ClientDetail> => {
      const user = requireAdmin(request);
      const body = request.body as z.output<typeof ClientCreateBody>;
      const at = ctx.clock.now();
      const id = crypto.randomUUID();
      await inTransaction(db, async (tx) => {
        // One new client of this MSP at a time, so two of the same name get two slugs.
        await tx.selectFrom('msps').select('id').where('id', '=', user.mspId).forUpdate().executeTakeFirstOrThrow();
        const taken = new Set((await tx.selectFrom('clients').select('slug').where('msp_id', '=', user.mspId).execute()).map((c) => c.slug));
        const slug = freeSlug(body.name, taken);
        await tx.insertInto('clients').values({ id, msp_id: user.mspId, slug, name: body.name, domain: body.domain, operating_mode: body.operatingMode, created_at: at }).execute();
        await appendAudit(tx, { mspId: user.mspId, actor: `user:${user.email}`, event: 'client.created', data: { clientId: id, slug, name: body.name, operatingMode: body.operatingMode }, at });
      });
      return clientDetail(db, user.mspId, id);
    },
  );

  app.get(
    '/api/clients/:id',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'getClient',
        summary: 'One client: its operating mode and what it resolves to, its open requests and pending approvals',
        params: idParams,
        response: { 200: zodResponse(ClientDetail) },
      },
    },
    async (request): Promise<ClientDetail> => {
      const user = requireUser(request);
      return clientDetail(db, user.mspId, (request.params as { id: string }).id);
    },
  );

  app.get(
    '/api/clients/:id/links',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'listClientLinks',
        summary: "A client's link to each of the MSP's integrations that links clients (its PSA company, identity provider tenant, documentation), with a multi-tenant app's admin consent URL",
        params: idParams,
        response: { 200: zodResponse(ClientLinkList) },
      },
    },
    async (request): Promise<ClientLinkList> => {
      const user = requireUser(request);
      const { id } = request.params as { id: string };
      await clientOf(db, user.mspId, id);
      const rows = await linkableIntegrations(db, user.mspId)
        .leftJoin('client_links', (join) => join.onRef('client_links.integration_id', '=', 'integrations.id').on('client_links.client_id', '=', id))
        .select('client_links.external_id')
        .orderBy('integrations.name')
        .execute();
      const links = rows.flatMap((row) => {
        const module = linkingModule(ctx, row.kind);
        return module ? [describeLink(ctx, module, row, row.external_id)] : [];
      });
      return { links };
    },
  );

  app.put(
    '/api/clients/:id/links/:integrationId',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'linkClient',
        summary: "Link a client to its record in one of the MSP's integrations (its company identifier, its tenant id); a value another client already has is refused",
        params: linkParams,
        body: zodSchema(ClientLinkBody),
        response: { 200: zodResponse(ClientLinkSchema) },
      },
    },
    async (request): Promise<ClientLink> => {
      const user = requireUser(request);
      const { id, integrationId } = request.params as { id: string; integrationId: string };
      const { client, integration, module } = await linkTarget(ctx, user.mspId, id, integrationId);
      requireAdmin(request);
      const checked = module.clientLink!.schema.safeParse((request.body as z.output<typeof ClientLinkBody>).externalId);
      if (!checked.success) throw new DeskhandError('bad_request', `externalId: ${checked.error.issues.map((issue) => issue.message).join('; ')}`);
      const externalId = checked.data;
      const at = ctx.clock.now();
      await inTransaction(db, async (tx) => {
        // Links of this integration change one at a time: the "already linked" check holds until commit.
        await tx.selectFrom('integrations').select('id').where('id', '=', integrationId).forUpdate().executeTakeFirstOrThrow();
        const other = await tx
          .selectFrom('client_links')
          .innerJoin('clients', 'clients.id', 'client_links.client_id')
          .select(['clients.name'])
          .where('client_links.integration_id', '=', integrationId)
          .where((eb) => eb(eb.fn('lower', ['client_links.external_id']), '=', externalId.toLowerCase()))
          .where('client_links.client_id', '!=', id)
          .executeTakeFirst();
        if (other) throw new DeskhandError('conflict', `${other.name} is already linked to this ${module.clientLink!.label.toLowerCase()} on ${integration.name}`);
        const before = await tx.selectFrom('client_links').select('external_id').where('client_id', '=', id).where('integration_id', '=', integrationId).executeTakeFirst();
        await tx
          .insertInto('client_links')
          .values({ msp_id: user.mspId, client_id: id, integration_id: integrationId, external_id: externalId, created_at: at })
          .onConflict((oc) => oc.columns(['client_id', 'integration_id']).doUpdateSet({ external_id: externalId }))
          .execute();
        await appendAudit(tx, {
          mspId: user.mspId,
          actor: `user:${user.email}`,
          event: 'client.linked',
          data: { clientId: client.id, integrationId, from: before?.external_id ?? null, to: externalId },
          at,
        });
      });
      ctx.integrations.invalidate(integrationId);
      return describeLink(ctx, module, integration, externalId);
    },
  );

  app.delete(
    '/api/clients/:id/links/:integrationId',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'unlinkClient',
        summary: "Remove a client's link to one of the MSP's integrations (the integration no longer serves that client); answers the link, now empty",
        params: linkParams,
        response: { 200: zodResponse(ClientLinkSchema) },
      },
    },
    async (request): Promise<ClientLink> => {
      const user = requireUser(request);
      const { id, integrationId } = request.params as { id: string; integrationId: string };
      const { client, integration, module } = await linkTarget(ctx, user.mspId, id, integrationId);
      requireAdmin(request);
      const at = ctx.clock.now();
      await inTransaction(db, async (tx) => {
        const removed = await tx.deleteFrom('client_links').where('client_id', '=', id).where('integration_id', '=', integrationId).returning('external_id').executeTakeFirst();
        if (removed) {
          await appendAudit(tx, { mspId: user.mspId, actor: `user:${user.email}`, event: 'client.unlinked', data: { clientId: client.id, integrationId, from: removed.external_id }, at });
        }
      });
      ctx.integrations.invalidate(integrationId);
      return describeLink(ctx, module, integration, null);
    },
  );
}

/** The MSP's own integrations (not a client's), of every kind: those whose module links clients are kept. */
function linkableIntegrations(db: Db, mspId: string) {
  return db
    .selectFrom('integrations')
    .select(['integrations.id', 'integrations.kind', 'integrations.name', 'integrations.config'])
    .where('integrations.msp_id', '=', mspId)
    .where('integrations.client_id', 'is', null);
}

function linkingModule(ctx: EngineContext, kind: string): IntegrationModule | null {
  const module = ctx.integrations.modules.find((m) => m.kind === kind);
  return module?.clientLink ? module : null;
}

/** The client and the integration a link route names (404 for anything not this MSP's), and the link's module. */
async function linkTarget(ctx: EngineContext, mspId: string, clientId: string, integrationId: string) {
  const client = await clientOf(ctx.db, mspId, clientId);
  const integration = await ctx.db
    .selectFrom('integrations')
    .select(['id', 'kind', 'name', 'config', 'client_id'])
    .where('id', '=', integrationId)
    .where('msp_id', '=', mspId)
    .executeTakeFirst();
  if (!integration) throw new DeskhandError('not_found', 'no such integration');
  const module = linkingModule(ctx, integration.kind);
  if (!module || integration.client_id !== null) throw new DeskhandError('bad_request', `${integration.name} does not link clients: it is ${integration.client_id ? "a client's own" : 'not a system clients are linked in'}`);
  return { client, integration, module };
}

function describeLink(
  ctx: EngineContext,
  module: IntegrationModule,
  integration: { id: string; name: string; kind: string; config: unknown },
  externalId: string | null,
): ClientLink {
  const settings = integration.config as Record<string, unknown>;
  // A multi-tenant app (no tenant of its own): the client's admin consents to it in their tenant.
  const multiTenant = module.adminConsentUrl && !settings['tenantId'];
  return {
    integrationId: integration.id,
    integration: integration.name,
    kind: integration.kind,
    label: module.clientLink!.label,
    externalId,
    consentUrl: multiTenant ? module.adminConsentUrl!(settings, { tenant: externalId, redirectUri: consentRedirectUri(ctx) }) : null,
  };
}

/**
 * Where the identity platform sends the client's administrator back after consenting: the
 * dashboard's client list, one fixed address (a redirect URI is registered on the app exactly).
 */
export function consentRedirectUri(ctx: EngineContext): string {
  return `${ctx.publicUrl}/clients`;
}

async function clientOf(db: Db | Tx, mspId: string, id: string) {
  const client = await db.selectFrom('clients').selectAll().where('id', '=', id).where('msp_id', '=', mspId).executeTakeFirst();
  if (!client) throw new DeskhandError('not_found', 'no such client');
  return client;
}

/** One client in the contract's shape, with its counts: open requests (not in a final state) and pending approvals. */
export async function clientDetail(db: Db, mspId: string, id: string): Promise<ClientDetail> {
  const client = await clientOf(db, mspId, id);
  const msp = await db.selectFrom('msps').select('default_operating_mode').where('id', '=', mspId).executeTakeFirstOrThrow();
  const counts = await clientCounts(db, mspId, id);
  const inherited = client.operating_mode === 'inherit';
  return {
    id: client.id,
    slug: client.slug,
    name: client.name,
    domain: client.domain,
    operatingMode: client.operating_mode,
    effectiveOperatingMode: inherited ? msp.default_operating_mode : (client.operating_mode as 'plan' | 'execute'),
    inherited,
    ...counts,
    mspDefaultOperatingMode: msp.default_operating_mode,
  };
}

async function clientCounts(db: Db, mspId: string, clientId: string): Promise<z.infer<typeof ClientCounts>> {
  const open = await db
    .selectFrom('requests')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('msp_id', '=', mspId)
    .where('client_id', '=', clientId)
    .where('state', 'not in', [...FINAL_STATES])
    .executeTakeFirstOrThrow();
  const pending = await db
    .selectFrom('approvals')
    .innerJoin('requests', 'requests.id', 'approvals.request_id')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('approvals.msp_id', '=', mspId)
    .where('requests.client_id', '=', clientId)
    .where('approvals.status', '=', 'pending')
    .executeTakeFirstOrThrow();
  return { openRequests: Number(open.n), pendingApprovals: Number(pending.n) };
}
