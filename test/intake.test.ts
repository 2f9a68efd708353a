import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { FINAL } from '../src/demo/stories.ts';
import { ConnectWiseClient } from '../src/integrations/connectwise/client.ts';
import { emulatorPortalCredentials } from '../src/integrations/connectwise/emulator/data.ts';
import { connectWiseOf } from '../src/integrations/connectwise/intake.ts';
import { silentLogger } from '../src/logger.ts';
import { connectIntegrations } from '../src/service.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * Intake takes in what ConnectWise sends, whatever its text holds: a NUL byte (which PostgreSQL
 * refuses in text) or a lone surrogate is cleaned at the edge, on the webhook and on the poll for
 * missed tickets; a ticket that still cannot be taken in is refused with its reason (an audit event
 * and an internal note on the ticket), and the poll's cursor moves past it.
 */

let sb: Sandbox;
const NUL = '\u0000';

function portal(): ConnectWiseClient {
  return new ConnectWiseClient({ siteUrl: sb.emulators.endpoints.connectwise, ...emulatorPortalCredentials('northwind') });
}

async function openTicket(summary: string, description: string, email = 'patti.fernandez@contoso.example'): Promise<number> {
  const ticket = await portal().createTicket({ summary, company: { identifier: 'contoso' }, contactEmailAddress: email, initialDescription: description });
  return ticket.id;
}

async function requestOf(ticket: number) {
  return sb.service.ctx.db.selectFrom('requests').selectAll().where('external_ref', '=', String(ticket)).executeTakeFirst();
}

function deliveriesOf(ticket: number) {
  return sb.emulators.connectwise.deliveries().filter((d) => d.recordId === ticket && d.action === 'added');
}

function agentNotes(ticket: number): { text: string; internal: boolean }[] {
  const view = sb.emulators.connectwise.tickets().find((t) => t.ticket['id'] === ticket);
  return (view?.notes ?? [])
    .filter((n) => (n['member'] as { identifier?: string } | undefined)?.identifier === 'deskhand')
    .map((n) => ({ text: String(n['text']), internal: n['internalAnalysisFlag'] === true }));
}

function storable(text: string): boolean {
  return !text.includes(NUL) && !/[\uD800-\uDFFF]/.test(text.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''));
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

describe('a ticket whose text PostgreSQL cannot store as it is', () => {
  it('comes in through the webhook cleaned: no 500, NUL bytes and lone surrogates gone, and the request goes on', async () => {
    const ticket = await openTicket(`Can I have${NUL} Zendesk, please?${NUL}`, `Hi,${NUL}${NUL} please add me to Zendesk \uD800 for the new project.`);
    await sb.emulators.connectwise.deliveriesSettled();
    const statuses = deliveriesOf(ticket).flatMap((d) => d.attempts.map((a) => a.status));
    expect(statuses).toEqual([202]);

    const request = await sb.requestForTicket(ticket);
    expect(request.subject).toBe('Can I have Zendesk, please?');
    const final = await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL]);
    expect(final.state).not.toBe('failed');
    expect(final.body).toBe('Hi, please add me to Zendesk \uFFFD for the new project.');
    expect(storable(final.body)).toBe(true);
    await sb.waitForDelivered(request.id);
    expect(agentNotes(ticket).filter((n) => n.internal && n.text.startsWith('deskhand diagnosis'))).toHaveLength(1);
  });

  it('that still cannot be taken in through the webhook is refused once with its reason (202, not 500), and the next ticket comes in', async () => {
    const { db } = sb.service.ctx;
    await sql`ALTER TABLE requests ADD CONSTRAINT refuse_webhook_ticket CHECK (subject NOT LIKE 'Refuse me%') NOT VALID`.execute(db);
    try {
      const ticket = await openTicket('Refuse me: Zendesk please', 'Please add me to Zendesk.');
      await sb.emulators.connectwise.deliveriesSettled();
      const deliveries = deliveriesOf(ticket);
      expect(deliveries.flatMap((d) => d.attempts.map((a) => a.status))).toEqual([202]);
      expect(JSON.parse(await replay(ticket))).toMatchObject({ accepted: false, reason: 'refused' });
      expect(await requestOf(ticket)).toBeUndefined();
      const refusals = await db.selectFrom('audit_log').selectAll().where('event', '=', 'intake.refused').execute();
      expect(refusals.filter((r) => (r.data as { externalRef?: string }).externalRef === String(ticket))).toHaveLength(1);
      expect(refusals.find((r) => (r.data as { externalRef?: string }).externalRef === String(ticket))?.actor).toBe('webhook:connectwise');
      const note = await waitFor('the refusal note on the ticket', async () => agentNotes(ticket).find((n) => n.internal));
      expect(note.text).toContain('refuse_webhook_ticket');
    } finally {
      await sql`ALTER TABLE requests DROP CONSTRAINT IF EXISTS refuse_webhook_ticket`.execute(db);
    }
    const next = await openTicket('Can I have Zendesk, please?', 'Please add me to Zendesk.', 'megan.bowen@contoso.example');
    expect((await sb.requestForTicket(next)).subject).toBe('Can I have Zendesk, please?');
  });
});

/** The same `added` callback again, signed, as ConnectWise retries it; the response body. */
async function replay(ticket: number): Promise<string> {
  const row = await sb.service.ctx.db.selectFrom('integrations').selectAll().where('kind', '=', 'connectwise').where('msp_id', '=', 'northwind').executeTakeFirstOrThrow();
  const url = `${sb.service.url}/webhooks/connectwise/${row.id}/${sb.service.ctx.integrations.secretsOf(row)['webhookSecret']}`;
  const result = await sb.emulators.connectwise.forgeCallback({ url, signature: 'valid', ticketId: ticket, action: 'added', companyId: 'northwind', memberId: 'portal' });
  expect(result.status).toBe(202);
  return result.responseBody;
}

describe('the poll for tickets whose webhook was lost', () => {
  it('takes in the others when one cannot be taken in, records that one as refused with its reason, and moves past it', async () => {
    const { db } = sb.service.ctx;
    const worker = sb.service.worker!;
    const row = await db.selectFrom('integrations').selectAll().where('kind', '=', 'connectwise').where('msp_id', '=', 'northwind').executeTakeFirstOrThrow();
    const cw = connectWiseOf(sb.service.ctx.integrations.connected(row)).client;
    await worker.pollIntakeIfDue(true); // the cursor stands at the newest ticket
    for (const callback of await cw.listCallbacks()) await cw.deleteCallback(callback.id);
    try {
      const first = await openTicket('Could I get DocuSign access?', 'Please add me to DocuSign.', 'lee.gu@contoso.example');
      const poisoned = await openTicket(`Zendesk${NUL} access please`, `Please${NUL} add me to Zendesk.`, 'lidia.holloway@contoso.example');
      const refused = await openTicket('Can I have Zendesk, please?', 'Please add me to Zendesk.', 'miriam.graham@contoso.example');
      const last = await openTicket('Can I have Zendesk, please?', 'Please add me to Zendesk.', 'megan.bowen@contoso.example');
      // The database refuses one ticket outright: a check constraint stands in for any refusal that
      // cleaning the text cannot fix.
      await sql`ALTER TABLE requests ADD CONSTRAINT refuse_one_ticket CHECK (external_ref <> ${sql.lit(String(refused))}) NOT VALID`.execute(db);

      expect(await worker.pollIntakeIfDue(true)).toBe(3);
      for (const ticket of [first, poisoned, last]) expect(await requestOf(ticket)).toBeDefined();
      expect((await requestOf(poisoned))!.subject).toBe('Zendesk access please');
      expect(await requestOf(refused)).toBeUndefined();

      const refusal = await db
        .selectFrom('audit_log')
        .selectAll()
        .where('msp_id', '=', 'northwind')
        .where('event', '=', 'intake.refused')
        .where(sql<boolean>`data->>'externalRef' = ${String(refused)}`)
        .executeTakeFirstOrThrow();
      expect(refusal.actor).toBe('poll:connectwise');
      expect(refusal.data).toMatchObject({ integrationId: row.id, externalRef: String(refused) });
      expect(String((refusal.data as { reason: string }).reason)).toContain('refuse_one_ticket');
      // Technicians see it where they work: an internal note on the ticket says why deskhand left it.
      const note = await waitFor('the refusal note on the ticket', async () => agentNotes(refused).find((n) => n.internal));
      expect(note.text).toContain('could not take this ticket in');
      expect(note.text).toContain('refuse_one_ticket');

      const cursor = await db.selectFrom('settings').select('value').where('key', '=', `intake-cursor:${row.id}`).executeTakeFirstOrThrow();
      expect((cursor.value as { lastTicketId: number }).lastTicketId).toBe(last);

      // Nothing is stuck: the next poll has nothing to take (the refused ticket is behind the cursor)
      // and a ticket missed later still comes in.
      expect(await worker.pollIntakeIfDue(true)).toBe(0);
      const later = await openTicket('Could I get DocuSign access?', 'Please add me to DocuSign.', 'lee.gu@contoso.example');
      expect(await worker.pollIntakeIfDue(true)).toBe(1);
      expect(await requestOf(later)).toBeDefined();
      expect(await db.selectFrom('audit_log').select('seq').where('event', '=', 'intake.refused').where(sql<boolean>`data->>'externalRef' = ${String(refused)}`).execute()).toHaveLength(1);
    } finally {
      await sql`ALTER TABLE requests DROP CONSTRAINT IF EXISTS refuse_one_ticket`.execute(db);
      await connectIntegrations(sb.service.ctx, `http://127.0.0.1:${new URL(sb.service.url).port}`, sb.service.ctx.logger);
    }
  });
});
