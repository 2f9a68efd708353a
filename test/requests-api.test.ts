import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientList, PlanReview, RequestList, RequestStory, ToolCallList } from '../src/api/contract.ts';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { FINAL } from '../src/demo/stories.ts';
import { silentLogger } from '../src/logger.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * The requests pages' API (issue 12): the request list's filters, counts and keyset paging (stable
 * while new requests arrive), a client's Plan Mode review and its tool calls, with their refusals.
 */
let sb: Sandbox;
const ADMIN = 'ava.chen@northwind-it.example';
const TECHNICIAN = 'tom.rivera@northwind-it.example';
const BILLING = 'ben.okafor@northwind-it.example';
const OTHER_ADMIN = 'rosa.diaz@woodgrove-tp.example';

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

const db = () => sb.service.ctx.db;

async function clientId(slug: string): Promise<string> {
  const list = await sb.api<ClientList>('GET', '/api/clients', { token: await sb.tokenFor(ADMIN) });
  return list.body.clients.find((c) => c.slug === slug)!.id;
}

async function list(query: string, email = TECHNICIAN) {
  return sb.api<RequestList>('GET', `/api/requests?${query}`, { token: await sb.tokenFor(email) });
}

/** A finished request written straight into the store (the worker leaves a final state alone). */
async function insertRequest(values: { clientId: string; subject: string; at: Date; state?: string; outcome?: string; channel?: string; requester?: string }): Promise<string> {
  const id = randomUUID();
  await db()
    .insertInto('requests')
    .values({
      id,
      msp_id: 'northwind',
      client_id: values.clientId,
      channel: values.channel ?? 'psa',
      external_ref: `T-${id.slice(0, 8)}`,
      requester_email: values.requester ?? 'alex.wilber@contoso.example',
      subject: values.subject,
      body: '',
      state: values.state ?? 'replied',
      outcome: values.outcome ?? 'no_action',
      operating_mode: 'execute',
      created_at: values.at,
      updated_at: values.at,
    })
    .execute();
  return id;
}

describe('the request list', () => {
  it('pages by a keyset cursor that stays stable while new requests arrive, with the total and counts per state', async () => {
    const contoso = await clientId('contoso');
    // Rows sharing one creation time: the id breaks the tie, so no row is skipped or shown twice.
    const same = new Date('2026-01-10T09:00:00.000Z');
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add(await insertRequest({ clientId: contoso, subject: `Paging marker ${i}`, at: same }));
    ids.add(await insertRequest({ clientId: contoso, subject: 'Paging marker escalated', at: new Date('2026-01-09T09:00:00.000Z'), state: 'escalated', outcome: 'escalated' }));
    ids.add(await insertRequest({ clientId: contoso, subject: 'Paging marker mail', at: new Date('2026-01-08T09:00:00.000Z'), channel: 'email' }));

    const first = await list('q=paging%20MARKER&limit=3');
    expect(first.status).toBe(200);
    expect(first.body.total).toBe(7);
    expect(first.body.stateCounts).toEqual([
      { state: 'escalated', count: 1 },
      { state: 'replied', count: 6 },
    ]);
    expect(first.body.requests).toHaveLength(3);
    expect(first.body.nextCursor).toEqual(expect.any(String));

    // A new matching request arrives between pages: it sorts before the cursor and moves nothing.
    const newer = await insertRequest({ clientId: contoso, subject: 'Paging marker newer', at: new Date('2026-01-11T09:00:00.000Z') });
    const seen = first.body.requests.map((r) => r.id);
    let cursor = first.body.nextCursor;
    while (cursor) {
      const page = await list(`q=paging%20marker&limit=3&cursor=${encodeURIComponent(cursor)}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.requests.map((r) => r.id));
      cursor = page.body.nextCursor;
    }
    expect(seen).toHaveLength(7);
    expect(new Set(seen)).toEqual(ids);
    expect(seen).not.toContain(newer);
    // Newest first: the email request (oldest) comes last.
    expect(seen.at(-1)).toBe([...ids].at(-1));

    // The state filter narrows the rows and the total, not the chips' counts.
    const escalated = await list('q=paging%20marker&state=escalated');
    expect(escalated.body.requests.map((r) => r.subject)).toEqual(['Paging marker escalated']);
    expect(escalated.body.total).toBe(1);
    expect(escalated.body.stateCounts).toEqual([
      { state: 'escalated', count: 1 },
      { state: 'replied', count: 7 },
    ]);
    expect((await list('q=paging%20marker&channel=email')).body.requests.map((r) => r.subject)).toEqual(['Paging marker mail']);
    expect((await list('q=paging%20marker&outcome=escalated')).body.total).toBe(1);
    const range = await list(`q=paging%20marker&from=${encodeURIComponent('2026-01-09T00:00:00Z')}&to=${encodeURIComponent('2026-01-10T00:00:00Z')}`);
    expect(range.body.requests.map((r) => r.subject)).toEqual(['Paging marker escalated']);
    expect((await list('q=paging%20marker&client=fabrikam')).body.total).toBe(0);
    expect((await list(`q=paging%20marker&client=${contoso}`)).body.total).toBe(8);
    // Billing reads the same rows (a row holds nothing billing may not read).
    expect((await list('q=paging%20marker&limit=500', BILLING)).body.requests.map((r) => r.id).sort()).toEqual([...ids, newer].sort());
    // Another MSP sees none of them, by text or by the client's id.
    expect((await list('q=paging%20marker', OTHER_ADMIN)).body.total).toBe(0);
    expect((await list(`client=${contoso}`, OTHER_ADMIN)).body.requests).toEqual([]);
  });

  it('searches the subject, requester and reference case-insensitively, with % and _ matching themselves', async () => {
    const contoso = await clientId('contoso');
    const at = new Date('2026-02-01T09:00:00.000Z');
    const percent = await insertRequest({ clientId: contoso, subject: 'Disk 100% full', at });
    await insertRequest({ clientId: contoso, subject: 'Disk 1000 full', at });
    const underscore = await insertRequest({ clientId: contoso, subject: 'Printer', at, requester: 'lee_gu@contoso.example' });
    await insertRequest({ clientId: contoso, subject: 'Printer', at, requester: 'leexgu@contoso.example' });
    expect((await list('q=100%25')).body.requests.map((r) => r.id)).toEqual([percent]);
    expect((await list('q=LEE_GU')).body.requests.map((r) => r.id)).toEqual([underscore]);
    const ref = (await db().selectFrom('requests').select('external_ref').where('id', '=', percent).executeTakeFirstOrThrow()).external_ref;
    expect((await list(`q=${ref.toLowerCase()}`)).body.requests.map((r) => r.id)).toEqual([percent]);
  });

  it('refuses a cursor it did not give and dates that are not dates, changing nothing', async () => {
    for (const query of ['cursor=bm90LWEtY3Vyc29y', 'from=yesterday', 'to=2026-13-01', 'limit=0', 'state=']) {
      const answer = await sb.api<{ error: { code: string } }>('GET', `/api/requests?${query}`, { token: await sb.tokenFor(TECHNICIAN) });
      expect([query, answer.status, answer.body.error.code]).toEqual([query, 400, 'bad_request']);
    }
  });
});

describe("a client's tool calls and Plan Mode review", () => {
  it('lists the reads and executed steps of a request with what triggered them and its approvals', async () => {
    const ticket = await sb.openTicket('contoso', 'alex.wilber@contoso.example', 'Could you give me Zendesk access');
    const request = await sb.requestForTicket(ticket);
    const waiting = await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL]);
    expect(waiting.state).toBe('awaiting_approval');
    const approval = await db().selectFrom('approvals').selectAll().where('request_id', '=', request.id).where('kind', '=', 'technician').executeTakeFirstOrThrow();
    const decided = await sb.api('POST', `/api/approvals/${approval.id}/decision`, { token: await sb.tokenFor(TECHNICIAN), body: { decision: 'approve', planHash: approval.plan_hash } });
    expect(decided.status).toBe(200);
    expect((await sb.waitForRequest(request.id, FINAL)).state).toBe('replied');

    const contoso = await clientId('contoso');
    const calls = await sb.api<ToolCallList>('GET', `/api/clients/${contoso}/tool-calls`, { token: await sb.tokenFor(TECHNICIAN) });
    expect(calls.status).toBe(200);
    const mine = calls.body.toolCalls.filter((c) => c.request.id === request.id);
    const story = (await sb.api<RequestStory>('GET', `/api/requests/${request.id}`, { token: await sb.tokenFor(TECHNICIAN) })).body;
    const reads = story.diagnosis!.reads as { tool: string; args: Record<string, unknown> }[];
    expect(reads.length).toBeGreaterThan(0);
    expect(mine.filter((c) => c.kind === 'read').map((c) => [c.tool, c.parameters])).toEqual(expect.arrayContaining(reads.map((r) => [r.tool, r.args])));
    const steps = mine.filter((c) => c.kind === 'step');
    expect(steps.map((c) => c.tool).sort()).toEqual(story.steps.map((s) => s.tool).sort());
    expect(steps.length).toBeGreaterThan(0);
    for (const step of steps) {
      expect(step.status).toBe('succeeded');
      expect(step.parameters).toEqual(story.plan!.steps.find((s) => s.tool === step.tool)!.args);
      expect(step.request).toEqual({ id: request.id, subject: story.request.subject, requesterEmail: 'alex.wilber@contoso.example', state: 'replied' });
      expect(step.approvals).toEqual([{ kind: 'technician', status: 'approved', decidedBy: expect.stringContaining('tom.rivera'), decidedAt: expect.any(String) }]);
    }
    // Newest first.
    const times = calls.body.toolCalls.map((c) => c.at);
    expect([...times].sort().reverse()).toEqual(times);
  });

  it('never shows a temporary password among the tool calls', async () => {
    const ticket = await sb.openTicket('contoso', 'debra.berger@contoso.example', 'I forgot my password and cannot sign in.');
    const request = await sb.requestForTicket(ticket);
    await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL]);
    const tom = await sb.tokenFor(TECHNICIAN);
    const technician = await db().selectFrom('approvals').selectAll().where('request_id', '=', request.id).where('kind', '=', 'technician').executeTakeFirstOrThrow();
    expect((await sb.api('POST', `/api/approvals/${technician.id}/decision`, { token: tom, body: { decision: 'approve' } })).status).toBe(200);
    await sb.waitForDelivered(request.id);
    const mail = sb.emulators.graph.mail().find((m) => m.to.includes('miriam.graham@contoso.example') && m.content.includes('/approvals/manager/'))!;
    const link = new URL(mail.content.match(/https?:\/\/\S+\/approvals\/manager\/\S+/)![0]);
    const approve = await fetch(`${sb.service.url}${link.pathname}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=approve' });
    expect(approve.status).toBe(200);
    expect((await sb.waitForRequest(request.id, FINAL)).outcome).toBe('executed');
    const step = await db().selectFrom('step_executions').select('step_index').where('request_id', '=', request.id).where('tool', '=', 'm365.reset_password').executeTakeFirstOrThrow();
    const revealed = await sb.api<{ temporaryPassword: string }>('POST', `/api/requests/${request.id}/steps/${step.step_index}/temporary-password`, { token: tom });
    expect(revealed.status).toBe(200);
    expect(revealed.body.temporaryPassword.length).toBeGreaterThan(8);
    const calls = await sb.api<ToolCallList>('GET', `/api/clients/${await clientId('contoso')}/tool-calls`, { token: tom });
    const reset = calls.body.toolCalls.find((c) => c.request.id === request.id && c.tool === 'm365.reset_password');
    expect(reset).toMatchObject({ kind: 'step', status: 'succeeded' });
    expect(reset!.approvals.map((a) => [a.kind, a.status]).sort()).toEqual([
      ['manager', 'approved'],
      ['technician', 'approved'],
    ]);
    expect(JSON.stringify(calls.body)).not.toContain(revealed.body.temporaryPassword);
  });

  it("lists a Plan Mode client's notes as posted, newest first, each with its plan and its steps' policies", async () => {
    const fabrikam = await clientId('fabrikam');
    const tickets = [];
    for (const text of ['Could you give me Zendesk access', 'I forgot my password and cannot sign in.']) {
      const upn = text.includes('Zendesk') ? 'ada.lovelace@fabrikam.example' : 'alan.turing@fabrikam.example';
      const request = await sb.requestForTicket(await sb.openTicket('fabrikam', upn, text));
      await sb.waitForRequest(request.id, (row) => FINAL.includes(row.state) || row.state === 'noted');
      await sb.waitForDelivered(request.id);
      tickets.push(request.id);
    }
    const review = await sb.api<PlanReview>('GET', `/api/clients/${fabrikam}/plan-review`, { token: await sb.tokenFor(TECHNICIAN) });
    expect(review.status).toBe(200);
    expect(review.body.client.slug).toBe('fabrikam');
    expect(review.body.requests.map((r) => r.id)).toEqual([...tickets].reverse());
    for (const item of review.body.requests) {
      const note = await db().selectFrom('outbox').select('payload').where('request_id', '=', item.id).where('kind', '=', 'ticket.note').where(sql<boolean>`payload->>'purpose' = 'internal_note'`).executeTakeFirstOrThrow();
      expect(item.note?.text).toBe((note.payload as { text: string }).text);
      expect(item.note?.status).toBe('delivered');
      const plan = await db().selectFrom('plans').select(['steps', 'step_policies', 'hash']).where('request_id', '=', item.id).executeTakeFirstOrThrow();
      expect(item.plan.hash).toBe(plan.hash);
      expect(item.plan.steps.map((s) => [s.tool, s.args, s.policy])).toEqual(
        (plan.steps as { tool: string; args: unknown }[]).map((s, i) => [s.tool, s.args, (plan.step_policies as { policy: string }[])[i]!.policy]),
      );
    }
    // An Execute Mode client's requests are not in its review.
    const contoso = await sb.api<PlanReview>('GET', `/api/clients/${await clientId('contoso')}/plan-review`, { token: await sb.tokenFor(ADMIN) });
    expect(contoso.body.requests).toEqual([]);
  });

  it('refuses billing (403), and answers 404 for another MSP\'s client as for one that does not exist', async () => {
    const fabrikam = await clientId('fabrikam');
    for (const path of ['plan-review', 'tool-calls']) {
      expect((await sb.api('GET', `/api/clients/${fabrikam}/${path}`, { token: await sb.tokenFor(BILLING) })).status).toBe(403);
      const other = await sb.api<{ error: { code: string; message: string } }>('GET', `/api/clients/${fabrikam}/${path}`, { token: await sb.tokenFor(OTHER_ADMIN) });
      const missing = await sb.api<{ error: { code: string; message: string } }>('GET', `/api/clients/${randomUUID()}/${path}`, { token: await sb.tokenFor(OTHER_ADMIN) });
      expect([other.status, other.body]).toEqual([404, missing.body]);
      expect(missing.status).toBe(404);
      expect((await sb.api('GET', `/api/clients/not-a-uuid/${path}`, { token: await sb.tokenFor(ADMIN) })).status).toBe(400);
    }
  });
});
