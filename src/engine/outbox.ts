import { sql } from 'kysely';
import { describeError, isDeskhandError } from '../core/errors.ts';
import type { RequestState } from '../core/lifecycle.ts';
import { backoffMs, INTERRUPTED_CALL_SETTLE_MS, isTimeout } from '../integrations/http.ts';
import { appendAudit, inTransaction } from '../store/audit.ts';
import { json } from '../store/db.ts';
import { enqueueTicketNote, enqueueTicketPhase, lockRequest, MESSAGE_CAPABILITY, type TicketStatusPayload, transitionRequest } from '../store/requests.ts';
import type { OutboxRow } from '../store/schema.ts';
import type { EngineContext } from './context.ts';
import { decideLocked } from './decide.ts';
import { configuredLeaseMs } from './lease.ts';
import { isTransientFailure } from './failures.ts';
import { deliveryFailedNote, marker } from './messages.ts';

/** After this many failed attempts a message is given up (and its request marked failed when it was waiting on it). */
export const MAX_DELIVERY_ATTEMPTS = 8;

interface NotePayload {
  ticketRef: string;
  visibility: 'internal' | 'customer';
  text: string;
  purpose: string;
}

interface MailPayload {
  /** The client whose identity provider sends it. */
  clientId?: string;
  from: string;
  to: string;
  subject: string;
  textBox: string;
  purpose: string;
}

/**
 * A claimed message. `interrupted_lease_until` is the lease of the previous attempt when that attempt
 * never ended (every ending clears the lease): its worker died or lost the lease mid-delivery.
 */
export type ClaimedMessage = OutboxRow & { interrupted_lease_until?: Date | null };

/**
 * Claim due messages (several workers share the table: SKIP LOCKED), each leased so that a worker
 * that dies mid-delivery hands it back.
 */
export async function claimDueMessages(ctx: EngineContext, limit: number, leaseMs: number): Promise<ClaimedMessage[]> {
  const now = ctx.clock.now();
  const result = await sql<ClaimedMessage>`
    UPDATE outbox o SET lease_until = ${new Date(now.getTime() + leaseMs)}, attempts = o.attempts + 1
    FROM (
      SELECT id, lease_until FROM outbox
      WHERE status = 'pending' AND next_attempt_at <= ${now} AND (lease_until IS NULL OR lease_until < ${now})
      ORDER BY next_attempt_at
      LIMIT ${limit}
      FOR NO KEY UPDATE SKIP LOCKED
    ) picked
    WHERE o.id = picked.id
    RETURNING o.*, picked.lease_until AS interrupted_lease_until`.execute(ctx.db);
  return result.rows;
}

/**
 * Deliver one queued message now, from the worker that just queued it: no wake-up and no second
 * claim on the common path. If this process dies first, the outbox loop finds the message due.
 */
export async function deliverNow(ctx: EngineContext, idempotencyKey: string, leaseMs = configuredLeaseMs()): Promise<void> {
  const now = ctx.clock.now();
  const claimed = await sql<ClaimedMessage>`
    UPDATE outbox o SET lease_until = ${new Date(now.getTime() + leaseMs)}, attempts = o.attempts + 1
    FROM (
      SELECT id, lease_until FROM outbox
      WHERE idempotency_key = ${idempotencyKey} AND status = 'pending' AND next_attempt_at <= ${now}
        AND (lease_until IS NULL OR lease_until < ${now})
      FOR NO KEY UPDATE SKIP LOCKED
    ) picked
    WHERE o.id = picked.id
    RETURNING o.*, picked.lease_until AS interrupted_lease_until`.execute(ctx.db);
  const message = claimed.rows[0];
  if (message) await deliverMessage(ctx, message);
}

export async function deliverMessage(ctx: EngineContext, message: ClaimedMessage): Promise<void> {
  // The previous attempt never ended: its post may still be in flight and land later, after a look
  // for its marker found nothing. Look (and maybe send again) only once it can no longer land.
  if (message.interrupted_lease_until) {
    const settles = new Date(message.interrupted_lease_until.getTime() + INTERRUPTED_CALL_SETTLE_MS);
    if (settles > ctx.clock.now()) {
      await postpone(ctx, message, settles);
      return;
    }
  }
  if (message.attempts > MAX_DELIVERY_ATTEMPTS) {
    // Every earlier claim ran out without an answer (its worker died or hung each time): give up visibly.
    await markFailedAttempt(ctx, message, new Error(`delivery was attempted ${message.attempts - 1} times without ever finishing`));
    return;
  }
  const integrationId = message.integration_id;
  const openUntil = integrationId ? await ctx.breakers.openUntil(integrationId) : null;
  if (openUntil) {
    await postpone(ctx, message, openUntil);
    return;
  }
  let result: Record<string, unknown>;
  try {
    result = await send(ctx, message);
  } catch (error) {
    if (integrationId && isDeskhandError(error) && error.retryable) await ctx.breakers.recordFailure(integrationId, describeError(error));
    await markFailedAttempt(ctx, message, error);
    return;
  }
  if (integrationId) await ctx.breakers.recordSuccess(integrationId);
  try {
    await markDelivered(ctx, message, result, { decide: true });
  } catch (error) {
    if (isTransientFailure(error)) throw error;
    // The note is on the ticket but deciding what comes next failed for good: record the delivery
    // and leave the decision to a worker's claim, whose failure handling ends the request visibly
    // (otherwise this message would be claimed, found delivered and fail again, forever).
    ctx.logger.error({ messageId: message.id, requestId: message.request_id, error: describeError(error) }, 'deciding after the note failed; a worker takes the request up');
    await markDelivered(ctx, message, result, { decide: false });
  }
}

/** Try again at `until` without spending an attempt: the integration's breaker is open, or an interrupted attempt's call may still land. */
async function postpone(ctx: EngineContext, message: OutboxRow, until: Date): Promise<void> {
  await ctx.db
    .updateTable('outbox')
    .set((eb) => ({ attempts: eb('attempts', '-', 1), lease_until: null, next_attempt_at: until }))
    .where('id', '=', message.id)
    .where('status', '=', 'pending')
    .execute();
}

/**
 * Deliver a message through the capability it names, on its integration: a note on a ticket, a
 * ticket's status, a notice to technicians, a mail from the client's identity provider. Each looks
 * for a copy a previous attempt may have delivered (by its marker, or for a reply by its content)
 * before sending again; a status change is idempotent by itself (the ticket is set, not toggled).
 */
async function send(ctx: EngineContext, message: OutboxRow): Promise<Record<string, unknown>> {
  if (!message.integration_id) throw new Error('the message has no integration to go through');
  const ref = marker(message.idempotency_key);
  switch (message.kind) {
    case MESSAGE_CAPABILITY.note: {
      const payload = message.payload as NotePayload;
      const ticket = await ctx.integrations.ticketOf(message.integration_id);
      // The module decides where the marker lives (never where the employee reads it).
      const note = { text: payload.text, visibility: payload.visibility, marker: ref };
      // A previous attempt may have posted the note and died before recording it: look before writing again.
      if (message.attempts > 1) {
        const existing = await ticket.findNote(payload.ticketRef, note);
        if (existing) return { noteId: existing, reconciled: true };
      }
      const posted = await ticket.postNote(payload.ticketRef, note);
      return { noteId: posted.id };
    }
    case MESSAGE_CAPABILITY.status: {
      const payload = message.payload as unknown as TicketStatusPayload;
      // Deliveries may overtake each other (retries): a later phase already queued wins.
      if (await laterStatusQueued(ctx, message, payload.seq)) return { phase: payload.phase, skipped: 'a later status change of this request is queued' };
      const ticket = await ctx.integrations.ticketOf(message.integration_id);
      const change = await ticket.setStatus(payload.ticketRef, payload.byBoard);
      return { phase: payload.phase, ...change };
    }
    case MESSAGE_CAPABILITY.approvalNotice: {
      const payload = message.payload as NotePayload;
      const notice = await ctx.integrations.approvalNoticeOf(message.integration_id);
      if (message.attempts > 1) {
        const existing = await notice.findNoticeWithMarker(payload.ticketRef, ref);
        if (existing) return { noteId: existing, reconciled: true };
      }
      const posted = await notice.notify(payload.ticketRef, payload.text);
      return { noteId: posted.id };
    }
    case MESSAGE_CAPABILITY.mail: {
      const payload = message.payload as MailPayload;
      const identity = payload.clientId ? await ctx.integrations.identityForClient(payload.clientId) : null;
      if (!identity || identity.integrationId !== message.integration_id) throw new Error('the identity provider integration that sends this mail is gone');
      // Mail is sent without a message id to look up: its idempotency key, as a marker, finds it later.
      if (message.attempts > 1 && (await identity.mailAlreadySent(payload.from, payload.subject, message.idempotency_key))) {
        return { sent: true, reconciled: true };
      }
      await identity.sendMail(payload.from, { to: payload.to, subject: payload.subject, text: ctx.secrets.decrypt(payload.textBox), marker: message.idempotency_key });
      return { sent: true };
    }
    default:
      throw new Error(`unknown outbox message kind ${message.kind}`);
  }
}

/** Whether a status change of the same request queued after this one exists (it carries the newer phase). */
async function laterStatusQueued(ctx: EngineContext, message: OutboxRow, seq: number): Promise<boolean> {
  if (!message.request_id) return false;
  const later = await sql<{ one: number }>`
    SELECT 1 AS one FROM outbox
    WHERE request_id = ${message.request_id} AND kind = ${MESSAGE_CAPABILITY.status} AND (payload->>'seq')::int > ${seq}
    LIMIT 1`.execute(ctx.db);
  return later.rows.length > 0;
}

async function markDelivered(ctx: EngineContext, message: OutboxRow, result: Record<string, unknown>, options: { decide: boolean }): Promise<void> {
  const onDelivered = message.on_delivered as { requestState: RequestState } | null;
  await inTransaction(ctx.db, async (tx) => {
    const at = ctx.clock.now();
    // Locks in one order everywhere (request, then its rows, then the audit head): never the reverse.
    const request = onDelivered && message.request_id ? await lockRequest(tx, message.request_id) : undefined;
    // Mail carries a single-use link: once sent, the body is not kept.
    const payload = message.kind === MESSAGE_CAPABILITY.mail ? { ...(message.payload as Record<string, unknown>), textBox: null } : undefined;
    const updated = await tx
      .updateTable('outbox')
      .set({
        status: 'delivered',
        delivered_at: at,
        result: json(result),
        last_error: null,
        lease_until: null,
        ...(payload ? { payload: json(payload) } : {}),
      })
      .where('id', '=', message.id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) return;
    const purpose = (message.payload as { purpose?: string }).purpose ?? message.kind;
    await appendAudit(tx, {
      mspId: message.msp_id,
      requestId: message.request_id,
      actor: 'agent',
      event: `message.delivered`,
      data: { kind: message.kind, purpose, key: message.idempotency_key, ...result },
      at,
    });
    if (onDelivered && request && request.state !== onDelivered.requestState && !['planned', 'replied', 'escalated', 'failed'].includes(request.state)) {
      const decideHere = onDelivered.requestState === 'noted' && options.decide;
      const decideLater = onDelivered.requestState === 'noted' && !options.decide;
      await transitionRequest(tx, { request, to: onDelivered.requestState, at, actor: 'agent', dueAt: decideLater ? at : null, data: { after: purpose } });
      // The employee has the reply: the ticket moves to the board's `resolved` status, if mapped.
      if (onDelivered.requestState === 'replied') await enqueueTicketPhase(tx, request, 'resolved', at);
      // The note is on the ticket: the agent may act now, in this same transaction.
      if (decideHere) await decideLocked(ctx, tx, { ...request, state: 'noted', lease_owner: null, lease_until: null });
    }
  });
}

async function markFailedAttempt(ctx: EngineContext, message: OutboxRow, error: unknown): Promise<void> {
  const reason = describeError(error);
  const at = ctx.clock.now();
  const giveUp = message.attempts >= MAX_DELIVERY_ATTEMPTS || (isDeskhandError(error) && !error.retryable && error.code !== 'upstream');
  // A post that timed out may still land: look for it (and maybe post again) only once it cannot.
  const settleMs = isTimeout(error) ? INTERRUPTED_CALL_SETTLE_MS : 0;
  const waitMs = Math.max(isDeskhandError(error) ? (error.retryAfterMs ?? 0) : 0, settleMs, backoffMs(message.attempts, 1_000, 10 * 60_000));
  ctx.logger.warn({ messageId: message.id, kind: message.kind, attempts: message.attempts, giveUp, error: reason }, 'outbox delivery failed');
  const onDelivered = message.on_delivered as { requestState: RequestState } | null;
  await inTransaction(ctx.db, async (tx) => {
    // The request first, as in every transaction that touches both (see markDelivered).
    const request = giveUp && onDelivered && message.request_id ? await lockRequest(tx, message.request_id) : undefined;
    await tx
      .updateTable('outbox')
      .set({
        status: giveUp ? 'failed' : 'pending',
        last_error: reason,
        lease_until: null,
        next_attempt_at: new Date(at.getTime() + waitMs),
      })
      .where('id', '=', message.id)
      .execute();
    if (!giveUp) return;
    await appendAudit(tx, { mspId: message.msp_id, requestId: message.request_id, actor: 'agent', event: 'message.failed', data: { kind: message.kind, key: message.idempotency_key, error: reason }, at });
    // A request waiting on this message would wait forever: end it visibly, and tell technicians with
    // a short internal note of its own (a note refused for its content or size may still go through).
    if (request && !['planned', 'replied', 'escalated', 'failed'].includes(request.state)) {
      const purpose = (message.payload as { purpose?: string }).purpose ?? message.kind;
      const lastError = `could not deliver the ${purpose}: ${reason}`;
      const beforeChange = onDelivered?.requestState === 'noted' || request.state === 'noted' || request.state === 'diagnosing';
      await enqueueTicketNote(tx, request, {
        key: 'delivery-failed',
        purpose: 'escalation',
        visibility: 'internal',
        text: deliveryFailedNote({ requestId: request.id, purpose, error: reason, changed: !beforeChange && request.outcome === 'executed' }),
        at,
      });
      await transitionRequest(tx, {
        request,
        to: beforeChange ? 'escalated' : 'failed',
        outcome: beforeChange ? 'escalated' : 'failed',
        at,
        actor: 'agent',
        dueAt: null,
        lastError,
      });
    }
  });
}
