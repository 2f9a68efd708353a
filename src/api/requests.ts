import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DeskhandError } from '../core/errors.ts';
import type { EngineContext } from '../engine/context.ts';
import { appendAudit, verifyAuditChain, inTransaction } from '../store/audit.ts';
import { MESSAGE_CAPABILITY } from '../store/requests.ts';
import { decodeCursor, listRequests, listToolCalls, loadPlanReview, loadRequestStory } from '../store/story.ts';
import { noStore, requireUser } from './auth.ts';
import { billingStory, readsDiagnosis } from './billing-view.ts';
import { AuditVerification, PlanReview, RequestList, RequestStoryAnswer, TemporaryPassword, ToolCallList } from './contract.ts';
import { integerText, zodResponse, zodSchema } from './schema.ts';

const requestIdParams = z.object({ id: z.uuid() });
const clientIdParams = z.object({ id: z.uuid() });
/** A filter's value: a state, channel or outcome name, a client's id or slug. */
const filterText = z.string().trim().min(1).max(100);

/** Requests: the list technicians work from and each request's whole story. */
export function registerRequestRoutes(app: FastifyInstance, ctx: EngineContext): void {
  app.get(
    '/api/requests',
    {
      schema: {
        tags: ['requests'],
        operationId: 'listRequests',
        summary:
          "List the caller's MSP's requests, newest first, one page at a time (client: a client's id or slug; q: text in the subject, requester or reference; cursor: the last page's nextCursor)",
        querystring: zodSchema(
          z.object({
            client: filterText.optional(),
            channel: filterText.optional(),
            state: filterText.optional(),
            outcome: filterText.optional(),
            from: z.iso.datetime({ offset: true }).optional(),
            to: z.iso.datetime({ offset: true }).optional(),
            q: z.string().trim().max(200).optional(),
            limit: integerText({ min: 1, max: 500 }).default(50),
            before: z.iso.datetime({ offset: true }).optional(),
            cursor: z.string().max(300).optional(),
          }),
        ),
        response: { 200: zodResponse(RequestList) },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const query = request.query as { client?: string; channel?: string; state?: string; outcome?: string; from?: string; to?: string; q?: string; limit: number; before?: string; cursor?: string };
      const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
      if (query.cursor && !cursor) throw new DeskhandError('bad_request', 'cursor is not one this list gave: start again from the first page');
      // A list row holds nothing billing may not read (no error, no message): every role gets the same rows.
      return listRequests(ctx.db, user.mspId, {
        client: query.client,
        channel: query.channel,
        state: query.state,
        outcome: query.outcome,
        from: query.from ? new Date(query.from) : undefined,
        to: query.to ? new Date(query.to) : undefined,
        q: query.q || undefined,
        limit: query.limit,
        before: query.before ? new Date(query.before) : undefined,
        cursor,
      });
    },
  );

  app.get(
    '/api/clients/:id/plan-review',
    {
      schema: {
        tags: ['requests'],
        operationId: 'getClientPlanReview',
        summary: "A client's Plan Mode requests, newest first: each internal note as posted and its plan, steps with their policies (to decide on Execute Mode; not for msp_billing)",
        params: zodSchema(clientIdParams),
        response: { 200: zodResponse(PlanReview) },
      },
    },
    async (request, reply) => {
      const user = requireUser(request);
      const review = await loadPlanReview(ctx.db, user.mspId, (request.params as { id: string }).id);
      // Another MSP's client is not found for every role; only then is billing refused.
      if (!review) throw new DeskhandError('not_found', 'no such client');
      if (!readsDiagnosis(user)) throw new DeskhandError('forbidden', 'the Plan Mode review shows the agent\'s reasoning: it is for technicians and admins');
      noStore(reply);
      return review;
    },
  );

  app.get(
    '/api/clients/:id/tool-calls',
    {
      schema: {
        tags: ['requests'],
        operationId: 'listClientToolCalls',
        summary: "Every tool call of a client's requests, newest first: diagnosis reads and executed steps, with parameters, result, the triggering request and its approvals (not for msp_billing)",
        params: zodSchema(clientIdParams),
        response: { 200: zodResponse(ToolCallList) },
      },
    },
    async (request, reply) => {
      const user = requireUser(request);
      const calls = await listToolCalls(ctx.db, user.mspId, (request.params as { id: string }).id);
      if (!calls) throw new DeskhandError('not_found', 'no such client');
      if (!readsDiagnosis(user)) throw new DeskhandError('forbidden', 'tool calls show what the agent read and changed: they are for technicians and admins');
      noStore(reply);
      return calls;
    },
  );

  app.get(
    '/api/requests/:id',
    {
      schema: {
        tags: ['requests'],
        operationId: 'getRequestStory',
        summary: "A request's whole story: diagnosis, internal note, plan and hash, approvals, steps, replies, audit (msp_billing: what happened, never why)",
        params: zodSchema(requestIdParams),
        response: { 200: zodResponse(RequestStoryAnswer) },
      },
    },
    async (request, reply) => {
      const user = requireUser(request);
      const { id } = request.params as { id: string };
      const story = await loadRequestStory(ctx.db, user.mspId, id);
      if (!story) throw new DeskhandError('not_found', 'no such request');
      noStore(reply);
      if (!readsDiagnosis(user)) return billingStory(story);
      return {
        ...story,
        // Mail bodies hold single-use links: only their envelope is shown.
        messages: story.messages.map((message) => ({ ...message, payload: publicPayload(message.kind, message.payload) })),
      };
    },
  );

  app.post(
    '/api/requests/:id/steps/:index/temporary-password',
    {
      schema: {
        tags: ['requests'],
        operationId: 'revealTemporaryPassword',
        summary: 'Show a reset password step\'s temporary password, once, to the technician who approved it',
        params: zodSchema(z.object({ id: z.uuid(), index: integerText() })),
        response: { 200: zodResponse(TemporaryPassword) },
      },
    },
    async (request, reply) => {
      const user = requireUser(request);
      const { id, index } = request.params as { id: string; index: number };
      noStore(reply);
      return inTransaction(ctx.db, async (tx) => {
        const step = await tx
          .selectFrom('step_executions')
          .innerJoin('requests', 'requests.id', 'step_executions.request_id')
          .select(['step_executions.id', 'step_executions.secret_encrypted', 'step_executions.secret_for_user_id', 'step_executions.secret_revealed_at', 'step_executions.tool', 'requests.msp_id'])
          .where('step_executions.request_id', '=', id)
          .where('step_executions.step_index', '=', index)
          .where('requests.msp_id', '=', user.mspId)
          .forNoKeyUpdate()
          .executeTakeFirst();
        if (!step) throw new DeskhandError('not_found', 'no such step');
        if (step.secret_revealed_at) throw new DeskhandError('conflict', 'the temporary password was already shown once; reset the password again if it was lost');
        if (!step.secret_encrypted) throw new DeskhandError('not_found', 'this step has no temporary password');
        if (step.secret_for_user_id !== user.id) throw new DeskhandError('forbidden', 'only the technician who approved this request may see the temporary password');
        const password = ctx.secrets.decrypt(step.secret_encrypted);
        const at = ctx.clock.now();
        // Shown once: the encrypted copy is destroyed in the same transaction.
        await tx.updateTable('step_executions').set({ secret_encrypted: null, secret_revealed_at: at }).where('id', '=', step.id).execute();
        await appendAudit(tx, { mspId: step.msp_id, requestId: id, actor: `user:${user.email}`, event: 'secret.revealed', data: { step: index, tool: step.tool }, at });
        return { temporaryPassword: password, tool: step.tool, note: 'Give it to the employee by phone or in person; it is not shown again.' };
      });
    },
  );

  app.get('/api/audit/verify', {
      schema: {
        tags: ['audit'],
        operationId: 'verifyAuditLog',
        summary: "Verify the caller's MSP's hash-chained audit log",
        response: { 200: zodResponse(AuditVerification) },
      },
    }, async (request) => {
    const user = requireUser(request);
    return verifyAuditChain(ctx.db, user.mspId);
  });
}

function publicPayload(kind: string, payload: unknown): unknown {
  const p = (payload ?? {}) as Record<string, unknown>;
  if (kind === MESSAGE_CAPABILITY.mail) return { from: p['from'], to: p['to'], subject: p['subject'], purpose: p['purpose'] };
  return p;
}
