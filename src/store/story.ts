import type { Db } from './db.ts';

/**
 * Read models for the API and the dashboard: a request's whole story and the lists technicians work
 * from. Always scoped to one MSP: another MSP's ids are simply not found.
 */
export async function listRequests(db: Db, mspId: string, options: { state?: string | undefined; clientSlug?: string | undefined; limit: number; before?: Date | undefined }) {
  let query = db
    .selectFrom('requests')
    .leftJoin('clients', 'clients.id', 'requests.client_id')
    .select([
      'requests.id',
      'requests.state',
      'requests.outcome',
      'requests.channel',
      'requests.external_ref',
      'requests.requester_email',
      'requests.subject',
      'requests.created_at',
      'requests.updated_at',
      'requests.last_error',
      'clients.slug as client_slug',
      'clients.name as client_name',
    ])
    .where('requests.msp_id', '=', mspId)
    .orderBy('requests.created_at', 'desc')
    .limit(options.limit);
  if (options.state) query = query.where('requests.state', '=', options.state);
  if (options.clientSlug) query = query.where('clients.slug', '=', options.clientSlug);
  if (options.before) query = query.where('requests.created_at', '<', options.before);
  return query.execute();
}

export async function listApprovals(db: Db, mspId: string, options: { status?: string | undefined; limit: number }) {
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
      'plans.steps',
      'plans.summary',
      'clients.name as client_name',
    ])
    .where('approvals.msp_id', '=', mspId)
    .orderBy('approvals.created_at', 'desc')
    .limit(options.limit);
  if (options.status) query = query.where('approvals.status', '=', options.status as never);
  return query.execute();
}

export async function loadRequestStory(db: Db, mspId: string, requestId: string) {
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
  return { request, diagnosis, plan, approvals, steps, messages, audit };
}
