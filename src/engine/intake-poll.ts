import { sql } from 'kysely';
import { describeError } from '../core/errors.ts';
import { allOf, condition, conditionIn } from '../integrations/connectwise/conditions.ts';
import { json } from '../store/db.ts';
import type { EngineContext } from './context.ts';
import { takeInTicket } from './intake.ts';

/**
 * Webhooks can be missed: the service was down when ConnectWise called, and ConnectWise gave up.
 * This poller asks each ConnectWise integration for tickets newer than the last one it saw, for the
 * companies deskhand serves, and takes in any that no webhook brought (a ticket already taken in is
 * the same request: intake is idempotent). One worker polls an integration per interval: the cursor
 * row is claimed with a conditional UPDATE.
 */
interface Cursor {
  lastTicketId: number;
  polledAt: string;
}

export async function pollMissedTickets(ctx: EngineContext, intervalMs: number): Promise<number> {
  const integrations = await ctx.db.selectFrom('integrations').selectAll().where('kind', '=', 'connectwise').where('enabled', '=', true).execute();
  let taken = 0;
  for (const integration of integrations) {
    try {
      taken += await pollOne(ctx, integration.id, intervalMs);
    } catch (error) {
      ctx.logger.warn({ integration: integration.name, error: describeError(error) }, 'could not poll ConnectWise for missed tickets');
    }
  }
  return taken;
}

async function pollOne(ctx: EngineContext, integrationId: string, intervalMs: number): Promise<number> {
  const key = `intake-cursor:${integrationId}`;
  const now = ctx.clock.now();
  const row = await ctx.integrations.row(integrationId);
  const client = ctx.integrations.connectWiseClient(row);
  const served = await ctx.db.selectFrom('clients').select(['id', 'psa_company_identifier']).where('msp_id', '=', row.msp_id).execute();
  const companies = served.map((c) => c.psa_company_identifier).filter((c): c is string => !!c);
  if (companies.length === 0) return 0;

  const cursor = await claimCursor(ctx, key, now, intervalMs);
  if (cursor === 'busy') return 0;
  if (cursor === null) {
    // First poll: start from the newest ticket, so tickets from before deskhand are left alone.
    const newest = await client.listTickets({ orderBy: 'id desc', pageSize: 1, limit: 1 }).then((t) => t[0]?.id ?? 0);
    await saveCursor(ctx, key, { lastTicketId: newest, polledAt: now.toISOString() });
    return 0;
  }
  const tickets = await client.listTickets({
    conditions: allOf(condition('id', '>', cursor.lastTicketId), conditionIn('company/identifier', companies)),
    orderBy: 'id asc',
    pageSize: 200,
  });
  const own = String((row.config as Record<string, unknown>)['apiMemberIdentifier'] ?? '').toLowerCase();
  let taken = 0;
  let refused = 0;
  // The cursor moves past each ticket once it is dealt with: taken in, left alone, or refused (one
  // that cannot be taken in is recorded as such and never stops the poll). An error that is not the
  // ticket's fault (the database is down) keeps the cursor before it, so the next poll tries again.
  let last = cursor.lastTicketId;
  try {
    for (const ticket of tickets) {
      const enteredBy = String((ticket._info as Record<string, unknown> | undefined)?.['enteredBy'] ?? '').toLowerCase();
      const company = ticket.company?.identifier?.toLowerCase();
      const clientRow = served.find((c) => c.psa_company_identifier?.toLowerCase() === company);
      if (ticket.closedFlag !== true && !(own && enteredBy === own) && clientRow) {
        const result = await takeInTicket(ctx, {
          mspId: row.msp_id,
          clientId: clientRow.id,
          channel: 'psa',
          sourceIntegrationId: integrationId,
          externalRef: String(ticket.id),
          requesterEmail: ticket.contactEmailAddress ?? null,
          subject: ticket.summary,
          via: 'poll:connectwise',
        });
        if ('refused' in result) refused++;
        else if (result.created) taken++;
      }
      last = Math.max(last, ticket.id);
    }
  } finally {
    await saveCursor(ctx, key, { lastTicketId: last, polledAt: now.toISOString() });
  }
  if (taken > 0) ctx.logger.warn({ integration: row.name, taken }, 'took in tickets whose webhook never arrived');
  if (refused > 0) ctx.logger.warn({ integration: row.name, refused }, 'refused tickets that cannot be taken in (see their internal notes)');
  return taken;
}

/** The cursor, if this worker may poll now; 'busy' when another poll ran within the interval. */
async function claimCursor(ctx: EngineContext, key: string, now: Date, intervalMs: number): Promise<Cursor | null | 'busy'> {
  const due = new Date(now.getTime() - intervalMs).toISOString();
  const claimed = await sql<{ value: Cursor }>`
    UPDATE settings SET value = jsonb_set(value, '{polledAt}', to_jsonb(${now.toISOString()}::text))
    WHERE key = ${key} AND (value->>'polledAt') < ${due}
    RETURNING value`.execute(ctx.db);
  if (claimed.rows[0]) return claimed.rows[0].value;
  const exists = await ctx.db.selectFrom('settings').select('key').where('key', '=', key).executeTakeFirst();
  return exists ? 'busy' : null;
}

async function saveCursor(ctx: EngineContext, key: string, cursor: Cursor): Promise<void> {
  await ctx.db
    .insertInto('settings')
    .values({ key, value: json(cursor) })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: json(cursor) }))
    .execute();
}
