import { approvalExpiresAt } from '../core/approval.ts';
import type { DirectoryUser } from '../core/directory.ts';
import type { PlanStep } from '../core/plan.ts';
import { randomToken, sha256Base64url } from '../secrets.ts';
import { type AuditEvent, appendAudit, inTransaction } from '../store/audit.ts';
import type { Tx } from '../store/db.ts';
import { enqueueOutbox, enqueueTicketNote, lockRequest, transitionRequest } from '../store/requests.ts';
import type { PlanRow, RequestRow } from '../store/schema.ts';
import type { EngineContext } from './context.ts';
import { approvalNotification, escalationNote, managerEmail, noActionReply } from './messages.ts';

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
  {
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
    if (!plan.needs_technician) {
      await transitionRequest(tx, { request, to: 'executing', at, actor: 'agent', dueAt: at, data: { reason: 'every step is auto' } });
      return;
    }
    await requestApprovals(ctx, tx, request, plan, at);
  }
}

async function requestApprovals(ctx: EngineContext, tx: Tx, request: RequestRow, plan: PlanRow, at: Date): Promise<void> {
  const diagnosis = await tx.selectFrom('diagnoses').selectAll().where('request_id', '=', request.id).executeTakeFirst();
  const manager = (diagnosis?.manager ?? null) as DirectoryUser | null;
  const requester = (diagnosis?.requester ?? null) as DirectoryUser | null;
  const steps = plan.steps as PlanStep[];
  if (plan.needs_manager && !manager) {
    // DESIGN rule 6: no manager can be resolved, so dual approval cannot happen: fail closed.
    const reason = `the plan needs the approval of the requester's manager, and no manager is set for ${request.requester_email} in the directory`;
    await enqueueTicketNote(tx, request, {
      key: 'no-manager',
      purpose: 'escalation',
      visibility: 'internal',
      text: escalationNote({ requestId: request.id, reason, key: 'no-manager' }),
      at,
    });
    await transitionRequest(tx, { request, to: 'escalated', outcome: 'escalated', at, actor: 'agent', dueAt: null, data: { reason: 'no manager for dual approval' } });
    return;
  }
  const expiresAt = approvalExpiresAt(at);
  const technicianApprovalId = crypto.randomUUID();
  await tx
    .insertInto('approvals')
    .values({
      id: technicianApprovalId,
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
  const events: AuditEvent[] = [
    { mspId: request.msp_id, requestId: request.id, actor: 'agent', event: 'approval.requested', data: { kind: 'technician', approvalId: technicianApprovalId, planHash: plan.hash, expiresAt: expiresAt.toISOString() }, at },
  ];
  if (plan.needs_manager && manager) {
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
    const client = await tx.selectFrom('clients').select(['name', 'sender_mailbox']).where('id', '=', request.client_id!).executeTakeFirstOrThrow();
    const identity = await tx.selectFrom('integrations').select('id').where('client_id', '=', request.client_id!).where('kind', '=', 'm365').executeTakeFirstOrThrow();
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
      integrationId: identity.id,
      kind: 'mail',
      key: `${request.id}:manager-mail`,
      payload: { from: client.sender_mailbox, to: manager.userPrincipalName, subject: mail.subject, textBox: ctx.secrets.encrypt(mail.text), purpose: 'manager_approval' },
      at,
    });
    events.push({
      mspId: request.msp_id,
      requestId: request.id,
      actor: 'agent',
      event: 'approval.requested',
      data: { kind: 'manager', approvalId: managerApprovalId, planHash: plan.hash, manager: manager.userPrincipalName, expiresAt: expiresAt.toISOString() },
      at,
    });
  }
  await enqueueTicketNote(tx, request, {
    key: 'approval-notice',
    purpose: 'approval_notification',
    visibility: 'internal',
    text: approvalNotification({
      requestId: request.id,
      steps,
      planHash: plan.hash,
      approvalUrl: `${ctx.publicUrl}/api/approvals/${technicianApprovalId}`,
      needsManager: plan.needs_manager,
      managerName: manager?.displayName ?? null,
      expiresAt,
    }),
    at,
  });
  await appendAudit(tx, events);
  await transitionRequest(tx, { request, to: 'awaiting_approval', at, actor: 'agent', dueAt: null, data: { needsManager: plan.needs_manager } });
}
