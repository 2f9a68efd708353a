import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DbHandle, openDb } from '../src/store/db.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * Tenancy in the schema: the database itself refuses a row that ties one MSP's request, approval,
 * outbox message or integration to another MSP's client, request, integration, plan or user, so a
 * bug in a query cannot mix tenants. Each refused insert has a same-tenant twin that is accepted.
 */
let handle: DbHandle;
const T = new Date('2030-01-01T00:00:00Z');
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** Two MSPs, each with a client, an integration, a user, a request, its plan and an approval. */
const A = { msp: 'tenant-a', client: id(1), integration: id(2), user: id(3), request: id(4), plan: id(5) };
const B = { msp: 'tenant-b', client: id(11), integration: id(12), user: id(13), request: id(14), plan: id(15) };

beforeAll(async () => {
  handle = openDb({ url: await createTestDatabase(), maxConnections: 2 });
  for (const t of [A, B]) {
    await sql`INSERT INTO msps (id, name, created_at) VALUES (${t.msp}, ${t.msp}, ${T})`.execute(handle.db);
    await sql`INSERT INTO clients (id, msp_id, slug, name, domain, created_at) VALUES (${t.client}, ${t.msp}, 'c', 'C', 'c.example', ${T})`.execute(handle.db);
    await sql`INSERT INTO users (id, msp_id, email, name, role, created_at) VALUES (${t.user}, ${t.msp}, ${`${t.msp}@example.com`}, 'U', 'msp_technician', ${T})`.execute(handle.db);
    await sql`INSERT INTO integrations (id, msp_id, client_id, kind, name, created_at, updated_at) VALUES (${t.integration}, ${t.msp}, ${t.client}, 'm365', 'M', ${T}, ${T})`.execute(handle.db);
    await insertRequest(t.request, t.msp, t.client, t.integration);
    await insertPlan(t.plan, t.request);
  }
});

afterAll(async () => {
  await handle?.close();
});

function insertRequest(requestId: string, msp: string, client: string | null, integration: string | null) {
  return sql`INSERT INTO requests (id, msp_id, client_id, channel, source_integration_id, external_ref, requester_email, state, created_at, updated_at)
    VALUES (${requestId}, ${msp}, ${client}, 'psa', ${integration}, ${requestId}, 'e@example.com', 'received', ${T}, ${T})`.execute(handle.db);
}

function insertPlan(planId: string, requestId: string) {
  return sql`INSERT INTO plans (id, request_id, planner, outcome, summary, reasons, steps, step_policies, canonical, hash, operating_mode, needs_technician, needs_manager, created_at)
    VALUES (${planId}, ${requestId}, 'test', 'plan', 's', '[]', '[]', '[]', '{}', 'h', 'execute', true, false, ${T})`.execute(handle.db);
}

function insertApproval(approvalId: string, msp: string, requestId: string, planId: string, kind: 'technician' | 'manager', decidedBy: string | null = null) {
  return sql`INSERT INTO approvals (id, msp_id, request_id, plan_id, plan_hash, kind, status, decided_by_user_id, created_at, expires_at)
    VALUES (${approvalId}, ${msp}, ${requestId}, ${planId}, 'h', ${kind}, 'pending', ${decidedBy}, ${T}, ${T})`.execute(handle.db);
}

function insertOutbox(outboxId: string, msp: string, requestId: string | null, integration: string | null) {
  return sql`INSERT INTO outbox (id, msp_id, request_id, integration_id, kind, idempotency_key, payload, status, next_attempt_at, created_at)
    VALUES (${outboxId}, ${msp}, ${requestId}, ${integration}, 'note', ${outboxId}, '{}', 'pending', ${T}, ${T})`.execute(handle.db);
}

function insertStep(stepId: string, requestId: string, planId: string) {
  return sql`INSERT INTO step_executions (id, request_id, plan_id, step_index, tool, idempotency_key, status, started_at)
    VALUES (${stepId}, ${requestId}, ${planId}, 0, 'm365.revoke_sessions', ${stepId}, 'running', ${T})`.execute(handle.db);
}

function insertAudit(msp: string, requestId: string) {
  return sql`SELECT audit_append(${msp}, ARRAY[${requestId}]::uuid[], ARRAY['test'], ARRAY['test.event'], ARRAY['{}'::jsonb], ARRAY[${T}]::timestamptz[], ARRAY['{}'])`.execute(handle.db);
}

/** The database refuses the insert as a foreign key violation (SQLSTATE 23503). */
async function refused(insert: Promise<unknown>): Promise<void> {
  await expect(insert).rejects.toMatchObject({ code: '23503' });
}

describe('tenancy in the schema', () => {
  it("refuses a request whose client or source integration is another MSP's", async () => {
    await refused(insertRequest(id(100), A.msp, B.client, null));
    await refused(insertRequest(id(101), A.msp, A.client, B.integration));
    await insertRequest(id(102), A.msp, A.client, A.integration);
    await insertRequest(id(103), A.msp, null, null);
  });

  it("refuses an integration whose client is another MSP's", async () => {
    await refused(sql`INSERT INTO integrations (id, msp_id, client_id, kind, name, created_at, updated_at) VALUES (${id(110)}, ${A.msp}, ${B.client}, 'm365', 'X', ${T}, ${T})`.execute(handle.db));
    await sql`INSERT INTO integrations (id, msp_id, client_id, kind, name, created_at, updated_at) VALUES (${id(111)}, ${A.msp}, ${A.client}, 'hudu', 'X', ${T}, ${T})`.execute(handle.db);
    await sql`INSERT INTO integrations (id, msp_id, client_id, kind, name, created_at, updated_at) VALUES (${id(112)}, ${A.msp}, NULL, 'connectwise', 'X', ${T}, ${T})`.execute(handle.db);
  });

  it("refuses an approval of another MSP's request, of another request's plan, or decided by another MSP's user", async () => {
    await refused(insertApproval(id(120), A.msp, B.request, B.plan, 'technician'));
    await refused(insertApproval(id(121), A.msp, A.request, B.plan, 'technician'));
    await refused(insertApproval(id(122), A.msp, A.request, A.plan, 'technician', B.user));
    await insertApproval(id(123), A.msp, A.request, A.plan, 'technician', A.user);
    await insertApproval(id(124), A.msp, A.request, A.plan, 'manager');
  });

  it("refuses an outbox message of another MSP's request or through another MSP's integration", async () => {
    await refused(insertOutbox(id(130), A.msp, B.request, null));
    await refused(insertOutbox(id(131), A.msp, A.request, B.integration));
    await insertOutbox(id(132), A.msp, A.request, A.integration);
    await insertOutbox(id(133), A.msp, null, null);
  });

  it("refuses a step run under another request's plan", async () => {
    await refused(insertStep(id(140), A.request, B.plan));
    await insertStep(id(141), A.request, A.plan);
  });

  it("refuses an audit row of one MSP that names another MSP's request", async () => {
    await refused(insertAudit(A.msp, B.request));
    await insertAudit(A.msp, A.request);
  });

  it("refuses moving a request's client to another MSP's", async () => {
    await refused(sql`UPDATE requests SET client_id = ${B.client} WHERE id = ${A.request}`.execute(handle.db));
    const row = await handle.db.selectFrom('requests').select('client_id').where('id', '=', A.request).executeTakeFirstOrThrow();
    expect(row.client_id).toBe(A.client);
  });
});
