import { appendAudit, inTransaction } from '../store/audit.ts';
import { notifyWork } from '../store/requests.ts';
import type { EngineContext } from './context.ts';

/**
 * A new request from a channel. Recording it is all intake does (fast, one transaction): the worker
 * reads the ticket and diagnoses. The same ticket arriving twice (a retried webhook) is one request.
 */
export interface IntakeInput {
  mspId: string;
  clientId: string | null;
  channel: 'psa';
  sourceIntegrationId: string;
  externalRef: string;
  requesterEmail?: string | null;
  subject?: string;
  body?: string;
  via: string;
}

export async function receiveRequest(ctx: EngineContext, input: IntakeInput): Promise<{ requestId: string; created: boolean }> {
  return inTransaction(ctx.db, async (tx) => {
    const at = ctx.clock.now();
    const id = crypto.randomUUID();
    const inserted = await tx
      .insertInto('requests')
      .values({
        id,
        msp_id: input.mspId,
        client_id: input.clientId,
        channel: input.channel,
        source_integration_id: input.sourceIntegrationId,
        external_ref: input.externalRef,
        requester_email: (input.requesterEmail ?? '').toLowerCase(),
        subject: input.subject ?? '',
        body: input.body ?? '',
        state: 'received',
        due_at: at,
        created_at: at,
        updated_at: at,
      })
      .onConflict((oc) => oc.columns(['source_integration_id', 'external_ref']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) {
      const existing = await tx
        .selectFrom('requests')
        .select('id')
        .where('source_integration_id', '=', input.sourceIntegrationId)
        .where('external_ref', '=', input.externalRef)
        .executeTakeFirstOrThrow();
      return { requestId: existing.id, created: false };
    }
    await appendAudit(tx, {
      mspId: input.mspId,
      requestId: id,
      actor: input.via,
      event: 'request.received',
      data: { channel: input.channel, externalRef: input.externalRef, integrationId: input.sourceIntegrationId },
      at,
    });
    await notifyWork(tx, 'requests');
    return { requestId: id, created: true };
  });
}
