import type pg from 'pg';
import type { EngineContext } from '../src/engine/context.ts';
import { sweepExpiredApprovals } from '../src/engine/expiry.ts';
import type { DbCounters } from '../src/store/db.ts';

/**
 * N pending approvals expiring at once. Seeded set-based by SQL (INSERT … SELECT generate_series):
 * requests in `awaiting_approval`, each with a frozen one-step plan and a technician approval whose
 * `expires_at` is an hour in the past, spread over every client (and so every MSP's audit chain).
 * Then the sweeper of src/engine/expiry.ts runs once, called directly, with no worker running: it
 * must expire every approval and queue every reply in the outbox (delivery is not part of it).
 */
export interface ExpiryResult {
  approvals: number;
  seedMs: number;
  sweepMs: number;
  expired: number;
  repliesQueued: number;
  statements: number;
  transactions: number;
}

export async function measureExpiry(input: { pool: pg.Pool; ctx: EngineContext; counters: DbCounters; count: number }): Promise<ExpiryResult> {
  const { pool, ctx, count } = input;
  const tag = `bench-expiry-${Date.now().toString(36)}`;
  const now = ctx.clock.now().getTime();
  const created = new Date(now - 25 * 3_600_000);
  const expires = new Date(now - 3_600_000);
  const seedStart = performance.now();
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `WITH targets AS (
         SELECT c.id AS client_id, c.msp_id, c.domain, i.id AS integration_id,
                (row_number() OVER (ORDER BY c.msp_id, c.slug)) - 1 AS k
           FROM clients c
           JOIN integrations i ON i.msp_id = c.msp_id AND i.kind = 'connectwise' AND i.client_id IS NULL
       ), n AS (SELECT count(*) AS n FROM targets)
       INSERT INTO requests (id, msp_id, client_id, channel, source_integration_id, external_ref, requester_email, subject, body,
                             state, operating_mode, due_at, created_at, updated_at)
       SELECT md5($1 || '/request/' || g)::uuid, t.msp_id, t.client_id, 'psa', t.integration_id, $1 || '-' || g,
              'employee' || g || '@' || t.domain, 'Access to Zendesk', 'Could you give me access to Zendesk?',
              'awaiting_approval', 'execute', NULL, $3, $3
         FROM generate_series(1, $2::int) AS g
         JOIN targets t ON t.k = g % (SELECT n FROM n)`,
      [tag, count, created],
    );
    await client.query(
      `INSERT INTO plans (id, request_id, planner, outcome, summary, reasons, steps, step_policies, canonical, hash,
                          operating_mode, needs_technician, needs_manager, created_at)
       SELECT md5($1 || '/plan/' || g)::uuid, md5($1 || '/request/' || g)::uuid, 'builtin', 'plan',
              'Add the requester to SG-App-Zendesk (Zendesk).', '["seeded by the bench"]'::jsonb, s.steps,
              '[{"policy":"approval_needed","requireManagerApproval":false}]'::jsonb, s.canonical,
              encode(sha256(convert_to(s.canonical, 'UTF8')), 'hex'), 'execute', true, false, $3
         FROM generate_series(1, $2::int) AS g,
              LATERAL (SELECT jsonb_build_array(jsonb_build_object('tool', 'm365.add_group_member',
                                'args', jsonb_build_object('user', 'employee' || g, 'group', 'SG-App-Zendesk'),
                                'reason', 'access to Zendesk')) AS steps) j,
              LATERAL (SELECT j.steps AS steps,
                              jsonb_build_object('requestId', md5($1 || '/request/' || g)::uuid, 'steps', j.steps)::text AS canonical) s`,
      [tag, count, created],
    );
    await client.query(
      `INSERT INTO approvals (id, msp_id, request_id, plan_id, plan_hash, kind, status, created_at, expires_at)
       SELECT md5($1 || '/approval/' || g)::uuid, r.msp_id, r.id, p.id, p.hash, 'technician', 'pending', $3, $4
         FROM generate_series(1, $2::int) AS g
         JOIN requests r ON r.id = md5($1 || '/request/' || g)::uuid
         JOIN plans p ON p.request_id = r.id`,
      [tag, count, created, expires],
    );
    await client.query('COMMIT');
    // As autovacuum would after a bulk load: the sweep's plans should see the table as it is.
    await client.query('ANALYZE requests, plans, approvals, outbox');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw new Error(`seeding ${count} expired approvals failed: ${(error as Error).message}`);
  } finally {
    client.release();
  }
  const seedMs = performance.now() - seedStart;

  const before = { ...input.counters };
  const sweepStart = performance.now();
  const expired = await sweepExpiredApprovals(ctx);
  const sweepMs = performance.now() - sweepStart;
  const after = { ...input.counters };

  const check = await pool.query<{ replies: string; expired_approvals: string; expired_requests: string }>(
    `SELECT
       (SELECT count(*) FROM outbox o JOIN requests r ON r.id = o.request_id
         WHERE r.external_ref LIKE $1 || '-%' AND o.payload->>'purpose' = 'reply' AND o.status = 'pending') AS replies,
       (SELECT count(*) FROM approvals a JOIN requests r ON r.id = a.request_id
         WHERE r.external_ref LIKE $1 || '-%' AND a.status = 'expired') AS expired_approvals,
       (SELECT count(*) FROM requests r WHERE r.external_ref LIKE $1 || '-%' AND r.outcome = 'expired') AS expired_requests`,
    [tag],
  );
  const row = check.rows[0]!;
  const repliesQueued = Number(row.replies);
  if (repliesQueued !== count || Number(row.expired_approvals) !== count || Number(row.expired_requests) !== count) {
    throw new Error(
      `after the sweep: ${row.expired_approvals} of ${count} approvals expired, ${row.expired_requests} requests with outcome expired, ${repliesQueued} replies queued in the outbox (the sweep reported ${expired})`,
    );
  }
  return {
    approvals: count,
    seedMs,
    sweepMs,
    expired,
    repliesQueued,
    statements: after.statements - before.statements,
    transactions: after.transactions - before.transactions,
  };
}
