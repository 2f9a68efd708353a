import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { webhookSignature } from '../webhook.ts';
import { API_RESOURCE_ID, NOTE_PUBLISH, NOTE_TYPES, PRIORITIES, QUEUES, TICKET_STATUSES, ZONE_NAME } from './data.ts';
import { type AutotaskState, type Database, FIELDS, type Filter, filterProblem, matches, type Row } from './state.ts';

/**
 * The emulator's HTTP server: the part of Autotask's REST API v1.0 deskhand uses, under
 * `/ATServicesRest/V1.0/` (paths match whatever their case, as on Autotask), zoneInformation, and
 * the `/_emulator/` control routes (faults, request and effects logs, reset, portal tickets). Strict
 * where Autotask is: the three headers on every call, a filter on every query, MaxRecords 1-500,
 * notes only through the ticket's child URL (`POST TicketNotes` is 404), picklist values checked,
 * a note's title required. Outbound webhooks are signed as Autotask signs them.
 */

export interface RequestLogEntry {
  method: string;
  path: string;
  status: number;
  /** Which credential headers came (never their values). */
  headers: string[];
}

export interface Fault {
  status: number;
  remaining: number;
  pathContains?: string | undefined;
  method?: string | undefined;
  retryAfterSeconds?: number | undefined;
  delayMs?: number | undefined;
  /** The call is handled (its change made), then the error is answered: a lost answer. */
  afterEffect?: boolean | undefined;
}

export const faultSchema = z
  .object({
    status: z.number().int().min(0).max(599).default(0),
    count: z.number().int().min(1).default(1),
    pathContains: z.string().min(1).optional(),
    method: z.string().min(1).optional(),
    retryAfterSeconds: z.number().min(0).optional(),
    delayMs: z.number().int().min(0).max(60_000).optional(),
    afterEffect: z.boolean().default(false),
  })
  .refine((f) => f.status >= 400 || f.delayMs !== undefined, { message: 'a fault needs an error status or a delayMs' })
  .refine((f) => !f.afterEffect || f.status >= 400, { message: 'an afterEffect fault needs an error status' });

export interface Delivery {
  url: string;
  entity: 'Ticket' | 'TicketNote';
  id: number;
  status: number | null;
  attempts: number;
}

export interface ServerContext {
  state: AutotaskState;
  url: () => string;
  faults: Fault[];
  log: RequestLogEntry[];
  deliveries: Delivery[];
  pending: Set<Promise<void>>;
  /** Calls in flight per entity, and the most seen at once (Autotask's thread limit counts them). */
  inFlight: Map<string, number>;
  maxInFlight: Map<string, number>;
}

const API = '/atservicesrest/v1.0';
const WEBHOOK_ENTITIES = ['ticketwebhooks', 'ticketnotewebhooks'] as const;

export function emulatorServer(ctx: ServerContext): FastifyInstance {
  const app = Fastify({ logger: false, exposeHeadRoutes: false, forceCloseConnections: true, routerOptions: { caseSensitive: false, ignoreTrailingSlash: true } });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_r, body, done) => done(null, body));

  app.addHook('onResponse', (request, reply, done) => {
    const path = request.url.split('?')[0] ?? '';
    if (!path.startsWith('/_emulator')) {
      const headers = ['apiintegrationcode', 'username', 'secret'].filter((h) => request.headers[h] !== undefined);
      ctx.log.push({ method: request.method, path, status: reply.statusCode, headers });
    }
    done();
  });
  app.addHook('onRequest', (request, _reply, done) => {
    const entity = apiEntity(request.url);
    if (entity) {
      const now = (ctx.inFlight.get(entity) ?? 0) + 1;
      ctx.inFlight.set(entity, now);
      ctx.maxInFlight.set(entity, Math.max(now, ctx.maxInFlight.get(entity) ?? 0));
    }
    done();
  });
  app.addHook('onResponse', (request, _reply, done) => {
    const entity = apiEntity(request.url);
    if (entity) ctx.inFlight.set(entity, (ctx.inFlight.get(entity) ?? 1) - 1);
    done();
  });
  // Faults strike any Autotask call (never a control call) before it is handled.
  app.addHook('preHandler', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    if (path.startsWith('/_emulator')) return;
    const fault = ctx.faults.find((f) => f.remaining > 0 && (!f.method || f.method.toUpperCase() === request.method) && (!f.pathContains || path.toLowerCase().includes(f.pathContains.toLowerCase())));
    if (!fault) return;
    fault.remaining--;
    if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault.afterEffect) {
      lostAnswers.set(request, fault);
      return;
    }
    if (fault.status >= 400) {
      if (fault.retryAfterSeconds !== undefined) reply.header('retry-after', String(fault.retryAfterSeconds));
      return reply.code(fault.status).send({ errors: [fault.status === 429 ? 'Rate limit exceeded: too many requests.' : 'An internal error occurred (emulated fault).'] });
    }
  });
  // A fault after the effect: the handler ran, its answer is replaced by the error.
  const lostAnswers = new WeakMap<FastifyRequest, Fault>();
  app.addHook('onSend', async (request, reply, payload) => {
    const fault = lostAnswers.get(request);
    if (!fault) return payload;
    lostAnswers.delete(request);
    reply.code(fault.status);
    if (fault.retryAfterSeconds !== undefined) reply.header('retry-after', String(fault.retryAfterSeconds));
    return JSON.stringify({ errors: ['An internal error occurred (emulated fault, after the change was made).'] });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ errors: [`No such resource: ${request.method} ${request.url.split('?')[0]}`] }));

  // --- zone ---
  app.get(`${API}/zoneInformation`, async (request, reply) => {
    const user = String((request.query as Record<string, unknown>)['user'] ?? '');
    if (!ctx.state.byUser(user)) return reply.code(404).send({ errors: ['Zone information could not be determined'] });
    return { zoneName: ZONE_NAME, url: `${ctx.url()}/ATServicesRest/`, webUrl: `${ctx.url()}/`, ci: 0 };
  });

  const auth = (handler: (db: Database, request: FastifyRequest, reply: FastifyReply) => unknown) => async (request: FastifyRequest, reply: FastifyReply) => {
    const db = authenticate(ctx, request);
    if (!db) return reply.code(401).send({ errors: ['The user name, secret or API integration code is not valid.'] });
    return handler(db, request, reply);
  };

  // --- metadata ---
  app.get(`${API}/:entity/entityInformation/fields`, auth((_db, request, reply) => {
    const fields = FIELDS[String((request.params as { entity: string }).entity).toLowerCase()];
    if (!fields) return reply.code(404).send({ errors: ['Unknown entity'] });
    return { fields };
  }));

  // --- queries ---
  app.post(`${API}/:entity/query`, auth((db, request, reply) => query(ctx, db, (request.params as { entity: string }).entity, parseBody(request.body), reply)));
  app.get(`${API}/:entity/query`, auth((db, request, reply) => {
    const search = (request.query as Record<string, string>)['search'];
    let body: unknown;
    try {
      body = JSON.parse(search ?? '');
    } catch {
      return reply.code(500).send({ errors: ['The search parameter is not valid JSON.'] });
    }
    return query(ctx, db, (request.params as { entity: string }).entity, body, reply);
  }));
  app.get(`${API}/:entity/query/next`, auth((db, request, reply) => {
    const token = String((request.query as Record<string, string>)['paging'] ?? '');
    let page: { body: unknown; after: number };
    try {
      page = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    } catch {
      return reply.code(500).send({ errors: ['Invalid paging token.'] });
    }
    return query(ctx, db, (request.params as { entity: string }).entity, page.body, reply, page.after);
  }));

  // --- tickets ---
  app.get(`${API}/tickets/:id`, auth((db, request) => ({ item: db.tickets.find((t) => t.id === Number((request.params as { id: string }).id)) ?? null })));
  app.patch(`${API}/tickets`, auth((db, request, reply) => {
    const body = parseBody(request.body) as Record<string, unknown> | null;
    const ticket = db.tickets.find((t) => t.id === Number(body?.['id']));
    if (!ticket) return reply.code(500).send({ errors: ['Ticket not found: the update needs an existing id.'] });
    if (body?.['status'] !== undefined) {
      const status = TICKET_STATUSES.find((s) => s.value === String(body['status']));
      if (!status) return reply.code(500).send({ errors: [`Value ${String(body['status'])} is not a valid status.`] });
      if (ticket['status'] !== Number(status.value)) {
        ticket['status'] = Number(status.value);
        ctx.state.effect({ op: 'status_changed', msp: db.msp, ticketId: ticket.id, firstLine: status.label });
      }
    }
    ticket['lastActivityDate'] = new Date().toISOString();
    return { itemId: ticket.id };
  }));
  app.get(`${API}/tickets/:id/notes`, auth((db, request) => {
    const id = Number((request.params as { id: string }).id);
    const items = db.notes.filter((n) => n['ticketID'] === id);
    return { items, pageDetails: { count: items.length, requestCount: 500, prevPageUrl: null, nextPageUrl: null } };
  }));
  app.post(`${API}/tickets/:id/notes`, auth((db, request, reply) => {
    const ticket = db.tickets.find((t) => t.id === Number((request.params as { id: string }).id));
    if (!ticket) return reply.code(404).send({ errors: ['Parent ticket not found.'] });
    const body = parseBody(request.body) as Record<string, unknown> | null;
    const problem = noteProblem(body);
    if (problem) return reply.code(500).send({ errors: [problem] });
    const note: Row = {
      id: ctx.state.noteId(),
      ticketID: ticket.id,
      title: body!['title'],
      description: body!['description'],
      noteType: Number(body!['noteType']),
      publish: Number(body!['publish']),
      creatorResourceID: API_RESOURCE_ID,
      createdByContactID: null,
      createDateTime: new Date().toISOString(),
      lastActivityDate: new Date().toISOString(),
    };
    db.notes.push(note);
    ctx.state.effect({ op: 'note_added', msp: db.msp, ticketId: ticket.id, publish: Number(note['publish']), creatorResourceID: API_RESOURCE_ID, firstLine: String(note['description']).split('\n')[0] ?? '' });
    fireWebhooks(ctx, db, 'TicketNote', note, API_RESOURCE_ID);
    return { itemId: note.id };
  }));
  // Autotask has no top-level create for ticket notes: the child URL only.
  app.post(`${API}/ticketnotes`, auth((_db, _request, reply) => reply.code(404).send({ errors: ['The requested resource does not support http method POST; use Tickets/{id}/Notes.'] })));
  app.get(`${API}/contacts/:id`, auth((db, request) => ({ item: db.contacts.find((c) => c.id === Number((request.params as { id: string }).id)) ?? null })));
  app.get(`${API}/companies/:id`, auth((db, request) => ({ item: db.companies.find((c) => c.id === Number((request.params as { id: string }).id)) ?? null })));

  // --- webhooks ---
  for (const entity of WEBHOOK_ENTITIES) {
    const key = entity === 'ticketwebhooks' ? 'TicketWebhooks' : 'TicketNoteWebhooks';
    app.post(`${API}/${entity}`, auth((db, request, reply) => {
      const body = parseBody(request.body) as Record<string, unknown> | null;
      const problem = webhookProblem(body);
      if (problem) return reply.code(500).send({ errors: [problem] });
      const hook: Row = { ...body!, id: ctx.state.otherId(), webhookGUID: crypto.randomUUID(), isReady: true, ownerResourceID: API_RESOURCE_ID };
      db.webhooks[key].push(hook);
      ctx.state.effect({ op: 'webhook_registered', msp: db.msp, firstLine: `${key} ${hook.id}` });
      return { itemId: hook.id };
    }));
    app.patch(`${API}/${entity}`, auth((db, request, reply) => {
      const body = parseBody(request.body) as Record<string, unknown> | null;
      const hook = db.webhooks[key].find((w) => w.id === Number(body?.['id']));
      if (!hook) return reply.code(500).send({ errors: ['Webhook not found.'] });
      if (body!['secretKey'] !== undefined && (typeof body!['secretKey'] !== 'string' || body!['secretKey'].length > 64)) return reply.code(500).send({ errors: ['secretKey must be at most 64 characters.'] });
      Object.assign(hook, body, { id: hook.id });
      return { itemId: hook.id };
    }));
    app.delete(`${API}/${entity}/:id`, auth((db, request, reply) => {
      const id = Number((request.params as { id: string }).id);
      const index = db.webhooks[key].findIndex((w) => w.id === id);
      if (index < 0) return reply.code(404).send({ errors: ['Webhook not found.'] });
      db.webhooks[key].splice(index, 1);
      return { itemId: id };
    }));
    app.post(`${API}/${entity}/:id/excludedResources`, auth((db, request, reply) => {
      const webhookID = Number((request.params as { id: string }).id);
      const body = parseBody(request.body) as Record<string, unknown> | null;
      if (!db.webhooks[key].some((w) => w.id === webhookID)) return reply.code(404).send({ errors: ['Parent webhook not found.'] });
      if (!db.resources.some((r) => r.id === Number(body?.['resourceID']))) return reply.code(500).send({ errors: ['resourceID is not a resource.'] });
      const row: Row = { id: ctx.state.otherId(), webhookID, resourceID: Number(body!['resourceID']), entity: key };
      db.excluded.push(row);
      return { itemId: row.id };
    }));
    app.post(`${API}/${entity}/:id/excludedResources/query`, auth((db, request, reply) => {
      const webhookID = Number((request.params as { id: string }).id);
      const rows = db.excluded.filter((r) => r['webhookID'] === webhookID && r['entity'] === key);
      return answerQuery(ctx, rows, `${entity}/${webhookID}/excludedResources`, parseBody(request.body), reply, 0, null);
    }));
  }
  return app;
}

function apiEntity(url: string): string | null {
  const match = /^\/atservicesrest\/v1\.0\/([^/?]+)/i.exec(url);
  return match?.[1] && match[1].toLowerCase() !== 'zoneinformation' ? match[1].toLowerCase() : null;
}

function authenticate(ctx: ServerContext, request: FastifyRequest): Database | undefined {
  const header = (name: string) => {
    const v = request.headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  const user = header('username');
  const secret = header('secret');
  const code = header('apiintegrationcode');
  if (!user || !secret || !code) return undefined;
  const db = ctx.state.byUser(user);
  if (!db) return undefined;
  return same(db.credentials.secret, secret) && same(db.credentials.integrationCode, code) ? db : undefined;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function parseBody(body: unknown): unknown {
  if (typeof body !== 'string' || body === '') return null;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

const QUERYABLE: Record<string, (db: Database) => Row[]> = {
  tickets: (db) => db.tickets,
  ticketnotes: (db) => db.notes,
  companies: (db) => db.companies,
  contacts: (db) => db.contacts,
  resources: (db) => db.resources,
  ticketwebhooks: (db) => db.webhooks.TicketWebhooks,
  ticketnotewebhooks: (db) => db.webhooks.TicketNoteWebhooks,
};

function query(ctx: ServerContext, db: Database, entity: string, body: unknown, reply: FastifyReply, after = 0): unknown {
  const rows = QUERYABLE[entity.toLowerCase()];
  if (!rows) return reply.code(404).send({ errors: [`No such resource: ${entity}/query`] });
  const fields = FIELDS[entity.toLowerCase()];
  return answerQuery(ctx, rows(db), entity, body, reply, after, fields ? new Set(fields.map((f) => f.name.toLowerCase())) : null);
}

function answerQuery(ctx: ServerContext, rows: Row[], entity: string, body: unknown, reply: FastifyReply, after: number, fields: ReadonlySet<string> | null): unknown {
  if (body === undefined || body === null || typeof body !== 'object') return reply.code(500).send({ errors: ['The query body is not valid JSON.'] });
  const b = body as { MaxRecords?: unknown; filter?: unknown; IncludeFields?: unknown };
  const maxRecords = b.MaxRecords === undefined ? 500 : Number(b.MaxRecords);
  if (!Number.isInteger(maxRecords) || maxRecords < 1 || maxRecords > 500) return reply.code(500).send({ errors: ['MaxRecords must be between 1 and 500.'] });
  const problem = filterProblem(b.filter, fields);
  if (problem) return reply.code(500).send({ errors: [problem] });
  const all = rows.filter((r) => matches(r, b.filter as Filter[])).sort((x, y) => x.id - y.id).filter((r) => r.id > after || (after === 0 && r.id === 0));
  const page = all.slice(0, maxRecords);
  const include = Array.isArray(b.IncludeFields) ? new Set((b.IncludeFields as unknown[]).map((f) => String(f).toLowerCase())) : null;
  const items = include ? page.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => include.has(k.toLowerCase()) || k === 'id'))) : page;
  const last = page.at(-1);
  const nextPageUrl = all.length > maxRecords && last ? `${ctx.url()}/ATServicesRest/V1.0/${entity}/query/next?paging=${Buffer.from(JSON.stringify({ body, after: last.id })).toString('base64url')}` : null;
  return { items, pageDetails: { count: items.length, requestCount: maxRecords, prevPageUrl: null, nextPageUrl } };
}

function noteProblem(body: Record<string, unknown> | null): string | undefined {
  if (!body || typeof body !== 'object') return 'The note body is not valid JSON.';
  if (typeof body['title'] !== 'string' || body['title'].trim() === '') return 'Title is required (Require titles on ticket notes is on).';
  if (typeof body['description'] !== 'string' || body['description'].trim() === '') return 'Description is required.';
  if (body['description'].length > 32_000) return 'Description is longer than 32000 characters.';
  if (!NOTE_TYPES.some((t) => t.value === String(body['noteType']))) return `Value ${String(body['noteType'])} is not a valid noteType.`;
  if (!NOTE_PUBLISH.some((p) => p.value === String(body['publish']))) return `Value ${String(body['publish'])} is not a valid publish.`;
  return undefined;
}

function webhookProblem(body: Record<string, unknown> | null): string | undefined {
  if (!body || typeof body !== 'object') return 'The webhook body is not valid JSON.';
  for (const f of ['name', 'webhookUrl', 'deactivationUrl', 'secretKey']) if (typeof body[f] !== 'string' || body[f] === '') return `${f} is required.`;
  if (String(body['secretKey']).length > 64) return 'secretKey must be at most 64 characters.';
  for (const f of ['webhookUrl', 'deactivationUrl']) {
    try {
      new URL(String(body[f]));
    } catch {
      return `${f} is not a URL.`;
    }
  }
  return undefined;
}

/**
 * Calls every active webhook of the entity subscribed to create events, unless the acting resource
 * is excluded from it: a signed JSON POST, tried up to 3 times (Autotask tries 5 over two minutes).
 */
export function fireWebhooks(ctx: ServerContext, db: Database, entity: 'Ticket' | 'TicketNote', row: Row, personId: number | null): void {
  const hooks = entity === 'Ticket' ? db.webhooks.TicketWebhooks : db.webhooks.TicketNoteWebhooks;
  const key = entity === 'Ticket' ? 'TicketWebhooks' : 'TicketNoteWebhooks';
  for (const hook of hooks) {
    if (hook['isActive'] !== true || hook['isSubscribedToCreateEvents'] !== true) continue;
    if (personId !== null && db.excluded.some((e) => e['webhookID'] === hook.id && e['entity'] === key && e['resourceID'] === personId)) continue;
    const fields = entity === 'Ticket' ? { TicketNumber: row['ticketNumber'], CompanyID: row['companyID'] } : { TicketID: row['ticketID'] };
    const body = JSON.stringify({ Action: 'Create', Guid: hook['webhookGUID'], EntityType: entity, Id: row.id, Fields: fields, EventTime: new Date().toISOString(), SequenceNumber: 1, PersonID: personId });
    const delivery: Delivery = { url: String(hook['webhookUrl']), entity, id: row.id, status: null, attempts: 0 };
    ctx.deliveries.push(delivery);
    const run = deliver(delivery, body, String(hook['secretKey']));
    ctx.pending.add(run);
    void run.finally(() => ctx.pending.delete(run));
  }
}

async function deliver(delivery: Delivery, body: string, secretKey: string): Promise<void> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    delivery.attempts = attempt;
    try {
      const response = await fetch(delivery.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hook-signature': webhookSignature(secretKey, body) }, body, signal: AbortSignal.timeout(10_000) });
      delivery.status = response.status;
      await response.text();
      if (response.ok) return;
    } catch {
      delivery.status = 0;
    }
    await new Promise((r) => setTimeout(r, 200 * attempt));
  }
}

export { PRIORITIES, QUEUES };
