import { describeError, isDeskhandError } from '../core/errors.ts';
import { sql } from 'kysely';
import type { IntakeHost, RequestChannel } from '../integrations/module.ts';
import { storableText } from '../integrations/psa.ts';
import { json } from '../store/db.ts';
import { appendAudit, inTransaction } from '../store/audit.ts';
import { enqueueOutbox, MESSAGE_CAPABILITY, notifyWork } from '../store/requests.ts';
import type { EngineContext } from './context.ts';

/**
 * A new request from a channel. Recording it is all intake does (fast, one transaction): the worker
 * reads the ticket and diagnoses. The same ticket arriving twice (a retried webhook) is one request.
 */
export interface IntakeInput {
  mspId: string;
  clientId: string | null;
  channel: RequestChannel;
  sourceIntegrationId: string;
  externalRef: string;
  requesterEmail?: string | null;
  subject?: string;
  body?: string;
  via: string;
}

export async function receiveRequest(ctx: EngineContext, received: IntakeInput): Promise<{ requestId: string; created: boolean }> {
  const input = storableInput(received);
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
        // The internal note lives on the ticket the request came from.
        note_integration_id: input.sourceIntegrationId,
        note_ref: input.externalRef,
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

/** The text of what came in, as PostgreSQL can store it (see `storableText`). */
function storableInput(input: IntakeInput): IntakeInput {
  return {
    ...input,
    externalRef: storableText(input.externalRef),
    ...(input.requesterEmail ? { requesterEmail: storableText(input.requesterEmail) } : {}),
    ...(input.subject !== undefined ? { subject: storableText(input.subject) } : {}),
    ...(input.body !== undefined ? { body: storableText(input.body) } : {}),
  };
}

export type TakeInResult = { requestId: string; created: boolean } | { refused: string };

/**
 * A ticket from a channel's webhook or poll, taken in as a request; or, when the ticket itself is
 * what cannot be stored (the database refuses its data, or it is malformed), refused: recorded with
 * the reason (an audit event, and an internal note on the ticket for the technicians), so that one
 * bad ticket neither fails its webhook forever nor stops the poll. Other errors (the database is
 * down) are thrown: the ticket is tried again later.
 */
export async function takeInTicket(ctx: EngineContext, input: IntakeInput): Promise<TakeInResult> {
  try {
    return await receiveRequest(ctx, input);
  } catch (error) {
    if (!refusesTicket(error)) throw error;
    const reason = storableText(refusalReason(error));
    await recordRefusal(ctx, input, reason);
    ctx.logger.warn({ integrationId: input.sourceIntegrationId, externalRef: storableText(input.externalRef), reason }, 'refused a ticket that cannot be taken in');
    return { refused: reason };
  }
}

/**
 * PostgreSQL's classes of errors about the data itself: 22 (data exception: a value it cannot store),
 * 23 (integrity constraint violation), 54 (program limit exceeded: a value too large). Trying the
 * same ticket again gives the same answer; anything else may pass on a later try.
 */
const REFUSING_SQLSTATE_CLASSES = ['22', '23', '54'];

function refusesTicket(error: unknown): boolean {
  if (isDeskhandError(error)) return error.code === 'bad_request';
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length === 5 && REFUSING_SQLSTATE_CLASSES.includes(code.slice(0, 2));
}

function refusalReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (!isDeskhandError(error) && typeof code === 'string') {
    return `the database refused its data (SQLSTATE ${code}: ${error instanceof Error ? error.message : String(error)})`;
  }
  return describeError(error);
}

async function recordRefusal(ctx: EngineContext, input: IntakeInput, reason: string): Promise<void> {
  const externalRef = storableText(input.externalRef);
  const key = `intake-refused:${input.sourceIntegrationId}:${externalRef}`;
  await inTransaction(ctx.db, async (tx) => {
    // Refused once is enough: the webhook's retries and the poll may meet the same ticket again.
    const known = await tx.selectFrom('outbox').select('id').where('idempotency_key', '=', key).executeTakeFirst();
    if (known) return;
    const at = ctx.clock.now();
    await appendAudit(tx, {
      mspId: input.mspId,
      requestId: null,
      actor: input.via,
      event: 'intake.refused',
      data: { channel: input.channel, integrationId: input.sourceIntegrationId, externalRef, reason },
      at,
    });
    await enqueueOutbox(tx, {
      mspId: input.mspId,
      requestId: null,
      integrationId: input.sourceIntegrationId,
      kind: MESSAGE_CAPABILITY.note,
      key,
      payload: { ticketRef: externalRef, visibility: 'internal', purpose: 'intake_refused', text: refusalNote(reason) },
      at,
    });
  });
}

function refusalNote(reason: string): string {
  return ['deskhand could not take this ticket in, so it will not work on it: a technician should handle it.', `Reason: ${reason}`].join('\n');
}

/**
 * What an integration module's webhooks and poll may ask of deskhand (src/integrations/module.ts):
 * its own enabled integrations, connected; the clients linked to it; taking a request in; a cursor.
 */
export function intakeHost(ctx: EngineContext, onWork: () => void): IntakeHost {
  return {
    logger: ctx.logger,
    clock: ctx.clock,
    async integration(kind, id) {
      const row = await ctx.integrations.row(id).catch(() => null);
      if (!row || row.kind !== kind || !row.enabled) return null;
      return ctx.integrations.connected(row);
    },
    async clientByLink(integrationId, externalId) {
      const found = await ctx.db
        .selectFrom('client_links')
        .select('client_id')
        .where('integration_id', '=', integrationId)
        .where((eb) => eb(eb.fn('lower', ['external_id']), '=', externalId.toLowerCase()))
        .executeTakeFirst();
      return found ? { id: found.client_id } : null;
    },
    async linkedClients(integrationId) {
      const rows = await ctx.db.selectFrom('client_links').select(['client_id', 'external_id']).where('integration_id', '=', integrationId).execute();
      return rows.map((row) => ({ clientId: row.client_id, externalId: row.external_id }));
    },
    takeIn: (input) =>
      takeInTicket(ctx, {
        mspId: input.integration.mspId,
        clientId: input.clientId,
        channel: input.channel,
        sourceIntegrationId: input.integration.id,
        externalRef: input.externalRef,
        requesterEmail: input.requesterEmail ?? null,
        ...(input.subject !== undefined ? { subject: input.subject } : {}),
        ...(input.body !== undefined ? { body: input.body } : {}),
        via: input.via,
      }),
    wake: onWork,
    async claimCursor<T>(key: string, intervalMs: number) {
      const now = ctx.clock.now();
      const due = new Date(now.getTime() - intervalMs).toISOString();
      const claimed = await sql<{ value: T }>`
        UPDATE settings SET value = jsonb_set(value, '{polledAt}', to_jsonb(${now.toISOString()}::text))
        WHERE key = ${key} AND (value->>'polledAt') < ${due}
        RETURNING value`.execute(ctx.db);
      if (claimed.rows[0]) return { state: 'claimed' as const, value: claimed.rows[0].value };
      const exists = await ctx.db.selectFrom('settings').select('key').where('key', '=', key).executeTakeFirst();
      return exists ? { state: 'busy' as const } : { state: 'claimed' as const, value: null };
    },
    async saveCursor<T>(key: string, value: T) {
      await ctx.db
        .insertInto('settings')
        .values({ key, value: json(value) })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: json(value) }))
        .execute();
    },
  };
}
