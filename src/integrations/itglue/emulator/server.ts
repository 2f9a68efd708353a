import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { escapeHtml } from '../../html-text.ts';
import type { ItGlueAccount, ItGlueDocumentRecord } from './data.ts';

/**
 * The IT Glue emulator's HTTP server: the JSON:API read endpoints deskhand uses, signed with
 * `x-api-key` (a wrong or missing key: 403, as IT Glue documents), each key seeing its own account
 * only; string ids, kebab-case attributes, `meta` with the five paging keys, `page[size]` 50 by
 * default and at most 1000; an organization's document list holds its root documents only; errors
 * as JSON:API `errors`. `/{org}/docs/{id}` shows a document as a page (its `resource-url`).
 * `/_emulator/`: faults (an error status with Retry-After, or a delay), the request log (never a
 * key), reset, extra documents.
 */

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;
const JSON_API = 'application/vnd.api+json';

export interface ItGlueFault {
  id: number;
  status: number;
  remaining: number;
  pathContains?: string;
  retryAfterSeconds?: number;
  delayMs?: number;
}

export const faultSchema = z
  .object({
    status: z.number().int().min(0).max(599).default(0),
    count: z.number().int().min(1).default(1),
    pathContains: z.string().min(1).optional(),
    retryAfterSeconds: z.number().min(0).optional(),
    delayMs: z.number().int().min(0).max(60_000).optional(),
  })
  .refine((f) => f.status >= 400 || f.delayMs !== undefined, { message: 'a fault needs an error status (400 or more) or a delayMs' });

export const newDocumentSchema = z.object({
  msp: z.string().min(1),
  organizationId: z.string().min(1),
  title: z.string().min(1),
  body: z.string(),
  published: z.boolean().optional(),
  folderId: z.string().nullable().optional(),
});

export interface RequestLogEntry {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  at: string;
}

export interface ItGlueState {
  accounts: ItGlueAccount[];
  faults: ItGlueFault[];
  log: RequestLogEntry[];
  nextFaultId: number;
  url: string;
  reset(): void;
  addDocument(input: z.infer<typeof newDocumentSchema>): ItGlueDocumentRecord;
}

export function itGlueServer(state: ItGlueState): FastifyInstance {
  const app = Fastify({ logger: false, exposeHeadRoutes: false, forceCloseConnections: true, keepAliveTimeout: 5_000 });

  app.register(
    async (control) => {
      control.get('/info', async () => ({ accounts: state.accounts.map((a) => ({ msp: a.msp, organizations: a.organizations, documents: a.documents.length })) }));
      control.post('/reset', async (_request, reply) => {
        state.reset();
        return reply.code(204).send();
      });
      control.get('/faults', async () => ({ faults: state.faults }));
      control.post('/faults', async (request, reply) => {
        const parsed = faultSchema.safeParse(request.body ?? {});
        if (!parsed.success) return reply.code(400).send({ error: parsed.error.issues.map((i) => i.message).join('; ') });
        const { count, ...rest } = parsed.data;
        const fault: ItGlueFault = { id: state.nextFaultId++, remaining: count, ...rest };
        state.faults.push(fault);
        return reply.code(201).send(fault);
      });
      control.delete('/faults', async (_request, reply) => {
        state.faults = [];
        return reply.code(204).send();
      });
      control.get('/requests', async () => ({ requests: state.log }));
      control.post('/documents', async (request, reply) => {
        const parsed = newDocumentSchema.safeParse(request.body ?? {});
        if (!parsed.success) return reply.code(400).send({ error: parsed.error.issues.map((i) => i.message).join('; ') });
        return reply.code(201).send(state.addDocument(parsed.data));
      });
    },
    { prefix: '/_emulator' },
  );

  app.register(async (api) => {
    api.addHook('onRequest', async (request, reply) => {
      const path = new URL(request.url, 'http://emulator').pathname;
      if (path.startsWith('/_emulator') || /^\/\d+\/docs\/\d+$/.test(path)) return undefined;
      const fault = await takeFault(state, request.url);
      if (fault) {
        if (fault.retryAfterSeconds !== undefined) reply.header('retry-after', String(fault.retryAfterSeconds));
        return fail(reply, fault.status, fault.status === 429 ? 'Too Many Requests' : 'Internal Server Error', fault.status === 429 ? 'Rate limit exceeded' : 'Something went wrong');
      }
      if (!accountOf(state, request)) return fail(reply, 403, 'Forbidden', 'Invalid API key');
      return undefined;
    });
    api.addHook('onResponse', async (request, reply) => {
      const url = new URL(request.url, 'http://emulator');
      if (url.pathname.startsWith('/_emulator') || /^\/\d+\/docs\/\d+$/.test(url.pathname)) return;
      state.log.push({ method: request.method, path: url.pathname, query: Object.fromEntries(url.searchParams), status: reply.statusCode, at: new Date().toISOString() });
    });

    api.get('/organizations/:id', async (request, reply) => {
      const account = accountOf(state, request)!;
      const organization = account.organizations.find((o) => o.id === (request.params as { id: string }).id);
      if (!organization) return fail(reply, 404, 'Not Found', 'Record not found');
      return send(reply, { data: { id: organization.id, type: 'organizations', attributes: { name: organization.name, 'organization-type-name': null, 'organization-status-name': 'Active', primary: organization.id === account.organizations[0]?.id } } });
    });
    api.get('/organizations/:id/relationships/documents', async (request, reply) => {
      const account = accountOf(state, request)!;
      const id = (request.params as { id: string }).id;
      if (!account.organizations.some((o) => o.id === id)) return fail(reply, 404, 'Not Found', 'Record not found');
      const query = request.query as Record<string, string | undefined>;
      const folder = query['filter[document_folder_id]'];
      const rows = account.documents.filter((d) => d.organizationId === id && (folder === undefined ? d.folderId === null : d.folderId === folder));
      return paged(reply, request, rows.map((d) => documentJson(state, account, d)));
    });
    const showDocument = async (request: FastifyRequest, reply: FastifyReply) => {
      const account = accountOf(state, request)!;
      const params = request.params as { id: string; org?: string };
      const document = account.documents.find((d) => d.id === params.id && (params.org === undefined || d.organizationId === params.org));
      if (!document) return fail(reply, 404, 'Not Found', 'Record not found');
      return send(reply, { data: documentJson(state, account, document) });
    };
    api.get('/documents/:id', showDocument);
    api.get('/organizations/:org/relationships/documents/:id', showDocument);
    api.get('/documents/:id/relationships/sections', async (request, reply) => {
      const account = accountOf(state, request)!;
      const document = account.documents.find((d) => d.id === (request.params as { id: string }).id);
      if (!document) return fail(reply, 404, 'Not Found', 'Record not found');
      return paged(
        reply,
        request,
        document.sections.map((s) => ({
          id: s.id,
          type: 'document-sections',
          attributes: { 'resource-type': 'Document::Text', content: s.content, 'rendered-content': s.content, sort: s.sort, 'document-id': Number(document.id) },
        })),
      );
    });
  });

  // What a document's `resource-url` opens (on IT Glue, the web app behind its sign-in).
  app.get('/:org/docs/:id', async (request, reply) => {
    const { org, id } = request.params as { org: string; id: string };
    const document = state.accounts.flatMap((a) => a.documents).find((d) => d.id === id && d.organizationId === org);
    if (!document) return reply.code(404).type('text/html').send('<h1>Not found</h1>');
    return reply.type('text/html').send(`<!doctype html><title>${escapeHtml(document.name)}</title><h1>${escapeHtml(document.name)}</h1>${document.sections.map((s) => s.content).join('')}`);
  });
  app.setNotFoundHandler((_request, reply) => fail(reply, 404, 'Not Found', 'Route not found'));
  return app;
}

function accountOf(state: ItGlueState, request: FastifyRequest): ItGlueAccount | undefined {
  const key = request.headers['x-api-key'];
  return typeof key === 'string' && key !== '' ? state.accounts.find((a) => a.apiKey === key) : undefined;
}

function send(reply: FastifyReply, body: unknown) {
  return reply.type(JSON_API).send(JSON.stringify(body));
}

function fail(reply: FastifyReply, status: number, title: string, detail: string) {
  return reply.code(status).type(JSON_API).send(JSON.stringify({ errors: [{ status: String(status), title, detail }] }));
}

function paged(reply: FastifyReply, request: FastifyRequest, rows: unknown[]) {
  const query = request.query as Record<string, string | undefined>;
  const size = Number.parseInt(query['page[size]'] ?? String(DEFAULT_PAGE_SIZE), 10);
  const number = Number.parseInt(query['page[number]'] ?? '1', 10);
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE || !Number.isInteger(number) || number < 1) {
    return fail(reply, 422, 'Unprocessable Entity', `page[size] must be between 1 and ${MAX_PAGE_SIZE}, page[number] at least 1`);
  }
  const totalPages = Math.max(1, Math.ceil(rows.length / size));
  return send(reply, {
    data: rows.slice((number - 1) * size, number * size),
    meta: {
      'current-page': number,
      'next-page': number < totalPages ? number + 1 : null,
      'prev-page': number > 1 ? number - 1 : null,
      'total-pages': totalPages,
      'total-count': rows.length,
      filters: {},
    },
    links: {},
  });
}

async function takeFault(state: ItGlueState, url: string): Promise<{ status: number; retryAfterSeconds?: number } | null> {
  const fault = state.faults.find((f) => f.remaining > 0 && (f.pathContains === undefined || url.includes(f.pathContains)));
  if (!fault) return null;
  fault.remaining--;
  if (fault.remaining === 0) state.faults = state.faults.filter((f) => f !== fault);
  if (fault.delayMs) await sleep(fault.delayMs);
  return fault.status >= 400 ? { status: fault.status, ...(fault.retryAfterSeconds !== undefined ? { retryAfterSeconds: fault.retryAfterSeconds } : {}) } : null;
}

function documentJson(state: ItGlueState, account: ItGlueAccount, document: ItGlueDocumentRecord) {
  const organization = account.organizations.find((o) => o.id === document.organizationId);
  return {
    id: document.id,
    type: 'documents',
    attributes: {
      name: document.name,
      'organization-id': Number(document.organizationId),
      'organization-name': organization?.name ?? null,
      'resource-url': `${state.url}/${document.organizationId}/docs/${document.id}`,
      published: document.published,
      restricted: false,
      'document-folder-id': document.folderId === null ? null : Number(document.folderId),
      'created-at': document.createdAt,
      'updated-at': document.createdAt,
    },
  };
}
