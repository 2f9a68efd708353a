import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { OUTCOMES, STATUSES, TICKET_TYPES } from './data.ts';
import { type Action, type Fault, faultSchema, type HaloSite, haloError, type Reply, type Session, type Ticket } from './site.ts';

/**
 * The emulator's HTTP server: Halo's token endpoint (`/auth/token`), the part of `/api` deskhand
 * uses, and the `/_emulator/` control routes (the real Halo has no such path). Every `/api` call needs
 * a bearer token whose scopes cover it (403 otherwise); POST bodies are arrays (a single object is
 * accepted too, as Halo does); paths match without case, as on Halo's IIS.
 */

type Handler = (input: { session: Session; query: Record<string, string>; body: unknown; params: Record<string, string> }) => Reply | Promise<Reply>;

export function emulatorServer(site: HaloSite): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, forceCloseConnections: true, routerOptions: { caseSensitive: false, ignoreTrailingSlash: true } });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  const send = (request: FastifyRequest, reply: FastifyReply, answer: Reply) => {
    if (!request.url.startsWith('/_emulator')) {
      const url = new URL(request.url, 'http://emulator');
      site.logRequest({ at: new Date().toISOString(), method: request.method, path: url.pathname, query: Object.fromEntries(url.searchParams), status: answer.status });
    }
    reply.code(answer.status).headers({ 'content-type': 'application/json; charset=utf-8', ...answer.headers });
    return reply.send(answer.body === undefined ? '' : JSON.stringify(answer.body));
  };

  /** Faults first (before or after the effect), then the token and its scope, then the call. */
  const api = (scope: string, handler: Handler) => async (request: FastifyRequest, reply: FastifyReply) => {
    const path = new URL(request.url, 'http://emulator').pathname;
    const fault = await site.takeFault(request.method, path);
    if (fault && !fault.afterEffect && (fault.status ?? 0) >= 400) return send(request, reply, faultReply(fault));
    const session = site.session(request.headers.authorization);
    if (!session) return send(request, reply, { status: 401, body: { message: 'Unauthorized' } });
    if (!session.scopes.includes('all') && !session.scopes.includes(scope)) return send(request, reply, { status: 403, body: { message: `the token lacks the scope ${scope}` } });
    let body: unknown;
    if (request.method === 'POST') {
      try {
        body = JSON.parse(String(request.body ?? ''));
      } catch {
        return send(request, reply, haloError(400, 'the body is not JSON'));
      }
    }
    const answer = await handler({ session, query: queryOf(request), body, params: request.params as Record<string, string> });
    if (fault?.afterEffect && (fault.status ?? 0) >= 400) return send(request, reply, faultReply(fault));
    return send(request, reply, answer);
  };

  app.post('/auth/token', async (request, reply) => {
    const fault = await site.takeFault('POST', '/auth/token');
    if (fault && (fault.status ?? 0) >= 400) return send(request, reply, faultReply(fault));
    if (!String(request.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')) return send(request, reply, { status: 400, body: { error: 'invalid_request' } });
    const form = Object.fromEntries(new URLSearchParams(String(request.body ?? '')));
    return send(request, reply, site.token(queryOf(request), form));
  });

  app.get('/api/Tickets', api('read:tickets', ({ session, query }) => {
    let tickets = site.tickets.filter((t) => t.tenant === session.tenant);
    if (query['client_id']) tickets = tickets.filter((t) => t.client_id === Number(query['client_id']));
    if (query['open_only'] === 'true') tickets = tickets.filter((t) => !t.hasbeenclosed);
    const desc = query['orderdesc'] === 'true';
    tickets = [...tickets].sort((a, b) => (desc ? b.id - a.id : a.id - b.id));
    return paged(query, tickets.map(ticketJson), 'tickets');
  }));

  app.get('/api/Tickets/:id', api('read:tickets', ({ session, params }) => {
    const ticket = ticketOf(site, session, params['id']);
    return ticket ? { status: 200, body: ticketJson(ticket) } : haloError(404, 'Ticket not found');
  }));

  app.post('/api/Tickets', api('edit:tickets', ({ session, body }) => {
    const records = arrayOf(body);
    if (!records) return haloError(400, 'the body must be an array of tickets');
    const out: unknown[] = [];
    for (const input of records) {
      if (input['id'] !== undefined) {
        const ticket = ticketOf(site, session, String(input['id']));
        if (!ticket) return haloError(404, 'Ticket not found');
        if (input['status_id'] !== undefined) {
          const refused = site.setStatus(ticket, Number(input['status_id']), session.app.agentName);
          if (refused) return refused;
        }
        out.push(ticketJson(ticket));
        continue;
      }
      const parsed = newTicketSchema.safeParse(input);
      if (!parsed.success) return haloError(400, `the ticket is not valid: ${parsed.error.issues[0]?.path.join('.')}`);
      const created = site.createTicket(site.tenant(session.tenant)!, { ...stripUndefined(parsed.data), details: parsed.data.details ?? '' }, session.app.agentName);
      if ('status' in created && !('id' in created)) return created;
      out.push(ticketJson(created as Ticket));
    }
    return { status: 201, body: out.length === 1 ? out[0] : out };
  }));

  app.get('/api/Actions', api('read:tickets', ({ session, query }) => {
    if (!query['ticket_id']) return haloError(400, 'ticket_id is required');
    const ticket = ticketOf(site, session, query['ticket_id']);
    if (!ticket) return haloError(404, 'Ticket not found');
    let actions = site.actions.filter((a) => a.ticket_id === ticket.id);
    if (query['excludeprivate'] === 'true') actions = actions.filter((a) => !a.hiddenfromuser);
    return { status: 200, body: { record_count: actions.length, actions: actions.map(actionJson) } };
  }));

  app.get('/api/Actions/:id', api('read:tickets', ({ session, params }) => {
    const action = site.actions.find((a) => a.id === Number(params['id']) && ticketOf(site, session, String(a.ticket_id)));
    return action ? { status: 200, body: actionJson(action) } : haloError(404, 'Action not found');
  }));

  app.post('/api/Actions', api('edit:tickets', ({ session, body }) => {
    const records = arrayOf(body);
    if (!records) return haloError(400, 'the body must be an array of actions');
    const out: unknown[] = [];
    for (const input of records) {
      const parsed = newActionSchema.safeParse(input);
      if (!parsed.success) return haloError(400, `the action is not valid: ${parsed.error.issues[0]?.path.join('.') || parsed.error.issues[0]?.message}`);
      const ticket = ticketOf(site, session, String(parsed.data.ticket_id));
      if (!ticket) return haloError(400, `ticket_id ${parsed.data.ticket_id} is not a valid ticket`);
      if (parsed.data.new_status !== undefined && !STATUSES.some((s) => s.id === parsed.data.new_status)) return haloError(400, 'new_status is not valid');
      const note = parsed.data.note ?? parsed.data.note_html!.replace(/<[^>]*>/g, '');
      const created = site.addAction(ticket, { note, ...stripUndefined({ outcome: parsed.data.outcome, outcome_id: parsed.data.outcome_id, hiddenfromuser: parsed.data.hiddenfromuser, sendemail: parsed.data.sendemail }) }, session);
      if (!('id' in created)) return created;
      if (parsed.data.new_status !== undefined) site.setStatus(ticket, parsed.data.new_status, session.app.agentName);
      out.push(actionJson(created));
    }
    return { status: 201, body: out.length === 1 ? out[0] : out };
  }));

  app.get('/api/Status', api('read:tickets', () => ({ status: 200, body: STATUSES.map((s) => ({ ...s })) })));
  app.get('/api/TicketType', api('read:tickets', () => ({ status: 200, body: TICKET_TYPES.map((t) => ({ ...t })) })));
  app.get('/api/Outcome', api('read:tickets', () => ({ status: 200, body: OUTCOMES.map((o) => ({ ...o })) })));

  app.get('/api/Client', api('read:customers', ({ session, query }) => {
    const clients = site.tenant(session.tenant)!.clients.filter((c) => query['includeinactive'] === 'true' || !c.inactive);
    return paged(query, clients.map((c) => ({ id: c.id, name: c.name, inactive: c.inactive, toplevel_id: 1, toplevel_name: 'Top Level' })), 'clients');
  }));

  app.get('/api/Webhook', api('admin', ({ session }) => ({ status: 200, body: site.webhooks.filter((w) => w.tenant === session.tenant).map(webhookJson) })));

  app.post('/api/Webhook', api('admin', ({ session, body }) => {
    const records = arrayOf(body);
    const parsed = records?.length === 1 ? webhookSchema.safeParse(records[0]) : undefined;
    if (!parsed?.success) return haloError(400, 'the body must be an array with one webhook');
    const input = parsed.data;
    if (input.authentication_type === 1 && (!input.basic_username || !input.basic_password)) return haloError(400, 'basic authentication needs a user name and a password');
    const existing = input.id !== undefined ? site.webhooks.find((w) => w.id === input.id && w.tenant === session.tenant) : undefined;
    if (input.id !== undefined && !existing) return haloError(404, 'Webhook not found');
    const hook = existing ?? { id: crypto.randomUUID(), tenant: session.tenant, name: '', url: '', method: 'POST', active: true, authentication_type: 0, basic_username: '', basic_password: '', events: [] };
    Object.assign(hook, { name: input.name, url: input.url, method: 'POST', active: input.active ?? true, authentication_type: input.authentication_type ?? 0, basic_username: input.basic_username ?? '', basic_password: input.basic_password ?? '', events: input.events.map((e) => e.name) });
    if (!existing) site.webhooks.push(hook);
    site.effect(session.tenant, { op: 'webhook_saved', who: session.app.agentName, text: hook.name });
    return { status: 201, body: webhookJson(hook) };
  }));

  app.register(controlRoutes(site), { prefix: '/_emulator' });
  app.setNotFoundHandler((request, reply) => send(request, reply, haloError(404, 'Not found')));
  return app;
}

function controlRoutes(site: HaloSite) {
  return async (app: FastifyInstance) => {
    const json = (request: FastifyRequest): Record<string, unknown> => {
      try {
        return JSON.parse(String(request.body ?? '{}')) as Record<string, unknown>;
      } catch {
        return {};
      }
    };
    app.post('/reset', async () => {
      site.reset();
      return { reset: true };
    });
    app.post('/faults', async (request, reply) => {
      const parsed = faultSchema.safeParse(json(request));
      if (!parsed.success) return reply.code(400).send({ error: parsed.error.issues[0]?.message });
      return site.addFault(parsed.data);
    });
    app.delete('/faults', async () => {
      site.faults = [];
      return { cleared: true };
    });
    app.get('/requests', async () => ({ requests: site.requestLog }));
    app.get('/effects', async () => ({ effects: site.effects }));
    app.get('/deliveries', async () => ({ deliveries: site.deliveries }));
    app.post('/webhooks/pause', async (request) => {
      site.webhooksPaused = json(request)['paused'] !== false;
      return { paused: site.webhooksPaused };
    });
    app.post('/tokens/expire', async () => ({ expired: site.expireTokens() }));
    app.get('/tickets', async () => ({ tickets: site.tickets.map((t) => ({ ...ticketJson(t), tenant: t.tenant, actions: site.actions.filter((a) => a.ticket_id === t.id).map(actionJson) })) }));
    // The end-user portal: an employee of a client opens a ticket (and Halo calls its webhooks).
    app.post('/portal/tickets', async (request, reply) => {
      const parsed = portalSchema.safeParse(json(request));
      if (!parsed.success) return reply.code(400).send({ error: 'tenant, client, requester and details are required' });
      const tenant = site.tenant(parsed.data.tenant);
      const client = tenant?.clients.find((c) => c.worldId === parsed.data.client);
      if (!tenant || !client) return reply.code(404).send({ error: `no client ${parsed.data.client} in tenant ${parsed.data.tenant}` });
      const created = site.createTicket(tenant, { summary: parsed.data.summary ?? parsed.data.details.slice(0, 100), details: parsed.data.details, client_id: client.id, user_email: parsed.data.requester }, 'portal');
      if (!('id' in created)) return reply.code(created.status).send(created.body);
      return reply.code(201).send({ id: created.id });
    });
  };
}

const portalSchema = z.object({ tenant: z.string().min(1), client: z.string().min(1), requester: z.string().min(1), details: z.string().min(1), summary: z.string().min(1).optional() });

const newTicketSchema = z.object({
  summary: z.string().min(1),
  details: z.string().optional(),
  client_id: z.number().int().positive(),
  user_id: z.number().int().positive().optional(),
  user_email: z.string().optional(),
  tickettype_id: z.number().int().positive().optional(),
});

const newActionSchema = z
  .object({
    ticket_id: z.number().int().positive(),
    note: z.string().optional(),
    note_html: z.string().optional(),
    outcome: z.string().min(1).optional(),
    outcome_id: z.number().int().positive().optional(),
    hiddenfromuser: z.boolean().optional(),
    sendemail: z.boolean().optional(),
    new_status: z.number().int().positive().optional(),
  })
  .refine((a) => a.note !== undefined || a.note_html !== undefined, { message: 'note or note_html is required' });

/** Halo's enums: type 0 outbound; method 0 POST (1 GET, 2 PUT, 3 DELETE, 4 PATCH; the emulator sends POST only); authentication 0 none, 1 Basic. */
const webhookSchema = z.object({
  id: z.string().optional(),
  name: z.string().min(1),
  type: z.literal(0).optional(),
  url: z.string().url(),
  method: z.literal(0).optional(),
  content_type: z.string().optional(),
  active: z.boolean().optional(),
  authentication_type: z.number().int().min(0).max(4).optional(),
  basic_username: z.string().optional(),
  basic_password: z.string().optional(),
  payload_type: z.number().int().min(0).max(2).optional(),
  events: z.array(z.object({ name: z.string().min(1) }).passthrough()).min(1),
});

function paged(query: Record<string, string>, records: unknown[], key: string): Reply {
  if (query['pageinate'] !== 'true') return { status: 200, body: { record_count: records.length, [key]: records } };
  const size = Number(query['page_size'] ?? 50);
  const page = Number(query['page_no'] ?? 1);
  if (!Number.isInteger(size) || size < 1 || !Number.isInteger(page) || page < 1) return haloError(400, 'page_size and page_no must be positive integers');
  return { status: 200, body: { page_no: page, page_size: size, record_count: records.length, [key]: records.slice((page - 1) * size, page * size) } };
}

function ticketOf(site: HaloSite, session: Session, id: string | undefined): Ticket | undefined {
  return site.tickets.find((t) => t.id === Number(id) && t.tenant === session.tenant);
}

function ticketJson(t: Ticket): Record<string, unknown> {
  const { tenant: _tenant, ...rest } = t;
  return { ...rest };
}

function actionJson(a: Action): Record<string, unknown> {
  return { ...a };
}

function webhookJson(w: { id: string; name: string; url: string; active: boolean; authentication_type: number; basic_username: string; events: string[] }): Record<string, unknown> {
  // Like Halo's UI, the password is never shown back.
  return { id: w.id, name: w.name, type: 0, url: w.url, method: 0, active: w.active, authentication_type: w.authentication_type, basic_username: w.basic_username, events: w.events.map((name) => ({ name })) };
}

function arrayOf(body: unknown): Record<string, unknown>[] | null {
  const list = Array.isArray(body) ? body : body && typeof body === 'object' ? [body] : null;
  if (!list || list.length === 0 || list.some((r) => !r || typeof r !== 'object' || Array.isArray(r))) return null;
  return list as Record<string, unknown>[];
}

function queryOf(request: FastifyRequest): Record<string, string> {
  return Object.fromEntries(new URL(request.url, 'http://emulator').searchParams);
}

function faultReply(fault: Fault): Reply {
  const headers: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
  return { status: fault.status ?? 500, headers, body: { message: fault.status === 429 ? 'Too many requests' : 'An error occurred' } };
}

function stripUndefined<T extends Record<string, unknown>>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as never;
}
