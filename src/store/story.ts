import type { ApprovalRow, PlanStep, RequestRow, RequestStory } from '../api/contract.ts';
import type { Db } from './db.ts';

/**
 * Read models for the API and the dashboard: a request's whole story and the lists technicians work
 * from, in the contract's shapes (src/api/contract.ts: camelCase keys, a client as an object).
 * Always scoped to one MSP: another MSP's ids are simply not found.
 */

/** A client as answers name it, from a left join (null when the request has none). */
function clientRef(row: { client_id: string | null; client_slug: string | null; client_name: string | null }) {
  return row.client_id && row.client_slug !== null && row.client_name !== null ? { id: row.client_id, slug: row.client_slug, name: row.client_name } : null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function listRequests(
  db: Db,
  mspId: string,
  options: { state?: string | undefined; client?: string | undefined; limit: number; before?: Date | undefined },
): Promise<RequestRow[]> {
  let query = db
    .selectFrom('requests')
    .leftJoin('clients', 'clients.id', 'requests.client_id')
    .select([
      'requests.id',
      'requests.state',
      'requests.outcome',
      'requests.operating_mode',
      'requests.channel',
      'requests.external_ref',
      'requests.requester_email',
      'requests.subject',
      'requests.created_at',
      'requests.updated_at',
      'requests.client_id',
      'clients.slug as client_slug',
      'clients.name as client_name',
    ])
    .where('requests.msp_id', '=', mspId)
    .orderBy('requests.created_at', 'desc')
    .limit(options.limit);
  if (options.state) query = query.where('requests.state', '=', options.state);
  // A client by its id or its slug (a slug is never a UUID).
  const client = options.client;
  if (client) query = UUID.test(client) ? query.where('requests.client_id', '=', client) : query.where('clients.slug', '=', client);
  if (options.before) query = query.where('requests.created_at', '<', options.before);
  const rows = await query.execute();
  return rows.map((row) => ({
    id: row.id,
    client: clientRef(row),
    channel: row.channel,
    externalRef: row.external_ref,
    requesterEmail: row.requester_email,
    subject: row.subject,
    state: row.state,
    outcome: row.outcome,
    operatingMode: row.operating_mode,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  }));
}

export async function listApprovals(db: Db, mspId: string, options: { status?: string | undefined; limit: number }): Promise<ApprovalRow[]> {
  let query = db
    .selectFrom('approvals')
    .innerJoin('requests', 'requests.id', 'approvals.request_id')
    .innerJoin('plans', 'plans.id', 'approvals.plan_id')
    .leftJoin('clients', 'clients.id', 'requests.client_id')
    .select([
      'approvals.id',
      'approvals.kind',
      'approvals.status',
      'approvals.plan_hash',
      'approvals.approver_email',
      'approvals.decided_by',
      'approvals.decided_at',
      'approvals.comment',
      'approvals.created_at',
      'approvals.expires_at',
      'approvals.request_id',
      'requests.requester_email',
      'requests.subject',
      'requests.state as request_state',
      'requests.client_id',
      'plans.steps',
      'plans.summary',
      'clients.slug as client_slug',
      'clients.name as client_name',
    ])
    .where('approvals.msp_id', '=', mspId)
    .orderBy('approvals.created_at', 'desc')
    .limit(options.limit);
  if (options.status) query = query.where('approvals.status', '=', options.status as never);
  const rows = await query.execute();
  return rows.map((row) => ({
    id: row.id,
    kind: row.kind,
    status: row.status,
    planHash: row.plan_hash,
    approverEmail: row.approver_email,
    decidedBy: row.decided_by,
    decidedAt: row.decided_at?.toISOString() ?? null,
    comment: row.comment,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    requestId: row.request_id,
    requesterEmail: row.requester_email,
    subject: row.subject,
    requestState: row.request_state,
    client: clientRef(row),
    summary: row.summary,
    steps: row.steps as PlanStep[],
  }));
}

export async function loadRequestStory(db: Db, mspId: string, requestId: string): Promise<RequestStory | undefined> {
  const request = await db
    .selectFrom('requests')
    .leftJoin('clients', 'clients.id', 'requests.client_id')
    .selectAll('requests')
    .select(['clients.slug as client_slug', 'clients.name as client_name'])
    .where('requests.id', '=', requestId)
    .where('requests.msp_id', '=', mspId)
    .executeTakeFirst();
  if (!request) return undefined;
  const [diagnosis, plan, approvals, steps, messages, audit] = await Promise.all([
    db.selectFrom('diagnoses').selectAll().where('request_id', '=', requestId).executeTakeFirst(),
    db.selectFrom('plans').selectAll().where('request_id', '=', requestId).executeTakeFirst(),
    db
      .selectFrom('approvals')
      .select(['id', 'kind', 'status', 'plan_hash', 'approver_email', 'approver_name', 'decided_by', 'decided_at', 'comment', 'created_at', 'expires_at'])
      .where('request_id', '=', requestId)
      .orderBy('created_at')
      .execute(),
    db
      .selectFrom('step_executions')
      .select([
        'step_index',
        'tool',
        'idempotency_key',
        'status',
        'attempts',
        'summary',
        'result',
        'error',
        'started_at',
        'finished_at',
        'secret_revealed_at',
        'secret_for_user_id',
        (eb) => eb('secret_encrypted', 'is not', null).as('secret_available'),
      ])
      .where('request_id', '=', requestId)
      .orderBy('step_index')
      .execute(),
    db
      .selectFrom('outbox')
      .select(['kind', 'idempotency_key', 'payload', 'status', 'attempts', 'last_error', 'created_at', 'delivered_at'])
      .where('request_id', '=', requestId)
      .orderBy('created_at')
      .execute(),
    db.selectFrom('audit_log').select(['seq', 'actor', 'event', 'data', 'at', 'hash']).where('request_id', '=', requestId).where('msp_id', '=', mspId).orderBy('seq').execute(),
  ]);
  const iso = (at: Date | null) => at?.toISOString() ?? null;
  return {
    request: {
      id: request.id,
      client: clientRef(request),
      channel: request.channel,
      externalRef: request.external_ref,
      requesterEmail: request.requester_email,
      subject: request.subject,
      body: request.body,
      state: request.state,
      outcome: request.outcome,
      operatingMode: request.operating_mode,
      attempts: request.attempts,
      lastError: request.last_error,
      dueAt: iso(request.due_at),
      createdAt: request.created_at.toISOString(),
      updatedAt: request.updated_at.toISOString(),
    },
    diagnosis: diagnosis ? { requester: diagnosis.requester, manager: diagnosis.manager, reads: diagnosis.reads, createdAt: diagnosis.created_at.toISOString() } : null,
    plan: plan
      ? {
          id: plan.id,
          planner: plan.planner,
          outcome: plan.outcome,
          summary: plan.summary,
          reasons: plan.reasons,
          replyToEmployee: plan.reply_to_employee,
          steps: plan.steps as PlanStep[],
          stepPolicies: plan.step_policies,
          canonical: plan.canonical,
          hash: plan.hash,
          operatingMode: plan.operating_mode,
          needsTechnician: plan.needs_technician,
          needsManager: plan.needs_manager,
          rejectedProblems: plan.rejected_problems,
          createdAt: plan.created_at.toISOString(),
        }
      : null,
    approvals: approvals.map((a) => ({
      id: a.id,
      kind: a.kind,
      status: a.status,
      planHash: a.plan_hash,
      approverEmail: a.approver_email,
      approverName: a.approver_name,
      decidedBy: a.decided_by,
      decidedAt: iso(a.decided_at),
      comment: a.comment,
      createdAt: a.created_at.toISOString(),
      expiresAt: a.expires_at.toISOString(),
    })),
    steps: steps.map((s) => ({
      stepIndex: s.step_index,
      tool: s.tool,
      idempotencyKey: s.idempotency_key,
      status: s.status,
      attempts: s.attempts,
      summary: s.summary,
      result: s.result,
      error: s.error,
      startedAt: s.started_at.toISOString(),
      finishedAt: iso(s.finished_at),
      secretAvailable: Boolean(s.secret_available),
      secretForUserId: s.secret_for_user_id,
      secretRevealedAt: iso(s.secret_revealed_at),
    })),
    messages: messages.map((m) => ({
      kind: m.kind,
      idempotencyKey: m.idempotency_key,
      payload: m.payload,
      status: m.status,
      attempts: m.attempts,
      lastError: m.last_error,
      createdAt: m.created_at.toISOString(),
      deliveredAt: iso(m.delivered_at),
    })),
    audit: audit.map((row) => ({ seq: String(row.seq), actor: row.actor, event: row.event, data: row.data, at: row.at.toISOString(), hash: row.hash })),
  };
}
