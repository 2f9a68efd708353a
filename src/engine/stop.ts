import { FINAL_STATES, type RequestState } from '../core/lifecycle.ts';
import type { PlanStep } from '../core/plan.ts';
import { inTransaction } from '../store/audit.ts';
import type { Tx } from '../store/db.ts';
import { enqueueTicketNote, lockRequest, transitionRequest } from '../store/requests.ts';
import type { RequestRow } from '../store/schema.ts';
import type { EngineContext } from './context.ts';
import { escalateUndiagnosed } from './diagnose.ts';
import { escalationNote, failedNote, failedReply } from './messages.ts';

/**
 * Ending a request that cannot go on, never in silence (DESIGN: the lifecycle). Before anything
 * changed (diagnosis, the decision, or execution before its first step) the request ends
 * `escalated` with a note for technicians; once a step has run it ends `failed` with a note and an
 * honest reply to the employee. A Plan Mode request never replies, even when it fails.
 */

/** Escalate a request before anything changed: a note for technicians, no reply. */
export async function escalateBeforeChange(
  ctx: EngineContext,
  tx: Tx,
  request: RequestRow,
  input: { reason: string; key: string; data?: Record<string, unknown> },
): Promise<void> {
  const at = ctx.clock.now();
  await enqueueTicketNote(tx, request, {
    key: input.key,
    purpose: 'escalation',
    visibility: 'internal',
    text: escalationNote({ requestId: request.id, reason: input.reason, key: input.key }),
    at,
  });
  await transitionRequest(tx, {
    request,
    to: 'escalated',
    outcome: 'escalated',
    at,
    actor: 'agent',
    dueAt: null,
    lastError: input.reason,
    data: { reason: input.reason, ...(input.data ?? {}) },
  });
}

/** Fail a request after a step ran: a note for technicians and, in Execute Mode, an honest reply. */
export async function failAfterChange(
  ctx: EngineContext,
  tx: Tx,
  request: RequestRow,
  input: { step: PlanStep | null; error: string; doneSteps: PlanStep[]; planHash: string | null; operatingMode: string },
): Promise<void> {
  const at = ctx.clock.now();
  await enqueueTicketNote(tx, request, {
    key: 'failed-note',
    purpose: 'failure_note',
    visibility: 'internal',
    text: failedNote({
      requestId: request.id,
      step: input.step,
      error: input.error,
      doneSteps: input.doneSteps,
      employeeTold: input.operatingMode === 'execute',
    }),
    at,
  });
  if (input.operatingMode === 'execute') {
    await enqueueTicketNote(tx, request, {
      key: 'reply',
      purpose: 'reply',
      visibility: 'customer',
      text: failedReply({ requestId: request.id, doneSteps: input.doneSteps }),
      at,
    });
  }
  await transitionRequest(tx, {
    request,
    to: 'failed',
    outcome: 'failed',
    at,
    actor: 'agent',
    dueAt: null,
    lastError: input.error,
    data: { error: input.error, ...(input.planHash ? { planHash: input.planHash } : {}) },
  });
}

/**
 * A request the engine must give up on (an error that retrying cannot fix, retries used up, or a
 * claim that kept running out): end it by where it stands.
 */
export async function stopRequest(ctx: EngineContext, claimed: RequestRow, reason: string): Promise<void> {
  if (claimed.state === 'received' || claimed.state === 'diagnosing') {
    // No plan yet: the diagnosis note itself says why (in the client's real mode).
    await escalateUndiagnosed(ctx, claimed, reason);
    return;
  }
  await inTransaction(ctx.db, async (tx) => {
    const request = await lockRequest(tx, claimed.id);
    if (!request || FINAL_STATES.includes(request.state as RequestState)) return;
    const plan = await tx.selectFrom('plans').select(['id', 'hash', 'steps', 'operating_mode']).where('request_id', '=', request.id).executeTakeFirst();
    const ran = plan
      ? await tx.selectFrom('step_executions').select(['step_index', 'status']).where('plan_id', '=', plan.id).execute()
      : [];
    if (request.state !== 'executing' || ran.length === 0) {
      await escalateBeforeChange(ctx, tx, request, { reason: `${reason}; nothing was changed`, key: 'stopped' });
      return;
    }
    const steps = (plan?.steps ?? []) as PlanStep[];
    const done = ran.filter((r) => r.status === 'succeeded').map((r) => steps[r.step_index]).filter((s): s is PlanStep => s !== undefined);
    await failAfterChange(ctx, tx, request, { step: null, error: reason, doneSteps: done, planHash: plan?.hash ?? null, operatingMode: plan?.operating_mode ?? 'execute' });
  });
}
