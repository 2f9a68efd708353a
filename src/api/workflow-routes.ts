import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { DeskhandError } from '../core/errors.ts';
import { matchWorkflows, type WorkflowStatus as Status, workflowStepProblems } from '../core/workflows.ts';
import type { EngineContext } from '../engine/context.ts';
import { toolCatalog } from '../integrations/catalog.ts';
import type { DbOrTx } from '../store/db.ts';
import {
  activeWorkflowsFor,
  clientPrompt,
  createWorkflow,
  getWorkflow,
  listWorkflows,
  mspPrompt,
  type StoredPrompt,
  type StoredWorkflow,
  setClientPrompt,
  setMspPrompt,
  updateWorkflow,
} from '../store/workflows.ts';
import { type AuthenticatedUser, requireAdmin, requireUser } from './auth.ts';
import {
  type ClientRef,
  PlannerPrompt,
  PlannerPromptBody,
  Workflow,
  WorkflowCreateBody,
  WorkflowList,
  WorkflowListQuery,
  WorkflowMatchBody,
  WorkflowMatchList,
  WorkflowPatchBody,
} from './contract.ts';
import { zodResponse, zodSchema } from './schema.ts';

/**
 * Prompts and workflows (issue 14): the MSP's and each client's planner prompt, and workflows (a
 * trigger sentence, instructions, optional steps), with a "try it" match. msp_admin changes them,
 * msp_technician reads them, msp_billing never sees them. Another MSP's client or workflow is not
 * found, for every role, before any role is refused.
 */
const idParams = zodSchema(z.object({ id: z.uuid() }));

export function registerWorkflowRoutes(app: FastifyInstance, ctx: EngineContext): void {
  const { db } = ctx;
  const change = (user: AuthenticatedUser) => ({ actor: `user:${user.email}`, at: ctx.clock.now() });

  app.get(
    '/api/msp/prompt',
    { schema: { tags: ['configuration'], operationId: 'getMspPrompt', summary: "The MSP's own planner prompt (after deskhand's, before a client's)", response: { 200: zodResponse(PlannerPrompt) } } },
    async (request): Promise<PlannerPrompt> => promptAnswer(await mspPrompt(db, requireReader(request).mspId)),
  );

  app.put(
    '/api/msp/prompt',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'setMspPrompt',
        summary: "Set (or, null, clear) the MSP's own planner prompt, at most 8000 characters; audited from what to what",
        body: zodSchema(PlannerPromptBody),
        response: { 200: zodResponse(PlannerPrompt) },
      },
    },
    async (request): Promise<PlannerPrompt> => {
      const user = requireAdmin(request);
      const { prompt } = request.body as PlannerPromptBody;
      return promptAnswer(await setMspPrompt(db, user.mspId, prompt, change(user)));
    },
  );

  app.get(
    '/api/clients/:id/prompt',
    {
      schema: { tags: ['configuration'], operationId: 'getClientPrompt', summary: "A client's own planner prompt (after the MSP's)", params: idParams, response: { 200: zodResponse(PlannerPrompt) } },
    },
    async (request): Promise<PlannerPrompt> => {
      const user = requireUser(request);
      const prompt = await clientPrompt(db, user.mspId, (request.params as { id: string }).id);
      requireReader(request);
      return promptAnswer(prompt);
    },
  );

  app.put(
    '/api/clients/:id/prompt',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'setClientPrompt',
        summary: "Set (or, null, clear) a client's own planner prompt, at most 8000 characters; audited from what to what",
        params: idParams,
        body: zodSchema(PlannerPromptBody),
        response: { 200: zodResponse(PlannerPrompt) },
      },
    },
    async (request): Promise<PlannerPrompt> => {
      const user = requireUser(request);
      const { id } = request.params as { id: string };
      await clientPrompt(db, user.mspId, id);
      requireAdmin(request);
      return promptAnswer(await setClientPrompt(db, user.mspId, id, (request.body as PlannerPromptBody).prompt, change(user)));
    },
  );

  app.get(
    '/api/workflows',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'listWorkflows',
        summary: "The MSP's workflows, oldest first (client: a client's id or slug for its own, msp for the MSP-wide ones; status: one status or all, else active and draft)",
        querystring: zodSchema(WorkflowListQuery),
        response: { 200: zodResponse(WorkflowList) },
      },
    },
    async (request): Promise<WorkflowList> => {
      const user = requireReader(request);
      const query = request.query as z.output<typeof WorkflowListQuery>;
      const statuses: Status[] = query.status === 'all' ? ['active', 'draft', 'archived'] : query.status ? [query.status] : ['active', 'draft'];
      let client: string | undefined;
      if (query.client === 'msp') client = 'msp';
      else if (query.client !== undefined) {
        // A filter: a client that is not this MSP's finds nothing, as an unknown one does.
        const found = await clientByIdOrSlug(db, user.mspId, query.client);
        if (!found) return { workflows: [] };
        client = found;
      }
      return { workflows: await answers(db, user.mspId, await listWorkflows(db, user.mspId, { client, statuses })) };
    },
  );

  app.post(
    '/api/workflows',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'createWorkflow',
        summary: "Create a workflow, MSP-wide or a client's (clientId); its steps must name write tools with their own arguments, each a literal or a template",
        body: zodSchema(WorkflowCreateBody),
        response: { 200: zodResponse(Workflow) },
      },
    },
    async (request): Promise<Workflow> => {
      const user = requireUser(request);
      const body = request.body as z.output<typeof WorkflowCreateBody>;
      // Another MSP's client is not found for every role; only then is a role refused.
      if (body.clientId !== null && !(await clientByIdOrSlug(db, user.mspId, body.clientId))) throw new DeskhandError('not_found', 'no such client');
      requireAdmin(request);
      checkSteps(body.steps);
      const created = await createWorkflow(db, user.mspId, body, change(user));
      return (await answers(db, user.mspId, [created]))[0]!;
    },
  );

  app.post(
    '/api/workflows/match',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'matchWorkflows',
        summary: "The workflows the planner would be given for a request with this text: the client's own first, then the MSP-wide ones (active only)",
        body: zodSchema(WorkflowMatchBody),
        response: { 200: zodResponse(WorkflowMatchList) },
      },
    },
    async (request): Promise<WorkflowMatchList> => {
      const user = requireUser(request);
      const body = request.body as WorkflowMatchBody;
      const clientId = body.client ?? null;
      if (clientId !== null && !(await clientByIdOrSlug(db, user.mspId, clientId))) throw new DeskhandError('not_found', 'no such client');
      requireReader(request);
      const matches = matchWorkflows(body.text, await activeWorkflowsFor(db, user.mspId, clientId));
      const shown = await answers(
        db,
        user.mspId,
        matches.map((m) => m.workflow),
      );
      return { matches: matches.map((m, i) => ({ workflow: shown[i]!, score: Math.round(m.score * 1000) / 1000, words: m.words })) };
    },
  );

  app.get(
    '/api/workflows/:id',
    { schema: { tags: ['configuration'], operationId: 'getWorkflow', summary: 'One workflow', params: idParams, response: { 200: zodResponse(Workflow) } } },
    async (request): Promise<Workflow> => {
      const user = requireUser(request);
      const workflow = await workflowOf(db, user.mspId, (request.params as { id: string }).id);
      requireReader(request);
      return (await answers(db, user.mspId, [workflow]))[0]!;
    },
  );

  app.patch(
    '/api/workflows/:id',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'updateWorkflow',
        summary: 'Change a workflow: name, trigger, instructions, status (archived: no longer used; nothing is deleted), steps; audited from what to what',
        params: idParams,
        body: zodSchema(WorkflowPatchBody),
        response: { 200: zodResponse(Workflow) },
      },
    },
    async (request): Promise<Workflow> => {
      const user = requireUser(request);
      const { id } = request.params as { id: string };
      await workflowOf(db, user.mspId, id);
      requireAdmin(request);
      const body = request.body as WorkflowPatchBody;
      if (body.steps) checkSteps(body.steps);
      const changed = await updateWorkflow(db, user.mspId, id, body, change(user));
      return (await answers(db, user.mspId, [changed]))[0]!;
    },
  );
}

/** Prompts and workflows are for admins and technicians: what the MSP tells the planner is not billing's business. */
function requireReader(request: FastifyRequest): AuthenticatedUser {
  const user = requireUser(request);
  if (user.role === 'msp_billing') throw new DeskhandError('forbidden', 'prompts and workflows are for admins and technicians');
  return user;
}

/** Steps are checked against the whole tool catalog: a workflow may name a tool of an integration connected later. */
function checkSteps(steps: z.output<typeof WorkflowCreateBody>['steps']): void {
  const problems = workflowStepProblems(steps, toolCatalog);
  if (problems.length > 0) throw new DeskhandError('bad_request', `steps: ${problems.join('; ')}`);
}

async function workflowOf(db: DbOrTx, mspId: string, id: string): Promise<StoredWorkflow> {
  const workflow = await getWorkflow(db, mspId, id);
  if (!workflow) throw new DeskhandError('not_found', 'no such workflow');
  return workflow;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A client of this MSP by id or slug (what a filter names), or null. */
async function clientByIdOrSlug(db: DbOrTx, mspId: string, idOrSlug: string): Promise<string | null> {
  const row = await db
    .selectFrom('clients')
    .select('id')
    .where('msp_id', '=', mspId)
    .where((eb) => (UUID.test(idOrSlug) ? eb('id', '=', idOrSlug) : eb('slug', '=', idOrSlug)))
    .executeTakeFirst();
  return row?.id ?? null;
}

function promptAnswer(prompt: StoredPrompt): PlannerPrompt {
  return { prompt: prompt.prompt, updatedAt: prompt.updatedAt?.toISOString() ?? null, updatedBy: prompt.updatedBy };
}

/** Workflows in the contract's shape, each with its client's id, slug and name. */
async function answers(db: DbOrTx, mspId: string, workflows: readonly StoredWorkflow[]): Promise<Workflow[]> {
  const ids = [...new Set(workflows.flatMap((w) => (w.clientId ? [w.clientId] : [])))];
  const clients = new Map<string, ClientRef>();
  if (ids.length > 0) {
    const rows = await db.selectFrom('clients').select(['id', 'slug', 'name']).where('msp_id', '=', mspId).where('id', 'in', ids).execute();
    for (const row of rows) clients.set(row.id, row);
  }
  return workflows.map((w) => ({
    id: w.id,
    client: w.clientId ? (clients.get(w.clientId) ?? null) : null,
    name: w.name,
    trigger: w.trigger,
    instructions: w.instructions,
    status: w.status,
    steps: w.steps,
    createdAt: w.createdAt.toISOString(),
    updatedAt: w.updatedAt.toISOString(),
    updatedBy: w.updatedBy,
  }));
}
