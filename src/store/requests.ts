import { sql } from 'kysely';
import { assertTransition, type Outcome, type RequestState } from '../core/lifecycle.ts';
import { DeskhandError } from '../core/errors.ts';
import { appendAudit } from './audit.ts';
import { type Db, type DbOrTx, json, type Tx } from './db.ts';
import type { RequestRow } from './schema.ts';
import type { TicketPhase } from '../core/ticket-status.ts';

/** Wake-up channels: requests and outbox messages wake different loops, so neither polls for the other. */
export const WORK_CHANNELS = { requests: 'deskhand_requests', outbox: 'deskhand_outbox' } as const;
export type WorkKind = keyof typeof WORK_CHANNELS;

/** Wake workers after commit (NOTIFY is delivered when the transaction commits, once per channel). */
export async function notifyWork(tx: DbOrTx, kind: WorkKind = 'requests'): Promise<void> {
  await sql`select pg_notify(${WORK_CHANNELS[kind]}, '')`.execute(tx);
}

export interface TransitionInput {
  request: Pick<RequestRow, 'id' | 'msp_id' | 'state'>;
  to: RequestState;
  at: Date;
  actor: string;
  outcome?: Outcome;
  /** When the worker should look at the request next; null means it waits for something else. */
  dueAt: Date | null;
  data?: Record<string, unknown>;
  lastError?: string | null;
  /** Keep this worker's lease (the step goes on in the same claim), instead of releasing it. */
  keepLease?: boolean;
}

/**
 * Move a request along the lifecycle, inside the caller's transaction: checks the transition is
 * legal and that nobody moved the request meanwhile, records it in the audit chain, and wakes the
 * workers when there is more to do.
 */
export async function transitionRequest(tx: Tx, input: TransitionInput): Promise<void> {
  const from = input.request.state as RequestState;
  if (from !== input.to) assertTransition(from, input.to);
  const result = await tx
    .updateTable('requests')
    .set({
      state: input.to,
      ...(input.outcome ? { outcome: input.outcome } : {}),
      due_at: input.dueAt,
      ...(input.keepLease ? {} : { lease_owner: null, lease_until: null }),
      updated_at: input.at,
      ...(input.lastError !== undefined ? { last_error: input.lastError } : {}),
      ...(from !== input.to ? { attempts: 0 } : {}),
    })
    .where('id', '=', input.request.id)
    .where('state', '=', from)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) {
    throw new DeskhandError('conflict', `request ${input.request.id} is no longer ${from}`);
  }
  await appendAudit(tx, {
    mspId: input.request.msp_id,
    requestId: input.request.id,
    actor: input.actor,
    event: from === input.to ? `request.${input.to}.again` : `request.${input.to}`,
    data: { from, to: input.to, ...(input.outcome ? { outcome: input.outcome } : {}), ...(input.data ?? {}) },
    at: input.at,
  });
  if (input.dueAt) await notifyWork(tx);
}

export interface OutboxInput {
  mspId: string;
  requestId: string | null;
  integrationId: string | null;
  kind: string;
  key: string;
  payload: Record<string, unknown>;
  /** The request state to move to once this message is delivered (e.g. a reply makes it `replied`). */
  onDelivered?: { requestState: RequestState } | null;
  at: Date;
  /** False when the caller delivers it itself right after commit (the outbox loop remains the fallback). */
  wake?: boolean;
}

/** Queue a message; a second call with the same idempotency key changes nothing. */
export async function enqueueOutbox(tx: Tx, input: OutboxInput): Promise<void> {
  await tx
    .insertInto('outbox')
    .values({
      id: crypto.randomUUID(),
      msp_id: input.mspId,
      request_id: input.requestId,
      integration_id: input.integrationId,
      kind: input.kind,
      idempotency_key: input.key,
      payload: json(input.payload),
      on_delivered: input.onDelivered ? json(input.onDelivered) : null,
      status: 'pending',
      next_attempt_at: input.at,
      created_at: input.at,
    })
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .execute();
  if (input.wake !== false) await notifyWork(tx, 'outbox');
}

/** The capabilities outbox messages go through (an integration's module answers each). */
export const MESSAGE_CAPABILITY = { note: 'ticket.note', status: 'ticket.status', approvalNotice: 'approval.notice', mail: 'identity.mail' } as const;

/**
 * Queue a note where the request's internal note lives (the ticket it came from, unless it came by a
 * channel without tickets): internal (technicians) or customer-visible (the employee's reply). An
 * approval notification goes through the approval-notice capability. The key is the request id and
 * the note's purpose, so a note is queued once.
 */
export async function enqueueTicketNote(
  tx: Tx,
  request: Pick<RequestRow, 'id' | 'msp_id' | 'source_integration_id' | 'external_ref' | 'note_integration_id' | 'note_ref'>,
  note: {
    key: string;
    purpose: string;
    visibility: 'internal' | 'customer';
    text: string;
    at: Date;
    onDelivered?: { requestState: RequestState } | null;
    wake?: boolean;
  },
): Promise<void> {
  await enqueueOutbox(tx, {
    mspId: request.msp_id,
    requestId: request.id,
    integrationId: request.note_integration_id ?? request.source_integration_id,
    kind: note.purpose === 'approval_notification' ? MESSAGE_CAPABILITY.approvalNotice : MESSAGE_CAPABILITY.note,
    key: `${request.id}:${note.key}`,
    payload: { ticketRef: request.note_ref ?? request.external_ref, visibility: note.visibility, purpose: note.purpose, text: note.text },
    onDelivered: note.onDelivered ?? null,
    at: note.at,
    ...(note.wake === false ? { wake: false } : {}),
  });
}

export async function lockRequest(tx: Tx, id: string): Promise<RequestRow | undefined> {
  return tx.selectFrom('requests').selectAll().where('id', '=', id).forNoKeyUpdate().executeTakeFirst();
}

export type ClaimedRequest = RequestRow & { claimed_state: string };

/**
 * Claim one due request for this worker: due, and not leased by a live worker (a lease runs out
 * when its worker stops renewing it). SKIP LOCKED lets several processes share the table without
 * waiting on each other. A `received` request becomes `diagnosing` in the same statement.
 */
export async function claimDueRequest(db: Db, workerId: string, now: Date, leaseMs: number): Promise<ClaimedRequest | undefined> {
  const leaseUntil = new Date(now.getTime() + leaseMs);
  const result = await sql<ClaimedRequest>`
    WITH picked AS (
      SELECT id, state FROM requests
      WHERE due_at IS NOT NULL AND due_at <= ${now}
        AND (lease_until IS NULL OR lease_until < ${now})
      ORDER BY due_at
      LIMIT 1
      FOR NO KEY UPDATE SKIP LOCKED
    )
    UPDATE requests r SET lease_owner = ${workerId}, lease_until = ${leaseUntil}, attempts = r.attempts + 1,
      state = CASE WHEN picked.state = 'received' THEN 'diagnosing' ELSE r.state END
    FROM picked WHERE r.id = picked.id
    RETURNING r.*, picked.state AS claimed_state`.execute(db);
  return result.rows[0];
}

/**
 * Keep this worker's leases alive while it works on them. A row another transaction has locked is
 * skipped (the next heartbeat renews it): renewals that waited for row locks deadlocked with each
 * other and with other transactions ("deadlock detected" between two renewals under load), and a
 * renewal stuck behind a lock lets every lease it carries run out.
 */
export async function renewLeases(db: Db, table: 'requests' | 'outbox', workerId: string, ids: string[], leaseUntil: Date): Promise<void> {
  if (ids.length === 0) return;
  if (table === 'requests') {
    await sql`UPDATE requests SET lease_until = ${leaseUntil} WHERE id IN (
      SELECT id FROM requests WHERE lease_owner = ${workerId} AND id = ANY(${ids}::uuid[]) FOR NO KEY UPDATE SKIP LOCKED)`.execute(db);
  } else {
    await sql`UPDATE outbox SET lease_until = ${leaseUntil} WHERE id IN (
      SELECT id FROM outbox WHERE status = 'pending' AND id = ANY(${ids}::uuid[]) FOR NO KEY UPDATE SKIP LOCKED)`.execute(db);
  }
}

/**
 * Give a claimed request back to be retried later, keeping its state. Every claim counts an attempt
 * (so a request whose claims keep running out is noticed); `countAttempt: false` gives this claim's
 * attempt back when the wait is not a failure of the request (a breaker open, a call settling) or is
 * bounded elsewhere (a step's own attempts).
 */
export async function retryRequestLater(
  db: Db,
  id: string,
  workerId: string,
  dueAt: Date,
  error: string,
  at: Date,
  options: { countAttempt?: boolean } = {},
): Promise<void> {
  await db
    .updateTable('requests')
    .set((eb) => ({
      due_at: dueAt,
      lease_owner: null,
      lease_until: null,
      last_error: error,
      updated_at: at,
      ...(options.countAttempt === false ? { attempts: sql<number>`greatest(${eb.ref('attempts')} - 1, 0)` } : {}),
    }))
    .where('id', '=', id)
    .where('lease_owner', '=', workerId)
    .execute();
}

/** A ticket status change queued in the outbox: the phase, the status each board maps it to, its place in the request's changes. */
export interface TicketStatusPayload {
  ticketRef: string;
  phase: TicketPhase;
  byBoard: Record<string, string>;
  /** 1, 2, 3 … per request: a change is skipped when a later one of the same request is queued. */
  seq: number;
  purpose: string;
}

/**
 * Queue the move of the request's ticket into `phase`, inside the caller's transaction (which holds
 * the request's lock, so the order of a request's changes is the order they were queued in). Nothing
 * is queued when the ticket's integration maps no board's status for that phase.
 */
export async function enqueueTicketPhase(
  tx: Tx,
  request: Pick<RequestRow, 'id' | 'msp_id' | 'source_integration_id' | 'external_ref' | 'note_integration_id' | 'note_ref'>,
  phase: TicketPhase,
  at: Date,
): Promise<void> {
  const integrationId = request.note_integration_id ?? request.source_integration_id;
  if (!integrationId) return;
  const mapped = await tx.selectFrom('ticket_statuses').select(['board', 'status']).where('integration_id', '=', integrationId).where('phase', '=', phase).execute();
  if (mapped.length === 0) return;
  const queued = await tx
    .selectFrom('outbox')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('request_id', '=', request.id)
    .where('kind', '=', MESSAGE_CAPABILITY.status)
    .executeTakeFirst();
  const seq = Number(queued?.n ?? 0) + 1;
  const payload: TicketStatusPayload = {
    ticketRef: request.note_ref ?? request.external_ref,
    phase,
    byBoard: Object.fromEntries(mapped.map((row) => [row.board, row.status])),
    seq,
    purpose: `status_${phase}`,
  };
  await enqueueOutbox(tx, {
    mspId: request.msp_id,
    requestId: request.id,
    integrationId,
    kind: MESSAGE_CAPABILITY.status,
    key: `${request.id}:status-${seq}-${phase}`,
    payload: payload as unknown as Record<string, unknown>,
    at,
  });
}
