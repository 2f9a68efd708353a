import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { requestedApiVersion } from '../api-version.ts';
import { SETTINGS } from '../permissions.ts';
import { type MemberRecord, PORTAL_MEMBER_IDENTIFIER } from './data.ts';
import { type FaultOutcome, faultOutcome, strikesBefore } from './faults.ts';
import type { Instance } from './records.ts';
import { requirementOf, roleAllows } from './roles.ts';
import type { Caller, ConnectWiseSite } from './site.ts';
import { cwError, headerText, parseJson, type Reply, replyForError } from './wire.ts';

/**
 * How a call to the emulated ConnectWise is answered, in ConnectWise's order: an injected fault
 * first (anywhere under the codebase), then the clientId and the keys, then the body, then the
 * route and its method, then the member's security role, then the endpoint itself; a fault "after
 * the effect" replaces whatever the endpoint answered. Every ConnectWise call is logged with its
 * answer; control calls (`/_emulator/`) are not.
 */

/** What an endpoint handler gets: the caller, the path parameters, the query and the parsed body. */
export interface ApiContext {
  site: ConnectWiseSite;
  instance: Instance;
  actor: MemberRecord;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  requestUrl: URL;
}

export type ApiHandler = (ctx: ApiContext) => Reply;

/** The methods an endpoint answers at all: the ones it does not serve get ConnectWise's 405. */
const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** A call as the emulator reads it: its method, its path with repeated slashes as one, its URL. */
export interface Call {
  method: string;
  path: string;
  requestUrl: URL;
}

/** The outcome of a call, and who made it once their keys are accepted (for the request log). */
interface Answer {
  outcome: FaultOutcome;
  caller?: Caller;
}

export function callOf(request: FastifyRequest): Call {
  const url = request.url;
  // `new URL('//host/...', base)` would read a host: the path is kept whole under a fixed origin.
  const requestUrl = url.startsWith('/') ? new URL(`http://emulator.invalid${url}`) : new URL(url, 'http://emulator.invalid');
  // ConnectWise's own key URLs carry `//` after the codebase; the router reads repeated slashes as one too.
  return { method: request.method, path: requestUrl.pathname.replace(/\/{2,}/g, '/'), requestUrl };
}

/** When the call arrived (ms since the epoch), set by the server's first hook; 0 before it. */
export function arrivedAt(request: FastifyRequest): number {
  return (request as FastifyRequest & { arrivedAt?: number }).arrivedAt ?? 0;
}

export function markArrival(request: FastifyRequest): void {
  (request as FastifyRequest & { arrivedAt?: number }).arrivedAt = Date.now();
}

export function isControl(path: string): boolean {
  return path.startsWith('/_emulator/');
}

/** Registers one ConnectWise endpoint: its handlers by method, ConnectWise's 405 for any other method. */
export function endpoint(api: FastifyInstance, site: ConnectWiseSite, url: string, handlers: Partial<Record<HTTPMethods, ApiHandler>>): void {
  const served = new Map(Object.entries(handlers) as [string, ApiHandler][]);
  api.route({
    method: METHODS,
    url,
    handler: underCodebase(
      site,
      authenticated(site, (ctx, call) => {
        const handle = served.get(call.method);
        if (!handle) return methodNotAllowed(call.method);
        return permitted(ctx, url, call.method) ?? handle(ctx);
      }),
    ),
  });
}

/** The portal member's security role reaches tickets and company records only, never System. */
export function staffOnly(handle: ApiHandler): ApiHandler {
  return (ctx) =>
    ctx.actor.identifier === PORTAL_MEMBER_IDENTIFIER
      ? cwError(403, 'Forbidden', `The security role of member ${ctx.actor.identifier} does not allow access to system.`)
      : handle(ctx);
}

/** The member's security role must grant what the endpoint needs (roles.ts); null when it does. */
function permitted(ctx: ApiContext, url: string, method: string): Reply | null {
  const need = requirementOf(url, method);
  if (!need) return null;
  const role = ctx.instance.seed.roles.find((r) => r.id === ctx.actor.securityRoleId);
  if (roleAllows(role, need)) return null;
  return cwError(403, 'Forbidden', `The security role of member ${ctx.actor.identifier} does not allow access to ${SETTINGS[need.setting].module.toLowerCase()}.`);
}

function methodNotAllowed(method: string): Reply {
  return cwError(405, 'ConnectWiseApi', `The ${method} method is not allowed on this endpoint.`);
}

type Inner = (request: FastifyRequest, call: Call) => Answer;

/**
 * A call under the codebase: the first matching fault strikes before it (an error answer or a
 * dropped connection, after any delay), or after it (the call's change is made, its answer lost).
 */
export function underCodebase(site: ConnectWiseSite, inner: Inner) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const call = callOf(request);
    const fault = await site.faults.take(call.method, call.path);
    if (fault && strikesBefore(fault)) return deliver(site, request, reply, call, { outcome: faultOutcome(fault) });
    let answer: Answer;
    try {
      answer = inner(request, call);
    } catch (error) {
      answer = { outcome: { reply: replyForError(error) } };
    }
    // The real answer (success or refusal) is lost in transit: the caller sees only the fault.
    if (fault?.afterEffect) answer = { ...answer, outcome: faultOutcome(fault) };
    deliver(site, request, reply, call, answer);
  };
}

/** Checks the clientId and the keys, reads the body as JSON, then runs the handler. */
export function authenticated(site: ConnectWiseSite, handle: (ctx: ApiContext, call: Call) => Reply): Inner {
  return (request, call) => {
    const caller = site.authenticate(request.headers);
    if ('reply' in caller) return { outcome: caller };
    // A pinned version must be a PSA release (`2025.16`). How ConnectWise answers a malformed one is
    // not documented: the emulator refuses it (400) so that a client bug shows.
    const asked = requestedApiVersion(headerText(request.headers.accept));
    if ('malformed' in asked) {
      return { outcome: { reply: cwError(400, 'ConnectWiseApi', `The API version requested in the Accept header (${asked.malformed}) is not valid.`) }, caller };
    }
    let reply: Reply;
    try {
      const ctx: ApiContext = {
        site,
        instance: caller.instance,
        actor: caller.actor,
        params: request.params as Record<string, string>,
        query: call.requestUrl.searchParams,
        body: jsonBody(request.body),
        requestUrl: call.requestUrl,
      };
      reply = handle(ctx, call);
    } catch (error) {
      reply = replyForError(error);
    }
    return { outcome: { reply }, caller };
  };
}

/** The body as the emulator reads it, whatever its content type: JSON, or nothing when empty. */
export function jsonBody(body: unknown): unknown {
  return typeof body === 'string' && body !== '' ? parseJson(body) : undefined;
}

/** Logs a ConnectWise call with its answer (0 when dropped), then answers or drops the connection. */
export function deliver(site: ConnectWiseSite, request: FastifyRequest, reply: FastifyReply, call: Call, answer: Answer): void {
  const { outcome, caller } = answer;
  if (!isControl(call.path)) {
    site.record({
      at: new Date(arrivedAt(request) || Date.now()).toISOString(),
      method: call.method,
      path: call.path,
      query: call.requestUrl.search,
      status: 'reply' in outcome ? outcome.reply.status : 0,
      apiVersion: apiVersionAsked(request),
      ...(caller ? { companyId: caller.instance.seed.companyId, member: caller.actor.identifier } : {}),
    });
  }
  if ('reply' in outcome) {
    send(reply, outcome.reply);
    return;
  }
  reply.hijack();
  request.raw.socket.destroy();
}

export function send(reply: FastifyReply, answer: Reply): void {
  reply.code(answer.status);
  if (answer.headers) reply.headers(answer.headers);
  if (answer.body === undefined) reply.send();
  else reply.type('application/json; charset=utf-8').send(JSON.stringify(answer.body));
}

/** The API version the call pinned in its Accept header, null when none (ConnectWise then serves the latest). */
function apiVersionAsked(request: FastifyRequest): string | null {
  const asked = requestedApiVersion(headerText(request.headers.accept));
  return 'version' in asked ? asked.version : `malformed:${asked.malformed}`;
}
