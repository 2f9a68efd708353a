import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FINAL } from '../src/demo/stories.ts';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { silentLogger } from '../src/logger.ts';
import { json } from '../src/store/db.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * Shared mailboxes and distribution lists through the real service and the emulators: Graph refuses
 * to change their members, so the same tool goes through Exchange Online (the emulator's call log and
 * Graph's view of the group prove it); without Exchange Online access the request escalates at
 * diagnosis with a note that says why; an answer lost after Exchange made the change is reconciled,
 * not repeated.
 */
let sb: Sandbox;
const TOM = 'tom.rivera@northwind-it.example';

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

beforeEach(() => {
  sb.emulators.graph.clearFaults();
});

async function openAndApprove(client: string, upn: string, text: string) {
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

function groupsOf(client: string, upn: string): string[] {
  return sb.emulators.graph.tenant(client).users.find((u) => u.userPrincipalName === upn)!.groups;
}

function graphMemberWrites(): number {
  return sb.emulators.graph.requests().filter((r) => r.path.includes('/members/') && (r.method === 'POST' || r.method === 'DELETE')).length;
}

describe('a shared-mailbox request', () => {
  it('executes through Exchange Online; Graph is never asked to change the group', async () => {
    const upn = 'isaiah.langer@contoso.example';
    const graphWritesBefore = graphMemberWrites();
    const { ticket, requestId } = await openAndApprove('contoso', upn, 'Could you add me to the Accounts Payable shared mailbox?');
    const final = await sb.waitForRequest(requestId, FINAL);
    expect([final.state, final.outcome]).toEqual(['replied', 'executed']);
    expect(groupsOf('contoso', upn)).toContain('SM-Accounts-Payable');
    const adds = sb.emulators.graph.exchange.calls('contoso').filter((c) => c.cmdlet === 'Add-DistributionGroupMember' && c.parameters['Member'] === upn);
    expect(adds.map((c) => [c.status, c.parameters['Identity'], c.parameters['BypassSecurityGroupManagerCheck']])).toEqual([[200, 'ap@contoso.example', true]]);
    expect(graphMemberWrites()).toBe(graphWritesBefore);
    await sb.waitForDelivered(requestId);
    const note = agentNotes(ticket).find((n) => n.internal && n.text.includes('SM-Accounts-Payable is a mail-enabled security group'));
    expect(note?.text).toContain('goes through Exchange Online (Add-DistributionGroupMember)');
    const step = await sb.service.ctx.db.selectFrom('step_executions').selectAll().where('request_id', '=', requestId).executeTakeFirstOrThrow();
    expect(step.summary).toContain('through Exchange Online');
  });
});

describe('without Exchange Online access', () => {
  it('escalates at diagnosis with a note that says why, and changes nothing', async () => {
    const integration = await sb.service.ctx.db
      .selectFrom('integrations')
      .selectAll()
      .where('kind', '=', 'm365')
      .where('client_id', 'is not', null)
      .execute()
      .then((rows) => rows.find((r) => JSON.stringify(r.config).includes(sb.emulators.graph.tenant('contoso').tenantId))!);
    const settings = integration.config as Record<string, unknown>;
    const { exchangeOnline: _dropped, ...withoutExchange } = settings;
    await sb.service.ctx.db.updateTable('integrations').set({ config: json(withoutExchange), updated_at: new Date() }).where('id', '=', integration.id).execute();
    sb.service.ctx.integrations.invalidate(integration.id);
    try {
      const upn = 'nestor.wilke@contoso.example';
      const ticket = await sb.openTicket('contoso', 'patti.fernandez@contoso.example', 'Could you put Nestor on the Sales distribution list?');
      const request = await sb.requestForTicket(ticket);
      const final = await sb.waitForRequest(request.id, FINAL);
      expect(final.state).toBe('escalated');
      await sb.waitForDelivered(request.id);
      const internal = agentNotes(ticket).filter((n) => n.internal).map((n) => n.text).join('\n');
      expect(internal).toContain('the plan (Add Nestor Wilke to DL-Sales) cannot be carried out');
      expect(internal).toContain('DL-Sales is a distribution list');
      expect(internal).toContain('no Exchange Online access configured');
      expect(groupsOf('contoso', upn)).not.toContain('DL-Sales');
      expect(sb.emulators.graph.exchange.calls('contoso').filter((c) => c.parameters['Member'] === upn)).toEqual([]);
    } finally {
      await sb.service.ctx.db.updateTable('integrations').set({ config: json(settings), updated_at: new Date() }).where('id', '=', integration.id).execute();
      sb.service.ctx.integrations.invalidate(integration.id);
    }
  });
});

describe('an answer lost after Exchange made the change', () => {
  it('is reconciled through Exchange Online, not written twice', async () => {
    const upn = 'debra.berger@contoso.example';
    sb.emulators.graph.injectFault({ status: 503, count: 1, method: 'POST', pathContains: '/InvokeCommand', retryAfterSeconds: 30, afterEffect: true });
    const { requestId } = await openAndApprove('contoso', upn, 'Could you add me to the Accounts Payable shared mailbox?');
    const retrying = await sb.waitForRequest(requestId, (r) => r.last_error !== null || FINAL.includes(r.state));
    expect(retrying.state).toBe('executing');
    expect(groupsOf('contoso', upn)).toContain('SM-Accounts-Payable');
    sb.clock.advance(31_000);
    const final = await sb.waitForRequest(requestId, FINAL);
    expect([final.state, final.outcome]).toEqual(['replied', 'executed']);
    const adds = sb.emulators.graph.exchange.calls('contoso').filter((c) => c.cmdlet === 'Add-DistributionGroupMember' && c.parameters['Member'] === upn);
    expect(adds.map((c) => c.status)).toEqual([200]);
    // Reconciled by reading the members through the documented v2.0 endpoint.
    expect(sb.emulators.graph.exchange.calls('contoso').some((c) => c.surface === 'DistributionGroupMember' && c.parameters['Identity'] === 'ap@contoso.example')).toBe(true);
    const changes = sb.emulators.graph.effects('contoso').filter((e) => e.targetName === upn && e.op === 'member_added');
    expect(changes).toHaveLength(1);
    const audit = await sb.service.ctx.db.selectFrom('audit_log').select('event').where('request_id', '=', requestId).where('event', '=', 'step.reconciled').execute();
    expect(audit).toHaveLength(1);
    const step = await sb.service.ctx.db.selectFrom('step_executions').selectAll().where('request_id', '=', requestId).executeTakeFirstOrThrow();
    expect(step.summary).toContain('through Exchange Online (confirmed after an interrupted attempt)');
  });
});
