import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { FAULT_SHAPE, faultSchema, latencySchema } from './faults.ts';
import { grantsInput } from './principals.ts';
import { jsonReply, replyForError, send } from './replies.ts';
import type { GraphEmulatorState } from './state.ts';

/**
 * The emulator's own endpoints under `/_emulator/` (not Graph): inspection, reset, faults, latency,
 * token revocation, the request and effects logs, and the app registrations with their credentials
 * (test and demo only: the emulator listens on loopback). No latency, faults or logging here.
 */

export const CONTROL_PREFIX = '/_emulator';

export function registerControlRoutes(app: FastifyInstance, state: GraphEmulatorState): void {
  const json = (reply: FastifyReply, status: number, body: unknown) => send(reply, jsonReply(status, body));

  app.get('/health', (_request, reply) => json(reply, 200, { status: 'ok' }));
  app.get('/tenants', (_request, reply) => json(reply, 200, state.tenantList()));
  app.get('/tenants/:key', (request, reply) => {
    const { key } = request.params as { key: string };
    const tenant = state.tenantByKey(key);
    if (!tenant) return json(reply, 404, { error: `no tenant ${key}` });
    return json(reply, 200, tenant.snapshot());
  });
  // The apps' service principals in a tenant: Graph application permissions and Entra roles.
  // PUT `{app?, permissions?, roles?}` replaces the lists given (every app of the tenant without `app`).
  app.get('/tenants/:key/grants', (request, reply) => {
    const { key } = request.params as { key: string };
    const tenant = state.tenantByKey(key);
    if (!tenant) return json(reply, 404, { error: `no tenant ${key}` });
    return json(reply, 200, state.grantsOf(tenant.tenantId));
  });
  app.put('/tenants/:key/grants', (request, reply) => {
    const { key } = request.params as { key: string };
    const tenant = state.tenantByKey(key);
    if (!tenant) return json(reply, 404, { error: `no tenant ${key}` });
    const parsed = grantsInput.safeParse(parseControlJson(request.body));
    if (!parsed.success) return json(reply, 400, { error: `grants are {app?, permissions?: [Graph permission], roles?: [Entra role]}: ${parsed.error.issues.map((i) => i.message).join('; ')}` });
    try {
      state.setGrants(tenant.tenantId, parsed.data);
    } catch (error) {
      return json(reply, 404, { error: error instanceof Error ? error.message : String(error) });
    }
    return json(reply, 200, state.grantsOf(tenant.tenantId));
  });
  app.get('/mail', (request, reply) => {
    const tenantKey = (request.query as Record<string, string | undefined>)['tenant'];
    const tenant = tenantKey ? state.tenantByKey(tenantKey) : undefined;
    return json(
      reply,
      200,
      state.mail().filter((m) => !tenantKey || m.tenantId === tenant?.tenantId),
    );
  });
  app.post('/reset', (_request, reply) => {
    state.reset();
    return json(reply, 200, { reset: true });
  });

  app.get('/faults', (_request, reply) => json(reply, 200, state.faults.list()));
  app.delete('/faults', (_request, reply) => {
    state.clearFaults();
    return json(reply, 200, { faults: [] });
  });
  app.post('/faults', (request, reply) => {
    const parsed = faultSchema.safeParse(parseControlJson(request.body));
    if (!parsed.success) return json(reply, 400, { error: `a fault is ${FAULT_SHAPE}: ${parsed.error.issues.map((i) => i.message).join('; ')}` });
    state.faults.add(parsed.data);
    return json(reply, 201, { faults: state.faults.list() });
  });

  app.get('/effects', (request, reply) => {
    const tenantKey = (request.query as Record<string, string | undefined>)['tenant'];
    return json(reply, 200, { effects: state.effects(tenantKey) });
  });

  // GET shows the latency; POST `{min, max}` sets it (ms, uniform); DELETE turns it off.
  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    url: '/latency',
    handler: (request, reply) => {
      if (request.method === 'POST') {
        const parsed = latencySchema.safeParse(parseControlJson(request.body));
        if (!parsed.success) {
          return json(reply, 400, { error: `latency is {min, max} in milliseconds (0 to 60000, min <= max): ${parsed.error.issues.map((i) => i.message).join('; ')}` });
        }
        state.setLatency(parsed.data);
      } else if (request.method === 'DELETE') {
        state.setLatency(null);
      } else if (request.method !== 'GET') {
        return json(reply, 405, { error: `${request.method} is not allowed on /_emulator/latency` });
      }
      return json(reply, 200, { latencyMs: state.latency });
    },
  });

  app.post('/tokens/revoke', (_request, reply) => {
    state.revokeTokens();
    return json(reply, 200, { revoked: true });
  });

  app.get('/requests', (_request, reply) => json(reply, 200, state.requests()));
  app.delete('/requests', (_request, reply) => {
    state.clearRequests();
    return json(reply, 200, { cleared: true });
  });

  // The MSPs' multi-tenant apps: id, client secret, certificate with its private key, consents.
  const tenantName = (tenantId: string): string => state.tenantById(tenantId)?.clientId ?? tenantId;
  app.get('/apps', async (_request, reply) => json(reply, 200, await Promise.all(state.apps.mspIds().map((mspId) => state.apps.mspAppCredentials(mspId, tenantName)))));
  app.get('/apps/:mspId', async (request, reply) => {
    const { mspId } = request.params as { mspId: string };
    if (!state.apps.mspApp(mspId)) return json(reply, 404, { error: `no app of the MSP ${mspId}` });
    return json(reply, 200, await state.apps.mspAppCredentials(mspId, tenantName));
  });
  // An admin of the tenant consents to the MSP's app (PUT) or removes its enterprise application (DELETE).
  app.route({
    method: ['PUT', 'DELETE'],
    url: '/apps/:mspId/consents/:tenant',
    handler: (request, reply) => {
      const { mspId, tenant: tenantKey } = request.params as { mspId: string; tenant: string };
      const app = state.apps.mspApp(mspId);
      const tenant = state.tenantByKey(tenantKey);
      if (!app) return json(reply, 404, { error: `no app of the MSP ${mspId}` });
      if (!tenant) return json(reply, 404, { error: `no tenant ${tenantKey}` });
      state.apps.setConsent(mspId, tenant.tenantId, request.method === 'PUT');
      return json(reply, 200, { mspId, tenants: state.apps.consentedTenants(app).map((tenantId) => ({ client: tenantName(tenantId), tenantId })) });
    },
  });

  app.setNotFoundHandler((request, reply) => json(reply, 404, { error: `no control endpoint ${request.method} ${new URL(request.url, 'http://x').pathname.replace(/\/+$/, '')}` }));
  app.setErrorHandler((error, _request, reply) => {
    const status = typeof (error as { statusCode?: unknown }).statusCode === 'number' ? (error as { statusCode: number }).statusCode : 0;
    if (status >= 400 && status < 500) return json(reply, status, { error: error instanceof Error ? error.message : String(error) });
    return send(reply, replyForError(error, randomUUID()));
  });
}

/** A control call's JSON body; `{}` when empty, null (refused by the schema) when it is not JSON. */
function parseControlJson(body: unknown): unknown {
  const text = typeof body === 'string' ? body : '';
  try {
    return text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    return null;
  }
}
