import { randomUUID } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { z } from 'zod';
import type { Fault } from './faults.ts';
import { ODataQueryError } from './odata.ts';
import { TenantRuleError } from './tenant.ts';

/**
 * How the Graph emulator answers: Graph's error body (`{error: {code, message, innerError}}`), Entra's
 * token errors (`{error, error_description: 'AADSTSnnn: ...', error_codes, ...}`), and replies
 * computed before they are written, so that a fault striking after the effect can replace them.
 */

/** Thrown by handlers; answered with Graph's error body. */
export class GraphHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Thrown by the token endpoint; answered with Entra's error body. */
export class AadError extends Error {
  constructor(
    readonly status: 400 | 401 | 405,
    readonly error: string,
    /** `AADSTSnnn: ...`: the first line of `error_description`. */
    readonly description: string,
  ) {
    super(description);
  }
}

/**
 * An answer computed before it is written, so that a fault striking after the effect can replace it
 * (or drop the connection) once the change has been made.
 */
export interface GraphReply {
  status: number;
  /** Absent: no body at all (not even `null`). */
  body?: unknown;
  headers?: Record<string, string>;
}

const defaultFaultErrors: Record<number, { code: string; message: string }> = {
  400: { code: 'Request_BadRequest', message: 'Invalid request.' },
  401: { code: 'InvalidAuthenticationToken', message: 'Access token validation failure.' },
  403: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' },
  404: { code: 'Request_ResourceNotFound', message: 'Resource does not exist.' },
  429: { code: 'TooManyRequests', message: 'Too many requests. Retry after the time in the Retry-After header.' },
  500: { code: 'InternalServerError', message: 'An internal server error occurred.' },
  503: { code: 'ServiceUnavailable', message: 'The service is temporarily unavailable. Please retry.' },
  504: { code: 'GatewayTimeout', message: 'The gateway did not receive a timely response.' },
};

export function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}): GraphReply {
  return { status, body, headers };
}

/** `$ref` writes, PATCH and DELETE answer 204 and sendMail 202, all with no body (Graph's gotcha). */
export function emptyReply(status: 202 | 204): GraphReply {
  return { status };
}

export function errorReply(error: GraphHttpError, requestId: string): GraphReply {
  return jsonReply(
    error.status,
    {
      error: {
        code: error.code,
        message: error.message,
        innerError: { date: new Date().toISOString().slice(0, 19), 'request-id': requestId, 'client-request-id': requestId },
      },
    },
    { 'request-id': requestId, ...error.headers },
  );
}

/** Any failure of a handler as Graph (or, for the token endpoint, Entra) would answer it. */
export function replyForError(error: unknown, requestId: string): GraphReply {
  if (error instanceof AadError) return aadReply(error);
  if (error instanceof GraphHttpError) return errorReply(error, requestId);
  if (error instanceof TenantRuleError) return errorReply(new GraphHttpError(error.status, error.code, error.message), requestId);
  if (error instanceof ODataQueryError) return errorReply(new GraphHttpError(400, 'Request_UnsupportedQuery', error.message), requestId);
  return errorReply(new GraphHttpError(500, 'InternalServerError', error instanceof Error ? error.message : String(error)), requestId);
}

export function faultReply(fault: Fault & { status: number }, requestId: string): GraphReply {
  const defaults = defaultFaultErrors[fault.status] ?? { code: 'UnknownError', message: `Injected HTTP ${fault.status}.` };
  const headers: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
  return errorReply(new GraphHttpError(fault.status, fault.code ?? defaults.code, fault.message ?? defaults.message, headers), requestId);
}

/** Entra's token error body: the AADSTS line, then trace and correlation ids, as the real one writes them. */
export function aadReply(error: AadError): GraphReply {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = `${new Date().toISOString().replace('T', ' ').slice(0, 19)}Z`;
  const code = Number(/AADSTS(\d+)/.exec(error.description)?.[1] ?? 0);
  return jsonReply(error.status, {
    error: error.error,
    error_description: `${error.description}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  });
}

const JSON_TYPE = 'application/json; odata.metadata=minimal; charset=utf-8';

/** Writes a reply; a body is serialised here, so that Fastify sends it as it is. */
export function send(reply: FastifyReply, graphReply: GraphReply): FastifyReply {
  reply.code(graphReply.status);
  if (graphReply.headers) reply.headers(graphReply.headers);
  if (graphReply.body === undefined) return reply.send();
  return reply.type(JSON_TYPE).send(JSON.stringify(graphReply.body));
}

export function parseJsonBody(text: string | undefined): unknown {
  if (text === undefined || text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new GraphHttpError(400, 'BadRequest', 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.');
  }
}

export function parseBody<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` '${issue.path.join('.')}'` : '';
    throw new GraphHttpError(400, 'Request_BadRequest', `Invalid ${what}: property${where} ${issue?.message ?? 'is invalid'}.`);
  }
  return parsed.data;
}
