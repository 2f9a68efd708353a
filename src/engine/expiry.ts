import { sql } from 'kysely';
import { appendAudit } from '../store/audit.ts';
import { enqueueOutbox, lockRequest } from '../store/requests.ts';
import type { EngineContext } from './context.ts';
import { expiredReply } from './messages.ts';

/**
 * The 24-hour expiry, swept from rows: pending approvals past `expires_at` become `expired`, and
 * each request still awaiting approval gets its outcome and its reply queued. Safe with many
 * workers: each batch claims its rows with SKIP LOCKED, so every approval expires exactly once.
 * Returns how many approvals expired.
 */
export async function sweepExpiredApprovals(ctx: EngineContext, batchSize = 500): Promise<number> {
  let total = 0;
  for (;;) {
    const expired = await ctx.db.transaction().execute(async (tx) => {
      const at = ctx.clock.now();
      const rows = await sql<{ id: string; request_id: string; msp_id: string; kind: string }>`
        UPDATE approvals SET status = 'expired', decided_at = ${at}
        WHERE id IN (
          SELECT id FROM approvals WHERE status = 'pending' AND expires_at <= ${at}
          ORDER BY expires_at LIMIT ${batchSize} FOR UPDATE SKIP LOCKED
        )
        RETURNING id, request_id, msp_id, kind`.execute(tx);
      if (rows.rows.length === 0) return 0;
      const requestIds = [...new Set(rows.rows.map((r) => r.request_id))].sort();
      const events = rows.rows.map((r) => ({
        mspId: r.msp_id,
        requestId: r.request_id,
        actor: 'agent',
        event: 'approval.expired',
        data: { approvalId: r.id, kind: r.kind },
        at,
      }));
      for (const requestId of requestIds) {
        const request = await lockRequest(tx, requestId);
        if (!request || request.state !== 'awaiting_approval' || request.outcome) continue;
        await tx.updateTable('approvals').set({ status: 'cancelled', decided_at: at }).where('request_id', '=', requestId).where('status', '=', 'pending').execute();
        await enqueueOutbox(tx, {
          mspId: request.msp_id,
          requestId,
          integrationId: request.source_integration_id,
          kind: 'psa_note',
          key: `${requestId}:reply`,
          payload: { ticketRef: request.external_ref, visibility: 'customer', purpose: 'reply', text: expiredReply({ requestId }) },
          onDelivered: { requestState: 'replied' },
          at,
        });
        await tx.updateTable('requests').set({ outcome: 'expired', updated_at: at }).where('id', '=', requestId).execute();
        events.push({ mspId: request.msp_id, requestId, actor: 'agent', event: 'request.expired', data: { approvalId: '', kind: 'request' }, at });
      }
      await appendAudit(tx, events);
      return rows.rows.length;
    });
    total += expired;
    if (expired < batchSize) return total;
  }
}
