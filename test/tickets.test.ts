import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { FINAL } from '../src/demo/stories.ts';
import { ConnectWiseClient } from '../src/integrations/connectwise/client.ts';
import { emulatorPortalCredentials } from '../src/integrations/connectwise/emulator/index.ts';
import { mailMarker } from '../src/integrations/m365/client.ts';
import { silentLogger } from '../src/logger.ts';
import type { ApprovalRow } from '../src/store/schema.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * The ticket a story leaves behind, as an MSP's technicians and the employee read it in the PSA
 * (the ConnectWise emulator, over HTTP, with the real service and worker): its status moved through
 * the board's mapped statuses, a note for every decision (who, when, comment), a reply without any
 * marker, nothing changed on a board the MSP did not map, and no second reply after a crash.
 */
let sb: Sandbox;
const TOM = 'tom.rivera@northwind-it.example';
const PRIYA = 'priya.nair@northwind-it.example';
const ADMIN = 'ava.chen@northwind-it.example';

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

const db = () => sb.service.ctx.db;

async function connectwiseId(): Promise<string> {
  const row = await db().selectFrom('integrations').select('id').where('msp_id', '=', 'northwind').where('kind', '=', 'connectwise').executeTakeFirstOrThrow();
  return row.id;
}

async function awaitingApproval(ticket: number): Promise<{ requestId: string; technician: ApprovalRow }> {
  const request = await sb.requestForTicket(ticket);
  const waiting = await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL], 30_000);
  expect(waiting.state, String(waiting.last_error)).toBe('awaiting_approval');
  await sb.waitForDelivered(request.id, 30_000);
  const technician = await db().selectFrom('approvals').selectAll().where('request_id', '=', request.id).where('kind', '=', 'technician').executeTakeFirstOrThrow();
  return { requestId: request.id, technician };
}

async function decide(approval: ApprovalRow, decision: 'approve' | 'deny', as: string, comment?: string) {
  return sb.api<{ combined?: string }>('POST', `/api/approvals/${approval.id}/decision`, {
    token: await sb.tokenFor(as),
    body: { decision, planHash: approval.plan_hash, ...(comment ? { comment } : {}) },
  });
}

async function settled(requestId: string) {
  const row = await sb.waitForRequest(requestId, FINAL, 30_000);
  await sb.waitForDelivered(requestId, 30_000);
  return row;
}

function view(ticket: number) {
  const found = sb.emulators.connectwise.tickets().find((t) => t.ticket['id'] === ticket);
  if (!found) throw new Error(`no ticket ${ticket}`);
  return found;
}

function statusOf(ticket: number): string {
  return String((view(ticket).ticket['status'] as { name?: string }).name);
}

/** The statuses the ticket was moved through, in the order ConnectWise applied them. */
function statusChanges(ticket: number): string[] {
  return sb.emulators.connectwise
    .effects()
    .filter((e) => e.op === 'status_changed' && e.ticketId === ticket)
    .map((e) => e.firstLine);
}

function agentNotes(ticket: number) {
  return view(ticket)
    .notes.filter((n) => (n['member'] as { identifier?: string } | undefined)?.identifier === 'deskhand')
    .map((n) => ({ id: Number(n['id']), text: String(n['text']), internal: n['internalAnalysisFlag'] === true, customer: n['detailDescriptionFlag'] === true }));
}

/** Every note the employee can read on the ticket (Discussion or Resolution), whoever wrote it. */
function visibleToEmployee(ticket: number): string[] {
  return view(ticket)
    .notes.filter((n) => n['detailDescriptionFlag'] === true || n['resolutionFlag'] === true)
    .map((n) => String(n['text']));
}

describe('the ticket after a story', () => {
  it('moves waiting → in progress → resolved, records the approval (who, when, comment), and replies without a marker', async () => {
    const ticket = await sb.openTicket('contoso', 'alex.wilber@contoso.example', 'Could you give me Zendesk access?');
    const { requestId, technician } = await awaitingApproval(ticket);
    expect(statusOf(ticket)).toBe('Waiting on Approval');
    const before = Date.now();
    expect((await decide(technician, 'approve', TOM, 'Checked with the team lead')).status).toBe(200);
    const final = await settled(requestId);
    expect([final.state, final.outcome]).toEqual(['replied', 'executed']);

    expect(statusChanges(ticket)).toEqual(['Waiting on Approval', 'In Progress', 'Resolved']);
    expect(statusOf(ticket)).toBe('Resolved');

    const decision = agentNotes(ticket).filter((n) => n.text.includes('technician approval was approved'));
    expect(decision).toHaveLength(1);
    expect(decision[0]!.internal).toBe(true);
    expect(decision[0]!.text).toContain('Tom Rivera <tom.rivera@northwind-it.example>');
    expect(decision[0]!.text).toContain('Comment: Checked with the team lead');
    const at = decision[0]!.text.match(/at (\d{4}-\d\d-\d\dT[\d:.]+Z)/)?.[1];
    expect(at, decision[0]!.text).toBeDefined();
    expect(Math.abs(Date.parse(at!) - sb.clock.now().getTime())).toBeLessThan(Date.now() - before + 60_000);

    const replies = agentNotes(ticket).filter((n) => n.customer);
    expect(replies).toHaveLength(1);
    expect(replies[0]!.text).toContain('SG-App-Zendesk');
    expect(visibleToEmployee(ticket).some((text) => text.includes('[deskhand ref') || text.includes(requestId))).toBe(false);
    // Technicians' notes may keep their markers: reconciliation finds them there.
    expect(agentNotes(ticket).filter((n) => n.internal).every((n) => n.text.includes(`[deskhand ref ${requestId}:`))).toBe(true);
  });

  it("a denial's comment is on the ticket, with who and when; the ticket is resolved with the reply", async () => {
    const ticket = await sb.openTicket('contoso', 'nestor.wilke@contoso.example', 'Could I have a Power BI Pro license, please?');
    const { requestId, technician } = await awaitingApproval(ticket);
    expect((await decide(technician, 'deny', PRIYA, 'Budget freeze until next quarter')).status).toBe(200);
    const final = await settled(requestId);
    expect([final.state, final.outcome]).toEqual(['replied', 'denied']);
    const decision = agentNotes(ticket).find((n) => n.text.includes('technician approval was denied'));
    expect(decision?.internal).toBe(true);
    expect(decision?.text).toContain('Priya Nair <priya.nair@northwind-it.example>');
    expect(decision?.text).toContain('Comment: Budget freeze until next quarter');
    expect(decision?.text).toMatch(/at \d{4}-\d\d-\d\dT/);
    expect(statusChanges(ticket)).toEqual(['Waiting on Approval', 'Resolved']);
    expect(visibleToEmployee(ticket).some((text) => text.includes('[deskhand ref'))).toBe(false);
  });

  it('an expired approval is noted on the ticket too', async () => {
    const ticket = await sb.openTicket('contoso', 'isaiah.langer@contoso.example', 'Could you add me to the Accounts Payable shared mailbox?');
    const { requestId } = await awaitingApproval(ticket);
    sb.clock.advance(24 * 60 * 60 * 1000 + 60_000);
    const final = await settled(requestId);
    expect([final.state, final.outcome]).toEqual(['replied', 'expired']);
    const note = agentNotes(ticket).find((n) => n.text.includes('technician approval expired at'));
    expect(note?.internal).toBe(true);
    expect(note?.text).toContain('nobody decided within 24 hours');
    expect(statusOf(ticket)).toBe('Resolved');
  });

  it("dual approval: the technician's approval and the manager's denial each have their note, the manager's comment included", async () => {
    const ticket = await sb.openTicket('contoso', 'lee.gu@contoso.example', 'I need access to Adobe Creative Cloud.');
    const { requestId, technician } = await awaitingApproval(ticket);
    expect((await decide(technician, 'approve', TOM)).status).toBe(200);
    await sb.waitForDelivered(requestId, 30_000);
    const waiting = agentNotes(ticket).find((n) => n.text.includes('technician approval was approved'));
    expect(waiting?.text).toContain('No comment was given.');
    expect(waiting?.text).toContain('still waits for the other approval');
    const marker = `[ref ${mailMarker(`${requestId}:manager-mail`)}]`;
    const link = sb.emulators.graph.mail().find((m) => m.subject.includes(marker))?.content.match(/https?:\/\/\S+\/approvals\/manager\/\S+/)?.[0];
    expect(link).toBeDefined();
    const denied = await fetch(`${sb.service.url}${new URL(link!).pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ decision: 'deny', comment: 'Not in this team budget' }).toString(),
    });
    expect(denied.status).toBe(200);
    const final = await settled(requestId);
    expect([final.state, final.outcome]).toEqual(['replied', 'denied']);
    const managerNote = agentNotes(ticket).find((n) => n.text.includes("manager's approval was denied"));
    expect(managerNote?.internal).toBe(true);
    expect(managerNote?.text).toContain('Comment: Not in this team budget');
    expect(managerNote?.text).toMatch(/denied by .+<.+@contoso\.example> \(the requester's manager\) at \d{4}-/);
  });

  it('a status that cannot be set holds nothing up: the story ends, the failure is recorded', async () => {
    sb.emulators.connectwise.addFault({ status: 400, count: 1_000, method: 'PATCH', pathContains: '/service/tickets/' });
    try {
      const ticket = await sb.openTicket('contoso', 'megan.bowen@contoso.example', 'I stayed signed in on a shared computer, please sign me out everywhere.');
      const request = await sb.requestForTicket(ticket);
      const final = await sb.waitForRequest(request.id, FINAL, 30_000);
      expect([final.state, final.outcome]).toEqual(['replied', 'executed']);
      expect(agentNotes(ticket).filter((n) => n.customer)).toHaveLength(1);
      expect(statusChanges(ticket)).toEqual([]);
      const statusMessage = () =>
        db().selectFrom('outbox').select(['last_error', 'status']).where('idempotency_key', '=', `${request.id}:status-1-in_progress`).executeTakeFirst();
      for (let waited = 0; !(await statusMessage())?.last_error && waited < 10_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
      const failed = await statusMessage();
      expect(failed?.status).not.toBe('delivered');
      expect(failed?.last_error).toContain('400');
    } finally {
      sb.emulators.connectwise.clearFaults();
    }
  });

  it('leaves a ticket on a board the MSP did not map untouched', async () => {
    const { companyId, publicKey, privateKey, clientId } = emulatorPortalCredentials('northwind');
    const portal = new ConnectWiseClient({ siteUrl: sb.emulators.endpoints['connectwise']!, companyId, publicKey, privateKey, clientId });
    const created = await portal.createTicket({
      summary: 'Please sign me out everywhere',
      company: { identifier: 'contoso' },
      board: { name: 'Projects' },
      contactEmailAddress: 'megan.bowen@contoso.example',
      initialDescription: 'I stayed signed in on a shared computer, please sign me out everywhere.',
    });
    const request = await sb.requestForTicket(created.id);
    const final = await settled(request.id);
    expect([final.state, final.outcome]).toEqual(['replied', 'executed']);
    expect(agentNotes(created.id).some((n) => n.customer)).toBe(true);
    expect(statusChanges(created.id)).toEqual([]);
    expect(statusOf(created.id)).toBe('New');
  });

  it('never posts the reply twice when the worker died after posting it and before recording it', async () => {
    const ticket = await sb.openTicket('contoso', 'megan.bowen@contoso.example', 'I stayed signed in on a shared computer, please sign me out everywhere.');
    const request = await sb.requestForTicket(ticket);
    await settled(request.id);
    expect(agentNotes(ticket).filter((n) => n.customer)).toHaveLength(1);
    // What a crash leaves: the reply is on the ticket, its message still pending with the dead
    // worker's claim on it (long run out). The next worker takes it up after restart.
    const key = `${request.id}:reply`;
    const lease = new Date(sb.clock.now().getTime() - 60 * 60_000);
    await db()
      .updateTable('outbox')
      .set({ status: 'pending', delivered_at: null, result: null, attempts: 1, lease_until: lease, next_attempt_at: lease })
      .where('idempotency_key', '=', key)
      .execute();
    await sb.waitForDelivered(request.id, 30_000);
    const row = await db().selectFrom('outbox').select(['status', 'result', 'attempts']).where('idempotency_key', '=', key).executeTakeFirstOrThrow();
    expect(row.status).toBe('delivered');
    expect(row.result).toMatchObject({ reconciled: true });
    expect(agentNotes(ticket).filter((n) => n.customer)).toHaveLength(1);
    expect(visibleToEmployee(ticket).some((text) => text.includes('[deskhand ref'))).toBe(false);
  });
});

describe('the ticket status map through the API', () => {
  it('technicians read it, only an admin changes it, and a board or status the PSA lacks is a 400 naming it', async () => {
    const id = await connectwiseId();
    const read = await sb.api<{ boards: { board: string; waiting?: string }[] }>('GET', `/api/integrations/${id}/ticket-statuses`, { token: await sb.tokenFor(TOM) });
    expect(read.status).toBe(200);
    expect(read.body.boards).toEqual([{ board: 'Help Desk', waiting: 'Waiting on Approval', inProgress: 'In Progress', resolved: 'Resolved' }]);

    const change = { boards: [{ board: 'Help Desk', waiting: 'Waiting on Approval', inProgress: 'In Progress', resolved: 'Resolved' }, { board: 'projects', inProgress: 'in progress' }] };
    expect((await sb.api('PUT', `/api/integrations/${id}/ticket-statuses`, { token: await sb.tokenFor(TOM), body: change })).status).toBe(403);

    const unknownBoard = await sb.api<{ error: { message: string } }>('PUT', `/api/integrations/${id}/ticket-statuses`, {
      token: await sb.tokenFor(ADMIN),
      body: { boards: [{ board: 'Escalations', waiting: 'New' }] },
    });
    expect(unknownBoard.status).toBe(400);
    expect(unknownBoard.body.error.message).toContain('no board is named "Escalations"');
    const unknownStatus = await sb.api<{ error: { message: string } }>('PUT', `/api/integrations/${id}/ticket-statuses`, {
      token: await sb.tokenFor(ADMIN),
      body: { boards: [{ board: 'Projects', resolved: 'Resolved' }] },
    });
    expect(unknownStatus.status).toBe(400);
    expect(unknownStatus.body.error.message).toContain('the board "Projects" has no status "Resolved"');

    const set = await sb.api<{ boards: unknown[] }>('PUT', `/api/integrations/${id}/ticket-statuses`, { token: await sb.tokenFor(ADMIN), body: change });
    expect(set.status).toBe(200);
    // Stored in the PSA's own spelling.
    expect(set.body.boards).toEqual([
      { board: 'Help Desk', waiting: 'Waiting on Approval', inProgress: 'In Progress', resolved: 'Resolved' },
      { board: 'Projects', inProgress: 'In Progress' },
    ]);
    const m365 = await db().selectFrom('integrations').select('id').where('msp_id', '=', 'northwind').where('kind', '=', 'm365').executeTakeFirstOrThrow();
    const noTickets = await sb.api('PUT', `/api/integrations/${m365.id}/ticket-statuses`, { token: await sb.tokenFor(ADMIN), body: { boards: [] } });
    expect(noTickets.status).toBe(400);

    // Projects now maps in_progress only: an auto request there goes to In Progress and stays.
    const { companyId, publicKey, privateKey, clientId } = emulatorPortalCredentials('northwind');
    const portal = new ConnectWiseClient({ siteUrl: sb.emulators.endpoints['connectwise']!, companyId, publicKey, privateKey, clientId });
    const created = await portal.createTicket({
      summary: 'Sign me out everywhere',
      company: { identifier: 'contoso' },
      board: { name: 'Projects' },
      contactEmailAddress: 'lee.gu@contoso.example',
      initialDescription: 'I stayed signed in on a shared computer, please sign me out everywhere.',
    });
    const request = await sb.requestForTicket(created.id);
    await settled(request.id);
    expect(statusChanges(created.id)).toEqual(['In Progress']);

    expect((await sb.api('PUT', `/api/integrations/${id}/ticket-statuses`, { token: await sb.tokenFor(ADMIN), body: { boards: [] } })).status).toBe(200);
    expect((await sb.api<{ boards: unknown[] }>('GET', `/api/integrations/${id}/ticket-statuses`, { token: await sb.tokenFor(TOM) })).body.boards).toEqual([]);
  });
});
