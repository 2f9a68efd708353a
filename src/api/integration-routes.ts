import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DeskhandError, describeError, isDeskhandError } from '../core/errors.ts';
import type { EngineContext } from '../engine/context.ts';
import { runDoctorFor } from '../integrations/doctor.ts';
import { type IntegrationHealthView, UNKNOWN_HEALTH } from '../integrations/health.ts';
import type { PsaCompany, TicketCapability } from '../integrations/module.ts';
import { appendAudit, inTransaction } from '../store/audit.ts';
import type { Db, Tx } from '../store/db.ts';
import { requireAdmin, requireUser } from './auth.ts';
import { CompanyList, ImportClientsBody, ImportClientsResult, Integration, IntegrationList, TestConnectionResult } from './contract.ts';
import { zodResponse, zodSchema } from './schema.ts';

/**
 * The MSP's integrations as the dashboard shows them: what each is, whose it is, and its health
 * (read by every signed-in user; never a credential, nor any setting); the doctor run now (*Test
 * connection*), and a PSA's companies, imported as clients (msp_admin).
 */

interface IntegrationListRow {
  id: string;
  kind: string;
  name: string;
  enabled: boolean;
  client_id: string | null;
  client_slug: string | null;
  client_name: string | null;
}

const idParams = zodSchema(z.object({ id: z.uuid() }));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function registerIntegrationRoutes(app: FastifyInstance, ctx: EngineContext): void {
  app.get(
    '/api/integrations',
    {
      schema: {
        tags: ['integrations'],
        operationId: 'listIntegrations',
        summary: "The MSP's integrations with their health (never their credentials or settings); ?client=<id or slug>: the integrations that client uses (its own, and the MSP's it reaches)",
        querystring: zodSchema(z.object({ client: z.string().min(1).max(200).optional() })),
        response: { 200: zodResponse(IntegrationList) },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const { client } = request.query as { client?: string };
      let rows = await integrationRows(ctx, user.mspId);
      if (client) {
        // A filter: a client of another MSP (or none) uses none of this MSP's integrations.
        const found = await ctx.db
          .selectFrom('clients')
          .select('id')
          .where('msp_id', '=', user.mspId)
          .where(UUID.test(client) ? 'id' : 'slug', '=', client)
          .executeTakeFirst();
        const used = new Set(found ? (await ctx.integrations.integrationsOfClient(found.id)).map((row) => row.id) : []);
        rows = rows.filter((row) => used.has(row.id));
      }
      const health = await ctx.integrations.health.of(rows.map((row) => row.id));
      return { integrations: rows.map((row) => describeIntegration(ctx, row, health.get(row.id))) };
    },
  );

  app.get(
    '/api/integrations/:id',
    {
      schema: {
        tags: ['integrations'],
        operationId: 'getIntegration',
        summary: 'One integration with its health (never its credentials or settings)',
        params: idParams,
        response: { 200: zodResponse(Integration) },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const row = await integrationRow(ctx, user.mspId, (request.params as { id: string }).id);
      const health = await ctx.integrations.health.of([row.id]);
      return describeIntegration(ctx, row, health.get(row.id));
    },
  );

  app.post(
    '/api/integrations/:id/test',
    {
      schema: {
        tags: ['integrations'],
        operationId: 'testIntegration',
        summary: "Test connection: run the integration's doctor now (reads only), record its health, and answer the report, per tool",
        params: idParams,
        response: { 200: zodResponse(TestConnectionResult) },
      },
    },
    async (request) => {
      const user = requireUser(request);
      // Another MSP's integration is answered as one that does not exist, whatever the caller's role.
      const row = await integrationRow(ctx, user.mspId, (request.params as { id: string }).id);
      requireAdmin(request);
      const output = await runDoctorFor({ db: ctx.db, registry: ctx.integrations, logger: ctx.logger }, user.mspId, row.id);
      if (!output) throw new DeskhandError('not_found', 'no such integration');
      const health = await ctx.integrations.health.of([row.id]);
      return { ok: output.ok, integration: output.integrations[0], tools: output.tools, health: health.get(row.id) ?? UNKNOWN_HEALTH };
    },
  );

  app.get(
    '/api/integrations/:id/companies',
    {
      schema: {
        tags: ['integrations'],
        operationId: 'listPsaCompanies',
        summary: "A PSA's companies, each with the client it is linked to (if any), to import as clients",
        params: idParams,
        response: { 200: zodResponse(CompanyList) },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const row = await integrationRow(ctx, user.mspId, (request.params as { id: string }).id);
      requireAdmin(request);
      const companies = await companiesOf(ctx, row);
      const linked = await linkedClients(ctx.db, row.id);
      return {
        companies: companies.map((company) => ({ externalId: company.externalId, name: company.name, client: linked.get(company.externalId.toLowerCase()) ?? null })),
      };
    },
  );

  app.post(
    '/api/integrations/:id/import-clients',
    {
      schema: {
        tags: ['integrations'],
        operationId: 'importClients',
        summary: "Create a client for each chosen PSA company, named after it and linked to it, in the MSP's mode (inherit); a company already linked is skipped",
        params: idParams,
        body: zodSchema(ImportClientsBody),
        response: { 200: zodResponse(ImportClientsResult) },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const row = await integrationRow(ctx, user.mspId, (request.params as { id: string }).id);
      requireAdmin(request);
      const { companies: wanted } = request.body as ImportClientsBody;
      const companies = await companiesOf(ctx, row);
      const byId = new Map(companies.map((company) => [company.externalId.toLowerCase(), company]));
      const unknown = wanted.filter((id) => !byId.has(id.toLowerCase()));
      if (unknown.length > 0) {
        throw new DeskhandError('bad_request', `${row.name} has no company ${unknown.slice(0, 10).map((id) => `"${id.slice(0, 100)}"`).join(', ')}${unknown.length > 10 ? ` (and ${unknown.length - 10} more)` : ''}`);
      }
      const chosen = [...new Map(wanted.map((id) => [id.toLowerCase(), byId.get(id.toLowerCase())!])).values()];
      const at = ctx.clock.now();
      const result = await inTransaction(ctx.db, async (tx) => {
        // One import of this integration at a time: two at once would both create the same client.
        await tx.selectFrom('integrations').select('id').where('id', '=', row.id).forUpdate().executeTakeFirstOrThrow();
        const linked = await linkedClients(tx, row.id);
        const taken = new Set((await tx.selectFrom('clients').select('slug').where('msp_id', '=', user.mspId).execute()).map((c) => c.slug));
        const created: ImportedCompany[] = [];
        const skipped: ImportedCompany[] = [];
        for (const company of chosen) {
          const existing = linked.get(company.externalId.toLowerCase());
          if (existing) {
            skipped.push({ externalId: company.externalId, name: company.name, client: existing, reason: 'already linked' });
            continue;
          }
          const slug = freeSlug(company.name, taken);
          taken.add(slug);
          const client = { id: crypto.randomUUID(), slug, name: company.name };
          await tx.insertInto('clients').values({ ...client, msp_id: user.mspId, domain: '', operating_mode: 'inherit', created_at: at }).execute();
          await tx.insertInto('client_links').values({ msp_id: user.mspId, client_id: client.id, integration_id: row.id, external_id: company.externalId, created_at: at }).execute();
          linked.set(company.externalId.toLowerCase(), client);
          created.push({ externalId: company.externalId, name: company.name, client });
        }
        if (created.length > 0) {
          await appendAudit(tx, {
            mspId: user.mspId,
            actor: `user:${user.email}`,
            event: 'clients.imported',
            data: { integrationId: row.id, clients: created.map((c) => ({ clientId: c.client.id, externalId: c.externalId })) },
            at,
          });
        }
        return { created, skipped };
      });
      // The new clients reach this integration at once in this process (others within the short cache).
      ctx.integrations.invalidate(row.id);
      return result;
    },
  );
}

interface ImportedCompany {
  externalId: string;
  name: string;
  client: { id: string; slug: string; name: string };
  reason?: string;
}

function describeIntegration(ctx: EngineContext, row: IntegrationListRow, health: IntegrationHealthView | undefined) {
  const module = ctx.integrations.modules.find((m) => m.kind === row.kind);
  return {
    id: row.id,
    kind: row.kind,
    label: module?.label ?? row.kind,
    name: row.name,
    scope: row.client_id ? ('client' as const) : ('msp' as const),
    enabled: row.enabled,
    client: row.client_id && row.client_slug !== null && row.client_name !== null ? { id: row.client_id, slug: row.client_slug, name: row.client_name } : null,
    provides: [...(module?.provides ?? [])],
    health: health ?? UNKNOWN_HEALTH,
  };
}

function integrationQuery(ctx: EngineContext, mspId: string) {
  return ctx.db
    .selectFrom('integrations')
    .leftJoin('clients', 'clients.id', 'integrations.client_id')
    .select(['integrations.id', 'integrations.kind', 'integrations.name', 'integrations.enabled', 'integrations.client_id', 'clients.slug as client_slug', 'clients.name as client_name'])
    .where('integrations.msp_id', '=', mspId);
}

async function integrationRows(ctx: EngineContext, mspId: string): Promise<IntegrationListRow[]> {
  return integrationQuery(ctx, mspId).orderBy('integrations.name').execute();
}

async function integrationRow(ctx: EngineContext, mspId: string, id: string): Promise<IntegrationListRow> {
  const row = await integrationQuery(ctx, mspId).where('integrations.id', '=', id).executeTakeFirst();
  if (!row) throw new DeskhandError('not_found', 'no such integration');
  return row;
}

/** The PSA's companies; a system that cannot answer is its failure (502/503), not the caller's. */
async function companiesOf(ctx: EngineContext, row: IntegrationListRow): Promise<PsaCompany[]> {
  let ticket: TicketCapability | null = null;
  if (ctx.integrations.module(row.kind).provides.includes('ticket')) ticket = await ctx.integrations.ticketOf(row.id);
  if (!ticket) throw new DeskhandError('bad_request', `${row.name} is not a PSA: it has no companies to import`);
  try {
    return await ticket.companies();
  } catch (error) {
    const retryable = isDeskhandError(error) && error.retryable;
    throw new DeskhandError(retryable ? 'upstream_retryable' : 'upstream', `could not read the companies of ${row.name}: ${describeError(error)}`);
  }
}

/** The clients linked to this integration, by their company's id (lower case). */
async function linkedClients(db: Db | Tx, integrationId: string): Promise<Map<string, { id: string; slug: string; name: string }>> {
  const rows = await db
    .selectFrom('client_links')
    .innerJoin('clients', 'clients.id', 'client_links.client_id')
    .select(['client_links.external_id', 'clients.id', 'clients.slug', 'clients.name'])
    .where('client_links.integration_id', '=', integrationId)
    .execute();
  return new Map(rows.map((row) => [row.external_id.toLowerCase(), { id: row.id, slug: row.slug, name: row.name }]));
}

/** A slug for a new client named `name`, not among `taken`: its words in lower case, joined by dashes. */
export function freeSlug(name: string, taken: ReadonlySet<string>): string {
  const base =
    name
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60)
      .replace(/-+$/, '') || 'client';
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}
