import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DeskhandError, describeError, isDeskhandError } from '../core/errors.ts';
import { type BoardStatusMap, TICKET_PHASES, type TicketPhase } from '../core/ticket-status.ts';
import type { EngineContext } from '../engine/context.ts';
import type { TicketBoard } from '../integrations/module.ts';
import { appendAudit, inTransaction } from '../store/audit.ts';
import { requireAdmin, requireUser } from './auth.ts';
import { TicketStatusMap } from './contract.ts';
import { zodResponse, zodSchema } from './schema.ts';

/**
 * The ticket statuses a PSA integration's boards take in each phase of a request (waiting for an
 * approval, in progress, resolved): read by every signed-in user, set by msp_admin. A new map is
 * checked against the PSA (each board and status must exist there) and replaces the old one whole.
 */
type Body = z.output<typeof TicketStatusMap>;

/** The API's name of each phase (camelCase) and the stored one. */
const PHASE_KEYS: Record<TicketPhase, 'waiting' | 'inProgress' | 'resolved'> = { waiting: 'waiting', in_progress: 'inProgress', resolved: 'resolved' };

/** A stored board map as the API answers it. */
function answered(map: BoardStatusMap[]): TicketStatusMap {
  return { boards: map.map((entry) => Object.fromEntries([['board', entry.board], ...TICKET_PHASES.filter((phase) => entry[phase] !== undefined).map((phase) => [PHASE_KEYS[phase], entry[phase]])]) as TicketStatusMap['boards'][number]) };
}

export function registerTicketStatusRoutes(app: FastifyInstance, ctx: EngineContext): void {
  const params = zodSchema(z.object({ id: z.uuid() }));

  app.get(
    '/api/integrations/:id/ticket-statuses',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'getTicketStatuses',
        summary: 'The ticket status each board of a PSA integration takes while waiting for approval, in progress and resolved',
        params,
        response: { 200: zodResponse(TicketStatusMap) },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const { id } = request.params as { id: string };
      await integrationOf(ctx, id, user.mspId);
      return answered(await storedMap(ctx, id));
    },
  );

  app.put(
    '/api/integrations/:id/ticket-statuses',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'setTicketStatuses',
        summary: "Replace a PSA integration's ticket status map (board and status names, checked against the PSA; a phase left out changes nothing)",
        params,
        body: zodSchema(TicketStatusMap),
        response: { 200: zodResponse(TicketStatusMap) },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const { id } = request.params as { id: string };
      // Another MSP's integration is answered as one that does not exist, whatever the caller's role.
      const integration = await integrationOf(ctx, id, user.mspId);
      requireAdmin(request);
      const wanted = request.body as Body;
      const ticket = ctx.integrations.module(integration.kind).provides.includes('ticket') ? await ctx.integrations.ticketOf(id).catch(() => null) : null;
      if (!ticket) throw new DeskhandError('bad_request', `${integration.name} has no tickets: ticket statuses apply to a PSA integration`);
      const map = checkedMap(wanted, await boardsOf(ticket, integration.name));
      const at = ctx.clock.now();
      await inTransaction(ctx.db, async (tx) => {
        await tx.deleteFrom('ticket_statuses').where('integration_id', '=', id).execute();
        const rows = map.flatMap((entry) =>
          TICKET_PHASES.filter((phase) => entry[phase] !== undefined).map((phase) => ({
            msp_id: user.mspId,
            integration_id: id,
            board: entry.board,
            phase,
            status: entry[phase]!,
            updated_at: at,
            updated_by: user.email,
          })),
        );
        if (rows.length > 0) await tx.insertInto('ticket_statuses').values(rows).execute();
        await appendAudit(tx, { mspId: user.mspId, actor: `user:${user.email}`, event: 'ticket_statuses.changed', data: { integrationId: id, boards: answered(map).boards }, at });
      });
      return answered(await storedMap(ctx, id));
    },
  );
}

async function integrationOf(ctx: EngineContext, id: string, mspId: string): Promise<{ id: string; kind: string; name: string }> {
  const integration = await ctx.db.selectFrom('integrations').select(['id', 'kind', 'name']).where('id', '=', id).where('msp_id', '=', mspId).executeTakeFirst();
  if (!integration) throw new DeskhandError('not_found', 'no such integration');
  return integration;
}

async function storedMap(ctx: EngineContext, integrationId: string): Promise<BoardStatusMap[]> {
  const rows = await ctx.db.selectFrom('ticket_statuses').select(['board', 'phase', 'status']).where('integration_id', '=', integrationId).orderBy('board').execute();
  const byBoard = new Map<string, BoardStatusMap>();
  for (const row of rows) {
    const entry = byBoard.get(row.board) ?? { board: row.board };
    entry[row.phase] = row.status;
    byBoard.set(row.board, entry);
  }
  return [...byBoard.values()];
}

/** The PSA's boards and statuses; a PSA that cannot answer is the PSA's failure (502/503), not the caller's. */
async function boardsOf(ticket: { boards(): Promise<TicketBoard[]> }, name: string): Promise<TicketBoard[]> {
  try {
    return await ticket.boards();
  } catch (error) {
    const retryable = isDeskhandError(error) && error.retryable;
    throw new DeskhandError(retryable ? 'upstream_retryable' : 'upstream', `could not read the boards and statuses of ${name} to check the map: ${describeError(error)}`);
  }
}

/**
 * The map with the PSA's own spelling of each board and status, or a 400 naming every board and
 * status the PSA does not have (and what it has instead).
 */
function checkedMap(wanted: Body, boards: TicketBoard[]): BoardStatusMap[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const map: BoardStatusMap[] = [];
  for (const entry of wanted.boards) {
    const board = boards.find((b) => b.name.toLowerCase() === entry.board.toLowerCase());
    if (!board) {
      problems.push(`no board is named "${entry.board}" (boards: ${boards.map((b) => `"${b.name}"`).join(', ') || 'none'})`);
      continue;
    }
    if (seen.has(board.name.toLowerCase())) {
      problems.push(`the board "${board.name}" is named twice`);
      continue;
    }
    seen.add(board.name.toLowerCase());
    const checked: BoardStatusMap = { board: board.name };
    for (const phase of TICKET_PHASES) {
      const status = entry[PHASE_KEYS[phase]];
      if (status === undefined || status === null) continue;
      const found = board.statuses.find((s) => s.toLowerCase() === status.toLowerCase());
      if (found) checked[phase] = found;
      else problems.push(`the board "${board.name}" has no status "${status}" for ${phase} (its statuses: ${board.statuses.map((s) => `"${s}"`).join(', ') || 'none'})`);
    }
    map.push(checked);
  }
  if (problems.length > 0) throw new DeskhandError('bad_request', `the ticket status map does not match the PSA: ${problems.join('; ')}`);
  return map;
}
