import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR_MS } from '../src/core/clock.ts';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { FINAL } from '../src/demo/stories.ts';
import { sweepExpiredApprovals } from '../src/engine/expiry.ts';
import { mailMarker } from '../src/integrations/m365/client.ts';
import { silentLogger } from '../src/logger.ts';
import { appendAudit, verifyAuditChain } from '../src/store/audit.ts';
import type { ApprovalRow } from '../src/store/schema.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * Approvals as technicians and managers meet them over HTTP: what a decision answers, and the
 * 24-hour expiry (DESIGN rule 7) at its edges: a technician approving at hour 23 while the manager
 * is pending, a manager who never decides, a manager link opened after expiry, and the expiry sweep
 * racing a decision at the very instant the approval expires.
 *
 * The worker here never sweeps on its own (its sweep interval is an hour of real time): each test
 * runs the real sweep (`sweepExpiredApprovals`) itself, at the moment it chooses, on the sandbox's
 * clock, which only moves forward.
 */
let sb: Sandbox;
const TOM = 'tom.rivera@northwind-it.example';
const PRIYA = 'priya.nair@northwind-it.example';

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger, worker: { concurrency: 2, pollMs: 200, sweepMs: HOUR_MS } });
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

const db = () => sb.service.ctx.db;

/** Open a ticket and wait until its request waits for approval (its notices delivered). */
async function awaitingApproval(upn: string, text: string): Promise<{ requestId: string; ticket: number; technician: ApprovalRow; manager: ApprovalRow | undefined }> {
  const ticket = await sb.openTicket('contoso', upn, text);
  const request = await sb.requestForTicket(ticket);
  const waiting = await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL], 30_000);
  expect(waiting.state, `${upn}: ${waiting.last_error}`).toBe('awaiting_approval');
  await sb.waitForDelivered(request.id, 30_000);
  const approvals = await db().selectFrom('approvals').selectAll().where('request_id', '=', request.id).execute();
  return { requestId: request.id, ticket, technician: approvals.find((a) => a.kind === 'technician')!, manager: approvals.find((a) => a.kind === 'manager') };
}

async function technicianDecides(approval: ApprovalRow, decision: 'approve' | 'deny', as = TOM) {
  return sb.api<{ approval?: { status: string }; requestState?: string; combined?: string; error?: { message: string } }>('POST', `/api/approvals/${approval.id}/decision`, {
    token: await sb.tokenFor(as),
    body: { decision, planHash: approval.plan_hash },
  });
}

/** The path of the link in the manager's mail for this request. */
function managerLink(requestId: string): string {
  const marker = `[ref ${mailMarker(`${requestId}:manager-mail`)}]`;
  const mail = sb.emulators.graph.mail().find((m) => m.subject.includes(marker));
  const link = mail?.content.match(/https?:\/\/\S+\/approvals\/manager\/\S+/)?.[0];
  if (!link) throw new Error(`no manager mail with a link for request ${requestId}`);
  return new URL(link).pathname;
}

async function openManagerLink(path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${sb.service.url}${path}`);
  return { status: response.status, text: await response.text() };
}

async function managerDecides(path: string, decision: 'approve' | 'deny'): Promise<{ status: number; text: string }> {
  const response = await fetch(`${sb.service.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `decision=${decision}` });
  return { status: response.status, text: await response.text() };
}

/** Move the sandbox's clock so that it reads `target` (give or take the time the call takes). */
function moveClockTo(target: Date): void {
  const by = target.getTime() - sb.clock.now().getTime();
  if (by > 0) sb.clock.advance(by);
}

function user(upn: string) {
  const found = sb.emulators.graph.tenant('contoso').users.find((u) => u.userPrincipalName === upn);
  if (!found) throw new Error(`no ${upn}`);
  return found;
}

/** Changes Graph made to this employee (mail is not a change to them). */
function changesTo(upn: string) {
  return sb.emulators.graph.effects('contoso').filter((e) => e.op !== 'mail_sent' && e.targetName === upn);
}

function customerNotes(ticket: number): string[] {
  const view = sb.emulators.connectwise.tickets().find((t) => t.ticket['id'] === ticket);
  return (view?.notes ?? [])
    .filter((n) => (n['member'] as { identifier?: string } | undefined)?.identifier === 'deskhand' && n['detailDescriptionFlag'] === true)
    .map((n) => String(n['text']));
}

async function auditEvents(requestId: string): Promise<{ event: string; data: Record<string, unknown> }[]> {
  const rows = await db().selectFrom('audit_log').select(['event', 'data']).where('request_id', '=', requestId).orderBy('seq').execute();
  return rows.map((r) => ({ event: r.event, data: r.data as Record<string, unknown> }));
}

async function expectChainIntact(): Promise<void> {
  const chain = await verifyAuditChain(db(), 'northwind');
  expect(chain.ok, JSON.stringify(chain)).toBe(true);
}

describe('what a decision answers', () => {
  it('a denial answers the state it leads to (replied), and the request gets there', async () => {
    const { requestId, technician } = await awaitingApproval('miriam.graham@contoso.example', 'Could you give me Zendesk access?');
    const denied = await technicianDecides(technician, 'deny', PRIYA);
    expect(denied.status).toBe(200);
    expect(denied.body).toMatchObject({ approval: { status: 'denied' }, combined: 'denied', requestState: 'replied' });
    const final = await sb.waitForRequest(requestId, FINAL);
    expect([final.state, final.outcome]).toEqual([denied.body.requestState, 'denied']);
  });

  it('an approval that completes the decision answers executing; one that waits for the manager answers awaiting_approval', async () => {
    const single = await awaitingApproval('alex.wilber@contoso.example', 'I need access to Tableau.');
    const approved = await technicianDecides(single.technician, 'approve');
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ combined: 'approved', requestState: 'executing' });
    expect((await sb.waitForRequest(single.requestId, FINAL)).outcome).toBe('executed');

    const dual = await awaitingApproval('lee.gu@contoso.example', 'I need access to Adobe Creative Cloud.');
    expect(dual.manager).toBeDefined();
    const first = await technicianDecides(dual.technician, 'approve');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ combined: 'pending', requestState: 'awaiting_approval' });
    // The manager's denial comes after: the request ends denied, as either denial denies.
    expect((await managerDecides(managerLink(dual.requestId), 'deny')).status).toBe(200);
    const final = await sb.waitForRequest(dual.requestId, FINAL);
    expect([final.state, final.outcome]).toEqual(['replied', 'denied']);
  });

  it('the OpenAPI document says what requestState means', async () => {
    const { body } = await sb.api<{ paths: Record<string, Record<string, { description?: string; responses?: Record<string, unknown> }>> }>('GET', '/api/openapi.json');
    const route = body.paths['/api/approvals/{id}/decision']?.['post'];
    expect(route?.description).toMatch(/requestState.*the state the decision leads/is);
    expect(JSON.stringify(route?.responses?.['200'])).toContain('requestState');
  });
});

describe('the 24-hour expiry with dual approval', () => {
  it('a technician approves at hour 23 while the manager is pending; the manager approves at 23:30: it executes', async () => {
    const upn = 'debra.berger@contoso.example';
    const { requestId, technician, manager } = await awaitingApproval(upn, "My password slipped my mind and I'm locked out today.");
    expect(manager).toBeDefined();
    const created = technician.created_at.getTime();
    moveClockTo(new Date(created + 23 * HOUR_MS));
    expect(await sweepExpiredApprovals(sb.service.ctx)).toBe(0);
    const first = await technicianDecides(technician, 'approve');
    expect(first.status).toBe(200);
    expect(first.body.combined).toBe('pending');
    expect(user(upn).passwordResets).toBe(0);
    moveClockTo(new Date(created + 23.5 * HOUR_MS));
    expect(await sweepExpiredApprovals(sb.service.ctx)).toBe(0);
    const path = managerLink(requestId);
    expect((await openManagerLink(path)).status).toBe(200);
    const second = await managerDecides(path, 'approve');
    expect(second.status, second.text).toBe(200);
    const final = await sb.waitForRequest(requestId, FINAL, 30_000);
    expect([final.state, final.outcome]).toEqual(['replied', 'executed']);
    expect(changesTo(upn).map((e) => e.op)).toEqual(['password_reset']);
    // Past the original 24 hours, the sweep finds nothing of this request to expire.
    moveClockTo(new Date(created + 24 * HOUR_MS + 60_000));
    await sweepExpiredApprovals(sb.service.ctx);
    const approvals = await db().selectFrom('approvals').select(['kind', 'status']).where('request_id', '=', requestId).orderBy('kind').execute();
    expect(approvals).toEqual([
      { kind: 'manager', status: 'approved' },
      { kind: 'technician', status: 'approved' },
    ]);
    await expectChainIntact();
  });

  it('a technician approves at hour 23 and the manager never decides: expired at 24 h, nothing runs, the employee is told', async () => {
    const upn = 'pradeep.gupta@contoso.example';
    const { requestId, ticket, technician, manager } = await awaitingApproval(upn, "My password slipped my mind and I'm locked out today.");
    expect(manager).toBeDefined();
    const created = technician.created_at.getTime();
    moveClockTo(new Date(created + 23 * HOUR_MS));
    expect((await technicianDecides(technician, 'approve')).status).toBe(200);
    // A minute before the 24 hours: not yet.
    moveClockTo(new Date(created + 24 * HOUR_MS - 60_000));
    expect(await sweepExpiredApprovals(sb.service.ctx)).toBe(0);
    expect((await db().selectFrom('requests').select('state').where('id', '=', requestId).executeTakeFirstOrThrow()).state).toBe('awaiting_approval');
    moveClockTo(new Date(manager!.expires_at.getTime() + 1_000));
    expect(await sweepExpiredApprovals(sb.service.ctx)).toBe(1);
    const final = await sb.waitForRequest(requestId, FINAL, 30_000);
    expect([final.state, final.outcome]).toEqual(['replied', 'expired']);
    await sb.waitForDelivered(requestId);
    const approvals = await db().selectFrom('approvals').select(['kind', 'status']).where('request_id', '=', requestId).orderBy('kind').execute();
    expect(approvals).toEqual([
      { kind: 'manager', status: 'expired' },
      { kind: 'technician', status: 'approved' },
    ]);
    expect(changesTo(upn)).toEqual([]);
    expect(user(upn).passwordResets).toBe(0);
    expect(await db().selectFrom('step_executions').select('id').where('request_id', '=', requestId).execute()).toEqual([]);
    const replies = customerNotes(ticket);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toContain('not approved in time');
    // The manager's late approval is refused and changes nothing.
    const late = await managerDecides(managerLink(requestId), 'approve');
    expect(late.status).toBe(409);
    await sleep(500);
    expect(changesTo(upn)).toEqual([]);
    await expectChainIntact();
  });

  it('a manager link opened and used after expiry is refused clearly, before and after the sweep, and nothing runs', async () => {
    const upn = 'henrietta.mueller@contoso.example';
    const { requestId, technician, manager } = await awaitingApproval(upn, "My password slipped my mind and I'm locked out today.");
    const path = managerLink(requestId);
    expect((await openManagerLink(path)).status).toBe(200);
    // Past the 24 hours, before any sweep has seen it: the page and the decision both say it expired.
    moveClockTo(new Date(manager!.expires_at.getTime() + 1_000));
    for (const answer of [await openManagerLink(path), await managerDecides(path, 'approve')]) {
      expect(answer.status).toBe(409);
      expect(answer.text).toContain('<title>Link expired');
      expect(answer.text).toContain('expired');
      expect(answer.text).not.toContain('<form');
    }
    expect((await technicianDecides(technician, 'approve')).status).toBe(409);
    expect(await sweepExpiredApprovals(sb.service.ctx)).toBe(2);
    const final = await sb.waitForRequest(requestId, FINAL, 30_000);
    expect([final.state, final.outcome]).toEqual(['replied', 'expired']);
    // After the sweep: the same.
    for (const answer of [await openManagerLink(path), await managerDecides(path, 'deny')]) {
      expect(answer.status).toBe(409);
      expect(answer.text).toContain('<title>Link expired');
      expect(answer.text).not.toContain('<form');
    }
    expect(changesTo(upn)).toEqual([]);
    const approvals = await db().selectFrom('approvals').select(['kind', 'status']).where('request_id', '=', requestId).orderBy('kind').execute();
    expect(approvals).toEqual([
      { kind: 'manager', status: 'expired' },
      { kind: 'technician', status: 'expired' },
    ]);
    const refusals = (await auditEvents(requestId)).filter((e) => e.event === 'approval.decision_refused');
    expect(refusals).toHaveLength(3);
    await expectChainIntact();
  });
});

describe('the expiry sweep and the audit chain', () => {
  it('does not deadlock with a transaction that holds the chain and writes an audit row of the request it expires', async () => {
    // The sweep locks the request, then (at commit) the MSP's audit head. Another transaction that
    // already holds the head and now writes an audit row of that request (a refused decision, say)
    // needs a key-share lock on the request (the row's foreign key): with the request locked FOR
    // UPDATE the two wait for each other, and PostgreSQL aborts one ("deadlock detected").
    const { requestId, technician } = await awaitingApproval('adele.vance@contoso.example', 'I need access to Tableau.');
    moveClockTo(new Date(technician.expires_at.getTime() + 1_000));
    const at = sb.clock.now();
    let sweep: Promise<number> | null = null;
    await db()
      .transaction()
      .execute(async (tx) => {
        // Outside `inTransaction`, appendAudit writes at once: this transaction now holds the head.
        await appendAudit(tx, { mspId: 'northwind', requestId: null, actor: 'test', event: 'test.holds_the_chain', data: {}, at });
        sweep = sweepExpiredApprovals(sb.service.ctx);
        sweep.catch(() => {});
        await waitForBackend(`%audit_append%`, 'Lock');
        // Waiting for the sweep's lock on the request would be the deadlock (PostgreSQL detects it after
        // a second, and one of the two is rolled back): refuse to wait at all.
        await sql`SET LOCAL lock_timeout = '300ms'`.execute(tx);
        await appendAudit(tx, { mspId: 'northwind', requestId, actor: 'test', event: 'test.writes_about_the_request', data: {}, at });
      });
    expect(await sweep!).toBe(1);
    const final = await sb.waitForRequest(requestId, FINAL, 30_000);
    expect([final.state, final.outcome]).toEqual(['replied', 'expired']);
    await expectChainIntact();
  });
});

/** Wait until another backend runs a statement like `query` and waits for `waitEventType` (e.g. a lock). */
async function waitForBackend(query: string, waitEventType: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const found = await sql<{ pid: number }>`
      SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE ${query} AND wait_event_type = ${waitEventType}`.execute(db());
    if (found.rows.length > 0) return;
    await sleep(25);
  }
  throw new Error(`no backend ran ${query} waiting for ${waitEventType} within 5 s`);
}

describe('the expiry sweep racing a decision at the instant of expiry', () => {
  // Distinct employee and group for each: every approved add is a change of its own.
  const ACCESS = [
    ['alex.wilber', 'Zendesk', 'SG-App-Zendesk'],
    ['megan.bowen', 'Tableau', 'SG-App-Tableau'],
    ['nestor.wilke', 'DocuSign', 'SG-App-DocuSign'],
    ['lynne.robbins', 'Salesforce', 'SG-App-Salesforce'],
    ['joni.sherman', 'Figma', 'SG-App-Figma'],
    ['isaiah.langer', 'VPN', 'SG-VPN-Users'],
    ['christie.cline', 'the Support Inbox shared mailbox', 'SM-Support-Inbox'],
    ['debra.berger', 'the Accounts Payable shared mailbox', 'SM-Accounts-Payable'],
  ] as const;

  interface Trial {
    label: string;
    upn: string;
    requestId: string;
    ticket: number;
    approval: ApprovalRow;
    decision: 'approve' | 'deny';
    /** The change an executed request makes (the same employee may have other changes). */
    change: { op: string; group?: string };
    /**
     * Aimed: the clock is set so that the decision and the sweep reach the database about `offsetMs`
     * from the expiry (the time a similar call takes is measured just before), and either may win.
     * Not aimed: both are sent with the clock `offsetMs` (0 or more) past the expiry: the decision
     * is late whoever takes the lock first.
     */
    aimed: boolean;
    offsetMs: number;
    answer: number;
    swept: number;
  }

  /** Send the decision and the sweep at once, around the approval's expiry (see `aimed`); `probe` is a call that takes about as long to reach the database. */
  async function race(t: Omit<Trial, 'answer' | 'swept'>, probe: () => Promise<unknown>, decide: () => Promise<{ status: number }>): Promise<Trial> {
    let latencyMs = 0;
    if (t.aimed) {
      const started = performance.now();
      await probe();
      latencyMs = Math.round(performance.now() - started);
    }
    moveClockTo(new Date(t.approval.expires_at.getTime() + t.offsetMs - latencyMs));
    const [answer, swept] = await Promise.all([decide(), sleep(latencyMs).then(() => sweepExpiredApprovals(sb.service.ctx))]);
    return { ...t, answer: answer.status, swept };
  }

  /** Exactly one of the two won, and everything about the request agrees with which one. */
  async function checkTrial(t: Trial): Promise<string> {
    const approval = await db().selectFrom('approvals').selectAll().where('id', '=', t.approval.id).executeTakeFirstOrThrow();
    const events = await auditEvents(t.requestId);
    const ofApproval = events.filter((e) => e.data['approvalId'] === t.approval.id).map((e) => e.event);
    const final = await sb.waitForRequest(t.requestId, FINAL, 30_000);
    await sb.waitForDelivered(t.requestId);
    const decided = t.decision === 'approve' ? 'approved' : 'denied';
    const where = `${t.label} (${t.decision} ${t.aimed ? 'aimed at' : 'sent at'} expiry ${t.offsetMs >= 0 ? '+' : ''}${t.offsetMs} ms: HTTP ${t.answer}, sweep expired ${t.swept}; events ${JSON.stringify(ofApproval)})`;
    expect(['expired', decided], where).toContain(approval.status);
    const decisionWon = approval.status === decided;
    // Sent with the clock at or past the expiry, the decision cannot be in time, whoever takes the lock first.
    if (!t.aimed) expect(decisionWon, where).toBe(false);
    expect(t.answer, where).toBe(decisionWon ? 200 : 409);
    expect(ofApproval.filter((e) => e === 'approval.approved' || e === 'approval.denied' || e === 'approval.expired'), where).toEqual([`approval.${approval.status}`]);
    if (!decisionWon) expect(ofApproval, where).toContain('approval.decision_refused');
    const outcome = decisionWon ? (t.decision === 'approve' ? 'executed' : 'denied') : 'expired';
    expect([final.state, final.outcome], where).toEqual(['replied', outcome]);
    const changes = changesTo(t.upn).filter((e) => e.op === t.change.op && (!t.change.group || e.objectName === t.change.group));
    expect(changes.length, where).toBe(outcome === 'executed' ? 1 : 0);
    const replies = customerNotes(t.ticket);
    expect(replies, where).toHaveLength(1);
    expect(replies[0], where).toContain(outcome === 'expired' ? 'not approved in time' : outcome === 'denied' ? 'was reviewed and was not approved' : 'has been handled');
    return decisionWon ? 'decision' : 'sweep';
  }

  it('a technician decision and the sweep: exactly one wins, every time, and the request agrees', async () => {
    const winners: string[] = [];
    // Denials first (they change nothing, so the same employee can then ask again), then approvals.
    for (const decision of ['deny', 'approve'] as const) {
      const trials: Omit<Trial, 'answer' | 'swept'>[] = [];
      for (const [i, [name, app, group]] of ACCESS.entries()) {
        const upn = `${name}@contoso.example`;
        const { requestId, ticket, technician } = await awaitingApproval(upn, `I'd like access to ${app}, please.`);
        // Spaced out so that one trial's sweep never reaches the next trial's approval.
        await sleep(400);
        const [aimed, offsetMs] = ([[true, -20], [true, -6], [true, -2], [true, 0], [true, 2], [true, 6], [false, 0], [false, 5]] as const)[i]!;
        trials.push({ label: `${name} → ${group}`, upn, requestId, ticket, approval: technician, decision, change: { op: 'member_added', group }, aimed, offsetMs });
      }
      const raced: Trial[] = [];
      for (const t of trials) {
        const token = await sb.tokenFor(t.decision === 'deny' ? PRIYA : TOM);
        raced.push(await race(t, () => sb.api('GET', `/api/approvals/${t.approval.id}`, { token }), () => technicianDecides(t.approval, t.decision, t.decision === 'deny' ? PRIYA : TOM)));
      }
      // A decision refused as expired before the sweep reached the approval leaves it to the next sweep.
      moveClockTo(new Date(Math.max(...trials.map((t) => t.approval.expires_at.getTime())) + 1_000));
      await sweepExpiredApprovals(sb.service.ctx);
      for (const t of raced) winners.push(await checkTrial(t));
    }
    expect(winners).toHaveLength(2 * ACCESS.length);
    console.log(`sweep against a technician decision at the expiry: ${winners.filter((w) => w === 'decision').length} won by the decision, ${winners.filter((w) => w === 'sweep').length} by the expiry`);
    await expectChainIntact();
  }, 240_000);

  it('a manager decision and the sweep, the technician having approved at hour 23: exactly one wins', async () => {
    const winners: string[] = [];
    for (const [i, name] of ['joni.sherman', 'isaiah.langer', 'lidia.holloway'].entries()) {
      const upn = `${name}@contoso.example`;
      const { requestId, ticket, technician, manager } = await awaitingApproval(upn, "My password slipped my mind and I'm locked out today.");
      moveClockTo(new Date(technician.created_at.getTime() + 23 * HOUR_MS));
      expect((await technicianDecides(technician, 'approve')).status).toBe(200);
      const path = managerLink(requestId);
      const [aimed, offsetMs] = ([[true, -3], [true, 2], [false, 0]] as const)[i]!;
      const trial = { label: `${name} reset`, upn, requestId, ticket, approval: manager!, decision: 'approve' as const, change: { op: 'password_reset' }, aimed, offsetMs };
      const t = await race(trial, () => openManagerLink(path), () => managerDecides(path, 'approve'));
      moveClockTo(new Date(manager!.expires_at.getTime() + 1_000));
      await sweepExpiredApprovals(sb.service.ctx);
      winners.push(await checkTrial(t));
      expect((await db().selectFrom('approvals').select('status').where('id', '=', technician.id).executeTakeFirstOrThrow()).status).toBe('approved');
    }
    expect(winners).toHaveLength(3);
    console.log(`sweep against a manager decision at the expiry: won by ${winners.join(', ')}`);
    await expectChainIntact();
  }, 180_000);
});
