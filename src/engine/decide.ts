import { approvalExpiresAt } from '../core/approval.ts';
import type { DirectoryUser } from '../core/directory.ts';
import { type PlanStep, readFrozenPlan } from '../core/plan.ts';
import { randomToken, sha256Base64url } from '../secrets.ts';
import { type AuditEvent, appendAudit, inTransaction } from '../store/audit.ts';
import type { Tx } from '../store/db.ts';
import { enqueueOutbox, enqueueTicketNote, enqueueTicketPhase, lockRequest, MESSAGE_CAPABILITY, transitionRequest } from '../store/requests.ts';
import type { IdentityRuntime } from '../integrations/registry.ts';
import type { PlanRow, RequestRow } from '../store/schema.ts';
import type { EngineContext } from './context.ts';
import type { ReadRecord } from './diagnose.ts';
import { approvalNotification, managerEmail, noActionReply } from './messages.ts';
import { escalateBeforeChange } from './stop.ts';

/**
 * The `noted` step: the note is on the ticket, so the agent may act. Plan Mode stops here; an
 * escalation waits for a technician; `no_action` replies; a plan runs at once when every step is
 * `auto`, otherwise approvals are created and technicians (and the manager) notified.
 */
export async function decideAfterNote(ctx: EngineContext, claimed: RequestRow): Promise<void> {
  await inTransaction(ctx.db, async (tx) => {
    const request = await lockRequest(tx, claimed.id);
    if (!request || request.state !== 'noted' || request.lease_owner !== ctx.workerId) return;
    await decideLocked(ctx, tx, request);
  });
}

/**
 * The decision itself, inside a transaction that holds the request's lock while it is `noted`. The
 * outbox calls it in the same transaction that records the note as delivered, so the common path
 * needs no second claim; a worker claiming a `noted` request (after a crash) lands here too.
 */
export async function decideLocked(ctx: EngineContext, tx: Tx, request: RequestRow): Promise<void> {
  const plan = await tx.selectFrom('plans').selectAll().where('request_id', '=', request.id).executeTakeFirstOrThrow();
  const at = ctx.clock.now();
  if (plan.outcome === 'escalate') {
    await transitionRequest(tx, { request, to: 'escalated', outcome: 'escalated', at, actor: 'agent', dueAt: null });
    return;
  }
  if (plan.operating_mode === 'plan') {
    await transitionRequest(tx, { request, to: 'planned', outcome: 'planned', at, actor: 'agent', dueAt: null, data: { mode: 'plan' } });
    return;
  }
  if (plan.outcome === 'no_action') {
    await enqueueTicketNote(tx, request, {
      key: 'reply',
      purpose: 'reply',
      visibility: 'customer',
      text: noActionReply({ requestId: request.id, text: plan.reply_to_employee ?? plan.summary }),
      onDelivered: { requestState: 'replied' },
      at,
    });
    await tx.updateTable('requests').set({ outcome: 'no_action', due_at: null, lease_owner: null, lease_until: null }).where('id', '=', request.id).execute();
    await appendAudit(tx, { mspId: request.msp_id, requestId: request.id, actor: 'agent', event: 'reply.queued', data: { outcome: 'no_action' }, at });
    return;
  }
  // What is approved and run is the plan that was hashed, never a copy beside it (DESIGN rule 4).
  const frozen = readFrozenPlan({ requestId: request.id, canonical: plan.canonical, hash: plan.hash, shownSteps: plan.steps });
  if (!frozen.ok) {
    await escalateBeforeChange(ctx, tx, request, { reason: `${frozen.problem}, so nothing will run`, key: 'plan-check' });
    return;
  }
  if (!plan.needs_technician) {
    await transitionRequest(tx, { request, to: 'executing', at, actor: 'agent', dueAt: at, data: { reason: 'every step is auto' } });
    await enqueueTicketPhase(tx, request, 'in_progress', at);
    return;
  }
  await requestApprovals(ctx, tx, request, plan, { steps: frozen.steps, technician: true, manager: plan.needs_manager, at });
}

export interface ApprovalsToRequest {
  /** The frozen plan's steps (read from its canonical form). */
  steps: PlanStep[];
  /** Create a technician approval (false when one already approved this plan). */
  technician: boolean;
  /** Create a manager approval. */
  manager: boolean;
  at: Date;
  /** Set when the approvals are asked for at execution because a policy tightened since freezing. */
  policyChange?: string;
}

/**
 * Ask for approvals of the frozen plan, bound to its hash: a technician approval, a manager approval
 * (mailed as a single-use link), or both; the technicians are notified on the ticket and the request
 * waits. Dual approval that cannot happen (no manager resolved, or no mailbox to mail the manager
 * from) fails closed at once: escalated with a note (DESIGN rule 6).
 */
export async function requestApprovals(ctx: EngineContext, tx: Tx, request: RequestRow, plan: PlanRow, input: ApprovalsToRequest): Promise<void> {
  const at = input.at;
  const diagnosis = await tx.selectFrom('diagnoses').selectAll().where('request_id', '=', request.id).executeTakeFirst();
  const manager = (diagnosis?.manager ?? null) as DirectoryUser | null;
  const requester = (diagnosis?.requester ?? null) as DirectoryUser | null;
  const steps = input.steps;
  const client = await tx.selectFrom('clients').select(['name', 'sender_mailbox']).where('id', '=', request.client_id!).executeTakeFirstOrThrow();
  // Manager mail goes out through the client's identity provider, which also names the manager read tool.
  const identity = input.manager ? await ctx.integrations.identityForClient(request.client_id!) : null;
  if (input.manager) {
    const blocked = dualApprovalBlocked(request, manager, client.sender_mailbox ?? '', (diagnosis?.reads ?? []) as ReadRecord[], identity);
    if (blocked) {
      await escalateBeforeChange(ctx, tx, request, { reason: blocked.reason, key: blocked.key, data: { dualApproval: blocked.key } });
      return;
    }
  }
  // Each round of approvals (at the decision, again after a policy tightened) has its own notice and mail.
  const earlier = await tx.selectFrom('approvals').select(['id', 'kind']).where('request_id', '=', request.id).execute();
  const round = earlier.length === 0 ? '' : `-${earlier.length + 1}`;
  const expiresAt = approvalExpiresAt(at);
  const technicianApprovalId = input.technician ? crypto.randomUUID() : (earlier.find((a) => a.kind === 'technician')?.id ?? null);
  const events: AuditEvent[] = [];
  if (input.technician) {
    await tx
      .insertInto('approvals')
      .values({
        id: technicianApprovalId!,
        msp_id: request.msp_id,
        request_id: request.id,
        plan_id: plan.id,
        plan_hash: plan.hash,
        kind: 'technician',
        status: 'pending',
        created_at: at,
        expires_at: expiresAt,
      })
      .execute();
    events.push({
      mspId: request.msp_id,
      requestId: request.id,
      actor: 'agent',
      event: 'approval.requested',
      data: { kind: 'technician', approvalId: technicianApprovalId, planHash: plan.hash, expiresAt: expiresAt.toISOString(), ...(input.policyChange ? { policyChange: input.policyChange } : {}) },
      at,
    });
  }
  if (input.manager && manager) {
    const managerApprovalId = crypto.randomUUID();
    const secret = randomToken(24);
    const token = `${managerApprovalId}.${secret}`;
    const link = `${ctx.publicUrl}/approvals/manager/${token}.${ctx.secrets.sign(token)}`;
    await tx
      .insertInto('approvals')
      .values({
        id: managerApprovalId,
        msp_id: request.msp_id,
        request_id: request.id,
        plan_id: plan.id,
        plan_hash: plan.hash,
        kind: 'manager',
        status: 'pending',
        approver_email: manager.userPrincipalName.toLowerCase(),
        approver_name: manager.displayName,
        link_token_hash: sha256Base64url(secret),
        created_at: at,
        expires_at: expiresAt,
      })
      .execute();
    const mail = managerEmail({
      managerName: manager.displayName,
      requesterName: requester?.displayName ?? request.requester_email,
      clientName: client.name,
      steps,
      link,
      expiresAt,
    });
    // The link is a credential: the outbox payload keeps it only until delivery (then it is cleared).
    await enqueueOutbox(tx, {
      mspId: request.msp_id,
      requestId: request.id,
      integrationId: identity!.integrationId,
      kind: MESSAGE_CAPABILITY.mail,
      key: `${request.id}:manager-mail${round}`,
      payload: { clientId: request.client_id, from: client.sender_mailbox, to: manager.userPrincipalName, subject: mail.subject, textBox: ctx.secrets.encrypt(mail.text), purpose: 'manager_approval' },
      at,
    });
    events.push({
      mspId: request.msp_id,
      requestId: request.id,
      actor: 'agent',
      event: 'approval.requested',
      data: { kind: 'manager', approvalId: managerApprovalId, planHash: plan.hash, manager: manager.userPrincipalName, expiresAt: expiresAt.toISOString(), ...(input.policyChange ? { policyChange: input.policyChange } : {}) },
      at,
    });
  }
  await enqueueTicketNote(tx, request, {
    key: `approval-notice${round}`,
    purpose: 'approval_notification',
    visibility: 'internal',
    text: approvalNotification({
      requestId: request.id,
      key: `approval-notice${round}`,
      steps,
      planHash: plan.hash,
      approvalUrl: technicianApprovalId ? `${ctx.publicUrl}/approvals/${technicianApprovalId}` : null,
      technicianMustDecide: input.technician,
      needsManager: input.manager,
      managerName: manager?.displayName ?? null,
      expiresAt,
      policyChange: input.policyChange ?? null,
    }),
    at,
  });
  await appendAudit(tx, events);
  await enqueueTicketPhase(tx, request, 'waiting', at);
  await transitionRequest(tx, { request, to: 'awaiting_approval', at, actor: 'agent', dueAt: null, data: { needsManager: input.manager, ...(input.policyChange ? { policyChange: input.policyChange } : {}) } });
}

/** Why dual approval cannot happen for this request, or null when it can. */
function dualApprovalBlocked(
  request: RequestRow,
  manager: DirectoryUser | null,
  senderMailbox: string,
  reads: ReadRecord[],
  identity: IdentityRuntime | null,
): { reason: string; key: string } | null {
  if (!identity) {
    return { key: 'no-identity', reason: "the plan needs the approval of the requester's manager, and the client has no identity provider to mail the manager through" };
  }
  if (!manager) {
    const managerTool = identity.readTools.manager;
    const notCalled = reads.some((r) => r.tool === managerTool && isNotCalled(r.result));
    if (notCalled) {
      return {
        key: 'manager-not-checked',
        reason: `the plan needs the approval of the requester's manager, and the manager of ${request.requester_email} could not be looked up: ${managerTool} is disabled by the tool policies`,
      };
    }
    return { key: 'no-manager', reason: `the plan needs the approval of the requester's manager, and no manager is set for ${request.requester_email} in the directory` };
  }
  if (!senderMailbox.trim()) {
    return {
      key: 'no-sender-mailbox',
      reason: `the plan needs the approval of ${manager.displayName}, the requester's manager, and the client has no sender mailbox to email the approval link from (set the client's sender mailbox)`,
    };
  }
  return null;
}

function isNotCalled(result: unknown): boolean {
  return typeof result === 'object' && result !== null && 'not_called' in result;
}
