import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { CONTROL_PREFIX, registerControlRoutes } from './control-routes.ts';
import { GRAPH_PREFIX, registerGraphRoutes, rewriteKeySyntax, unknownGraphPath } from './graph-routes.ts';
import { registerLoginRoutes } from './login-routes.ts';
import { errorReply, GraphHttpError, type GraphReply, replyForError, send } from './replies.ts';
import type { GraphEmulatorState } from './state.ts';
import { finish, trafficOf, watchTraffic } from './traffic.ts';

/**
 * The Graph emulator's HTTP server: one Fastify instance with two encapsulated parts, the traffic
 * that imitates Microsoft (Graph under /v1.0 and the login host's token endpoint, behind the
 * latency, fault and request-log hooks) and the control endpoints under /_emulator (spared all three).
 *
 * Bodies are read as text whatever their content type and parsed by the routes, as Graph does: a
 * JSON body without a content type is still read, a body that is not JSON gets Graph's 400.
 */

const BODY_LIMIT = 16 * 1024 * 1024;

export function buildGraphServer(state: GraphEmulatorState): FastifyInstance {
  const app = Fastify({
    logger: false,
    // close() ends every connection, also one waiting in a slow-answer fault.
    forceCloseConnections: true,
    exposeHeadRoutes: false,
    bodyLimit: BODY_LIMIT,
    requestIdHeader: false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 2048 },
    rewriteUrl: (req) => rewriteKeySyntax(req.url ?? '/'),
    // A URL the router cannot read (a malformed percent-encoding): Graph's 400, not Fastify's body.
    frameworkErrors: (_error, _request, reply) => {
      send(reply, errorReply(new GraphHttpError(400, 'BadRequest', 'The request URL is not valid.'), randomUUID()));
    },
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  app.register(async (traffic) => {
    watchTraffic(traffic, state);
    registerGraphRoutes(traffic, state);
    registerLoginRoutes(traffic, state);
    traffic.setNotFoundHandler((request, reply) => {
      let result: GraphReply;
      const { pathname } = trafficOf(request).url;
      try {
        if (pathname === GRAPH_PREFIX || pathname.startsWith(`${GRAPH_PREFIX}/`)) unknownGraphPath(state, request);
        throw new GraphHttpError(404, 'NotFound', `No such endpoint: ${pathname}`);
      } catch (error) {
        result = replyForError(error, trafficOf(request).requestId);
      }
      finish(request, reply, result);
    });
    // Fastify's own refusals once a call is routed (a body over the limit): Graph's error body.
    traffic.setErrorHandler((error, request, reply) => {
      const status = typeof (error as { statusCode?: unknown }).statusCode === 'number' ? (error as { statusCode: number }).statusCode : 500;
      const message = error instanceof Error ? error.message : String(error);
      let requestId: string;
      try {
        requestId = trafficOf(request).requestId;
      } catch {
        requestId = randomUUID();
      }
      send(reply, replyForError(new GraphHttpError(status, status >= 500 ? 'InternalServerError' : 'BadRequest', message), requestId));
    });
  });
  app.register(
    async (control) => {
      registerControlRoutes(control, state);
    },
    { prefix: CONTROL_PREFIX },
  );
  return app;
}
