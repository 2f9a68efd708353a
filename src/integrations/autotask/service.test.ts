import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test/support/db.ts';
import { startSandbox, type Sandbox } from '../../demo/sandbox.ts';
import { FINAL } from '../../demo/stories.ts';
import { intakeHost } from '../../engine/intake.ts';
import { silentLogger } from '../../logger.ts';
import type { ApprovalRow } from '../../store/schema.ts';
import { API_RESOURCE_ID, type AutotaskEmulator, emulatorCompanyId, NOTE_PUBLISH } from './emulator/index.ts';
import { autotask } from './index.ts';
import { webhookSignature } from './webhook.ts';

/**
 * Autotask through the real service (webhooks into it, the worker, decisions through the API) and
 * its emulator over HTTP: a ticket opened by a Woodgrove client's employee runs the approval story
 * on Autotask; webhook intake refuses what it must and takes a re-delivery in once.
 */
let sb: Sandbox;
let at: AutotaskEmulator;
const JON = 'jon.berg@woodgrove-tp.example';
const INTERNAL = Number(NOTE_PUBLISH.find((p) => p.label === 'Internal Only')!.value);
const ALL_USERS = Number(NOTE_PUBLISH.find((p) => p.label === 'All Autotask Users')!.value);

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
  at = sb.emulators.autotask!;
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

const db = () => sb.service.ctx.db;

async function integration(): Promise<{ id: string; secret: string }> {
  const row = await db().selectFrom('integrations').select('id').where('msp_id', '=', 'woodgrove').where('kind', '=', 'autotask').executeTakeFirstOrThrow();
  const registry = sb.service.ctx.integrations;
  return { id: row.id, secret: registry.secretsOf(await registry.row(row.id))['webhookSecret']! };
}

async function post(path: string, body: string, signature?: string) {
  const response = await fetch(`${sb.service.url}/webhooks/autotask/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature ? { 'x-hook-signature': signature } : {}) },
    body,
  });
  return { status: response.status, body: (await response.json().catch(() => null)) as Record<string, unknown> | null };
}

const requestCount = async () => Number((await db().selectFrom('requests').select(db().fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

function notes(ticket: number) {
  return at.tickets('woodgrove').find((t) => t.ticket.id === ticket)?.notes ?? [];
}

describe('Autotask through the service', () => {
  it('registered its Ticket and TicketNote webhooks at start, with deskhand excluded', async () => {
    const { id } = await integration();
    const registered = at.effects('woodgrove').filter((e) => e.op === 'webhook_registered');
    expect(registered.map((e) => e.firstLine.split(' ')[0]).sort()).toEqual(['TicketNoteWebhooks', 'TicketWebhooks']);
    const deliveries = at.deliveries();
    expect(deliveries.every((d) => d.url.endsWith(`/webhooks/autotask/${id}`))).toBe(true);
  });

  it('plays the approval story: internal note and notice, approval, the change, a reply without a marker, the statuses in order', async () => {
    const ticket = await sb.openTicket('litware', 'ivan.petrov@litware.example', 'Could you give me Zendesk access?');
    const request = await sb.requestForTicket(ticket);
    const waiting = await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL], 30_000);
    expect(waiting.state, String(waiting.last_error)).toBe('awaiting_approval');
    await sb.waitForDelivered(request.id, 30_000);
    const before = notes(ticket);
    expect(before.length).toBeGreaterThanOrEqual(2);
    expect(before.every((n) => n['publish'] === INTERNAL && n['creatorResourceID'] === API_RESOURCE_ID)).toBe(true);
    expect(before.some((n) => String(n['description']).includes('approval request'))).toBe(true);
    const approval = (await db().selectFrom('approvals').selectAll().where('request_id', '=', request.id).where('kind', '=', 'technician').executeTakeFirstOrThrow()) as ApprovalRow;
    // Autotask makes the next two notes but their answers are lost: each is still on the ticket once.
    at.addFault({ status: 502, pathContains: '/Notes', method: 'POST', afterEffect: true, count: 2 });
    const decided = await sb.api('POST', `/api/approvals/${approval.id}/decision`, { token: await sb.tokenFor(JON), body: { decision: 'approve', planHash: approval.plan_hash } });
    expect(decided.status).toBe(200);
    const final = await sb.waitForRequest(request.id, FINAL, 30_000);
    await sb.waitForDelivered(request.id, 30_000);
    expect([final.state, final.outcome]).toEqual(['replied', 'executed']);
    expect(sb.emulators.graph.tenant('litware').users.find((u) => u.userPrincipalName === 'ivan.petrov@litware.example')!.groups).toContain('SG-App-Zendesk');
    const replies = notes(ticket).filter((n) => n['publish'] === ALL_USERS);
    expect(replies).toHaveLength(1);
    expect(String(replies[0]!['description'])).toContain('SG-App-Zendesk');
    expect(String(replies[0]!['description'])).not.toContain('[deskhand ref');
    const texts = notes(ticket).map((n) => String(n['description']));
    expect(texts.length).toBe(new Set(texts).size);
    expect(at.requests().filter((r) => r.method === 'POST' && r.path.endsWith('/Notes') && r.status === 502)).toHaveLength(2);
    const statuses = at.effects('woodgrove').filter((e) => e.op === 'status_changed' && e.ticketId === ticket).map((e) => e.firstLine);
    expect(statuses).toEqual(['Waiting Approval', 'In Progress', 'Complete']);
    // deskhand's own notes never came back: its Resource is excluded from the webhooks.
    await at.deliveriesSettled();
    expect(at.deliveries().filter((d) => d.entity === 'TicketNote')).toHaveLength(0);
  }, 90_000);

  it('refuses an unknown integration, a missing or wrong signature (401), a malformed body (400), and changes nothing', async () => {
    const { id, secret } = await integration();
    const ticket = at.openTicket({ client: 'litware', requester: 'kofi.mensah@litware.example', title: 'probe', description: 'probe' });
    await at.deliveriesSettled();
    const count = await requestCount();
    const body = JSON.stringify({ Action: 'Create', Guid: 'g', EntityType: 'Ticket', Id: ticket.id + 1000, Fields: {}, EventTime: new Date().toISOString(), SequenceNumber: 1, PersonID: null });
    expect((await post('00000000-0000-4000-8000-000000000000', body, webhookSignature(secret, body))).status).toBe(401);
    expect((await post(id, body)).status).toBe(401);
    expect((await post(id, body, webhookSignature('another-secret-entirely', body))).status).toBe(401);
    expect((await post(id, body, webhookSignature(secret, `${body} `))).status).toBe(401);
    const malformed = '{"Action": "Create", "Id": "x"';
    expect((await post(id, malformed, webhookSignature(secret, malformed))).status).toBe(400);
    const wrongShape = JSON.stringify({ Action: 'Create', EntityType: 'Ticket', Id: 'seven' });
    expect((await post(id, wrongShape, webhookSignature(secret, wrongShape))).status).toBe(400);
    expect(await requestCount()).toBe(count);
    // Nothing was read for the refused events (the ticket they name was never asked for).
    expect(at.requests().filter((r) => r.path.includes(`/Tickets/${ticket.id + 1000}`))).toEqual([]);
  });

  it('takes a re-delivered ticket in once (2xx, no second request)', async () => {
    const { id, secret } = await integration();
    const ticket = at.openTicket({ client: 'litware', requester: 'kofi.mensah@litware.example', title: 'Figma', description: 'Please remove me from DL-Litware.' });
    await at.deliveriesSettled();
    const first = await sb.requestForTicket(ticket.id);
    const count = await requestCount();
    const body = JSON.stringify({ Action: 'Create', Guid: 'g', EntityType: 'Ticket', Id: ticket.id, Fields: {}, EventTime: new Date().toISOString(), SequenceNumber: 1, PersonID: null });
    const again = await post(id, body, webhookSignature(secret, body));
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ accepted: true, requestId: first.id, duplicate: true });
    expect(await requestCount()).toBe(count);
  });

  it("never starts anything from deskhand's own Resource, nor from a technician's note", async () => {
    const { id, secret } = await integration();
    const count = await requestCount();
    const ticket = at.openTicket({ client: 'litware', requester: 'hana.sato@litware.example', title: 'own', description: 'x' });
    await at.deliveriesSettled();
    const afterTicket = await requestCount();
    expect(afterTicket).toBe(count + 1);
    for (const [entity, person] of [
      ['TicketNote', API_RESOURCE_ID],
      ['Ticket', API_RESOURCE_ID],
    ] as const) {
      const body = JSON.stringify({ Action: 'Create', Guid: 'g', EntityType: entity, Id: ticket.id + 500, Fields: {}, EventTime: new Date().toISOString(), SequenceNumber: 2, PersonID: person });
      const answer = await post(id, body, webhookSignature(secret, body));
      expect(answer.status).toBe(202);
      expect(answer.body).toMatchObject({ accepted: false, reason: 'own_change' });
    }
    const gone = JSON.stringify({ Action: 'Create', Guid: 'g', EntityType: 'Ticket', Id: 999_999, Fields: {}, EventTime: new Date().toISOString(), SequenceNumber: 3, PersonID: 1 });
    expect(await post(id, gone, webhookSignature(secret, gone))).toMatchObject({ status: 202, body: { accepted: false, reason: 'ticket_not_found' } });
    at.addTechnicianNote(ticket.id, 'looking into it');
    await at.deliveriesSettled();
    const noteDelivery = at.deliveries().filter((d) => d.entity === 'TicketNote').at(-1);
    expect(noteDelivery?.status).toBe(202);
    expect(await requestCount()).toBe(afterTicket);
  });

  it('takes in, by the poll, a ticket whose webhook never arrived, once', async () => {
    const { id } = await integration();
    const registry = sb.service.ctx.integrations;
    const connected = registry.connected(await registry.row(id));
    const host = intakeHost(sb.service.ctx, () => {});
    // The cursor is claimed per interval on the service's clock: move it on before each poll.
    const poll = () => {
      sb.clock.advance(1_000);
      return autotask.poll!(connected, host, 0);
    };
    await poll();
    const ticket = at.openTicket({ client: 'litware', requester: 'julia.costa@litware.example', title: 'missed', description: 'Please add me to SG-App-Figma.', webhooks: false });
    const count = await requestCount();
    expect(await poll()).toBe(1);
    expect((await sb.requestForTicket(ticket.id)).external_ref).toBe(String(ticket.id));
    expect(await poll()).toBe(0);
    expect(await requestCount()).toBe(count + 1);
  });

  it('lists Woodgrove clients among the companies, by Autotask company id', async () => {
    const { id } = await integration();
    const companies = await (await sb.service.ctx.integrations.ticketOf(id)).companies();
    expect(companies).toContainEqual({ externalId: String(emulatorCompanyId(sb.world, 'litware')), name: 'Litware Inc' });
  });
});
