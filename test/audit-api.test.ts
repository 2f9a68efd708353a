import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalRow, AuditList, Decision } from '../src/api/contract.ts';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { FINAL } from '../src/demo/stories.ts';
import { silentLogger } from '../src/logger.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * The approvals queue's rows and the audit log over HTTP: the manager's part of a dual approval in
 * the queue, a second decision told who decided and when, and GET /api/audit's search, filters and
 * keyset paging.
 */
let sb: Sandbox;
const TOM = 'tom.rivera@northwind-it.example';
const PRIYA = 'priya.nair@northwind-it.example';
const BEN = 'ben.okafor@northwind-it.example';

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

async function pendingFor(upn: string, text: string): Promise<{ requestId: string; row: ApprovalRow }> {
  const ticket = await sb.openTicket('contoso', upn, text);
  const request = await sb.waitForRequest((await sb.requestForTicket(ticket)).id, ['awaiting_approval', ...FINAL]);
  expect(request.state).toBe('awaiting_approval');
  const list = await sb.api<{ approvals: ApprovalRow[] }>('GET', '/api/approvals', { token: await sb.tokenFor(TOM) });
  const row = list.body.approvals.find((a) => a.requestId === request.id && a.kind === 'technician');
  expect(row, 'the technician approval in the queue').toBeDefined();
  return { requestId: request.id, row: row! };
}

describe('the approvals queue', () => {
  it("carries the manager's part of a dual approval, and tells a second decision who decided and when", async () => {
    const reset = await pendingFor('isaiah.langer@contoso.example', 'I forgot my password and cannot sign in.');
    expect(reset.row.manager).toMatchObject({ status: 'pending', decidedAt: null });
    expect(reset.row.manager?.approverEmail).toMatch(/@contoso\.example$/);
    expect(reset.row.steps.map((s) => s.tool)).toContain('m365.reset_password');

    const zendesk = await pendingFor('alex.wilber@contoso.example', 'Could you give me Zendesk access');
    expect(zendesk.row.manager).toBeNull();

    const first = await sb.api<Decision>('POST', `/api/approvals/${zendesk.row.id}/decision`, { token: await sb.tokenFor(TOM), body: { decision: 'approve', planHash: zendesk.row.planHash } });
    expect(first.status).toBe(200);
    const second = await sb.api<{ error: { code: string; message: string } }>('POST', `/api/approvals/${zendesk.row.id}/decision`, { token: await sb.tokenFor(PRIYA), body: { decision: 'deny' } });
    expect(second.status).toBe(409);
    expect(second.body.error.message).toMatch(/already approved by Tom Rivera <tom\.rivera@northwind-it\.example> at \d{4}-\d\d-\d\dT/);
  }, 120_000);
});

describe('GET /api/audit', () => {
  it('lists the MSP’s rows newest first, searches, filters and pages by seq', async () => {
    const token = await sb.tokenFor(TOM);
    const all = await sb.api<AuditList>('GET', '/api/audit?limit=200', { token });
    expect(all.status).toBe(200);
    const seqs = all.body.rows.map((r) => Number(r.seq));
    expect(seqs.length).toBeGreaterThan(5);
    expect([...seqs].sort((a, b) => b - a)).toEqual(seqs);

    // Keyset paging: three at a time from the list's newest row (rows appended meanwhile stay out), the pages joined are the list.
    const paged: string[] = [];
    let before: string | null = String(seqs[0]! + 1);
    for (let page = 0; page < 3; page++) {
      const answer: { status: number; body: AuditList } = await sb.api<AuditList>('GET', `/api/audit?limit=3&before=${before}`, { token });
      expect(answer.body.rows.length).toBe(3);
      paged.push(...answer.body.rows.map((r) => r.seq));
      before = answer.body.nextBefore;
    }
    expect(paged).toEqual(all.body.rows.slice(0, 9).map((r) => r.seq));

    // Search over the data text and the actor; the event filter is exact.
    const byActor = await sb.api<AuditList>('GET', `/api/audit?q=${encodeURIComponent('TOM.RIVERA')}`, { token });
    expect(byActor.body.rows.length).toBeGreaterThan(0);
    expect(byActor.body.rows.every((r) => JSON.stringify(r).toLowerCase().includes('tom.rivera'))).toBe(true);
    const approved = await sb.api<AuditList>('GET', '/api/audit?event=approval.approved', { token });
    expect(approved.body.rows.length).toBeGreaterThan(0);
    expect(approved.body.rows.every((r) => r.event === 'approval.approved')).toBe(true);
    const requestId = approved.body.rows[0]!.requestId!;
    const ofRequest = await sb.api<AuditList>('GET', `/api/audit?requestId=${requestId}`, { token });
    expect(ofRequest.body.rows.length).toBeGreaterThan(1);
    expect(ofRequest.body.rows.every((r) => r.requestId === requestId)).toBe(true);
    // A pattern character is looked for as itself.
    expect((await sb.api<AuditList>('GET', '/api/audit?q=%25', { token })).body.rows.every((r) => JSON.stringify(r).includes('%'))).toBe(true);
  }, 60_000);

  it('refuses billing and bad input', async () => {
    expect((await sb.api('GET', '/api/audit', { token: await sb.tokenFor(BEN) })).status).toBe(403);
    const token = await sb.tokenFor(TOM);
    for (const query of ['before=abc', 'before=0', 'limit=0', 'limit=1000', 'requestId=not-a-uuid']) {
      const answer = await sb.api<{ error?: { code: string } }>('GET', `/api/audit?${query}`, { token });
      expect(answer.status, query).toBe(400);
      expect(answer.body.error?.code, query).toBeDefined();
    }
  });
});
