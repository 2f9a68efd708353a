import { combinedDecision, decisionRefusal, mayApprove, type ApprovalStatus, type Decision } from '../core/approval.ts';
import { DeskhandError } from '../core/errors.ts';
import { constantTimeEqual, sha256Base64url } from '../secrets.ts';
import { type AuditEvent, appendAudit, inTransaction } from '../store/audit.ts';
import type { Tx } from '../store/db.ts';
import { enqueueTicketNote, enqueueTicketPhase, lockRequest, transitionRequest } from '../store/requests.ts';
import type { ApprovalRow, RequestRow } from '../store/schema.ts';
import type { EngineContext } from './context.ts';
import { decisionNote, deniedReply } from './messages.ts';

/**
 * Deciding approvals. Every decision locks the request first, then the approval, so a technician and
 * a manager deciding at the same instant are serialised; each approval is decided once, only while
 * pending and unexpired, only for the plan hash it was created for.
 */
export interface Decider {
  kind: 'technician' | 'manager';
  /** The deciding user (technician approvals) or the manager's address (manager approvals). */
  userId: string | null;
  email: string;
  name: string;
  role: string | null;
  mspId: string | null;
}

export interface DecisionResult {
  approval: ApprovalRow;
  /**
   * The state the decision leads the request to: `executing` once every approval is in, `replied`
   * after a denial (the reply telling the employee is queued; the request reads `replied` once it
   * is on the ticket), `awaiting_approval` while another approval is still awaited.
   */
  requestState: 'executing' | 'replied' | 'awaiting_approval';
  combined: 'approved' | 'denied' | 'pending';
}

export async function decideTechnicianApproval(
  ctx: EngineContext,
  input: { approvalId: string; decision: Decision; comment: string | null; planHash?: string | undefined; user: { id: string; email: string; name: string; role: string; mspId: string } },
): Promise<DecisionResult> {
  return auditingRefusals(ctx, () => inTransaction(ctx.db, async (tx) => {
    const peek = await tx.selectFrom('approvals').select(['request_id', 'msp_id', 'kind']).where('id', '=', input.approvalId).executeTakeFirst();
    // Another MSP's approval is indistinguishable from a missing one.
    if (!peek || peek.msp_id !== input.user.mspId || peek.kind !== 'technician') {
      throw new DeskhandError('not_found', 'no such approval');
    }
    if (!mayApprove(input.user.role)) {
      throw new DeskhandError('forbidden', `the role ${input.user.role} may read approvals but not decide them; msp_technician or msp_admin may`);
    }
    const request = await lockRequest(tx, peek.request_id);
    if (!request) throw new DeskhandError('not_found', 'no such approval');
    if (request.requester_email.toLowerCase() === input.user.email.toLowerCase()) {
      throw new DeskhandError('forbidden', 'nobody approves their own request');
    }
    return applyDecision(ctx, tx, request, input.approvalId, input.decision, input.comment, input.planHash, {
      kind: 'technician',
      userId: input.user.id,
      email: input.user.email,
      name: input.user.name,
      role: input.user.role,
      mspId: input.user.mspId,
    });
  }));
}

/** Parse and check a manager link `<approvalId>.<secret>.<signature>`; returns the approval id. */
export function verifyManagerLink(ctx: Pick<EngineContext, 'secrets'>, link: string): { approvalId: string; secret: string } {
  const parts = link.split('.');
  if (parts.length !== 3) throw new DeskhandError('not_found', 'this approval link is not valid');
  const [approvalId, secret, signature] = parts as [string, string, string];
  if (!/^[0-9a-f-]{36}$/.test(approvalId) || !ctx.secrets.verify(`${approvalId}.${secret}`, signature)) {
    throw new DeskhandError('not_found', 'this approval link is not valid');
  }
  return { approvalId, secret };
}

export async function loadManagerApproval(ctx: EngineContext, link: string): Promise<{ approval: ApprovalRow; request: RequestRow }> {
  const { approvalId, secret } = verifyManagerLink(ctx, link);
  const approval = await ctx.db.selectFrom('approvals').selectAll().where('id', '=', approvalId).executeTakeFirst();
  if (!approval || approval.kind !== 'manager' || !approval.link_token_hash || !constantTimeEqual(approval.link_token_hash, sha256Base64url(secret))) {
    throw new DeskhandError('not_found', 'this approval link is not valid');
  }
  const request = await ctx.db.selectFrom('requests').selectAll().where('id', '=', approval.request_id).executeTakeFirstOrThrow();
  return { approval, request };
}

export async function decideManagerApproval(ctx: EngineContext, input: { link: string; decision: Decision; comment: string | null }): Promise<DecisionResult> {
  const { approval } = await loadManagerApproval(ctx, input.link);
  return auditingRefusals(ctx, () => inTransaction(ctx.db, async (tx) => {
    const request = await lockRequest(tx, approval.request_id);
    if (!request) throw new DeskhandError('not_found', 'this approval link is not valid');
    return applyDecision(ctx, tx, request, approval.id, input.decision, input.comment, undefined, {
      kind: 'manager',
      userId: null,
      email: approval.approver_email ?? 'manager',
      name: approval.approver_name ?? 'manager',
      role: null,
      mspId: null,
    });
  }));
}

async function applyDecision(
  ctx: EngineContext,
  tx: Tx,
  request: RequestRow,
  approvalId: string,
  decision: Decision,
  comment: string | null,
  presentedPlanHash: string | undefined,
  decider: Decider,
): Promise<DecisionResult> {
  const at = ctx.clock.now();
  const approval = await tx.selectFrom('approvals').selectAll().where('id', '=', approvalId).forNoKeyUpdate().executeTakeFirstOrThrow();
  const plan = await tx.selectFrom('plans').select(['hash']).where('request_id', '=', request.id).executeTakeFirstOrThrow();
  const refusal = decisionRefusal({
    status: approval.status,
    expiresAt: approval.expires_at,
    now: at,
    approvalPlanHash: approval.plan_hash,
    currentPlanHash: plan.hash,
    presentedPlanHash,
    decidedBy: approval.decided_by,
    decidedAt: approval.decided_at,
  });
  if (!refusal && approval.status === 'pending' && request.state !== 'awaiting_approval') {
    throw new DeskhandError('conflict', `the request is ${request.state}, no longer awaiting approval`);
  }
  if (refusal) {
    // Recorded outside this transaction (which changes nothing): a replayed or late decision is worth knowing about.
    throw new RefusedDecision(refusal.code, refusal.message, {
      mspId: request.msp_id,
      requestId: request.id,
      actor: actorOf(decider),
      event: 'approval.decision_refused',
      data: { approvalId, kind: approval.kind, decision, reason: refusal.message },
      at,
    });
  }
  const status: ApprovalStatus = decision === 'approve' ? 'approved' : 'denied';
  const decided = await tx
    .updateTable('approvals')
    .set({ status, decided_by_user_id: decider.userId, decided_by: `${decider.name} <${decider.email}>`, decided_at: at, comment })
    .where('id', '=', approvalId)
    .where('status', '=', 'pending')
    .returningAll()
    .executeTakeFirstOrThrow();
  await appendAudit(tx, {
    mspId: request.msp_id,
    requestId: request.id,
    actor: actorOf(decider),
    event: `approval.${status}`,
    data: { approvalId, kind: approval.kind, planHash: approval.plan_hash, comment, by: decider.email, role: decider.role },
    at,
  });
  const all = await tx.selectFrom('approvals').select(['id', 'status']).where('request_id', '=', request.id).execute();
  const combined = combinedDecision(all.map((a) => a.status as ApprovalStatus));
  if (combined === 'expired') {
    // Another approval of the same plan expired: the request is answered as expired, so this decision (rolled back) comes too late.
    throw new DeskhandError('expired', 'This approval request expired 24 hours after it was created; the employee was asked to resubmit.');
  }
  // Who decided, when and why, on the ticket for technicians (a denial's comment included), once per approval.
  await enqueueTicketNote(tx, request, {
    key: `decision-${approvalId}`,
    purpose: 'decision_note',
    visibility: 'internal',
    text: decisionNote({
      kind: decider.kind,
      status,
      by: `${decider.name} <${decider.email}>`,
      role: decider.role,
      at,
      comment,
      next: combined === 'approved' ? 'executing' : combined === 'denied' ? 'replied' : 'awaiting_approval',
    }),
    at,
  });
  if (combined === 'approved') {
    await transitionRequest(tx, { request, to: 'executing', at, actor: actorOf(decider), dueAt: at, data: { planHash: approval.plan_hash } });
    await enqueueTicketPhase(tx, request, 'in_progress', at);
    return { approval: decided, requestState: 'executing', combined };
  }
  if (combined === 'denied') {
    // Either denial denies: the other approval is closed, the employee is told.
    await tx.updateTable('approvals').set({ status: 'cancelled', decided_at: at }).where('request_id', '=', request.id).where('status', '=', 'pending').execute();
    await enqueueTicketNote(tx, request, {
      key: 'reply',
      purpose: 'reply',
      visibility: 'customer',
      text: deniedReply(),
      onDelivered: { requestState: 'replied' },
      at,
    });
    await tx.updateTable('requests').set({ outcome: 'denied', updated_at: at }).where('id', '=', request.id).execute();
    await appendAudit(tx, { mspId: request.msp_id, requestId: request.id, actor: actorOf(decider), event: 'request.denied', data: { by: decider.email }, at });
    return { approval: decided, requestState: 'replied', combined };
  }
  return { approval: decided, requestState: 'awaiting_approval', combined };
}

class RefusedDecision extends DeskhandError {
  constructor(
    code: 'conflict' | 'expired',
    message: string,
    readonly event: AuditEvent,
  ) {
    super(code, message);
  }
}

/** Run a decision; a refused one leaves an audit row behind (in its own transaction) and rethrows. */
async function auditingRefusals<T>(ctx: EngineContext, decide: () => Promise<T>): Promise<T> {
  try {
    return await decide();
  } catch (error) {
    if (error instanceof RefusedDecision) {
      await inTransaction(ctx.db, (tx) => appendAudit(tx, error.event));
    }
    throw error;
  }
}

function actorOf(decider: Decider): string {
  return decider.kind === 'technician' ? `user:${decider.email}` : `manager:${decider.email}`;
}
