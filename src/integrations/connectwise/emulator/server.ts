import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { latencyDelay } from './effects.ts';
import { authenticated, callOf, deliver, isControl, markArrival, send, underCodebase } from './endpoint.ts';
import { boardRoutes } from './routes/boards.ts';
import { callbackRoutes } from './routes/callbacks.ts';
import { companyRoutes } from './routes/companies.ts';
import { controlRoutes } from './routes/control.ts';
import { discoveryRoutes } from './routes/discovery.ts';
import { memberRoutes } from './routes/members.ts';
import { ticketRoutes } from './routes/tickets.ts';
import type { ConnectWiseSite } from './site.ts';
import { cwError, MAX_BODY_BYTES, notFoundEndpoint, type Reply, replyForError } from './wire.ts';

/**
 * The emulator's HTTP server: Fastify, with one route per ConnectWise endpoint it serves (under
 * `/{codebase}apis/3.0/`), the two key-less ConnectWise URLs, and the `/_emulator/` control routes.
 * Paths match whatever their case, with a trailing slash or repeated slashes, as on ConnectWise;
 * bodies are read as text and parsed as JSON by the endpoint (any content type), so that a bad body
 * gets ConnectWise's answer, after the keys are checked.
 */

export function emulatorServer(site: ConnectWiseSite): FastifyInstance {
  const app = Fastify({
    logger: false,
    // A HEAD is answered like any method an endpoint does not serve (405), not as a GET.
    exposeHeadRoutes: false,
    bodyLimit: MAX_BODY_BYTES,
    // node's own default, as before the move to Fastify (Fastify's is 72 s).
    keepAliveTimeout: 5_000,
    // close() ends every connection at once, a call held by a delay fault included.
    forceCloseConnections: true,
    routerOptions: { caseSensitive: false, ignoreDuplicateSlashes: true, ignoreTrailingSlash: true, maxParamLength: 10_000 },
    frameworkErrors: (_error, request, reply) => answerDirectly(site, request, reply, cwError(400, 'ConnectWiseApi', 'The request URL is not valid.')),
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  // Latency is the network's: before the body is read, on every ConnectWise call, never on a control call.
  app.decorateRequest('arrivedAt', 0);
  app.addHook('onRequest', (request, _reply, done) => {
    markArrival(request);
    const delay = site.latency === null || isControl(callOf(request).path) ? 0 : latencyDelay(site.latency);
    if (delay > 0) setTimeout(done, delay);
    else done();
  });

  app.setErrorHandler((error: FastifyError, request, reply) => answerDirectly(site, request, reply, errorReply(error)));
  app.setNotFoundHandler((request, reply) => notFound(site, request, reply));

  app.register(controlRoutes, { site, prefix: '/_emulator' });
  app.register(discoveryRoutes, { site });
  const api = { site, prefix: `/${site.codebase}apis/3.0` };
  app.register(ticketRoutes, api);
  app.register(boardRoutes, api);
  app.register(companyRoutes, api);
  app.register(memberRoutes, api);
  app.register(callbackRoutes, api);
  return app;
}

/** Fastify's own refusals (the body: too large, unreadable) in ConnectWise's words. */
function errorReply(error: FastifyError): Reply {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return cwError(413, 'ConnectWiseApi', 'The request body is too large.');
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) return cwError(error.statusCode, 'ConnectWiseApi', error.message);
  return replyForError(error);
}

function answerDirectly(site: ConnectWiseSite, request: FastifyRequest, reply: FastifyReply, answer: Reply): void {
  deliver(site, request, reply, callOf(request), { outcome: { reply: answer } });
}

/**
 * No route: a control path names what it did not find; outside the codebase there is no endpoint;
 * under it, faults strike first and, under `apis/3.0/`, the keys and the body are checked before
 * ConnectWise says that the endpoint does not exist.
 */
async function notFound(site: ConnectWiseSite, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const call = callOf(request);
  if (isControl(call.path)) {
    send(reply, { status: 404, body: { error: `no emulator control route ${call.method} ${call.path.replace(/\/$/, '')}` } });
    return;
  }
  const root = `/${site.codebase}`.toLowerCase();
  const path = call.path.toLowerCase();
  if (!path.startsWith(root)) return answerDirectly(site, request, reply, notFoundEndpoint());
  const underApi = path.startsWith(`${root}apis/3.0/`);
  const missing = underApi ? authenticated(site, notFoundEndpoint) : () => ({ outcome: { reply: notFoundEndpoint() } });
  return underCodebase(site, missing)(request, reply);
}
