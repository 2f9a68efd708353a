import { combinedDecision, type ApprovalStatus } from '../core/approval.ts';
import { DeskhandError, describeError, isDeskhandError } from '../core/errors.ts';
import { planMatchesHash, stepIdempotencyKey, type PlanStep } from '../core/plan.ts';
import { effectivePolicy } from '../core/policy.ts';
import { backoffMs } from '../integrations/http.ts';
import { appendAudit } from '../store/audit.ts';
import { json } from '../store/db.ts';
import { enqueueOutbox, lockRequest, retryRequestLater, transitionRequest } from '../store/requests.ts';
import type { PlanRow, RequestRow } from '../store/schema.ts';
import type { EngineContext } from './context.ts';
import { executedReply, failedNote, failedReply } from './messages.ts';
import { findTool } from '../integrations/catalog.ts';

/** A step that keeps failing with transient errors ends the request after this many attempts. */
export const MAX_STEP_ATTEMPTS = 5;

/**
 * The `executing` step: run the frozen plan's steps in order, each once. Before each call the intent
 * is recorded (a `running` row keyed by request, plan hash and step); after it, the result. A step
 * already `succeeded` is never run again, so a crash or a retry resumes where it stopped.
 */
export async function executePlan(ctx: EngineContext, request: RequestRow): Promise<void> {
  const plan = await ctx.db.selectFrom('plans').selectAll().where('request_id', '=', request.id).executeTakeFirstOrThrow();
  const refusal = await checkExecutable(ctx, request, plan);
  if (refusal) {
    await failRequest(ctx, request, plan, null, refusal, []);
    return;
  }
  const steps = plan.steps as PlanStep[];
  const identity = await ctx.integrations.identityForClient(request.client_id!);
  if (!identity) {
    await failRequest(ctx, request, plan, null, 'the Microsoft 365 integration of this client was removed or disabled', []);
    return;
  }
  const done: PlanStep[] = [];
  let hasTemporaryPassword = false;
  for (const [index, step] of steps.entries()) {
    const key = stepIdempotencyKey(request.id, plan.hash, index);
    const existing = await ctx.db.selectFrom('step_executions').selectAll().where('idempotency_key', '=', key).executeTakeFirst();
    if (existing?.status === 'succeeded') {
      done.push(step);
      if (existing.secret_encrypted || existing.secret_revealed_at) hasTemporaryPassword = true;
      continue;
    }
    const tool = findTool(step.tool);
    // Rule 3 holds at execution too: a tool disabled after approval is never run.
    if (!tool || effectivePolicy(tool, identity.policies).policy === 'disabled') {
      await failRequest(ctx, request, plan, step, `${step.tool} is disabled for this client, so the step was not run`, done);
      return;
    }
    const attempts = (existing?.attempts ?? 0) + 1;
    const at = ctx.clock.now();
    await recordIntent(ctx, request, plan, index, step, key, attempts, at);
    try {
      const result = await identity.run(step.tool, step.args, step.resolved);
      const technician = result.secret ? await technicianApprover(ctx, request.id) : null;
      await ctx.db.transaction().execute(async (tx) => {
        await tx
          .updateTable('step_executions')
          .set({
            status: 'succeeded',
            summary: result.summary,
            result: json(result.data ?? null),
            error: null,
            secret_encrypted: result.secret ? ctx.secrets.encrypt(result.secret) : null,
            secret_for_user_id: technician,
            finished_at: ctx.clock.now(),
          })
          .where('idempotency_key', '=', key)
          .execute();
        await appendAudit(tx, {
          mspId: request.msp_id,
          requestId: request.id,
          actor: 'agent',
          event: 'step.succeeded',
          data: { index, tool: step.tool, key, summary: result.summary, secretHeldForTechnician: result.secret !== undefined },
          at: ctx.clock.now(),
        });
      });
      if (result.secret) hasTemporaryPassword = true;
      done.push(step);
    } catch (error) {
      const message = describeError(error);
      const transient = isDeskhandError(error) && error.retryable;
      await ctx.db
        .updateTable('step_executions')
        .set({ status: transient && attempts < MAX_STEP_ATTEMPTS ? 'running' : 'failed', error: message, finished_at: ctx.clock.now() })
        .where('idempotency_key', '=', key)
        .execute();
      if (transient && attempts < MAX_STEP_ATTEMPTS) {
        const waitMs = Math.max(isDeskhandError(error) ? (error.retryAfterMs ?? 0) : 0, backoffMs(attempts, 1_000, 5 * 60_000));
        await retryRequestLater(ctx.db, request.id, ctx.workerId, new Date(ctx.clock.now().getTime() + waitMs), message, ctx.clock.now());
        ctx.logger.warn({ requestId: request.id, step: index, attempts, waitMs }, 'step failed transiently; retrying later');
        return;
      }
      await failRequest(ctx, request, plan, step, message, done);
      return;
    }
  }
  await finishExecuted(ctx, request, steps, hasTemporaryPassword);
}

/** Defence in depth: the stored plan still matches its hash and every approval it needed approved exactly that hash. */
async function checkExecutable(ctx: EngineContext, request: RequestRow, plan: PlanRow): Promise<string | null> {
  if (!planMatchesHash(plan.canonical, plan.hash)) return 'the stored plan does not match its hash; nothing was run';
  const approvals = await ctx.db.selectFrom('approvals').select(['kind', 'status', 'plan_hash']).where('request_id', '=', request.id).execute();
  if (plan.needs_technician) {
    if (approvals.some((a) => a.plan_hash !== plan.hash)) return 'an approval is bound to a different plan; nothing was run';
    const kinds = new Set(approvals.map((a) => a.kind));
    if (!kinds.has('technician') || (plan.needs_manager && !kinds.has('manager'))) return 'a required approval is missing; nothing was run';
    if (combinedDecision(approvals.map((a) => a.status as ApprovalStatus)) !== 'approved') return 'the plan is not approved; nothing was run';
  }
  return null;
}

async function recordIntent(
  ctx: EngineContext,
  request: RequestRow,
  plan: PlanRow,
  index: number,
  step: PlanStep,
  key: string,
  attempts: number,
  at: Date,
): Promise<void> {
  await ctx.db.transaction().execute(async (tx) => {
    await tx
      .insertInto('step_executions')
      .values({
        id: crypto.randomUUID(),
        request_id: request.id,
        plan_id: plan.id,
        step_index: index,
        tool: step.tool,
        idempotency_key: key,
        status: 'running',
        attempts,
        started_at: at,
      })
      .onConflict((oc) => oc.column('idempotency_key').doUpdateSet({ status: 'running', attempts, started_at: at }))
      .execute();
    await appendAudit(tx, { mspId: request.msp_id, requestId: request.id, actor: 'agent', event: 'step.started', data: { index, tool: step.tool, key, attempt: attempts }, at });
  });
}

/** The technician who approved: the only person a temporary password is ever shown to. */
async function technicianApprover(ctx: EngineContext, requestId: string): Promise<string | null> {
  const row = await ctx.db
    .selectFrom('approvals')
    .select('decided_by_user_id')
    .where('request_id', '=', requestId)
    .where('kind', '=', 'technician')
    .where('status', '=', 'approved')
    .executeTakeFirst();
  return row?.decided_by_user_id ?? null;
}

async function finishExecuted(ctx: EngineContext, claimed: RequestRow, steps: PlanStep[], hasTemporaryPassword: boolean): Promise<void> {
  await ctx.db.transaction().execute(async (tx) => {
    const request = await lockRequest(tx, claimed.id);
    if (!request || request.state !== 'executing') return;
    const at = ctx.clock.now();
    await enqueueOutbox(tx, {
      mspId: request.msp_id,
      requestId: request.id,
      integrationId: request.source_integration_id,
      kind: 'psa_note',
      key: `${request.id}:reply`,
      payload: { ticketRef: request.external_ref, visibility: 'customer', purpose: 'reply', text: executedReply({ requestId: request.id, steps, hasTemporaryPassword }) },
      onDelivered: { requestState: 'replied' },
      at,
    });
    await tx.updateTable('requests').set({ outcome: 'executed', due_at: null, lease_owner: null, lease_until: null, updated_at: at }).where('id', '=', request.id).execute();
    await appendAudit(tx, { mspId: request.msp_id, requestId: request.id, actor: 'agent', event: 'plan.executed', data: { steps: steps.length }, at });
  });
}

async function failRequest(
  ctx: EngineContext,
  claimed: RequestRow,
  plan: PlanRow,
  step: PlanStep | null,
  error: string,
  done: PlanStep[],
): Promise<void> {
  await ctx.db.transaction().execute(async (tx) => {
    const request = await lockRequest(tx, claimed.id);
    if (!request || request.state !== 'executing') return;
    const at = ctx.clock.now();
    await enqueueOutbox(tx, {
      mspId: request.msp_id,
      requestId: request.id,
      integrationId: request.source_integration_id,
      kind: 'psa_note',
      key: `${request.id}:failed-note`,
      payload: { ticketRef: request.external_ref, visibility: 'internal', purpose: 'failure_note', text: failedNote({ requestId: request.id, step, error, doneSteps: done }) },
      at,
    });
    await enqueueOutbox(tx, {
      mspId: request.msp_id,
      requestId: request.id,
      integrationId: request.source_integration_id,
      kind: 'psa_note',
      key: `${request.id}:reply`,
      payload: { ticketRef: request.external_ref, visibility: 'customer', purpose: 'reply', text: failedReply({ requestId: request.id, doneSteps: done }) },
      at,
    });
    await transitionRequest(tx, { request, to: 'failed', outcome: 'failed', at, actor: 'agent', dueAt: null, lastError: error, data: { error, planHash: plan.hash } });
  });
}

export function assertNever(value: never): never {
  throw new DeskhandError('internal', `unexpected ${String(value)}`);
}
