import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { TICKET_ID_START } from '../src/integrations/connectwise/emulator/index.ts';
import { FINAL } from '../src/demo/stories.ts';
import { connectWiseOf } from '../src/integrations/connectwise/intake.ts';
import { silentLogger } from '../src/logger.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * Execution against systems that fail: a step refused for good ends the request honestly (a note
 * for technicians, a reply for the employee); a system that is briefly down is retried from a row
 * until it answers; a PSA that fails to take a note gets it again, once.
 */
let sb: Sandbox;
const TOM = 'tom.rivera@northwind-it.example';

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

async function approveNew(client: string, upn: string, text: string) {
  const ticket = await sb.openTicket(client, upn, text);
  const request = await sb.requestForTicket(ticket);
  const waiting = await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL]);
  expect(waiting.state).toBe('awaiting_approval');
  const approval = await sb.service.ctx.db.selectFrom('approvals').select('id').where('request_id', '=', request.id).where('kind', '=', 'technician').executeTakeFirstOrThrow();
  const decided = await sb.api('POST', `/api/approvals/${approval.id}/decision`, { token: await sb.tokenFor(TOM), body: { decision: 'approve' } });
  expect(decided.status).toBe(200);
  return { ticket, requestId: request.id };
}

function agentNotes(ticket: number) {
  const view = sb.emulators.connectwise.tickets().find((t) => t.ticket['id'] === ticket);
  return (view?.notes ?? [])
    .filter((n) => (n['member'] as { identifier?: string } | undefined)?.identifier === 'deskhand')
    .map((n) => ({ text: String(n['text']), internal: n['internalAnalysisFlag'] === true, customer: n['detailDescriptionFlag'] === true }));
}

describe('a step refused for good', () => {
  it('fails the request with a note for technicians and an honest reply', async () => {
    sb.emulators.graph.injectFault({ status: 403, count: 1, method: 'POST', pathContains: '/members/$ref', code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' });
    const { ticket, requestId } = await approveNew('contoso', 'christie.cline@contoso.example', 'Could you give me Zendesk access?');
    const final = await sb.waitForRequest(requestId, FINAL);
    expect([final.state, final.outcome]).toEqual(['failed', 'failed']);
    expect(final.last_error).toContain('Insufficient privileges');
    await sb.waitForDelivered(requestId);
    const notes = agentNotes(ticket);
    const failure = notes.find((n) => n.internal && n.text.includes('could not finish'));
    expect(failure?.text).toContain('m365.add_user_to_group');
    expect(failure?.text).toContain('Insufficient privileges');
    const reply = notes.find((n) => n.customer);
    expect(reply?.text).toContain('could not finish it automatically');
    expect(reply?.text).toContain('Nothing was changed');
    expect(sb.emulators.graph.tenant('contoso').users.find((u) => u.userPrincipalName === 'christie.cline@contoso.example')?.groups).not.toContain('SG-App-Zendesk');
  });
});

describe('a system that is briefly down', () => {
  it('retries the step from a durable row after Retry-After and then completes once', async () => {
    sb.emulators.graph.injectFault({ status: 503, count: 1, method: 'POST', pathContains: '/members/$ref', retryAfterSeconds: 30 });
    const { requestId } = await approveNew('contoso', 'lee.gu@contoso.example', 'Could I get DocuSign access?');
    const retrying = await sb.waitForRequest(requestId, (r) => r.last_error !== null || FINAL.includes(r.state));
    expect(retrying.state).toBe('executing');
    // Retry-After 30 s: the wait is a row (due_at), not a timer; moving the clock past it resumes the step.
    expect(retrying.due_at!.getTime() - sb.clock.now().getTime()).toBeGreaterThan(20_000);
    sb.clock.advance(31_000);
    const final = await sb.waitForRequest(requestId, FINAL);
    expect([final.state, final.outcome]).toEqual(['replied', 'executed']);
    const step = await sb.service.ctx.db.selectFrom('step_executions').selectAll().where('request_id', '=', requestId).executeTakeFirstOrThrow();
    expect(step.status).toBe('succeeded');
    expect(step.attempts).toBe(2);
    // Once: one add that Graph took (the refused first try changed nothing), one membership change.
    const group = sb.emulators.graph.tenant('contoso').groups.find((g) => g.displayName === 'SG-App-DocuSign')!;
    const adds = sb.emulators.graph.requests().filter((r) => r.method === 'POST' && r.path.includes(`/groups/${group.id}/members/$ref`));
    expect(adds.map((r) => r.status)).toEqual([503, 204]);
    const changes = sb.emulators.graph.effects('contoso').filter((e) => e.targetName === 'lee.gu@contoso.example' && e.op !== 'mail_sent');
    expect(changes.map((e) => [e.op, e.objectName])).toEqual([['member_added', 'SG-App-DocuSign']]);
    expect(sb.emulators.graph.tenant('contoso').users.find((u) => u.userPrincipalName === 'lee.gu@contoso.example')?.groups).toContain('SG-App-DocuSign');
  });

  it('delivers a note the PSA refused at first, exactly once', async () => {
    // More failures than the client's quick in-process retries: the outbox's durable retry has to deliver it.
    sb.emulators.connectwise.addFault({ status: 500, count: 4, method: 'POST', pathContains: '/notes' });
    const ticket = await sb.openTicket('contoso', 'miriam.graham@contoso.example', 'Can I have Zendesk, please?');
    const request = await sb.requestForTicket(ticket);
    const noted = await sb.waitForRequest(request.id, (r) => !['received', 'diagnosing'].includes(r.state), 30_000);
    expect(noted.state).not.toBe('failed');
    const message = await sb.service.ctx.db.selectFrom('outbox').selectAll().where('idempotency_key', '=', `${request.id}:note`).executeTakeFirstOrThrow();
    expect(message.status).toBe('delivered');
    expect(message.attempts).toBe(2);
    const final = await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL]);
    await sb.waitForDelivered(request.id);
    expect(final.state).toBe('awaiting_approval');
    const diagnosisNotes = agentNotes(ticket).filter((n) => n.internal && n.text.startsWith('deskhand diagnosis'));
    expect(diagnosisNotes).toHaveLength(1);
  });
});

describe('a webhook that never arrives', () => {
  it('is made up for by polling ConnectWise for newer tickets, once', async () => {
    const { ConnectWiseClient } = await import('../src/integrations/connectwise/client.ts');
    const row = await sb.service.ctx.db.selectFrom('integrations').selectAll().where('kind', '=', 'connectwise').executeTakeFirstOrThrow();
    const cw: InstanceType<typeof ConnectWiseClient> = connectWiseOf(sb.service.ctx.integrations.connected(row)).client;
    await sb.service.worker!.pollIntakeIfDue(true); // the cursor now stands at the newest ticket
    const registrations = await cw.listCallbacks();
    for (const callback of registrations) await cw.deleteCallback(callback.id);
    try {
      const ticket = await sb.openTicket('contoso', 'patti.fernandez@contoso.example', 'Can I have Zendesk, please?');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await sb.service.ctx.db.selectFrom('requests').select('id').where('external_ref', '=', String(ticket)).executeTakeFirst()).toBeUndefined();
      expect(await sb.service.worker!.pollIntakeIfDue(true)).toBe(1);
      expect(await sb.service.worker!.pollIntakeIfDue(true)).toBe(0);
      const request = await sb.requestForTicket(ticket);
      const final = await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL]);
      expect(final.state).toBe('awaiting_approval');
      const received = await sb.service.ctx.db.selectFrom('audit_log').select('actor').where('request_id', '=', request.id).where('event', '=', 'request.received').executeTakeFirstOrThrow();
      expect(received.actor).toBe('poll:connectwise');
    } finally {
      const { connectIntegrations } = await import('../src/service.ts');
      await connectIntegrations(sb.service.ctx, `http://127.0.0.1:${new URL(sb.service.url).port}`, sb.service.ctx.logger);
    }
  });
});

describe('an internal note the PSA never takes', () => {
  it('stops an auto change: nothing changes in Microsoft 365, nothing runs', async () => {
    const upn = 'adele.vance@contoso.example';
    const user = () => sb.emulators.graph.tenant('contoso').users.find((u) => u.userPrincipalName === upn)!;
    const revocationsBefore = user().sessionRevocations;
    // Ticket ids count up: the next one's notes are refused (403, for good) before it is even opened.
    const ticket = Math.max(TICKET_ID_START - 1, ...sb.emulators.connectwise.tickets().map((t) => Number(t.ticket['id']))) + 1;
    const notesPath = `/service/tickets/${ticket}/notes`;
    sb.emulators.connectwise.addFault({ status: 403, count: 1_000, method: 'POST', pathContains: notesPath });
    try {
      expect(await sb.openTicket('contoso', upn, 'I stayed signed in on a shared computer, please sign me out everywhere.')).toBe(ticket);
      const request = await sb.requestForTicket(ticket);
      // Whatever retries the outbox allows come due as the clock moves on: wait until the request is
      // final and nothing of it is left to deliver.
      const deadline = Date.now() + 60_000;
      let row = await sb.waitForRequest(request.id, () => true);
      for (;;) {
        const pending = await sb.service.ctx.db.selectFrom('outbox').select('id').where('request_id', '=', request.id).where('status', '=', 'pending').executeTakeFirst();
        if (FINAL.includes(row.state) && !pending) break;
        if (Date.now() > deadline) throw new Error(`request ${request.id} did not settle: ${row.state}/${row.outcome} ${row.last_error}`);
        sb.clock.advance(15 * 60_000);
        await new Promise((resolve) => setTimeout(resolve, 300));
        row = await sb.waitForRequest(request.id, () => true);
      }
      const refused = sb.emulators.connectwise.requests().filter((r) => r.method === 'POST' && r.path.endsWith(notesPath));
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.every((r) => r.status === 403)).toBe(true);
      const note = await sb.service.ctx.db.selectFrom('outbox').select('status').where('idempotency_key', '=', `${request.id}:note`).executeTakeFirstOrThrow();
      expect(note.status).toBe('failed');
      expect(['failed', 'escalated']).toContain(row.state);
      expect(row.outcome).not.toBe('executed');
      expect(await sb.service.ctx.db.selectFrom('step_executions').select('id').where('request_id', '=', request.id).execute()).toEqual([]);
      expect(sb.emulators.graph.effects('contoso').filter((e) => e.targetName === upn && e.op !== 'mail_sent')).toEqual([]);
      expect(user().sessionRevocations).toBe(revocationsBefore);
      expect(sb.emulators.connectwise.effects().filter((e) => e.ticketId === ticket && e.op === 'note_added')).toEqual([]);
    } finally {
      sb.emulators.connectwise.clearFaults();
    }
  }, 90_000);
});
