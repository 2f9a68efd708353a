import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DeskhandError } from '../core/errors.ts';
import { decideTechnicianApproval } from '../engine/approvals.ts';
import type { EngineContext } from '../engine/context.ts';
import { listApprovals } from '../store/story.ts';
import { requireUser } from './auth.ts';
import { billingApproval, readsDiagnosis } from './billing-view.ts';
import { ApprovalDetailAnswer, ApprovalList, Decision, DecisionBody, type PlanStep } from './contract.ts';
import { registerAuditRoutes } from './audit-routes.ts';
import { integerText, zodResponse, zodSchema } from './schema.ts';

export function registerApprovalRoutes(app: FastifyInstance, ctx: EngineContext, onDecided: () => void): void {
  // The audit log's list sits with the approvals: both are the technician's daily pages.
  registerAuditRoutes(app, ctx);
  app.get(
    '/api/approvals',
    {
      schema: {
        tags: ['approvals'],
        operationId: 'listApprovals',
        summary: "The caller's MSP's approvals (pending by default)",
        querystring: zodSchema(
          z.object({
            status: z.enum(['pending', 'approved', 'denied', 'expired', 'cancelled', 'all']).default('pending'),
            limit: integerText({ min: 1, max: 500 }).default(100),
          }),
        ),
        response: { 200: zodResponse(ApprovalList) },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const query = request.query as { status: string; limit: number };
      const rows = await listApprovals(ctx.db, user.mspId, { status: query.status === 'all' ? undefined : query.status, limit: query.limit });
      // The queue shows the manager's part of a dual approval next to the technician's.
      const requestIds = [...new Set(rows.filter((row) => row.kind === 'technician').map((row) => row.requestId))];
      const managers =
        requestIds.length === 0
          ? []
          : await ctx.db
              .selectFrom('approvals')
              .select(['request_id', 'status', 'approver_email', 'decided_at', 'created_at'])
              .where('msp_id', '=', user.mspId)
              .where('kind', '=', 'manager')
              .where('request_id', 'in', requestIds)
              .orderBy('created_at', 'asc')
              .execute();
      // The latest manager approval of each request (a new plan asks again): later rows overwrite earlier ones.
      const managerOf = new Map(managers.map((row) => [row.request_id, row]));
      const approvals = rows.map((row) => {
        const manager = row.kind === 'technician' ? managerOf.get(row.requestId) : undefined;
        const part = manager ? { status: manager.status, approverEmail: manager.approver_email, decidedAt: manager.decided_at?.toISOString() ?? null } : null;
        return { ...(readsDiagnosis(user) ? row : billingApproval(row)), manager: part };
      });
      return { approvals };
    },
  );

  app.get(
    '/api/approvals/:id',
    {
      schema: {
        tags: ['approvals'],
        operationId: 'getApproval',
        summary: 'One approval with the plan it is bound to',
        params: zodSchema(z.object({ id: z.uuid() })),
        response: { 200: zodResponse(ApprovalDetailAnswer) },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const { id } = request.params as { id: string };
      const approval = await ctx.db
        .selectFrom('approvals')
        .innerJoin('plans', 'plans.id', 'approvals.plan_id')
        .select([
          'approvals.id',
          'approvals.kind',
          'approvals.status',
          'approvals.plan_hash',
          'approvals.request_id',
          'approvals.approver_email',
          'approvals.decided_by',
          'approvals.decided_at',
          'approvals.comment',
          'approvals.created_at',
          'approvals.expires_at',
          'plans.steps',
          'plans.summary',
          'plans.reasons',
          'plans.step_policies',
        ])
        .where('approvals.id', '=', id)
        .where('approvals.msp_id', '=', user.mspId)
        .executeTakeFirst();
      if (!approval) throw new DeskhandError('not_found', 'no such approval');
      const detail = {
        id: approval.id,
        kind: approval.kind,
        status: approval.status,
        planHash: approval.plan_hash,
        requestId: approval.request_id,
        approverEmail: approval.approver_email,
        decidedBy: approval.decided_by,
        decidedAt: approval.decided_at?.toISOString() ?? null,
        comment: approval.comment,
        createdAt: approval.created_at.toISOString(),
        expiresAt: approval.expires_at.toISOString(),
        summary: approval.summary,
        reasons: approval.reasons,
        stepPolicies: approval.step_policies,
        steps: approval.steps as PlanStep[],
      };
      return readsDiagnosis(user) ? detail : billingApproval(detail);
    },
  );

  app.post(
    '/api/approvals/:id/decision',
    {
      schema: {
        tags: ['approvals'],
        operationId: 'decideApproval',
        summary: 'Approve or deny a technician approval (msp_technician or msp_admin of the request\'s MSP)',
        description:
          'Answers 404 for another MSP\'s approval, 403 for a role that may not approve or for one\'s own request, 409 when it was already decided, expired, or the plan hash differs. ' +
          'On success, `requestState` is the state the decision leads the request to, not the state it is in at this instant: `executing` when every approval is in (the plan runs now), ' +
          '`replied` after a denial (the reply telling the employee is queued; the request reads `replied` once it is on the ticket), `awaiting_approval` while another approval (the manager\'s) is still awaited.',
        params: zodSchema(z.object({ id: z.uuid() })),
        body: zodSchema(DecisionBody),
        response: { 200: zodResponse(Decision) },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const { id } = request.params as { id: string };
      const body = request.body as DecisionBody;
      const result = await decideTechnicianApproval(ctx, {
        approvalId: id,
        decision: body.decision,
        comment: body.comment ?? null,
        planHash: body.planHash,
        user: { id: user.id, email: user.email, name: user.name, role: user.role, mspId: user.mspId },
      });
      onDecided();
      return {
        approval: { id: result.approval.id, kind: result.approval.kind, status: result.approval.status, planHash: result.approval.plan_hash, decidedBy: result.approval.decided_by },
        requestState: result.requestState,
        combined: result.combined,
      };
    },
  );
}
