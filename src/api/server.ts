import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import cookie from '@fastify/cookie';
import csrfProtection from '@fastify/csrf-protection';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { trustedProxies } from '../config.ts';
import { DeskhandError, isDeskhandError } from '../core/errors.ts';
import type { EngineContext } from '../engine/context.ts';
import { ping } from '../store/db.ts';
import { SESSION_TTL_MS } from '../store/users.ts';
import { registerApprovalRoutes } from './approvals.ts';
import { CSRF_COOKIE, CSRF_HEADER, csrfSessionBinding, registerAuthentication } from './auth.ts';
import { registerConfigRoutes } from './config-routes.ts';
import { registerIntegrationRoutes } from './integration-routes.ts';
import { answerDashboard, loadDashboard, sendIndex } from './dashboard.ts';
import type { KnownEmulators } from '../service.ts';
import type { HomeInfo } from './home.ts';
import { registerSetupRoutes } from './setup-routes.ts';
import { registerUserRoutes } from './user-routes.ts';
import { registerClientRoutes } from './client-routes.ts';
import { registerIntegrationConfigRoutes } from './integration-config-routes.ts';
import { HTML_PAGE, MANAGER_STYLE, registerManagerPages } from './manager.ts';
import { registerRequestRoutes } from './requests.ts';
import { registerSessionRoutes } from './session.ts';
import { registerTicketStatusRoutes } from './ticket-status-routes.ts';
import { ServiceHealth } from './contract.ts';
import { answerUnroutableUrl, findNulCharacter, zodResponse, zodSerializerCompiler, zodValidatorCompiler } from './schema.ts';
import { registerWebhooks } from './webhooks.ts';
import { registerWorkflowRoutes } from './workflow-routes.ts';
import { type LiveEvents, registerEventRoutes } from './events.ts';

export interface ApiOptions {
  ctx: EngineContext;
  /** Called when something created due work, so the local worker can start at once. */
  onWork: () => void;
  home: () => HomeInfo;
  /** The built-in emulators running beside the service, if any (integrations pointed at them are marked emulated). */
  emulators?: KnownEmulators | null;
  /** Where outside systems call this service back, for a new integration's `onConnect` (null: nowhere). */
  webhookBaseUrl?: () => string | null;
  /** The hub of live updates (`GET /api/events`); without it, that route answers 503. */
  live?: LiveEvents | null;
}

/**
 * The HTTP surface: thin routes that validate, authorise, call the engine, and map errors. Errors
 * answer `{"error": {"code", "message"}}` with the status of their code.
 */
export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  const { ctx } = options;
  const secure = ctx.publicUrl.startsWith('https://');
  const headers = securityHeaders(secure);
  const dashboard = loadDashboard();
  // Fastify logs nothing itself (logger: false, so no request lines, which would carry URLs and their secrets): the access
  // log below and an unhandled error go through ctx.logger with the route pattern, never the URL.
  // Every request gets an id of ours (one sent by the caller is not taken), echoed in x-request-id.
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    trustProxy: trustedProxies(),
    routerOptions: { maxParamLength: 300 },
    frameworkErrors: answeredBeforeHooks(ctx, headers, answerUnroutableUrl),
    genReqId: () => randomUUID(),
    requestIdHeader: false,
  });
  app.setValidatorCompiler(zodValidatorCompiler);
  app.setSerializerCompiler(zodSerializerCompiler);
  registerAccessLog(app, ctx);
  await app.register(helmet, headers);
  await app.register(cookie);
  await app.register(csrfProtection, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: CSRF_COOKIE,
    cookieOpts: { path: '/', httpOnly: true, sameSite: 'strict', secure, maxAge: SESSION_TTL_MS / 1000 },
    // Only the header: a form field or a query parameter could be planted by another site.
    getToken: (request) => {
      const token = request.headers[CSRF_HEADER];
      return typeof token === 'string' ? token : undefined;
    },
    // A token is bound to its session (the hash of the session cookie's token), so neither a token
    // of another session nor a CSRF cookie planted by a sibling site can be used with this one.
    getUserInfo: (request) => csrfSessionBinding(request) ?? '',
    // The HMAC key need not be secret: the binding's strength is the session token, which only the
    // browser (HttpOnly) and this service know. A fixed key lets every process check every token.
    csrfOpts: { hmacKey: 'deskhand csrf token, bound to its session' },
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'deskhand API',
        version: '0.1.0',
        description:
          'The deskhand service-desk agent: requests, their stories, approvals and configuration. Authenticate with the session cookie (POST /api/session) or Authorization: Bearer <personal API token> (deskhand user token).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, cookie: { type: 'apiKey', in: 'cookie', name: 'deskhand_session' } } },
      security: [{ bearer: [] }, { cookie: [] }],
    },
  });
  registerAuthentication(app, ctx.db);
  // Before any schema or handler: PostgreSQL refuses U+0000 in text, so no route may pass one on.
  app.addHook('preValidation', async (request) => {
    const found = findNulCharacter(request.params, 'params') ?? findNulCharacter(request.query, 'query') ?? (typeof request.body === 'object' ? findNulCharacter(request.body, 'body') : null);
    if (found) throw new DeskhandError('bad_request', `${found}: contains a NUL character (\\u0000), which is not accepted`);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.code === 'FST_CSRF_MISSING_SECRET' || error.code === 'FST_CSRF_INVALID_TOKEN') {
      const message = `a change signed in by the session cookie must send the header ${CSRF_HEADER} with this session's token (from POST /api/session or GET /api/session/csrf); scripts can use Authorization: Bearer <API token> instead`;
      reply.code(403).send({ error: { code: 'forbidden', message } });
      return;
    }
    if (isDeskhandError(error)) {
      reply.code(error.httpStatus).send({ error: { code: error.code, message: error.message } });
      return;
    }
    if (error.validation) {
      reply.code(400).send({ error: { code: 'bad_request', message: error.message } });
      return;
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      reply.code(error.statusCode).send({ error: { code: 'bad_request', message: error.message } });
      return;
    }
    ctx.logger.error(
      { err: { message: withoutRequestSecrets(error.message, request), stack: withoutRequestSecrets(error.stack, request) }, request: requestForLog(request) },
      'unhandled API error',
    );
    reply.code(500).send({ error: { code: 'internal', message: 'internal error; the details are in the service log' } });
  });
  app.setNotFoundHandler((request, reply) => {
    // The dashboard's files and pages (its router knows /clients/…, /msp/…).
    if (answerDashboard(dashboard, request, reply)) return;
    // Only the path's first two segments: a mistyped webhook URL or manager link carries its secret further on.
    const path = request.url.split('?')[0]!.split('/');
    reply.code(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${path.slice(0, 3).join('/')}${path.length > 3 ? '/…' : ''}` } });
  });

  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        operationId: 'getHealth',
        summary: 'Answers ok when the database answers (503 when it does not)',
        security: [],
        response: { 200: zodResponse(ServiceHealth), 503: zodResponse(ServiceHealth) },
      },
    },
    async (_request, reply) => {
      if (await ping(ctx.db)) return { status: 'ok' as const };
      reply.code(503);
      return { status: 'unavailable' as const, reason: 'the database does not answer' };
    },
  );
  app.get(
    '/api/openapi.json',
    {
      schema: {
        tags: ['meta'],
        operationId: 'getOpenApiDocument',
        summary: 'This document: the API in OpenAPI 3.0',
        security: [],
        response: { 200: { description: 'An OpenAPI 3.0.3 document', type: 'object', additionalProperties: true } },
      },
    },
    async () => app.swagger(),
  );
  app.get(
    '/',
    { schema: { tags: ['meta'], operationId: 'getDashboard', summary: 'The dashboard (a single-page app; its other pages answer the same HTML)', security: [], response: { 200: HTML_PAGE } } },
    async (_request, reply) => {
      sendIndex(dashboard, reply);
      return reply;
    },
  );

  registerSessionRoutes(app, ctx, { secureCookies: secure });
  registerRequestRoutes(app, ctx);
  registerApprovalRoutes(app, ctx, options.onWork);
  registerConfigRoutes(app, ctx);
  registerIntegrationRoutes(app, ctx);
  registerTicketStatusRoutes(app, ctx);
  registerSetupRoutes(app, ctx, options.home);
  registerUserRoutes(app, ctx);
  registerClientRoutes(app, ctx);
  registerWorkflowRoutes(app, ctx);
  registerIntegrationConfigRoutes(app, ctx, { emulators: options.emulators ?? null, webhookBaseUrl: options.webhookBaseUrl ?? (() => null) });
  registerManagerPages(app, ctx, options.onWork);
  registerWebhooks(app, ctx, options.onWork);
  // Live updates (issue 12): server-sent events.
  registerEventRoutes(app, options.live ?? null);
  return app;
}

/**
 * Security headers on every answer (pages, API, errors, unknown routes): a CSP that loads scripts,
 * styles, images and API calls from this origin only (the dashboard's built files; no inline script,
 * no eval), plus the manager link page's one inline style sheet, allowed by its hash (its form posts
 * to its own page); no framing, no sniffing, no referrer, and HSTS only over https.
 */
function securityHeaders(secure: boolean) {
  const styleHash = (css: string) => `'sha256-${createHash('sha256').update(css, 'utf8').digest('base64')}'`;
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", styleHash(MANAGER_STYLE)],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        manifestSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        ...(secure ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    xFrameOptions: { action: 'deny' as const },
    referrerPolicy: { policy: 'no-referrer' as const },
    strictTransportSecurity: secure ? { maxAge: 365 * 24 * 60 * 60 } : false,
  };
}

/**
 * The access log: one info line per request when its answer has gone out, with the method, the
 * route pattern (never the URL: paths carry webhook secrets and link tokens, query strings anything),
 * the status, the time taken, who called (user id; an API token's id, never the token) and the
 * request id the answer carried in x-request-id. Never a body.
 */
function registerAccessLog(app: FastifyInstance, ctx: EngineContext): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => logAccess(ctx, request, reply));
}

function logAccess(ctx: EngineContext, request: FastifyRequest, reply: FastifyReply): void {
  const user = request.user;
  ctx.logger.info(
    {
      requestId: request.id,
      method: request.method,
      route: request.routeOptions.url ?? '(no route)',
      status: reply.statusCode,
      durationMs: Number.isFinite(reply.elapsedTime) ? Math.round(reply.elapsedTime * 10) / 10 : null,
      ...(user ? { userId: user.id } : {}),
      ...(user?.tokenId ? { tokenId: user.tokenId } : {}),
    },
    'request',
  );
}

type HelmetMiddleware = (options: object) => (request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void) => void;
/** The very `helmet` that @fastify/helmet runs (its dependency, not a second copy of our own). */
const helmetOfPlugin = createRequire(createRequire(import.meta.url).resolve('@fastify/helmet'))('helmet') as HelmetMiddleware;

/**
 * Fastify answers a URL it cannot route (a malformed percent-encoding, a parameter too long)
 * through `frameworkErrors`, before any hook runs: without this, that answer would have no security
 * headers, no x-request-id and no access line. It gets the same headers from the same helmet
 * configuration, its request id, and its access line when it has gone out.
 */
function answeredBeforeHooks(
  ctx: EngineContext,
  headers: object,
  answer: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void,
): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  const applyHeaders = helmetOfPlugin(headers);
  return (error, request, reply) => {
    applyHeaders(request.raw, reply.raw, () => {});
    reply.header('x-request-id', request.id);
    reply.raw.once('finish', () => logAccess(ctx, request, reply));
    answer(error, request, reply);
  };
}

/**
 * Route parameters that are safe to log: ids and names. Any other parameter (a
 * webhook's secret, a manager link's token, whatever a later route adds) is logged as [redacted].
 * A request's URL is never logged: its route pattern is.
 */
const LOGGABLE_PARAMS = new Set(['id', 'integrationId', 'index', 'tool']);

export function requestForLog(request: FastifyRequest): { method: string; route: string; params: Record<string, string> } {
  const params = (request.params ?? {}) as Record<string, unknown>;
  return {
    method: request.method,
    route: request.routeOptions.url ?? '(no route)',
    params: Object.fromEntries(Object.entries(params).map(([name, value]) => [name, LOGGABLE_PARAMS.has(name) ? String(value).slice(0, 100) : '[redacted]'])),
  };
}

/**
 * An error's text with the request's URL, its unloggable parameters and its query values taken out,
 * in case something copied them into a message or a stack.
 */
function withoutRequestSecrets(text: string | undefined, request: FastifyRequest): string | undefined {
  if (!text) return text;
  const params = Object.entries((request.params ?? {}) as Record<string, unknown>).filter(([name]) => !LOGGABLE_PARAMS.has(name));
  const query = Object.values((request.query ?? {}) as Record<string, unknown>).flat();
  const secrets = new Set<string>();
  for (const value of [request.url, request.url.split('?')[0]!, ...params.map(([, value]) => value), ...query]) {
    if (typeof value !== 'string' || value.length < 6) continue;
    secrets.add(value);
    secrets.add(encodeURIComponent(value));
  }
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) out = out.replaceAll(secret, '[redacted]');
  return out;
}
