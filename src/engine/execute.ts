import { sql } from 'kysely';
import { describeError, isDeskhandError } from '../core/errors.ts';
import { readFrozenPlan, stepIdempotencyKey, type PlanStep } from '../core/plan.ts';
import { approvalsNeeded, effectivePolicy, type PolicyOverrides } from '../core/policy.ts';
import type { ToolPolicy } from '../core/tool.ts';
import { backoffMs, INTERRUPTED_CALL_SETTLE_MS } from '../integrations/http.ts';
import { appendAudit, changeWithAudit, inTransaction } from '../store/audit.ts';
import { json } from '../store/db.ts';
import { enqueueTicketNote, lockRequest, retryRequestLater } from '../store/requests.ts';
import type { PlanRow, RequestRow, StepExecutionRow } from '../store/schema.ts';
import type { IdentityRuntime } from '../integrations/registry.ts';
import type { EngineContext } from './context.ts';
import { requestApprovals } from './decide.ts';
import { executedReply, partialNote } from './messages.ts';
import { findTool } from '../integrations/catalog.ts';
import { escalateBeforeChange, failAfterChange } from './stop.ts';

/** A step that keeps failing with transient errors ends the request after this many attempts. */
export const MAX_STEP_ATTEMPTS = 5;

/**
 * The `executing` step: run the frozen plan's steps in order, each once. Before each call the intent
 * is recorded (a `running` row keyed by request, plan hash and step); after it, the result. A step
 * already `succeeded` is never run again, so a crash or a retry resumes where it stopped.
 *
 * Before any step runs, the plan is checked again: its steps are read from the canonical plan that
 * was hashed (never from a copy), every approval it had is bound to that hash, and every step's
 * current policy is no looser than what was approved. A tool disabled since ends the request
 * escalated; a policy tightened since asks for the missing approval, for the same plan hash.
 */
export async function executePlan(ctx: EngineContext, request: RequestRow): Promise<void> {
  const plan = await ctx.db.selectFrom('plans').selectAll().where('request_id', '=', request.id).executeTakeFirstOrThrow();
  const rows = await ctx.db.selectFrom('step_executions').selectAll().where('plan_id', '=', plan.id).execute();
  const started = rows.length > 0;
  const frozen = readFrozenPlan({ requestId: request.id, canonical: plan.canonical, hash: plan.hash, shownSteps: plan.steps });
  if (!frozen.ok) {
    await cannotRun(ctx, request, plan, rows, null, `${frozen.problem}; ${started ? 'nothing more was run' : 'nothing was run'}`);
    return;
  }
  const steps = frozen.steps;
  const identity = await ctx.integrations.identityForClient(request.client_id!, { freshPolicies: true });
  if (!identity) {
    await cannotRun(ctx, request, plan, rows, steps, 'the identity provider integration of this client was removed or disabled');
    return;
  }
  const gate = await approvalGate(ctx, request, plan, steps, identity.policies);
  if (gate.kind === 'refuse') {
    await cannotRun(ctx, request, plan, rows, steps, gate.reason);
    return;
  }
  if (gate.kind === 'approve') {
    if (started) {
      await cannotRun(ctx, request, plan, rows, steps, `the tool policies changed while the plan was running (${gate.change}), and the remaining steps were not approved under them`);
      return;
    }
    await askMissingApprovals(ctx, request, plan, steps, gate);
    return;
  }
  const byKey = new Map(rows.map((row) => [row.idempotency_key, row]));
  const done: PlanStep[] = [];
  let hasTemporaryPassword = false;
  for (const [index, step] of steps.entries()) {
    const key = stepIdempotencyKey(request.id, plan.hash, index);
    const existing = byKey.get(key);
    const tool = findTool(step.tool);
    if (existing?.status === 'succeeded') {
      done.push(step);
      if (tool?.secretResult) hasTemporaryPassword = true;
      continue;
    }
    // Rule 3 holds at execution too: a tool disabled after approval is never run.
    if (!tool || effectivePolicy(tool, identity.policies).policy === 'disabled') {
      await failRequest(ctx, request, plan, step, `${step.tool} is disabled for this client, so the step was not run`, done);
      return;
    }
    const openUntil = await ctx.breakers.openUntil(identity.integrationId);
    if (openUntil) {
      // The system is down for everyone: wait without calling it or spending the step's attempts.
      await retryRequestLater(ctx.db, request.id, ctx.workerId, openUntil, `${step.tool}: the integration's circuit breaker is open`, ctx.clock.now(), { countAttempt: false });
      return;
    }
    const outcome = await runStepOnce(ctx, request, plan, steps, identity, index, step, key, existing, tool.secretResult ? (tool.prepareSecret ?? missingSecretMaker(step.tool)) : undefined);
    if (outcome === 'stop') return;
    done.push(step);
    if (tool.secretResult) hasTemporaryPassword = true;
  }
  await finishExecuted(ctx, request, plan, steps, hasTemporaryPassword);
}

type Gate = { kind: 'ok' } | { kind: 'refuse'; reason: string } | { kind: 'approve'; technician: boolean; manager: boolean; change: string };

/**
 * Whether the plan may run now: every approval it has is approved and bound to its hash, every
 * approval the frozen plan needed is there, and the current policies (read fresh) ask for no
 * approval it lacks. The stricter of the frozen and the current policy wins (DESIGN: lifecycle).
 */
async function approvalGate(ctx: EngineContext, request: RequestRow, plan: PlanRow, steps: PlanStep[], policies: PolicyOverrides): Promise<Gate> {
  const current = steps.map((step) => {
    const tool = findTool(step.tool);
    return tool ? effectivePolicy(tool, policies) : null;
  });
  const disabled = steps.filter((_, index) => current[index] === null || current[index]!.policy === 'disabled').map((s) => s.tool);
  if (disabled.length > 0) {
    return { kind: 'refuse', reason: `${[...new Set(disabled)].join(', ')} ${disabled.length === 1 ? 'is' : 'are'} disabled for this client now, so the plan was not run` };
  }
  const approvals = await ctx.db.selectFrom('approvals').select(['kind', 'status', 'plan_hash']).where('request_id', '=', request.id).execute();
  if (approvals.some((a) => a.plan_hash !== plan.hash)) return { kind: 'refuse', reason: 'an approval is bound to a different plan; nothing was run' };
  if (approvals.some((a) => a.status !== 'approved')) return { kind: 'refuse', reason: 'the plan is not approved; nothing was run' };
  const has = (kind: string) => approvals.some((a) => a.kind === kind);
  if ((plan.needs_technician && !has('technician')) || (plan.needs_manager && !has('manager'))) {
    return { kind: 'refuse', reason: 'a required approval is missing; nothing was run' };
  }
  const now = approvalsNeeded(steps.map((step, index) => ({ policy: current[index]!, plannerRequestsManagerApproval: step.requireManagerApproval === true })));
  const technician = now.technician && !has('technician');
  const manager = now.manager && !has('manager');
  if (!technician && !manager) return { kind: 'ok' };
  return { kind: 'approve', technician, manager, change: policyChanges(steps, (plan.step_policies ?? []) as ToolPolicy[], current as ToolPolicy[]) };
}

/** "<tool>: auto → approval_needed" for each step whose policy changed since freezing. */
function policyChanges(steps: PlanStep[], frozen: ToolPolicy[], current: ToolPolicy[]): string {
  const label = (p: ToolPolicy | undefined) => (p ? `${p.policy}${p.requireManagerApproval ? ' + manager' : ''}` : 'unknown');
  const changes = steps
    .map((step, index) => ({ tool: step.tool, from: label(frozen[index]), to: label(current[index]) }))
    .filter((c) => c.from !== c.to)
    .map((c) => `${c.tool}: ${c.from} → ${c.to}`);
  return [...new Set(changes)].join('; ') || 'the policies now ask for more approval';
}

/** The policies tightened before the first step: ask for what is missing, for the same plan hash. */
async function askMissingApprovals(ctx: EngineContext, claimed: RequestRow, plan: PlanRow, steps: PlanStep[], gate: { technician: boolean; manager: boolean; change: string }): Promise<void> {
  await inTransaction(ctx.db, async (tx) => {
    const request = await lockRequest(tx, claimed.id);
    if (!request || request.state !== 'executing' || request.lease_owner !== ctx.workerId) return;
    await requestApprovals(ctx, tx, request, plan, { steps, technician: gate.technician, manager: gate.manager, at: ctx.clock.now(), policyChange: gate.change });
  });
}

/**
 * The plan cannot run (or go on): before its first step the request is escalated with a note and
 * nothing runs; after a step ran it fails with a note and an honest reply.
 */
async function cannotRun(ctx: EngineContext, claimed: RequestRow, plan: PlanRow, rows: StepExecutionRow[], steps: PlanStep[] | null, reason: string): Promise<void> {
  if (rows.length > 0) {
    const done = rows.filter((r) => r.status === 'succeeded').map((r) => steps?.[r.step_index]).filter((s): s is PlanStep => s !== undefined);
    await failRequest(ctx, claimed, plan, null, reason, done);
    return;
  }
  await inTransaction(ctx.db, async (tx) => {
    const request = await lockRequest(tx, claimed.id);
    if (!request || request.state !== 'executing') return;
    await escalateBeforeChange(ctx, tx, request, { reason, key: 'plan-check', data: { planHash: plan.hash } });
  });
}

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
  steps: PlanStep[],
  identity: IdentityRuntime,
  index: number,
  step: PlanStep,
  key: string,
  existing: StepExecutionRow | undefined,
  /** Makes the secret of a secret-result tool (a temporary password); undefined for other tools. */
  secret: (() => string) | undefined,
): Promise<'done' | 'stop'> {
  if (existing?.status === 'running') {
    // An attempt that never ended (no finished_at: its process died or lost its lease mid-call) may
    // have a call in flight that the system applies later: look only once that call can no longer land.
    const settlesInMs = existing.finished_at ? 0 : existing.started_at.getTime() + INTERRUPTED_CALL_SETTLE_MS - Date.now();
    if (settlesInMs > 0) {
      const due = new Date(ctx.clock.now().getTime() + settlesInMs);
      await retryRequestLater(ctx.db, request.id, ctx.workerId, due, `${step.tool}: an interrupted attempt's call may still land; checking it once it cannot`, ctx.clock.now(), { countAttempt: false });
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
      return handleStepFailure(ctx, request, plan, steps, identity, step, key, existing.attempts, error);
    }
  }
  const attempts = (existing?.attempts ?? 0) + 1;
  // The intent's time is compared with the outside system's clock when reconciling: wall time, not ctx.clock.
  const intentAt = new Date();
  const secretBox = secret ? (existing?.secret_encrypted ?? ctx.secrets.encrypt(secret())) : null;
  await recordIntent(ctx, request, plan, index, step, key, attempts, intentAt, secretBox);
  try {
    const prepared = secretBox ? { temporaryPassword: ctx.secrets.decrypt(secretBox) } : undefined;
    const result = await identity.run(step.tool, step.args, step.resolved, prepared);
    await ctx.breakers.recordSuccess(identity.integrationId);
    await recordSuccess(ctx, request, index, step, key, result, secretBox, false);
    return 'done';
  } catch (error) {
    return handleStepFailure(ctx, request, plan, steps, identity, step, key, attempts, error);
  }
}

async function recordSuccess(
  ctx: EngineContext,
  request: RequestRow,
  index: number,
  step: PlanStep,
  key: string,
  result: { summary: string; data?: unknown; partial?: string },
  secretBox: string | null,
  reconciled: boolean,
): Promise<void> {
  const technician = secretBox ? await technicianApprover(ctx, request.id) : null;
  const at = ctx.clock.now();
  const stored = result.partial ? { ...(typeof result.data === 'object' && result.data !== null ? result.data : { data: result.data ?? null }), partial: result.partial } : (result.data ?? null);
  const change = sql`UPDATE step_executions SET status = 'succeeded', summary = ${result.summary}, result = ${json(stored)}::jsonb,
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
  steps: PlanStep[],
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
    // The step's own attempts bound these retries; the request's claim count is for claims that never ended.
    await retryRequestLater(ctx.db, request.id, ctx.workerId, new Date(ctx.clock.now().getTime() + waitMs), message, ctx.clock.now(), { countAttempt: false });
    ctx.logger.warn({ requestId: request.id, step: step.tool, attempts, waitMs }, 'step failed transiently; retrying later');
    return 'stop';
  }
  const done = await ctx.db
    .selectFrom('step_executions')
    .select('step_index')
    .where('plan_id', '=', plan.id)
    .where('status', '=', 'succeeded')
    .execute();
  if (done.length === 0 && isDeskhandError(error) && error.code === 'config') {
    // Wrong credentials or configuration: the system refused before anything changed, and trying
    // again cannot help. A technician fixes the integration; the employee is not told of a failure.
    await inTransaction(ctx.db, async (tx) => {
      const current = await lockRequest(tx, request.id);
      if (!current || current.state !== 'executing') return;
      await escalateBeforeChange(ctx, tx, current, { reason: `${step.tool} could not run: ${message}; nothing was changed`, key: 'plan-check', data: { planHash: plan.hash } });
    });
    return 'stop';
  }
  await failRequest(ctx, request, plan, step, message, done.map((d) => steps[d.step_index]).filter((s): s is PlanStep => s !== undefined));
  return 'stop';
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

async function finishExecuted(ctx: EngineContext, claimed: RequestRow, plan: PlanRow, steps: PlanStep[], hasTemporaryPassword: boolean): Promise<void> {
  await inTransaction(ctx.db, async (tx) => {
    const request = await lockRequest(tx, claimed.id);
    if (!request || request.state !== 'executing') return;
    const at = ctx.clock.now();
    // Steps that succeeded in part: the technicians get a note, the employee's reply says it too.
    const rows = await tx.selectFrom('step_executions').select(['step_index', 'result']).where('plan_id', '=', plan.id).where('status', '=', 'succeeded').execute();
    const partials = new Map<number, string>();
    for (const row of rows) {
      const partial = (row.result as { partial?: unknown } | null)?.partial;
      if (typeof partial === 'string' && partial !== '') partials.set(row.step_index, partial);
    }
    if (partials.size > 0) {
      await enqueueTicketNote(tx, request, {
        key: 'partial-note',
        purpose: 'internal_note',
        visibility: 'internal',
        text: partialNote({ requestId: request.id, steps, partials }),
        at,
      });
    }
    await enqueueTicketNote(tx, request, {
      key: 'reply',
      purpose: 'reply',
      visibility: 'customer',
      text: executedReply({ requestId: request.id, steps, hasTemporaryPassword, partials }),
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
    await failAfterChange(ctx, tx, request, { step, error, doneSteps: done, planHash: plan.hash, operatingMode: plan.operating_mode });
  });
}

/** A secret-result tool whose module makes no secret: refuse rather than run it without one. */
function missingSecretMaker(tool: string): () => string {
  return () => {
    throw new Error(`${tool} returns a secret but its integration makes none`);
  };
}
