import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DeskhandError } from '../core/errors.ts';
import { effectivePolicy } from '../core/policy.ts';
import { policyRefusal } from '../core/tool.ts';
import type { EngineContext } from '../engine/context.ts';
import { findTool, toolsOfIntegration } from '../integrations/catalog.ts';
import { appendAudit, inTransaction } from '../store/audit.ts';
import { requireAdmin, requireUser } from './auth.ts';
import { zodSchema } from './schema.ts';

/** Operating modes and tool policies: read by every role, changed by msp_admin. */
export function registerConfigRoutes(app: FastifyInstance, ctx: EngineContext): void {
  app.get('/api/clients', { schema: { tags: ['configuration'], summary: "The MSP's clients and their operating modes" } }, async (request) => {
    const user = requireUser(request);
    const msp = await ctx.db.selectFrom('msps').select(['default_operating_mode']).where('id', '=', user.mspId).executeTakeFirstOrThrow();
    const clients = await ctx.db.selectFrom('clients').select(['id', 'slug', 'name', 'domain', 'operating_mode']).where('msp_id', '=', user.mspId).orderBy('name').execute();
    return {
      mspDefaultOperatingMode: msp.default_operating_mode,
      clients: clients.map((c) => ({ ...c, effective_operating_mode: c.operating_mode === 'inherit' ? msp.default_operating_mode : c.operating_mode })),
    };
  });

  app.patch(
    '/api/clients/:id',
    {
      schema: {
        tags: ['configuration'],
        summary: "Set a client's operating mode (plan, execute, inherit)",
        params: zodSchema(z.object({ id: z.uuid() })),
        body: zodSchema(z.object({ operatingMode: z.enum(['plan', 'execute', 'inherit']) })),
      },
    },
    async (request) => {
      const user = requireUser(request);
      const { id } = request.params as { id: string };
      const { operatingMode } = request.body as { operatingMode: 'plan' | 'execute' | 'inherit' };
      return inTransaction(ctx.db, async (tx) => {
        const client = await tx.selectFrom('clients').select(['id', 'operating_mode']).where('id', '=', id).where('msp_id', '=', user.mspId).forNoKeyUpdate().executeTakeFirst();
        // Another MSP's client is answered as one that does not exist, whatever the caller's role.
        if (!client) throw new DeskhandError('not_found', 'no such client');
        requireAdmin(request);
        await tx.updateTable('clients').set({ operating_mode: operatingMode }).where('id', '=', id).execute();
        await appendAudit(tx, { mspId: user.mspId, actor: `user:${user.email}`, event: 'client.operating_mode', data: { clientId: id, from: client.operating_mode, to: operatingMode }, at: ctx.clock.now() });
        return { id, operatingMode };
      });
    },
  );

  app.patch(
    '/api/msp',
    {
      schema: {
        tags: ['configuration'],
        summary: "Set the MSP's default operating mode (followed by clients set to inherit)",
        body: zodSchema(z.object({ defaultOperatingMode: z.enum(['plan', 'execute']) })),
      },
    },
    async (request) => {
      const user = requireAdmin(request);
      const { defaultOperatingMode } = request.body as { defaultOperatingMode: 'plan' | 'execute' };
      await inTransaction(ctx.db, async (tx) => {
        await tx.updateTable('msps').set({ default_operating_mode: defaultOperatingMode }).where('id', '=', user.mspId).execute();
        await appendAudit(tx, { mspId: user.mspId, actor: `user:${user.email}`, event: 'msp.default_operating_mode', data: { to: defaultOperatingMode }, at: ctx.clock.now() });
      });
      return { defaultOperatingMode };
    },
  );

  app.get(
    '/api/integrations/:id/policies',
    { schema: { tags: ['configuration'], summary: "An integration's tools with their effective policies", params: zodSchema(z.object({ id: z.uuid() })) } },
    async (request) => {
      const user = requireUser(request);
      const { id } = request.params as { id: string };
      const integration = await ctx.db.selectFrom('integrations').select(['id', 'kind']).where('id', '=', id).where('msp_id', '=', user.mspId).executeTakeFirst();
      if (!integration) throw new DeskhandError('not_found', 'no such integration');
      const overrides = await ctx.integrations.policiesOf(id);
      return {
        tools: toolsOfIntegration(integration.kind).map((tool) => ({
          tool: tool.name,
          kind: tool.kind,
          description: tool.description,
          ...effectivePolicy(tool, overrides),
          configured: overrides.has(tool.name),
        })),
      };
    },
  );

  app.put(
    '/api/integrations/:id/policies/:tool',
    {
      schema: {
        tags: ['configuration'],
        summary: "Set one tool's policy on an integration",
        params: zodSchema(z.object({ id: z.uuid(), tool: z.string() })),
        body: zodSchema(z.object({ policy: z.enum(['auto', 'approval_needed', 'disabled']), requireManagerApproval: z.boolean().default(false) })),
      },
    },
    async (request) => {
      const user = requireUser(request);
      const { id, tool: toolName } = request.params as { id: string; tool: string };
      const body = request.body as { policy: 'auto' | 'approval_needed' | 'disabled'; requireManagerApproval: boolean };
      const integration = await ctx.db.selectFrom('integrations').select(['id', 'kind']).where('id', '=', id).where('msp_id', '=', user.mspId).executeTakeFirst();
      // Another MSP's integration is answered as one that does not exist, whatever the caller's role.
      if (!integration) throw new DeskhandError('not_found', 'no such integration');
      requireAdmin(request);
      const tool = findTool(toolName);
      if (!tool || tool.integration !== integration.kind) throw new DeskhandError('bad_request', `${toolName} is not a tool of this integration`);
      if (body.requireManagerApproval && body.policy !== 'approval_needed') {
        throw new DeskhandError('bad_request', 'manager approval can only be required together with approval_needed');
      }
      const refusal = policyRefusal(tool, body.policy);
      if (refusal) throw new DeskhandError('bad_request', refusal);
      const at = ctx.clock.now();
      await inTransaction(ctx.db, async (tx) => {
        await tx
          .insertInto('tool_policies')
          .values({ integration_id: id, client_id: null, tool: toolName, policy: body.policy, require_manager_approval: body.requireManagerApproval, updated_at: at, updated_by: user.email })
          .onConflict((oc) => oc.columns(['integration_id', 'tool', 'client_id']).doUpdateSet({ policy: body.policy, require_manager_approval: body.requireManagerApproval, updated_at: at, updated_by: user.email }))
          .execute();
        await appendAudit(tx, { mspId: user.mspId, actor: `user:${user.email}`, event: 'policy.changed', data: { integrationId: id, tool: toolName, ...body }, at });
      });
      // This process plans with the new policy at once; other processes within the registry's short cache.
      ctx.integrations.invalidate(id);
      return { tool: toolName, ...body };
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
    { schema: { tags: ['configuration'], summary: "A client's tools with their effective policies and where each comes from", params: zodSchema(z.object({ id: z.uuid() })) } },
    async (request) => {
      const user = requireUser(request);
      const { id } = request.params as { id: string };
      const client = await ctx.db.selectFrom('clients').select('id').where('id', '=', id).where('msp_id', '=', user.mspId).executeTakeFirst();
      if (!client) throw new DeskhandError('not_found', 'no such client');
      return { tools: await clientPolicies(ctx, id) };
    },
  );

  app.put(
    '/api/clients/:id/policies/:tool',
    {
      schema: {
        tags: ['configuration'],
        summary: "Set a client's own policy for one tool (it overrides the integration's); `inherit` removes it",
        params: zodSchema(z.object({ id: z.uuid(), tool: z.string().max(200) })),
        body: zodSchema(z.object({ policy: z.enum(['auto', 'approval_needed', 'disabled', 'inherit']), requireManagerApproval: z.boolean().default(false) })),
      },
    },
    async (request) => {
      const user = requireUser(request);
      const { id, tool: toolName } = request.params as { id: string; tool: string };
      const body = request.body as { policy: 'auto' | 'approval_needed' | 'disabled' | 'inherit'; requireManagerApproval: boolean };
      const client = await ctx.db.selectFrom('clients').select('id').where('id', '=', id).where('msp_id', '=', user.mspId).executeTakeFirst();
      // Another MSP's client is answered as one that does not exist, whatever the caller's role.
      if (!client) throw new DeskhandError('not_found', 'no such client');
      requireAdmin(request);
      const tool = findTool(toolName);
      const owner = tool ? (await clientPolicies(ctx, id)).find((t) => t.tool === toolName) : undefined;
      if (!tool || !owner) throw new DeskhandError('bad_request', `${toolName || 'an empty name'} is not a tool of an integration this client uses`);
      if (body.requireManagerApproval && body.policy !== 'approval_needed') {
        throw new DeskhandError('bad_request', 'manager approval can only be required together with approval_needed');
      }
      const at = ctx.clock.now();
      if (body.policy === 'inherit') {
        await inTransaction(ctx.db, async (tx) => {
          const removed = await tx.deleteFrom('tool_policies').where('client_id', '=', id).where('tool', '=', toolName).returning('integration_id').execute();
          if (removed.length > 0) {
            await appendAudit(tx, { mspId: user.mspId, actor: `user:${user.email}`, event: 'policy.changed', data: { integrationId: owner.integrationId, clientId: id, tool: toolName, policy: 'inherit' }, at });
          }
        });
        ctx.integrations.invalidate(owner.integrationId);
        const now = (await clientPolicies(ctx, id)).find((t) => t.tool === toolName)!;
        return { tool: toolName, policy: now.policy, requireManagerApproval: now.requireManagerApproval, source: now.source };
      }
      const policy = body.policy;
      const refusal = policyRefusal(tool, policy);
      if (refusal) throw new DeskhandError('bad_request', refusal);
      await inTransaction(ctx.db, async (tx) => {
        await tx
          .insertInto('tool_policies')
          .values({ integration_id: owner.integrationId, client_id: id, tool: toolName, policy, require_manager_approval: body.requireManagerApproval, updated_at: at, updated_by: user.email })
          .onConflict((oc) => oc.columns(['integration_id', 'tool', 'client_id']).doUpdateSet({ policy, require_manager_approval: body.requireManagerApproval, updated_at: at, updated_by: user.email }))
          .execute();
        await appendAudit(tx, { mspId: user.mspId, actor: `user:${user.email}`, event: 'policy.changed', data: { integrationId: owner.integrationId, clientId: id, tool: toolName, ...body }, at });
      });
      ctx.integrations.invalidate(owner.integrationId);
      return { tool: toolName, policy, requireManagerApproval: body.requireManagerApproval, source: 'client' as const };
    },
  );

}

/** Every tool of the integrations a client uses, with the policy that applies and where it comes from. */
async function clientPolicies(ctx: EngineContext, clientId: string) {
  const sources = await ctx.integrations.policySourcesForClient(clientId);
  const integrations = await ctx.integrations.integrationsOfClient(clientId);
  return integrations.flatMap((integration) =>
    toolsOfIntegration(integration.kind).map((tool) => {
      const found = sources.get(tool.name);
      const policy = effectivePolicy(tool, new Map(found ? [[tool.name, found.policy]] : []));
      return {
        tool: tool.name,
        kind: tool.kind,
        description: tool.description,
        integrationId: integration.id,
        integration: integration.name,
        ...policy,
        source: found?.source ?? ('default' as const),
      };
    }),
  );
}
