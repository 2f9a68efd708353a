import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Fault, latencyDelay } from './faults.ts';
import { faultReply, type GraphReply, send } from './replies.ts';
import type { GraphEmulatorState, RequestRecord } from './state.ts';

/**
 * What happens to every Graph and token call, whatever its route (control calls are spared): it is
 * logged (method, path, query string and status, or 0 when the connection was dropped; never a body),
 * delayed by the configured latency, and matched against the injected faults. A fault answers instead
 * of the route (an error status, or a dropped connection), after its delay; with `afterEffect` the
 * route runs first (its change is made) and only its answer is replaced (`finish`).
 *
 * Order, as the hand-made server had it: latency, then the fault is taken, then the body is read
 * (so that a call that arrived is handled even if its caller goes away during a slow answer), then
 * the fault's delay, then the fault or the route.
 */

export interface Traffic {
  /** The URL as sent (before the `users('upn')` rewrite), against the Host it was sent to. */
  url: URL;
  record: RequestRecord;
  requestId: string;
  fault: Fault | undefined;
}

const traffic = new WeakMap<IncomingMessage, Traffic>();

export function trafficOf(request: FastifyRequest): Traffic {
  const found = traffic.get(request.raw);
  if (!found) throw new Error('a Graph emulator route ran outside its traffic hooks');
  return found;
}

/** Adds the hooks to an encapsulated Fastify context (the Graph and login routes, not control). */
export function watchTraffic(app: FastifyInstance, state: GraphEmulatorState): void {
  // Callback hooks rather than async ones: most calls have no latency and no fault, and then they
  // cost no promise (the emulators share the bench process with the service they serve).
  app.addHook('onRequest', (request, reply, done) => {
    const url = new URL(request.originalUrl, `http://${request.headers.host ?? '127.0.0.1'}`);
    const record: RequestRecord = { at: new Date().toISOString(), method: request.method, path: url.pathname, query: url.search, status: 0, tenantId: null };
    // 'close' also fires for a dropped connection, which is logged with status 0 (no answer).
    reply.raw.once('close', () => {
      record.status = reply.raw.writableFinished ? reply.raw.statusCode : 0;
      state.logRequest(record);
    });
    const take = (): void => {
      traffic.set(request.raw, { url, record, requestId: randomUUID(), fault: state.faults.take(request.method, `${url.pathname}${url.search}`) });
      done();
    };
    const delay = latencyDelay(state.latency);
    if (delay > 0) setTimeout(take, delay);
    else take();
  });

  app.addHook('preHandler', (request, reply, done) => {
    const { fault, requestId } = trafficOf(request);
    if (!fault) return done();
    const strike = (): void => {
      if (!fault.afterEffect && (fault.status !== undefined || fault.dropConnection)) answerFault(request, reply, fault, requestId);
      else done();
    };
    if (fault.delayMs) setTimeout(strike, fault.delayMs);
    else strike();
  });
}

/** Sends the route's reply, unless a fault strikes after the effect and replaces (or drops) it. */
export function finish(request: FastifyRequest, reply: FastifyReply, graphReply: GraphReply): void {
  const { fault, requestId } = trafficOf(request);
  if (fault?.afterEffect) {
    answerFault(request, reply, fault, requestId);
    return;
  }
  send(reply, graphReply);
}

/** The fault's answer instead of the real one; or no answer at all, as when a connection breaks. */
function answerFault(request: FastifyRequest, reply: FastifyReply, fault: Fault, requestId: string): void {
  if (fault.dropConnection || fault.status === undefined) {
    reply.hijack();
    request.raw.socket.destroy();
    return;
  }
  send(reply, faultReply({ ...fault, status: fault.status }, requestId));
}
