import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { DeskhandError, isDeskhandError } from '../core/errors.ts';
import type { EngineContext } from '../engine/context.ts';
import { ping } from '../store/db.ts';
import { registerApprovalRoutes } from './approvals.ts';
import { registerAuthentication } from './auth.ts';
import { registerConfigRoutes } from './config-routes.ts';
import { homePage, type HomeInfo } from './home.ts';
import { registerManagerPages } from './manager.ts';
import { registerRequestRoutes } from './requests.ts';
import { registerSessionRoutes } from './session.ts';
import { findNulCharacter, zodValidatorCompiler } from './schema.ts';
import { registerWebhooks } from './webhooks.ts';

export interface ApiOptions {
  ctx: EngineContext;
  /** Called when something created due work, so the local worker can start at once. */
  onWork: () => void;
  home: () => HomeInfo;
}

/**
 * The HTTP surface: thin routes that validate, authorise, call the engine, and map errors. Errors
 * answer `{"error": {"code", "message"}}` with the status of their code.
 */
export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  const { ctx } = options;
  // Fastify logs nothing itself (no request lines, which would carry URLs and their secrets): the
  // one API log line, an unhandled error, goes through ctx.logger with the route, never the URL.
  const app = Fastify({ logger: false, disableRequestLogging: true, bodyLimit: 1024 * 1024, trustProxy: false, routerOptions: { maxParamLength: 300 } });
  app.setValidatorCompiler(zodValidatorCompiler);
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
    // Only the path's first two segments: a mistyped webhook URL or manager link carries its secret further on.
    const path = request.url.split('?')[0]!.split('/');
    reply.code(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${path.slice(0, 3).join('/')}${path.length > 3 ? '/…' : ''}` } });
  });

  app.get('/healthz', { schema: { tags: ['health'], summary: 'Answers ok when the database answers' } }, async (_request, reply) => {
    if (await ping(ctx.db)) return { status: 'ok' };
    reply.code(503);
    return { status: 'unavailable', reason: 'the database does not answer' };
  });
  app.get('/api/openapi.json', { schema: { hide: true } as never }, async () => app.swagger());
  app.get('/', { schema: { hide: true } as never }, async (_request, reply) => {
    reply.header('content-type', 'text/html; charset=utf-8');
    return homePage(options.home());
  });

  registerSessionRoutes(app, ctx.db, { secureCookies: ctx.publicUrl.startsWith('https://') });
  registerRequestRoutes(app, ctx);
  registerApprovalRoutes(app, ctx, options.onWork);
  registerConfigRoutes(app, ctx);
  registerManagerPages(app, ctx, options.onWork);
  registerWebhooks(app, ctx, options.onWork);
  return app;
}

/**
 * Route parameters that are safe to log: ids and names. Any other parameter (the ConnectWise
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
