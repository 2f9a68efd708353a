import { sql } from 'kysely';
import { type AuditEvent, appendAudit, inTransaction } from '../store/audit.ts';
import { json } from '../store/db.ts';
import { MESSAGE_CAPABILITY, notifyWork } from '../store/requests.ts';
import type { EngineContext } from './context.ts';
import { decisionNote, expiredReply } from './messages.ts';

/**
 * The 24-hour expiry, swept from rows: pending approvals past `expires_at` become `expired`, and
 * each request still awaiting approval gets its outcome and its reply queued (set-based, a batch
 * at a time, so 10,000 approvals expiring at once cost a few dozen statements). Safe with many
 * workers: each batch claims its rows with SKIP LOCKED, so every approval expires exactly once.
 * Returns how many approvals expired.
 */
export async function sweepExpiredApprovals(ctx: EngineContext, batchSize = 500): Promise<number> {
  let total = 0;
  for (;;) {
    const { expired, requests } = await inTransaction(ctx.db, (tx) => sweepBatch(ctx, tx, batchSize));
    total += expired;
    if (requests < batchSize) return total;
  }
}

async function sweepBatch(ctx: EngineContext, tx: Parameters<typeof appendAudit>[0], batchSize: number): Promise<{ expired: number; requests: number }> {
  const at = ctx.clock.now();
  // Requests first, then their approvals: the order every decision takes its locks in. A request
  // being decided right now is skipped (SKIP LOCKED) and met by the next sweep, if still pending.
  const due = await sql<{ request_id: string }>`
    SELECT DISTINCT request_id FROM approvals WHERE status = 'pending' AND expires_at <= ${at} LIMIT ${batchSize}`.execute(tx);
  if (due.rows.length === 0) return { expired: 0, requests: 0 };
  const locked = await sql<{ id: string; msp_id: string; external_ref: string; source_integration_id: string | null; note_integration_id: string | null; note_ref: string | null; state: string; outcome: string | null }>`
    SELECT id, msp_id, external_ref, source_integration_id, note_integration_id, note_ref, state, outcome FROM requests
    WHERE id = ANY(${due.rows.map((r) => r.request_id)}::uuid[])
    ORDER BY id FOR NO KEY UPDATE SKIP LOCKED`.execute(tx);
  if (locked.rows.length === 0) return { expired: 0, requests: 0 };
  const approvals = await sql<{ id: string; request_id: string; msp_id: string; kind: string }>`
    UPDATE approvals SET status = 'expired', decided_at = ${at}
    WHERE request_id = ANY(${locked.rows.map((r) => r.id)}::uuid[]) AND status = 'pending' AND expires_at <= ${at}
    RETURNING id, request_id, msp_id, kind`.execute(tx);
  if (approvals.rows.length === 0) return { expired: 0, requests: locked.rows.length };
  // Only requests still waiting are answered (a decision may have come first).
  const expiredRequests = new Set(approvals.rows.map((r) => r.request_id));
  const waiting = { rows: locked.rows.filter((r) => expiredRequests.has(r.id) && r.state === 'awaiting_approval' && r.outcome === null) };
  const events: AuditEvent[] = approvals.rows.map((r) => ({
    mspId: r.msp_id,
    requestId: r.request_id,
    actor: 'agent',
    event: 'approval.expired',
    data: { approvalId: r.id, kind: r.kind },
    at,
  }));
  // Each expired approval is recorded on its ticket for technicians, as a decision is (once: keyed by approval).
  const byRequest = new Map(locked.rows.map((r) => [r.id, r]));
  const waitingIds = new Set(waiting.rows.map((r) => r.id));
  await tx
    .insertInto('outbox')
    .values(
      approvals.rows.map((a) => {
        const r = byRequest.get(a.request_id)!;
        return {
          id: crypto.randomUUID(),
          msp_id: r.msp_id,
          request_id: r.id,
          integration_id: r.note_integration_id ?? r.source_integration_id,
          kind: MESSAGE_CAPABILITY.note,
          idempotency_key: `${r.id}:decision-${a.id}`,
          payload: json({
            ticketRef: r.note_ref ?? r.external_ref,
            visibility: 'internal',
            purpose: 'decision_note',
            text: decisionNote({ kind: a.kind === 'manager' ? 'manager' : 'technician', status: 'expired', by: null, role: null, at, comment: null, next: waitingIds.has(r.id) ? 'replied' : 'moved_on' }),
          }),
          on_delivered: null,
          status: 'pending' as const,
          next_attempt_at: at,
          created_at: at,
        };
      }),
    )
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .execute();
  await notifyWork(tx, 'outbox');
  if (waiting.rows.length > 0) {
    const ids = waiting.rows.map((r) => r.id);
    await sql`UPDATE approvals SET status = 'cancelled', decided_at = ${at} WHERE request_id = ANY(${ids}::uuid[]) AND status = 'pending'`.execute(tx);
    await sql`UPDATE requests SET outcome = 'expired', updated_at = ${at} WHERE id = ANY(${ids}::uuid[])`.execute(tx);
    await tx
      .insertInto('outbox')
      .values(
        waiting.rows.map((r) => ({
          id: crypto.randomUUID(),
          msp_id: r.msp_id,
          request_id: r.id,
          integration_id: r.note_integration_id ?? r.source_integration_id,
          kind: MESSAGE_CAPABILITY.note,
          idempotency_key: `${r.id}:reply`,
          payload: json({ ticketRef: r.note_ref ?? r.external_ref, visibility: 'customer', purpose: 'reply', text: expiredReply() }),
          on_delivered: json({ requestState: 'replied' }),
          status: 'pending' as const,
          next_attempt_at: at,
          created_at: at,
        })),
      )
      .onConflict((oc) => oc.column('idempotency_key').doNothing())
      .execute();
    for (const r of waiting.rows) {
      events.push({ mspId: r.msp_id, requestId: r.id, actor: 'agent', event: 'request.expired', data: { outcome: 'expired' }, at });
    }
    await notifyWork(tx, 'outbox');
  }
  await appendAudit(tx, events);
  return { expired: approvals.rows.length, requests: due.rows.length };
}
