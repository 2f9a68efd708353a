import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { z } from 'zod';
import { DeskhandError } from '../core/errors.ts';
import { FINAL_STATES } from '../core/lifecycle.ts';
import { effectivePolicy } from '../core/policy.ts';
import { policyRefusal } from '../core/tool.ts';
import type { EngineContext } from '../engine/context.ts';
import { findTool, toolsOfIntegration } from '../integrations/catalog.ts';
import { appendAudit, inTransaction } from '../store/audit.ts';
import type { Db, Tx } from '../store/db.ts';
import { requireAdmin, requireUser } from './auth.ts';
import {
  type Client,
  ClientChanged,
  ClientList,
  ClientPatchBody,
  ClientToolPolicyBody,
  Msp,
  MspPatchBody,
  type OperatingMode,
  type Policy,
  ToolPolicy,
  ToolPolicyBody,
  ToolPolicyList,
} from './contract.ts';
import { zodResponse, zodSchema } from './schema.ts';

const idParams = zodSchema(z.object({ id: z.uuid() }));

/** Operating modes and tool policies: read by every role, changed by msp_admin. */
export function registerConfigRoutes(app: FastifyInstance, ctx: EngineContext): void {
  app.get(
    '/api/clients',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'listClients',
        summary: "The MSP's clients: each one's operating mode (and whether it inherits the MSP's), open requests and pending approvals",
        response: { 200: zodResponse(ClientList) },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const mode = await mspDefaultMode(ctx.db, user.mspId);
      return { mspDefaultOperatingMode: mode, clients: await clientsWithCounts(ctx.db, user.mspId, mode) };
    },
  );

  app.patch(
    '/api/clients/:id',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'updateClient',
        summary: "Change a client's operating mode (plan, execute, inherit), name or domain; answers the client as it is now",
        params: idParams,
        body: zodSchema(ClientPatchBody),
        response: { 200: zodResponse(ClientChanged) },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const { id } = request.params as { id: string };
      const body = request.body as ClientPatchBody;
      const at = ctx.clock.now();
      await inTransaction(ctx.db, async (tx) => {
        const client = await tx.selectFrom('clients').select(['id', 'name', 'domain', 'operating_mode']).where('id', '=', id).where('msp_id', '=', user.mspId).forNoKeyUpdate().executeTakeFirst();
        // Another MSP's client is answered as one that does not exist, whatever the caller's role.
        if (!client) throw new DeskhandError('not_found', 'no such client');
        requireAdmin(request);
        if (body.name === undefined && body.domain === undefined && body.operatingMode === undefined) {
          throw new DeskhandError('bad_request', 'nothing to change: send operatingMode, name or domain');
        }
        const domain = body.domain?.toLowerCase();
        if (domain && (await tx.selectFrom('clients').select('id').where('msp_id', '=', user.mspId).where('domain', '=', domain).where('id', '!=', id).executeTakeFirst())) {
          throw new DeskhandError('conflict', `another client of this MSP already has the domain ${domain}`);
        }
        await tx
          .updateTable('clients')
          .set({ ...(body.operatingMode ? { operating_mode: body.operatingMode } : {}), ...(body.name !== undefined ? { name: body.name } : {}), ...(domain !== undefined ? { domain } : {}) })
          .where('id', '=', id)
          .execute();
        const actor = `user:${user.email}`;
        // Every accepted change is audited, one that sets what was already there too (an admin's act).
        if (body.operatingMode) {
          await appendAudit(tx, { mspId: user.mspId, actor, event: 'client.operating_mode', data: { clientId: id, from: client.operating_mode, to: body.operatingMode }, at });
        }
        const renamed = body.name !== undefined;
        const moved = domain !== undefined;
        if (renamed || moved) {
          const from = { ...(renamed ? { name: client.name } : {}), ...(moved ? { domain: client.domain } : {}) };
          const to = { ...(renamed ? { name: body.name } : {}), ...(moved ? { domain } : {}) };
          await appendAudit(tx, { mspId: user.mspId, actor, event: 'client.changed', data: { clientId: id, from, to }, at });
        }
      });
      const mode = await mspDefaultMode(ctx.db, user.mspId);
      const [client] = await clientsWithCounts(ctx.db, user.mspId, mode, id);
      return { ...client!, mspDefaultOperatingMode: mode };
    },
  );

  app.patch(
    '/api/msp',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'updateMsp',
        summary: "Rename the MSP or set its default operating mode (followed by clients set to inherit)",
        body: zodSchema(MspPatchBody),
        response: { 200: zodResponse(Msp) },
      },
    },
    async (request) => {
      const user = requireAdmin(request);
      const body = request.body as MspPatchBody;
      if (body.name === undefined && body.defaultOperatingMode === undefined) throw new DeskhandError('bad_request', 'nothing to change: send name or defaultOperatingMode');
      const at = ctx.clock.now();
      return inTransaction(ctx.db, async (tx) => {
        const msp = await tx.selectFrom('msps').select(['id', 'name', 'default_operating_mode']).where('id', '=', user.mspId).forNoKeyUpdate().executeTakeFirstOrThrow();
        const name = body.name ?? msp.name;
        const mode = body.defaultOperatingMode ?? msp.default_operating_mode;
        await tx.updateTable('msps').set({ name, default_operating_mode: mode }).where('id', '=', user.mspId).execute();
        const actor = `user:${user.email}`;
        // Every accepted change is audited, one that sets what was already there too (an admin's act).
        if (body.defaultOperatingMode !== undefined) {
          await appendAudit(tx, { mspId: user.mspId, actor, event: 'msp.default_operating_mode', data: { from: msp.default_operating_mode, to: mode }, at });
        }
        if (body.name !== undefined) await appendAudit(tx, { mspId: user.mspId, actor, event: 'msp.renamed', data: { from: msp.name, to: name }, at });
        return { id: msp.id, name, defaultOperatingMode: mode };
      });
    },
  );

  app.get(
    '/api/integrations/:id/policies',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'listIntegrationPolicies',
        summary: "An integration's tools with their policies, where each comes from (the integration's row or the catalog's default), and who set it when",
        params: idParams,
        response: { 200: zodResponse(ToolPolicyList) },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const integration = await integrationOf(ctx.db, user.mspId, (request.params as { id: string }).id);
      return { tools: await policyTable(ctx.db, [integration], null) };
    },
  );

  app.put(
    '/api/integrations/:id/policies/:tool',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'setIntegrationPolicy',
        summary: "Set one tool's policy on an integration (audited with its previous policy); tightening also applies to plans not yet started",
        params: zodSchema(z.object({ id: z.uuid(), tool: z.string().max(200) })),
        body: zodSchema(ToolPolicyBody),
        response: { 200: zodResponse(ToolPolicy) },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const { id, tool: toolName } = request.params as { id: string; tool: string };
      const body = request.body as z.output<typeof ToolPolicyBody>;
      // Another MSP's integration is answered as one that does not exist, whatever the caller's role.
      const integration = await integrationOf(ctx.db, user.mspId, id);
      requireAdmin(request);
      const tool = findTool(toolName);
      if (!tool || tool.integration !== integration.kind) throw new DeskhandError('bad_request', `${toolName || 'an empty name'} is not a tool of this integration`);
      checkPolicy(tool, body);
      await writePolicy(ctx, { user, integrationId: id, clientId: null, tool: toolName, to: body });
      const [now] = await policyTable(ctx.db, [integration], null, toolName);
      return now!;
    },
  );

  /**
   * A client's policies: every tool of the integrations the client uses, with the policy that
   * applies and where it comes from (the client's own row, its integration's, or the catalog's
   * default). The product page's "not available to the agent for this client" is a client's own
   * `disabled`.
   */
  app.get(
    '/api/clients/:id/policies',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'listClientPolicies',
        summary: "A client's tools (of the integrations it uses; ?integration=<id> for one) with their effective policies, where each comes from, and who set it when",
        params: idParams,
        querystring: zodSchema(z.object({ integration: z.uuid().optional() })),
        response: { 200: zodResponse(ToolPolicyList) },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const { id } = request.params as { id: string };
      const { integration } = request.query as { integration?: string };
      await clientOf(ctx.db, user.mspId, id);
      return { tools: await clientPolicies(ctx, user.mspId, id, { integrationId: integration }) };
    },
  );

  app.put(
    '/api/clients/:id/policies/:tool',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'setClientPolicy',
        summary: "Set a client's own policy for one tool (it overrides the integration's; audited with its previous policy); `inherit` removes it",
        params: zodSchema(z.object({ id: z.uuid(), tool: z.string().max(200) })),
        body: zodSchema(ClientToolPolicyBody),
        response: { 200: zodResponse(ToolPolicy) },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const { id, tool: toolName } = request.params as { id: string; tool: string };
      const body = request.body as z.output<typeof ClientToolPolicyBody>;
      // Another MSP's client is answered as one that does not exist, whatever the caller's role.
      await clientOf(ctx.db, user.mspId, id);
      requireAdmin(request);
      const tool = findTool(toolName);
      const owner = tool ? (await clientPolicies(ctx, user.mspId, id, { tool: toolName }))[0] : undefined;
      if (!tool || !owner) throw new DeskhandError('bad_request', `${toolName || 'an empty name'} is not a tool of an integration this client uses`);
      if (body.policy === 'inherit') {
        if (body.requireManagerApproval) throw new DeskhandError('bad_request', 'manager approval can only be required together with approval_needed');
        await writePolicy(ctx, { user, integrationId: owner.integrationId, clientId: id, tool: toolName, to: null });
      } else {
        const to = { policy: body.policy, requireManagerApproval: body.requireManagerApproval };
        checkPolicy(tool, to);
        await writePolicy(ctx, { user, integrationId: owner.integrationId, clientId: id, tool: toolName, to });
      }
      const [now] = await clientPolicies(ctx, user.mspId, id, { tool: toolName });
      return now!;
    },
  );
}

async function mspDefaultMode(db: Db, mspId: string): Promise<OperatingMode> {
  return (await db.selectFrom('msps').select('default_operating_mode').where('id', '=', mspId).executeTakeFirstOrThrow()).default_operating_mode;
}

/**
 * The MSP's clients (or one of them) with their effective mode and counts, in one query: the open
 * requests (not in a final state) and pending approvals of each are counted by the database.
 */
export async function clientsWithCounts(db: Db, mspId: string, mspMode: OperatingMode, clientId?: string): Promise<Client[]> {
  let query = db
    .selectFrom('clients')
    .select(['clients.id', 'clients.slug', 'clients.name', 'clients.domain', 'clients.operating_mode'])
    .select((eb) => [
      eb
        .selectFrom('requests')
        .select(sql<string>`count(*)`.as('n'))
        .whereRef('requests.client_id', '=', 'clients.id')
        .where('requests.state', 'not in', FINAL_STATES)
        .as('open_requests'),
      eb
        .selectFrom('approvals')
        .innerJoin('requests', 'requests.id', 'approvals.request_id')
        .select(sql<string>`count(*)`.as('n'))
        .whereRef('requests.client_id', '=', 'clients.id')
        .where('approvals.status', '=', 'pending')
        .as('pending_approvals'),
    ])
    .where('clients.msp_id', '=', mspId)
    .orderBy('clients.name');
  if (clientId) query = query.where('clients.id', '=', clientId);
  const rows = await query.execute();
  return rows.map((row) => ({
    id: row.id,
    slug: row.slug,
    name: row.name,
    domain: row.domain,
    operatingMode: row.operating_mode,
    effectiveOperatingMode: row.operating_mode === 'inherit' ? mspMode : row.operating_mode,
    inherited: row.operating_mode === 'inherit',
    openRequests: Number(row.open_requests ?? 0),
    pendingApprovals: Number(row.pending_approvals ?? 0),
  }));
}

interface PolicyIntegration {
  id: string;
  kind: string;
  name: string;
}

async function integrationOf(db: Db, mspId: string, id: string): Promise<PolicyIntegration> {
  const integration = await db.selectFrom('integrations').select(['id', 'kind', 'name']).where('id', '=', id).where('msp_id', '=', mspId).executeTakeFirst();
  if (!integration) throw new DeskhandError('not_found', 'no such integration');
  return integration;
}

async function clientOf(db: Db, mspId: string, id: string): Promise<void> {
  const client = await db.selectFrom('clients').select('id').where('id', '=', id).where('msp_id', '=', mspId).executeTakeFirst();
  if (!client) throw new DeskhandError('not_found', 'no such client');
}

type PolicyValue = { policy: Policy; requireManagerApproval: boolean };

function checkPolicy(tool: NonNullable<ReturnType<typeof findTool>>, body: PolicyValue): void {
  if (body.requireManagerApproval && body.policy !== 'approval_needed') {
    throw new DeskhandError('bad_request', 'manager approval can only be required together with approval_needed');
  }
  const refusal = policyRefusal(tool, body.policy);
  if (refusal) throw new DeskhandError('bad_request', refusal);
}

/**
 * Write (or, `to: null`, remove) one policy row and audit the change with who, when, and from what
 * to what (`from: null`: there was no row, the default or the integration's applied; `to: null`:
 * the row was removed).
 */
async function writePolicy(
  ctx: EngineContext,
  input: { user: { mspId: string; email: string }; integrationId: string; clientId: string | null; tool: string; to: PolicyValue | null },
): Promise<void> {
  const { user, integrationId, clientId, tool, to } = input;
  const at = ctx.clock.now();
  await inTransaction(ctx.db, async (tx) => {
    const row = await policyRow(tx, integrationId, clientId, tool);
    const from = row ? { policy: row.policy, requireManagerApproval: row.require_manager_approval } : null;
    // Removing a client's own policy it does not have changes nothing; any other accepted change is audited.
    if (from === null && to === null) return;
    if (to === null) {
      await tx.deleteFrom('tool_policies').where('integration_id', '=', integrationId).where('client_id', '=', clientId!).where('tool', '=', tool).execute();
    } else {
      const values = { policy: to.policy, require_manager_approval: to.requireManagerApproval, updated_at: at, updated_by: user.email };
      await tx
        .insertInto('tool_policies')
        .values({ integration_id: integrationId, client_id: clientId, tool, ...values })
        .onConflict((oc) => oc.columns(['integration_id', 'tool', 'client_id']).doUpdateSet(values))
        .execute();
    }
    await appendAudit(tx, {
      mspId: user.mspId,
      actor: `user:${user.email}`,
      event: 'policy.changed',
      data: { integrationId, ...(clientId ? { clientId } : {}), tool, from, to },
      at,
    });
  });
  // This process plans with the new policy at once; other processes within the registry's short cache.
  ctx.integrations.invalidate(integrationId);
}

async function policyRow(db: Db | Tx, integrationId: string, clientId: string | null, tool: string) {
  let query = db.selectFrom('tool_policies').selectAll().where('integration_id', '=', integrationId).where('tool', '=', tool);
  query = clientId === null ? query.where('client_id', 'is', null) : query.where('client_id', '=', clientId);
  return query.forNoKeyUpdate().executeTakeFirst();
}

/**
 * The tools of these integrations with the policy that applies: a client's own row (when clientId
 * is given), else the integration's, else the catalog's default; with who set it and when.
 */
async function policyTable(db: Db, integrations: PolicyIntegration[], clientId: string | null, onlyTool?: string): Promise<ToolPolicy[]> {
  if (integrations.length === 0) return [];
  const rows = await db
    .selectFrom('tool_policies')
    .selectAll()
    .where(
      'integration_id',
      'in',
      integrations.map((i) => i.id),
    )
    .where((eb) => (clientId === null ? eb('client_id', 'is', null) : eb.or([eb('client_id', 'is', null), eb('client_id', '=', clientId)])))
    .execute();
  const found = new Map<string, (typeof rows)[number]>();
  // The integration's rows first, the client's after: the client's own policy wins.
  for (const row of [...rows].sort((a, b) => (a.client_id === null ? 0 : 1) - (b.client_id === null ? 0 : 1))) found.set(`${row.integration_id} ${row.tool}`, row);
  return integrations.flatMap((integration) =>
    toolsOfIntegration(integration.kind)
      .filter((tool) => onlyTool === undefined || tool.name === onlyTool)
      .map((tool) => {
        const row = found.get(`${integration.id} ${tool.name}`);
        const applied = effectivePolicy(tool, new Map(row ? [[tool.name, { policy: row.policy, requireManagerApproval: row.require_manager_approval }]] : []));
        return {
          tool: tool.name,
          kind: tool.kind,
          description: tool.description,
          ...applied,
          source: row ? (row.client_id ? ('client' as const) : ('integration' as const)) : ('default' as const),
          integrationId: integration.id,
          integration: integration.name,
          updatedAt: row?.updated_at.toISOString() ?? null,
          updatedBy: row?.updated_by ?? null,
        };
      }),
  );
}

/** Every tool of the integrations a client uses (or of one of them, or one tool), with the policy that applies and where it comes from. */
async function clientPolicies(ctx: EngineContext, mspId: string, clientId: string, only: { integrationId?: string | undefined; tool?: string } = {}): Promise<ToolPolicy[]> {
  const integrations = (await ctx.integrations.integrationsOfClient(clientId)).filter(
    (row) => row.msp_id === mspId && (only.integrationId === undefined || row.id === only.integrationId) && (only.tool === undefined || toolsOfIntegration(row.kind).some((t) => t.name === only.tool)),
  );
  return policyTable(ctx.db, integrations, clientId, only.tool);
}
