import { sql } from 'kysely';
import type { ApprovalRow, PlanReview, PlanStep, RequestRow, RequestStory, ToolCall, ToolCallList } from '../api/contract.ts';
import type { PlannerContext, PlannerUsage } from '../core/plan.ts';
import { MESSAGE_CAPABILITY } from './requests.ts';
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

/** The filters of the request list (each optional; together they narrow it). */
export interface RequestFilters {
  client?: string | undefined;
  channel?: string | undefined;
  state?: string | undefined;
  outcome?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  /** Text in the subject, the requester's email or the external reference (case-insensitive). */
  q?: string | undefined;
}

/**
 * A keyset cursor: the last row's creation time (as PostgreSQL writes it, microseconds kept) and id.
 * Opaque to callers; paging by it stays stable while new requests arrive (they sort before it).
 */
export function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

/** A timestamptz as PostgreSQL writes it as text (`2026-01-10 09:00:00.123456+00`). */
const PG_TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2}){0,2}$/;

export function decodeCursor(cursor: string): { createdAt: string; id: string } | undefined {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(value) || value.length !== 2) return undefined;
    const [createdAt, id] = value as unknown[];
    if (typeof createdAt !== 'string' || typeof id !== 'string' || !UUID.test(id) || !PG_TIMESTAMP.test(createdAt)) return undefined;
    return { createdAt, id };
  } catch {
    return undefined;
  }
}

/** `%`, `_` and `\` match themselves in a LIKE pattern built from the caller's text. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function filteredRequests(db: Db, mspId: string, filters: RequestFilters, options: { withState: boolean }) {
  let query = db.selectFrom('requests').leftJoin('clients', 'clients.id', 'requests.client_id').where('requests.msp_id', '=', mspId);
  // A client by its id or its slug (a slug is never a UUID).
  const client = filters.client;
  if (client) query = UUID.test(client) ? query.where('requests.client_id', '=', client) : query.where('clients.slug', '=', client);
  if (filters.channel) query = query.where('requests.channel', '=', filters.channel);
  if (options.withState && filters.state) query = query.where('requests.state', '=', filters.state);
  if (filters.outcome) query = query.where('requests.outcome', '=', filters.outcome);
  if (filters.from) query = query.where('requests.created_at', '>=', filters.from);
  if (filters.to) query = query.where('requests.created_at', '<', filters.to);
  if (filters.q) {
    const pattern = likePattern(filters.q);
    query = query.where((eb) =>
      eb.or([
        eb(sql`requests.subject`, 'ilike', sql`${pattern} escape '\\'`),
        eb(sql`requests.requester_email`, 'ilike', sql`${pattern} escape '\\'`),
        eb(sql`requests.external_ref`, 'ilike', sql`${pattern} escape '\\'`),
      ]),
    );
  }
  return query;
}

export interface RequestPage {
  requests: RequestRow[];
  nextCursor: string | null;
  total: number;
  /** Requests per state with every filter but the state (the filter chips). */
  stateCounts: { state: string; count: number }[];
}

export async function listRequests(
  db: Db,
  mspId: string,
  options: RequestFilters & { limit: number; before?: Date | undefined; cursor?: { createdAt: string; id: string } | undefined },
): Promise<RequestPage> {
  let query = filteredRequests(db, mspId, options, { withState: true })
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
      sql<string>`requests.created_at::text`.as('created_at_text'),
    ])
    .orderBy('requests.created_at', 'desc')
    .orderBy('requests.id', 'desc')
    .limit(options.limit + 1);
  if (options.before) query = query.where('requests.created_at', '<', options.before);
  const cursor = options.cursor;
  if (cursor) query = query.where(sql<boolean>`(requests.created_at, requests.id) < (${cursor.createdAt}::timestamptz, ${cursor.id}::uuid)`);
  const [rows, counts] = await Promise.all([
    query.execute(),
    filteredRequests(db, mspId, options, { withState: false })
      .select(['requests.state', (eb) => eb.fn.countAll<string>().as('n')])
      .groupBy('requests.state')
      .execute(),
  ]);
  const page = rows.slice(0, options.limit);
  const last = page.at(-1);
  // A list of states, not an object keyed by them: answers have camelCase keys only, and states are snake_case.
  const stateCounts = counts.map((row) => ({ state: row.state, count: Number(row.n) })).sort((a, b) => a.state.localeCompare(b.state));
  const total = options.state ? (stateCounts.find((row) => row.state === options.state)?.count ?? 0) : stateCounts.reduce((sum, row) => sum + row.count, 0);
  return {
    requests: page.map((row) => ({
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
    })),
    nextCursor: rows.length > options.limit && last ? encodeCursor(last.created_at_text, last.id) : null,
    total,
    stateCounts,
  };
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
          usage: (plan.usage ?? null) as PlannerUsage | null,
          plannerContext: (plan.planner_context ?? null) as PlannerContext | null,
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

/** A client of the MSP by its id, or undefined (another MSP's client is not found either). */
async function findClient(db: Db, mspId: string, clientId: string) {
  if (!UUID.test(clientId)) return undefined;
  return db.selectFrom('clients').select(['id', 'slug', 'name']).where('id', '=', clientId).where('msp_id', '=', mspId).executeTakeFirst();
}

/**
 * A client's Plan Mode requests, newest first: the internal note as it was posted to the ticket and
 * the plan behind it, each step with the policy it met. What a technician reads before switching the
 * client to Execute Mode.
 */
export async function loadPlanReview(db: Db, mspId: string, clientId: string): Promise<PlanReview | undefined> {
  const client = await findClient(db, mspId, clientId);
  if (!client) return undefined;
  const rows = await db
    .selectFrom('requests')
    .innerJoin('plans', 'plans.request_id', 'requests.id')
    .select([
      'requests.id',
      'requests.subject',
      'requests.requester_email',
      'requests.state',
      'requests.channel',
      'requests.external_ref',
      'requests.created_at',
      'plans.outcome',
      'plans.summary',
      'plans.steps',
      'plans.step_policies',
      'plans.hash',
      'plans.created_at as plan_created_at',
    ])
    .where('requests.msp_id', '=', mspId)
    .where('requests.client_id', '=', client.id)
    .where('plans.operating_mode', '=', 'plan')
    .orderBy('requests.created_at', 'desc')
    .orderBy('requests.id', 'desc')
    .limit(200)
    .execute();
  const notes = rows.length
    ? await db
        .selectFrom('outbox')
        .select(['request_id', 'payload', 'status', 'delivered_at'])
        .where('msp_id', '=', mspId)
        .where(
          'request_id',
          'in',
          rows.map((row) => row.id),
        )
        .where('kind', '=', MESSAGE_CAPABILITY.note)
        .where(sql<boolean>`payload->>'purpose' = 'internal_note'`)
        .execute()
    : [];
  const noteOf = new Map(notes.map((note) => [note.request_id, note]));
  return {
    client,
    requests: rows.map((row) => {
      const note = noteOf.get(row.id);
      const policies = (Array.isArray(row.step_policies) ? row.step_policies : []) as { policy?: string; requireManagerApproval?: boolean }[];
      return {
        id: row.id,
        subject: row.subject,
        requesterEmail: row.requester_email,
        state: row.state,
        channel: row.channel,
        externalRef: row.external_ref,
        createdAt: row.created_at.toISOString(),
        note: note ? { text: String((note.payload as { text?: unknown }).text ?? ''), status: note.status, postedAt: note.delivered_at?.toISOString() ?? null } : null,
        plan: {
          outcome: row.outcome,
          summary: row.summary,
          hash: row.hash,
          createdAt: row.plan_created_at.toISOString(),
          steps: (row.steps as PlanStep[]).map((step, index) => ({
            tool: step.tool,
            args: step.args,
            policy: policies[index]?.policy ?? 'unknown',
            requireManagerApproval: policies[index]?.requireManagerApproval === true || step.requireManagerApproval === true,
          })),
        },
      };
    }),
  };
}

/**
 * Every tool call made for a client's requests, newest first: the diagnosis' reads (kept with the
 * diagnosis) and the executed steps, each with the request that triggered it and that request's
 * approvals. A step's result is as stored: a temporary password is never in it (it is kept
 * encrypted apart, shown once to its technician).
 */
export async function listToolCalls(db: Db, mspId: string, clientId: string): Promise<ToolCallList | undefined> {
  const client = await findClient(db, mspId, clientId);
  if (!client) return undefined;
  const requests = await db
    .selectFrom('requests')
    .select(['id', 'subject', 'requester_email', 'state'])
    .where('msp_id', '=', mspId)
    .where('client_id', '=', client.id)
    .orderBy('created_at', 'desc')
    .limit(500)
    .execute();
  const ids = requests.map((row) => row.id);
  if (ids.length === 0) return { client, toolCalls: [] };
  const [diagnoses, steps, approvals] = await Promise.all([
    db.selectFrom('diagnoses').select(['request_id', 'reads', 'created_at']).where('request_id', 'in', ids).execute(),
    db
      .selectFrom('step_executions')
      .select(['request_id', 'step_index', 'tool', 'status', 'attempts', 'summary', 'result', 'error', 'started_at', 'finished_at'])
      .where('request_id', 'in', ids)
      .execute(),
    db
      .selectFrom('approvals')
      .select(['request_id', 'kind', 'status', 'decided_by', 'decided_at', 'approver_email', 'created_at'])
      .where('request_id', 'in', ids)
      .where('msp_id', '=', mspId)
      .orderBy('created_at')
      .execute(),
  ]);
  const plans = await db.selectFrom('plans').select(['request_id', 'steps']).where('request_id', 'in', ids).execute();
  const argsOf = new Map(plans.map((plan) => [plan.request_id, plan.steps as PlanStep[]]));
  const requestOf = new Map(requests.map((row) => [row.id, { id: row.id, subject: row.subject, requesterEmail: row.requester_email, state: row.state }]));
  const approvalsOf = new Map<string, ToolCall['approvals']>();
  for (const a of approvals) {
    const list = approvalsOf.get(a.request_id) ?? [];
    list.push({ kind: a.kind, status: a.status, decidedBy: a.decided_by ?? (a.kind === 'manager' ? a.approver_email : null), decidedAt: a.decided_at?.toISOString() ?? null });
    approvalsOf.set(a.request_id, list);
  }
  const calls: (ToolCall & { order: number })[] = [];
  for (const diagnosis of diagnoses) {
    const reads = (Array.isArray(diagnosis.reads) ? diagnosis.reads : []) as { tool?: string; args?: Record<string, unknown>; result?: unknown; purpose?: string }[];
    reads.forEach((read, index) => {
      calls.push({
        kind: 'read',
        tool: String(read.tool ?? ''),
        parameters: read.args ?? {},
        result: read.result ?? null,
        status: 'succeeded',
        at: diagnosis.created_at.toISOString(),
        order: index,
        error: null,
        attempts: 1,
        request: requestOf.get(diagnosis.request_id)!,
        approvals: approvalsOf.get(diagnosis.request_id) ?? [],
      });
    });
  }
  for (const step of steps) {
    calls.push({
      kind: 'step',
      tool: step.tool,
      parameters: argsOf.get(step.request_id)?.[step.step_index]?.args ?? {},
      result: step.result ?? (step.summary ? { summary: step.summary } : null),
      status: step.status,
      at: (step.finished_at ?? step.started_at).toISOString(),
      order: 1000 + step.step_index,
      error: step.error,
      attempts: step.attempts,
      request: requestOf.get(step.request_id)!,
      approvals: approvalsOf.get(step.request_id) ?? [],
    });
  }
  // Newest first; within one moment, the later call of a request first.
  calls.sort((a, b) => (a.at === b.at ? b.order - a.order : a.at < b.at ? 1 : -1));
  return { client, toolCalls: calls.map(({ order: _order, ...call }) => call) };
}
