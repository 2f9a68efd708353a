import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { z } from 'zod';
import { DeskhandError } from '../core/errors.ts';
import type { EngineContext } from '../engine/context.ts';
import { noStore, requireUser } from './auth.ts';
import { AuditList } from './contract.ts';
import { integerText, zodResponse, zodSchema } from './schema.ts';

const AuditQuery = z.object({
  /** Words looked for in the event, the actor and the data (as text), case-insensitively. */
  q: z.string().trim().max(200).optional(),
  event: z.string().trim().max(100).optional(),
  requestId: z.uuid().optional(),
  /** Keyset paging: rows older than this sequence number. */
  before: z.string().regex(/^[1-9][0-9]{0,17}$/).optional(),
  limit: integerText({ min: 1, max: 200 }).default(50),
});
type AuditQuery = z.infer<typeof AuditQuery>;

/** `%` and `_` in the search words are matched as themselves, not as patterns. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The MSP's audit log, newest first: the audit page reads it (its verification is GET /api/audit/verify). */
export function registerAuditRoutes(app: FastifyInstance, ctx: EngineContext): void {
  app.get(
    '/api/audit',
    {
      schema: {
        tags: ['audit'],
        operationId: 'listAuditLog',
        summary: "The caller's MSP's audit log, newest first, searchable (msp_admin and msp_technician)",
        description: '`q` looks in the event, the actor and the data; `before` (a seq) pages to older rows, `nextBefore` says where the next page starts (null: no more).',
        querystring: zodSchema(AuditQuery),
        response: { 200: zodResponse(AuditList) },
      },
    },
    async (request, reply) => {
      const user = requireUser(request);
      // Billing reads what happened on a request's story, never the log's data (reasons, comments).
      if (user.role === 'msp_billing') throw new DeskhandError('forbidden', 'the audit log is for admins and technicians');
      const query = request.query as AuditQuery;
      let select = ctx.db
        .selectFrom('audit_log')
        .select(['seq', 'at', 'actor', 'event', 'request_id', 'data'])
        .where('msp_id', '=', user.mspId)
        .orderBy('seq', 'desc')
        .limit(query.limit + 1);
      if (query.before) select = select.where('seq', '<', query.before as never);
      if (query.event) select = select.where('event', '=', query.event);
      if (query.requestId) select = select.where('request_id', '=', query.requestId);
      if (query.q) {
        const pattern = likePattern(query.q);
        select = select.where((eb) =>
          eb.or([eb('event', 'ilike', pattern), eb('actor', 'ilike', pattern), eb(sql<string>`data::text`, 'ilike', pattern)]),
        );
      }
      const found = await select.execute();
      const page = found.slice(0, query.limit);
      noStore(reply);
      return {
        rows: page.map((row) => ({ seq: String(row.seq), at: row.at.toISOString(), actor: row.actor, event: row.event, requestId: row.request_id, data: row.data })),
        nextBefore: found.length > query.limit ? String(page[page.length - 1]!.seq) : null,
      };
    },
  );
}
