import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { FINAL } from '../src/demo/stories.ts';
import { silentLogger } from '../src/logger.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * HaloPSA end to end, over HTTP, with the real service and worker and the HaloPSA emulator: the
 * webhook Halo calls for a new ticket (its Basic authentication checked, bad input refused and
 * nothing changed, a re-delivery taking nothing in twice), and the approval story on a ticket of
 * Tailspin's client Adatum, first in Plan Mode (the world's), then in Execute Mode set through the API.
 */
let sb: Sandbox;
const KIM = 'kim.lee@tailspin-ms.example';
const OMAR = 'omar.haddad@tailspin-ms.example';
const DAN = 'dan.brown@adatum.example';

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

const db = () => sb.service.ctx.db;
const halo = () => sb.emulators.halopsa;

async function integration() {
  const row = await db().selectFrom('integrations').selectAll().where('msp_id', '=', 'tailspin').where('kind', '=', 'halopsa').executeTakeFirstOrThrow();
  return { id: row.id, secret: sb.service.ctx.integrations.secretsOf(row)['webhookSecret']! };
}

const basic = (password: string, user = 'deskhand') => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function deliver(integrationId: string, body: string, authorization?: string) {
  const response = await fetch(`${sb.service.url}/webhooks/halopsa/${integrationId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body,
  });
  return { status: response.status, body: await response.text() };
}

const payload = (ticketId: number) => JSON.stringify({ id: crypto.randomUUID(), event: 'New Ticket Logged', object_id: ticketId, webhook_id: 'x', notification_id: 1, timestamp: new Date().toISOString() });
const requestCount = async () => Number((await db().selectFrom('requests').select(db().fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
const haloCalls = () => halo().requests().filter((r) => r.path.startsWith('/api/')).length;

async function openAt(details: string): Promise<number> {
  return sb.openTicket('adatum', DAN, details);
}

function actions(ticket: number) {
  return halo().tickets().find((t) => t.id === ticket)?.actions ?? [];
}

describe('HaloPSA webhook intake', () => {
  it('the demo registered its webhook in Halo with Basic authentication, and a portal ticket comes in through it', async () => {
    const { id } = await integration();
    const ticket = await openAt('Could you add me to the All Adatum list? I seem to be missing mails.');
    const request = await sb.requestForTicket(ticket);
    await halo().deliveriesSettled();
    const delivery = halo().deliveries().find((d) => d.ticketId === ticket)!;
    expect(delivery.url).toContain(`/webhooks/halopsa/${id}`);
    expect(delivery.state).toBe('delivered');
    await sb.waitForRequest(request.id, FINAL, 30_000);
    await sb.waitForDelivered(request.id, 30_000);
  });

  it('a wrong or missing secret, or an unknown integration, is 401 and changes nothing', async () => {
    const { id, secret } = await integration();
    const before = { requests: await requestCount(), calls: haloCalls() };
    expect((await deliver(id, payload(4200))).status).toBe(401);
    expect((await deliver(id, payload(4200), basic(`${secret}x`))).status).toBe(401);
    expect((await deliver(id, payload(4200), `Bearer ${secret}`)).status).toBe(401);
    expect((await deliver('00000000-0000-4000-8000-000000000000', payload(4200), basic(secret))).status).toBe(401);
    const cw = await db().selectFrom('integrations').select('id').where('kind', '=', 'connectwise').executeTakeFirstOrThrow();
    expect((await deliver(cw.id, payload(4200), basic(secret))).status).toBe(401);
    const answer = await deliver(id, payload(4200), basic(`${secret}x`));
    expect(answer.body).not.toContain(secret);
    expect({ requests: await requestCount(), calls: haloCalls() }).toEqual(before);
  });

  it('a malformed body is 400 and changes nothing', async () => {
    const { id, secret } = await integration();
    const before = { requests: await requestCount(), calls: haloCalls() };
    for (const body of ['not json', '{}', '[]', JSON.stringify({ event: 'New Ticket Logged' }), JSON.stringify({ event: 'New Ticket Logged', object_id: -3 }), JSON.stringify({ object_id: 5 }), JSON.stringify([1, 2])]) {
      expect((await deliver(id, body, basic(secret))).status, body).toBe(400);
    }
    expect({ requests: await requestCount(), calls: haloCalls() }).toEqual(before);
  });

  it('a re-delivery of the same ticket answers 2xx and starts no second request', async () => {
    const { id, secret } = await integration();
    const ticket = await openAt('I stayed signed in on a shared computer, please sign me out everywhere.');
    const request = await sb.requestForTicket(ticket);
    const before = await requestCount();
    const again = await deliver(id, payload(ticket), basic(secret));
    expect(again.status).toBe(202);
    expect(JSON.parse(again.body)).toEqual({ results: [{ ticket, accepted: true, requestId: request.id, duplicate: true }] });
    expect(await requestCount()).toBe(before);
    await sb.waitForRequest(request.id, FINAL, 30_000);
    await sb.waitForDelivered(request.id, 30_000);
  });

  it('an event that is not a new ticket, or a ticket Halo does not have, is accepted and starts nothing', async () => {
    const { id, secret } = await integration();
    const before = await requestCount();
    const answer = await deliver(id, JSON.stringify({ event: 'Ticket Status Changed', object_id: 999999 }), basic(secret));
    expect(answer.status).toBe(202);
    const unknown = await deliver(id, payload(999999), basic(secret));
    expect(unknown.status).toBe(202);
    expect(JSON.parse(unknown.body)).toEqual({ results: [{ ticket: 999999, accepted: false, reason: 'ticket_not_found' }] });
    expect(await requestCount()).toBe(before);
  });
});

describe('HaloPSA poll', () => {
  it('takes in a ticket whose webhook never came, once', async () => {
    const worker = sb.service.worker!;
    await worker.pollIntakeIfDue(true); // the cursor stands at the newest ticket
    halo().pauseWebhooks(true);
    try {
      const ticket = await openAt('I stayed signed in at the airport, please sign me out.');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await db().selectFrom('requests').select('id').where('external_ref', '=', String(ticket)).executeTakeFirst()).toBeUndefined();
      await worker.pollIntakeIfDue(true);
      const request = await sb.requestForTicket(ticket, 5_000);
      await worker.pollIntakeIfDue(true);
      expect(await db().selectFrom('requests').select('id').where('external_ref', '=', String(ticket)).execute()).toHaveLength(1);
      await sb.waitForRequest(request.id, FINAL, 30_000);
      await sb.waitForDelivered(request.id, 30_000);
    } finally {
      halo().pauseWebhooks(false);
    }
  });
});

describe('HaloPSA: the approval story at Adatum', () => {
  it('Plan Mode first: one private note with the plan, nothing else', async () => {
    const ticket = await openAt('I need access to Salesforce.');
    const request = await sb.requestForTicket(ticket);
    const final = await sb.waitForRequest(request.id, FINAL, 30_000);
    await sb.waitForDelivered(request.id, 30_000);
    expect(`${final.state}/${final.outcome}`).toBe('planned/planned');
    const notes = actions(ticket);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toEqual(expect.objectContaining({ hiddenfromuser: true, sendemail: false, outcome: 'Private Note' }));
    expect(sb.emulators.graph.tenant('adatum').users.find((u) => u.userPrincipalName === DAN)!.groups).not.toContain('App-Salesforce');
  });

  it('switched to Execute through the API: note, approval, executed, reply; statuses as mapped', async () => {
    const client = await db().selectFrom('clients').select('id').where('slug', '=', 'adatum').executeTakeFirstOrThrow();
    const switched = await sb.api('PATCH', `/api/clients/${client.id}`, { token: await sb.tokenFor(KIM), body: { operatingMode: 'execute' } });
    expect(switched.status).toBe(200);

    const ticket = await openAt('I need access to Salesforce for the new accounts.');
    const request = await sb.requestForTicket(ticket);
    const waiting = await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL], 30_000);
    expect(waiting.state, String(waiting.last_error)).toBe('awaiting_approval');
    await sb.waitForDelivered(request.id, 30_000);
    expect(actions(ticket).every((a) => a.hiddenfromuser)).toBe(true);
    expect(actions(ticket).some((a) => a.note.includes('approval request'))).toBe(true);

    const approval = await db().selectFrom('approvals').selectAll().where('request_id', '=', request.id).where('kind', '=', 'technician').executeTakeFirstOrThrow();
    const decided = await sb.api('POST', `/api/approvals/${approval.id}/decision`, { token: await sb.tokenFor(OMAR), body: { decision: 'approve', planHash: approval.plan_hash } });
    expect(decided.status).toBe(200);
    const final = await sb.waitForRequest(request.id, FINAL, 30_000);
    await sb.waitForDelivered(request.id, 30_000);
    expect(`${final.state}/${final.outcome}`, String(final.last_error)).toBe('replied/executed');

    expect(sb.emulators.graph.tenant('adatum').users.find((u) => u.userPrincipalName === DAN)!.groups).toContain('App-Salesforce');
    const replies = actions(ticket).filter((a) => !a.hiddenfromuser);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toEqual(expect.objectContaining({ sendemail: true, outcome: 'Email User' }));
    expect(replies[0]!.note).toContain('App-Salesforce');
    expect(replies[0]!.note).not.toContain('[deskhand ref');
    expect(actions(ticket).some((a) => a.hiddenfromuser && a.note.includes('approved by') && a.note.includes(OMAR))).toBe(true);
    const statuses = halo().effects().filter((e) => e.op === 'status_changed' && e.ticketId === ticket).map((e) => e.firstLine);
    expect(statuses).toEqual(['Waiting on Approval', 'In Progress', 'Closed']);
  }, 120_000);
});
