import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { escapeHtml } from '../../html-text.ts';
import type { HuduArticleRecord, HuduInstance } from './data.ts';

/**
 * The Hudu emulator's HTTP server: the read endpoints deskhand uses under `/api/v1`, signed with
 * `x-api-key` (a missing or unknown key: 401), each key seeing its own instance only; wrapped lists
 * paged by `page` and `page_size` (25 by default) without totals; `/kba/<slug>` shows an article as a
 * page (what an article's `url` points at). Everything under `/_emulator/` is ours: faults (an
 * error status with Retry-After, or a delay), the request log (never a key), reset, extra articles.
 */

export const DEFAULT_PAGE_SIZE = 25;
/** Unverified on Hudu: the emulator answers at most this many per page. */
export const MAX_PAGE_SIZE = 1000;

export interface HuduFault {
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

export const newArticleSchema = z.object({
  msp: z.string().min(1),
  companyId: z.number().int().nullable(),
  title: z.string().min(1),
  body: z.string(),
  draft: z.boolean().optional(),
});

export interface RequestLogEntry {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  at: string;
}

export interface HuduState {
  instances: HuduInstance[];
  faults: HuduFault[];
  log: RequestLogEntry[];
  nextFaultId: number;
  /** The emulator's own address, for article URLs. */
  url: string;
  reset(): void;
  addArticle(input: z.infer<typeof newArticleSchema>): HuduArticleRecord;
}

export function huduServer(state: HuduState): FastifyInstance {
  const app = Fastify({ logger: false, exposeHeadRoutes: false, forceCloseConnections: true, keepAliveTimeout: 5_000 });

  app.register(async (control) => {
    control.get('/info', async () => ({ instances: state.instances.map((i) => ({ msp: i.msp, companies: i.companies, articles: i.articles.length })) }));
    control.post('/reset', async (_request, reply) => {
      state.reset();
      return reply.code(204).send();
    });
    control.get('/faults', async () => ({ faults: state.faults }));
    control.post('/faults', async (request, reply) => {
      const parsed = faultSchema.safeParse(request.body ?? {});
      if (!parsed.success) return reply.code(400).send({ error: parsed.error.issues.map((i) => i.message).join('; ') });
      const { count, ...rest } = parsed.data;
      const fault: HuduFault = { id: state.nextFaultId++, remaining: count, ...rest };
      state.faults.push(fault);
      return reply.code(201).send(fault);
    });
    control.delete('/faults', async (_request, reply) => {
      state.faults = [];
      return reply.code(204).send();
    });
    control.get('/requests', async () => ({ requests: state.log }));
    control.post('/articles', async (request, reply) => {
      const parsed = newArticleSchema.safeParse(request.body ?? {});
      if (!parsed.success) return reply.code(400).send({ error: parsed.error.issues.map((i) => i.message).join('; ') });
      return reply.code(201).send(state.addArticle(parsed.data));
    });
  }, { prefix: '/_emulator' });

  app.register(async (api) => {
    api.addHook('onRequest', async (request, reply) => {
      const fault = await takeFault(state, request.url);
      if (fault) {
        if (fault.retryAfterSeconds !== undefined) reply.header('retry-after', String(fault.retryAfterSeconds));
        return reply.code(fault.status).send({ error: fault.status === 429 ? 'Retry later' : 'Internal server error' });
      }
      if (!instanceOf(state, request)) return reply.code(401).send({ error: 'Bad credentials' });
      return undefined;
    });
    api.addHook('onResponse', async (request, reply) => {
      const url = new URL(request.url, 'http://emulator');
      state.log.push({ method: request.method, path: url.pathname, query: Object.fromEntries(url.searchParams), status: reply.statusCode, at: new Date().toISOString() });
    });
    api.get('/api_info', async () => ({ version: '2.39.0', date: '2026-01-05' }));
    api.get('/companies', async (request) => {
      const instance = instanceOf(state, request)!;
      const query = request.query as Record<string, string | undefined>;
      const rows = instance.companies.filter((c) => matches(c.name, query['name'], query['search']));
      return { companies: page(rows, query).map((c) => companyJson(state, c)) };
    });
    api.get('/companies/:id', async (request, reply) => {
      const instance = instanceOf(state, request)!;
      const company = instance.companies.find((c) => String(c.id) === (request.params as { id: string }).id);
      if (!company) return reply.code(404).send({ error: 'Record not found' });
      return { company: companyJson(state, company) };
    });
    api.get('/articles', async (request, reply) => {
      const instance = instanceOf(state, request)!;
      const query = request.query as Record<string, string | undefined>;
      const companyId = query['company_id'];
      if (companyId !== undefined && !/^\d+$/.test(companyId)) return reply.code(422).send({ error: 'company_id must be an integer' });
      const rows = instance.articles
        .filter((a) => companyId === undefined || String(a.companyId) === companyId)
        .filter((a) => matches(a.name, query['name'], undefined) && (query['search'] === undefined || contains(`${a.name} ${a.content}`, query['search'])))
        .sort((a, b) => a.id - b.id);
      return { articles: page(rows, query).map((a) => articleJson(state, a)) };
    });
    api.get('/articles/:id', async (request, reply) => {
      const instance = instanceOf(state, request)!;
      const article = instance.articles.find((a) => String(a.id) === (request.params as { id: string }).id);
      if (!article) return reply.code(404).send({ error: 'Record not found' });
      return { article: articleJson(state, article) };
    });
  }, { prefix: '/api/v1' });

  // What an article's `url` opens (on Hudu, the web app behind its sign-in).
  app.get('/kba/:slug', async (request, reply) => {
    const article = state.instances.flatMap((i) => i.articles).find((a) => a.slug === (request.params as { slug: string }).slug);
    if (!article) return reply.code(404).type('text/html').send('<h1>Not found</h1>');
    return reply.type('text/html').send(`<!doctype html><title>${escapeHtml(article.name)}</title><h1>${escapeHtml(article.name)}</h1>${article.content}`);
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'Not found' }));
  return app;
}

function instanceOf(state: HuduState, request: FastifyRequest): HuduInstance | undefined {
  const key = request.headers['x-api-key'];
  return typeof key === 'string' && key !== '' ? state.instances.find((i) => i.apiKey === key) : undefined;
}

async function takeFault(state: HuduState, url: string): Promise<{ status: number; retryAfterSeconds?: number } | null> {
  const fault = state.faults.find((f) => f.remaining > 0 && (f.pathContains === undefined || url.includes(f.pathContains)));
  if (!fault) return null;
  fault.remaining--;
  if (fault.remaining === 0) state.faults = state.faults.filter((f) => f !== fault);
  if (fault.delayMs) await sleep(fault.delayMs);
  return fault.status >= 400 ? { status: fault.status, ...(fault.retryAfterSeconds !== undefined ? { retryAfterSeconds: fault.retryAfterSeconds } : {}) } : null;
}

function page<T>(rows: T[], query: Record<string, string | undefined>): T[] {
  const number = Math.max(1, Number.parseInt(query['page'] ?? '1', 10) || 1);
  const size = Math.min(MAX_PAGE_SIZE, Math.max(1, Number.parseInt(query['page_size'] ?? String(DEFAULT_PAGE_SIZE), 10) || DEFAULT_PAGE_SIZE));
  return rows.slice((number - 1) * size, number * size);
}

function contains(text: string, needle: string): boolean {
  return text.toLowerCase().includes(needle.toLowerCase());
}

function matches(name: string, exact: string | undefined, search: string | undefined): boolean {
  if (exact !== undefined && name.toLowerCase() !== exact.toLowerCase()) return false;
  return search === undefined || contains(name, search);
}

function companyJson(state: HuduState, company: { id: number; name: string; slug: string }) {
  return { id: company.id, slug: company.slug, name: company.name, object_type: 'Company', archived: false, url: `${state.url}/c/${company.slug}` };
}

function articleJson(state: HuduState, article: HuduArticleRecord) {
  return {
    id: article.id,
    slug: article.slug,
    name: article.name,
    draft: article.draft,
    content: article.content,
    url: `${state.url}/kba/${article.slug}`,
    object_type: 'Article',
    folder_id: null,
    enable_sharing: false,
    share_url: null,
    company_id: article.companyId,
    created_at: article.createdAt,
    updated_at: article.updatedAt,
    public_photos: [],
  };
}

