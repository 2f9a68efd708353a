import { sql } from 'kysely';
import { combinedDecision, type ApprovalStatus } from '../core/approval.ts';
import { describeError, isDeskhandError } from '../core/errors.ts';
import { planMatchesHash, stepIdempotencyKey, type PlanStep } from '../core/plan.ts';
import { effectivePolicy } from '../core/policy.ts';
import { backoffMs, INTERRUPTED_CALL_SETTLE_MS } from '../integrations/http.ts';
import { appendAudit, changeWithAudit, inTransaction } from '../store/audit.ts';
import { json } from '../store/db.ts';
import { enqueueTicketNote, lockRequest, retryRequestLater, transitionRequest } from '../store/requests.ts';
import type { PlanRow, RequestRow, StepExecutionRow } from '../store/schema.ts';
import type { IdentityRuntime } from '../integrations/registry.ts';
import { generateTemporaryPassword } from '../integrations/m365/password.ts';
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
  const identity = await ctx.integrations.identityForClient(request.client_id!, { freshPolicies: true });
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
      if (step.tool === RESET_PASSWORD) hasTemporaryPassword = true;
      continue;
    }
    const tool = findTool(step.tool);
    // Rule 3 holds at execution too: a tool disabled after approval is never run.
    if (!tool || effectivePolicy(tool, identity.policies).policy === 'disabled') {
      await failRequest(ctx, request, plan, step, `${step.tool} is disabled for this client, so the step was not run`, done);
      return;
    }
    const openUntil = await ctx.breakers.openUntil(identity.integrationId);
    if (openUntil) {
      // The system is down for everyone: wait without calling it or spending the step's attempts.
      await retryRequestLater(ctx.db, request.id, ctx.workerId, openUntil, `${step.tool}: the integration's circuit breaker is open`, ctx.clock.now());
      return;
    }
    const outcome = await runStepOnce(ctx, request, plan, identity, index, step, key, existing);
    if (outcome === 'stop') return;
    done.push(step);
    if (step.tool === RESET_PASSWORD) hasTemporaryPassword = true;
  }
  await finishExecuted(ctx, request, steps, hasTemporaryPassword);
}

const RESET_PASSWORD = 'm365.reset_password';

/**
 * One step, exactly once. A step left `running` by an earlier attempt may have taken effect before
 * its process died or its answer was lost: reconcile first (look, do not write), and only call the
 * system again when the effect is not there. A temporary password is generated and stored
 * (encrypted) with the intent, before the call, so a reconciled reset still has its password.
 */
async function runStepOnce(
  ctx: EngineContext,
  request: RequestRow,
  plan: PlanRow,
  identity: IdentityRuntime,
  index: number,
  step: PlanStep,
  key: string,
  existing: StepExecutionRow | undefined,
): Promise<'done' | 'stop'> {
  if (existing?.status === 'running') {
    // An attempt that never ended (no finished_at: its process died or lost its lease mid-call) may
    // have a call in flight that Graph applies later: look only once that call can no longer land.
    const settlesInMs = existing.finished_at ? 0 : existing.started_at.getTime() + INTERRUPTED_CALL_SETTLE_MS - Date.now();
    if (settlesInMs > 0) {
      const due = new Date(ctx.clock.now().getTime() + settlesInMs);
      await retryRequestLater(ctx.db, request.id, ctx.workerId, due, `${step.tool}: an interrupted attempt's call may still land; checking it once it cannot`, ctx.clock.now());
      return 'stop';
    }
    try {
      const check = await identity.reconcile(step.tool, step.args, step.resolved, existing.started_at);
      if (check.done) {
        await recordSuccess(ctx, request, index, step, key, check.result, existing.secret_encrypted, true);
        return 'done';
      }
    } catch (error) {
      // Cannot look: treat like a failed attempt (retried later), never as "not done".
      return handleStepFailure(ctx, request, plan, identity, step, key, existing.attempts, error);
    }
  }
  const attempts = (existing?.attempts ?? 0) + 1;
  // The intent's time is compared with the outside system's clock when reconciling: wall time, not ctx.clock.
  const intentAt = new Date();
  const secretBox = step.tool === RESET_PASSWORD ? (existing?.secret_encrypted ?? ctx.secrets.encrypt(generateTemporaryPassword())) : null;
  await recordIntent(ctx, request, plan, index, step, key, attempts, intentAt, secretBox);
  try {
    const prepared = secretBox ? { temporaryPassword: ctx.secrets.decrypt(secretBox) } : undefined;
    const result = await identity.run(step.tool, step.args, step.resolved, prepared);
    await ctx.breakers.recordSuccess(identity.integrationId);
    await recordSuccess(ctx, request, index, step, key, result, secretBox, false);
    return 'done';
  } catch (error) {
    return handleStepFailure(ctx, request, plan, identity, step, key, attempts, error);
  }
}

async function recordSuccess(
  ctx: EngineContext,
  request: RequestRow,
  index: number,
  step: PlanStep,
  key: string,
  result: { summary: string; data?: unknown },
  secretBox: string | null,
  reconciled: boolean,
): Promise<void> {
  const technician = secretBox ? await technicianApprover(ctx, request.id) : null;
  const at = ctx.clock.now();
  const change = sql`UPDATE step_executions SET status = 'succeeded', summary = ${result.summary}, result = ${json(result.data ?? null)}::jsonb,
      error = NULL, secret_encrypted = ${secretBox}, secret_for_user_id = ${technician}, finished_at = ${at}
    WHERE idempotency_key = ${key} RETURNING 1`;
  await changeWithAudit(ctx.db, change, request.msp_id, [
    {
      mspId: request.msp_id,
      requestId: request.id,
      actor: 'agent',
      event: reconciled ? 'step.reconciled' : 'step.succeeded',
      data: { index, tool: step.tool, key, summary: result.summary, secretHeldForTechnician: secretBox !== null },
      at,
    },
  ]);
}

async function handleStepFailure(
  ctx: EngineContext,
  request: RequestRow,
  plan: PlanRow,
  identity: IdentityRuntime,
  step: PlanStep,
  key: string,
  attempts: number,
  error: unknown,
): Promise<'stop'> {
  const message = describeError(error);
  const transient = isDeskhandError(error) && error.retryable;
  if (transient) await ctx.breakers.recordFailure(identity.integrationId, message);
  const retry = transient && attempts < MAX_STEP_ATTEMPTS;
  // A transient failure may still have taken effect (the answer was lost): the row stays `running`
  // so the next attempt reconciles before writing again.
  await ctx.db
    .updateTable('step_executions')
    .set({ status: retry ? 'running' : 'failed', error: message, finished_at: ctx.clock.now(), ...(retry ? {} : { secret_encrypted: null }) })
    .where('idempotency_key', '=', key)
    .execute();
  if (retry) {
    const waitMs = Math.max(isDeskhandError(error) ? (error.retryAfterMs ?? 0) : 0, backoffMs(attempts, 1_000, 5 * 60_000));
    await retryRequestLater(ctx.db, request.id, ctx.workerId, new Date(ctx.clock.now().getTime() + waitMs), message, ctx.clock.now());
    ctx.logger.warn({ requestId: request.id, step: step.tool, attempts, waitMs }, 'step failed transiently; retrying later');
    return 'stop';
  }
  const done = await ctx.db
    .selectFrom('step_executions')
    .select('step_index')
    .where('plan_id', '=', plan.id)
    .where('status', '=', 'succeeded')
    .execute();
  const steps = plan.steps as PlanStep[];
  await failRequest(ctx, request, plan, step, message, done.map((d) => steps[d.step_index]!).filter(Boolean));
  return 'stop';
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
  secretBox: string | null,
): Promise<void> {
  // Intent and its audit row in one statement: the row says `running` before the call is made.
  const change = sql`INSERT INTO step_executions (id, request_id, plan_id, step_index, tool, idempotency_key, status, attempts, secret_encrypted, started_at)
    VALUES (${crypto.randomUUID()}, ${request.id}, ${plan.id}, ${index}, ${step.tool}, ${key}, 'running', ${attempts}, ${secretBox}, ${at})
    ON CONFLICT (idempotency_key) DO UPDATE SET status = 'running', attempts = EXCLUDED.attempts, started_at = EXCLUDED.started_at,
      finished_at = NULL, secret_encrypted = EXCLUDED.secret_encrypted
    RETURNING 1`;
  // finished_at null: this attempt has not ended (until it records a result or an error).
  await changeWithAudit(ctx.db, change, request.msp_id, [
    { mspId: request.msp_id, requestId: request.id, actor: 'agent', event: 'step.started', data: { index, tool: step.tool, key, attempt: attempts }, at },
  ]);
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
  await inTransaction(ctx.db, async (tx) => {
    const request = await lockRequest(tx, claimed.id);
    if (!request || request.state !== 'executing') return;
    const at = ctx.clock.now();
    await enqueueTicketNote(tx, request, {
      key: 'reply',
      purpose: 'reply',
      visibility: 'customer',
      text: executedReply({ requestId: request.id, steps, hasTemporaryPassword }),
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
  await inTransaction(ctx.db, async (tx) => {
    const request = await lockRequest(tx, claimed.id);
    if (!request || request.state !== 'executing') return;
    const at = ctx.clock.now();
    await enqueueTicketNote(tx, request, {
      key: 'failed-note',
      purpose: 'failure_note',
      visibility: 'internal',
      text: failedNote({ requestId: request.id, step, error, doneSteps: done }),
      at,
    });
    await enqueueTicketNote(tx, request, {
      key: 'reply',
      purpose: 'reply',
      visibility: 'customer',
      text: failedReply({ requestId: request.id, doneSteps: done }),
      at,
    });
    await transitionRequest(tx, { request, to: 'failed', outcome: 'failed', at, actor: 'agent', dueAt: null, lastError: error, data: { error, planHash: plan.hash } });
  });
}

