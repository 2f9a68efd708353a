import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import type { World } from '../../world/fixture.ts';
import { GRAPH_SCOPE } from './client.ts';
import { compileFilter, compileSearch, ODataQueryError, type ODataRecord, type Predicate, project } from './emulator-odata.ts';
import { type EffectInput, EffectsLog, type GraphEffect, type GraphEffectOp } from './emulator-effects.ts';
import { FAULT_SHAPE, type Fault, FaultBook, type FaultInput, faultSchema, type Latency, latencyDelay, latencySchema } from './emulator-faults.ts';
import {
  assignLicenseBody,
  groupFilterable,
  groupResource,
  groupSearchable,
  groupType,
  licenseDetailType,
  messageFilterable,
  messageResource,
  messageType,
  patchUserBody,
  type ResourceType,
  refBody,
  sendMailBody,
  skuType,
  type StoredMessage,
  tokenForm,
  userFilterable,
  userResource,
  userSearchable,
  userType,
} from './emulator-resources.ts';
import {
  type AppCredentials,
  type EmulatedGroup,
  EmulatedTenant,
  type EmulatedUser,
  emulatorAppCredentials,
  graphDateTime,
  type TenantSnapshot,
  TenantRuleError,
} from './emulator-tenant.ts';

export type { GraphEffect, GraphEffectOp } from './emulator-effects.ts';
export { type FaultInput, faultSchema, type Latency } from './emulator-faults.ts';
export { type AppCredentials, emulatorAppCredentials, type TenantSnapshot } from './emulator-tenant.ts';

/**
 * A Microsoft Graph v1.0 emulator: the token endpoint and the Graph endpoints GraphClient uses, one
 * tenant per fixture client, over real HTTP. It behaves like Graph where the product depends on it
 * (app-only tokens bound to a tenant, `$select` defaults, `$top` + `@odata.nextLink` paging, `$filter`
 * and `$search` with `ConsistencyLevel: eventual`, 204s without bodies, Graph's error bodies and
 * messages, seat counting, Sent Items) and adds control endpoints under `/_emulator/` for tests,
 * the demo and the benchmarks: inspection, reset, faults (also after the effect), latency, a request
 * log and an effects log.
 */

export interface GraphEmulatorOptions {
  world: World;
  /** Default 0: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Page size when a request has no `$top` (Graph: 100). */
  pageSize?: number;
  /** Lifetime of issued tokens (Graph: about an hour). */
  tokenLifetimeSeconds?: number;
  /** A delay drawn uniformly from [min, max] ms before every Graph and token call (default none). */
  latencyMs?: Latency;
}

export interface SentMail {
  id: string;
  tenantId: string;
  clientId: string;
  from: string;
  to: string[];
  cc: string[];
  subject: string;
  contentType: string;
  content: string;
  saveToSentItems: boolean;
  sentAt: string;
}

export interface RequestRecord {
  at: string;
  method: string;
  path: string;
  /** The query string as sent (never a body: bodies may carry passwords). */
  query: string;
  status: number;
  tenantId: string | null;
}


export interface GraphEmulator {
  /** Graph's base URL, including `/v1.0`: pass as `graphBaseUrl`. */
  readonly url: string;
  /** The login base URL (token endpoint at `{loginUrl}/{tenantId}/oauth2/v2.0/token`): pass as `loginBaseUrl`. */
  readonly loginUrl: string;
  readonly port: number;
  close(): Promise<void>;
  /** The app credentials the emulator accepts for a fixture client (same as `emulatorAppCredentials`). */
  credentials(clientId: string): AppCredentials;
  /** A complete GraphClient configuration for a fixture client. */
  clientConfig(clientId: string): AppCredentials & { graphBaseUrl: string; loginBaseUrl: string };
  tenants(): { clientId: string; tenantId: string; name: string; domain: string }[];
  /** A tenant's state by fixture client id or tenant id. */
  tenant(clientIdOrTenantId: string): TenantSnapshot;
  mail(): SentMail[];
  requests(): RequestRecord[];
  clearRequests(): void;
  /** Back to the fixture: state, mail, faults and the request log (issued tokens stay valid). */
  reset(): void;
  injectFault(fault: FaultInput): void;
  clearFaults(): void;
  /** Invalidates every issued token, as a revoked or rotated credential would. */
  revokeTokens(): void;
  /** Every change applied to a tenant, in order (all tenants, or one by client id or tenant id). */
  effects(clientIdOrTenantId?: string): GraphEffect[];
  /** Latency before every Graph and token call from now on; null for none. `reset()` restores the start option. */
  setLatency(latency: Latency | null): void;
}

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 999;
const REQUEST_LOG_LIMIT = 5000;
/** Well-known mail folders that exist (empty) in every emulated mailbox besides Sent Items. */
const EMPTY_MAIL_FOLDERS = new Set(['inbox', 'drafts', 'deleteditems', 'junkemail', 'outbox', 'archive']);
/** Sent Items' well-known name (Graph accepts it in any case). */
const SENT_ITEMS = 'sentitems';
const NOTHING_SEARCHABLE: ReadonlySet<string> = new Set();
const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

// ---------------------------------------------------------------------------------------------
// Errors and responses
// ---------------------------------------------------------------------------------------------

/** Thrown by handlers; answered with Graph's error body. */
class GraphHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
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

/**
 * An answer computed before it is written, so that a fault striking after the effect can replace it
 * (or drop the connection) once the change has been made.
 */
interface GraphReply {
  status: number;
  /** Absent: no body at all (not even `null`). */
  body?: unknown;
  headers?: Record<string, string>;
}

function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}): GraphReply {
  return { status, body, headers };
}

/** `$ref` writes, PATCH and DELETE answer 204 and sendMail 202, all with no body (Graph's gotcha). */
function emptyReply(status: 202 | 204): GraphReply {
  return { status };
}

function errorReply(error: GraphHttpError, requestId: string): GraphReply {
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

function writeReply(res: ServerResponse, reply: GraphReply): void {
  if (reply.body === undefined) {
    res.writeHead(reply.status, reply.headers);
    res.end();
    return;
  }
  res.writeHead(reply.status, { 'content-type': 'application/json; odata.metadata=minimal; charset=utf-8', ...reply.headers });
  res.end(JSON.stringify(reply.body));
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  writeReply(res, jsonReply(status, body));
}

/** Any failure of a handler as Graph would answer it. */
function replyForError(error: unknown, requestId: string): GraphReply {
  if (error instanceof GraphHttpError) return errorReply(error, requestId);
  if (error instanceof TenantRuleError) return errorReply(new GraphHttpError(error.status, error.code, error.message), requestId);
  if (error instanceof ODataQueryError) return errorReply(new GraphHttpError(400, 'Request_UnsupportedQuery', error.message), requestId);
  return errorReply(new GraphHttpError(500, 'InternalServerError', error instanceof Error ? error.message : String(error)), requestId);
}

function faultReply(fault: Fault & { status: number }, requestId: string): GraphReply {
  const defaults = defaultFaultErrors[fault.status] ?? { code: 'UnknownError', message: `Injected HTTP ${fault.status}.` };
  const headers: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
  return errorReply(new GraphHttpError(fault.status, fault.code ?? defaults.code, fault.message ?? defaults.message, headers), requestId);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new GraphHttpError(400, 'BadRequest', 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.');
  }
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` '${issue.path.join('.')}'` : '';
    throw new GraphHttpError(400, 'Request_BadRequest', `Invalid ${what}: property${where} ${issue?.message ?? 'is invalid'}.`);
  }
  return parsed.data;
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

interface IssuedToken {
  tenantId: string;
  expiresAt: number;
}

interface GraphCall {
  req: IncomingMessage;
  url: URL;
  /** The path after `/v1.0`, with `users('upn')` rewritten to `users/upn`. */
  path: string;
  tenant: EmulatedTenant;
  requestId: string;
  body: unknown;
}

type GraphHandler = (call: GraphCall, params: string[]) => GraphReply;

interface Route {
  method: string;
  pattern: RegExp;
  handler: GraphHandler;
}

class GraphEmulatorServer {
  private tenantsById = new Map<string, EmulatedTenant>();
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly faults = new FaultBook();
  private readonly effectsLog = new EffectsLog();
  private latency: Latency | null = null;
  private sentMail: SentMail[] = [];
  private log: RequestRecord[] = [];
  private readonly pageSize: number;
  private readonly tokenLifetimeSeconds: number;
  private readonly routes: Route[];

  constructor(private readonly options: GraphEmulatorOptions) {
    this.pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    this.tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 3599;
    this.routes = this.graphRoutes();
    this.reset();
  }

  reset(): void {
    const startedAt = new Date();
    this.tenantsById = new Map(
      this.options.world.clients.map((client) => {
        const tenant = EmulatedTenant.fromFixture(client, startedAt);
        return [tenant.tenantId, tenant];
      }),
    );
    this.faults.clear();
    this.effectsLog.clear();
    this.latency = this.options.latencyMs ? latencySchema.parse(this.options.latencyMs) : null;
    this.sentMail = [];
    this.log = [];
  }

  tenantByKey(key: string): EmulatedTenant | undefined {
    const lower = key.toLowerCase();
    return this.tenantsById.get(lower) ?? [...this.tenantsById.values()].find((t) => t.clientId === key || t.domain === lower);
  }

  tenantList(): { clientId: string; tenantId: string; name: string; domain: string }[] {
    return [...this.tenantsById.values()].map((t) => ({ clientId: t.clientId, tenantId: t.tenantId, name: t.client.name, domain: t.domain }));
  }

  injectFault(input: FaultInput): Fault {
    return this.faults.add(input);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  effects(tenantKey?: string): GraphEffect[] {
    if (tenantKey === undefined) return this.effectsLog.list();
    const tenant = this.tenantByKey(tenantKey);
    return tenant ? this.effectsLog.list(tenant.tenantId) : [];
  }

  setLatency(latency: Latency | null): void {
    this.latency = latency ? latencySchema.parse(latency) : null;
  }

  revokeTokens(): void {
    this.tokens.clear();
  }

  mail(): SentMail[] {
    return this.sentMail.map((m) => ({ ...m, to: [...m.to], cc: [...m.cc] }));
  }

  requests(): RequestRecord[] {
    return [...this.log];
  }

  clearRequests(): void {
    this.log = [];
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    const requestId = randomUUID();
    if (url.pathname.startsWith('/_emulator/')) {
      try {
        await this.handleControl(req, res, url);
      } catch (error) {
        if (!res.headersSent) writeReply(res, replyForError(error, requestId));
      }
      return;
    }
    const record: RequestRecord = {
      at: new Date().toISOString(),
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search,
      status: 0,
      tenantId: null,
    };
    // 'close' also fires for a dropped connection, which is logged with status 0 (no answer).
    res.on('close', () => this.logRequest(record, res.writableFinished ? res.statusCode : 0));
    const delay = latencyDelay(this.latency);
    if (delay > 0) await sleep(delay);
    const fault = this.faults.take(record.method, `${url.pathname}${url.search}`);
    // The body is read before any answer so that the connection stays usable for the next call, and
    // before a slow answer's delay: a call that arrived is handled even if its caller goes away
    // meanwhile (a killed process), as a real server would (and as the ConnectWise emulator does).
    let text: string;
    try {
      text = await readBody(req);
    } catch {
      // The caller went away before its call arrived whole: nothing to handle, nobody to answer.
      // Left unhandled, this rejection ended the emulators' process.
      return;
    }
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault && !fault.afterEffect && (fault.status !== undefined || fault.dropConnection)) {
      this.answerFault(req, res, fault, requestId);
      return;
    }
    const reply = this.process(req, url, text, requestId, record);
    if (fault?.afterEffect) {
      this.answerFault(req, res, fault, requestId);
      return;
    }
    writeReply(res, reply);
  }

  private logRequest(record: RequestRecord, status: number): void {
    record.status = status;
    this.log.push(record);
    if (this.log.length > REQUEST_LOG_LIMIT) this.log.splice(0, this.log.length - REQUEST_LOG_LIMIT);
  }

  /** The token endpoint or a Graph call, answered as Graph would (errors included). */
  private process(req: IncomingMessage, url: URL, text: string, requestId: string, record: RequestRecord): GraphReply {
    try {
      const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
      if (token) return this.handleToken(req, text, decodeURIComponent(token[1]!));
      if (url.pathname === '/v1.0' || url.pathname.startsWith('/v1.0/')) return this.handleGraph(req, url, text, requestId, record);
      throw new GraphHttpError(404, 'NotFound', `No such endpoint: ${url.pathname}`);
    } catch (error) {
      return replyForError(error, requestId);
    }
  }

  // ----- faults --------------------------------------------------------------------------------

  /** The fault's answer instead of the real one; or no answer at all, as when a connection breaks. */
  private answerFault(req: IncomingMessage, res: ServerResponse, fault: Fault, requestId: string): void {
    if (fault.dropConnection || fault.status === undefined) {
      req.socket.destroy();
      return;
    }
    writeReply(res, faultReply({ ...fault, status: fault.status }, requestId));
  }

  // ----- token endpoint ------------------------------------------------------------------------

  /** Entra's client-credentials grant, with its AADSTS errors for the mistakes people make. */
  private handleToken(req: IncomingMessage, text: string, tenantKey: string): GraphReply {
    if (req.method !== 'POST') {
      return jsonReply(405, aadError('invalid_request', 'AADSTS900561: The endpoint only accepts POST requests.'));
    }
    const form = tokenForm.parse(Object.fromEntries(new URLSearchParams(text)));
    const tenant = this.tenantByKey(tenantKey);
    if (!tenant) {
      return jsonReply(400, aadError('invalid_request', `AADSTS90002: Tenant '${tenantKey}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`));
    }
    if (form.grant_type !== 'client_credentials') {
      return jsonReply(400, aadError('unsupported_grant_type', "AADSTS70003: The app requested an unsupported grant type ''."));
    }
    if (form.scope !== GRAPH_SCOPE) {
      return jsonReply(400, aadError('invalid_scope', `AADSTS1002012: The provided value for scope ${form.scope ?? ''} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`));
    }
    if (form.client_id !== tenant.app.clientId) {
      return jsonReply(400, aadError('unauthorized_client', `AADSTS700016: Application with identifier '${form.client_id ?? ''}' was not found in the directory '${tenant.tenantId}'.`));
    }
    if (!sameSecret(form.client_secret ?? '', tenant.app.clientSecret)) {
      return jsonReply(401, aadError('invalid_client', `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${tenant.app.clientId}'.`));
    }
    const accessToken = `emu.${randomBytes(32).toString('base64url')}`;
    this.tokens.set(accessToken, { tenantId: tenant.tenantId, expiresAt: Date.now() + this.tokenLifetimeSeconds * 1000 });
    return jsonReply(200, {
      token_type: 'Bearer',
      expires_in: this.tokenLifetimeSeconds,
      ext_expires_in: this.tokenLifetimeSeconds,
      access_token: accessToken,
    });
  }

  private authenticate(req: IncomingMessage): EmulatedTenant {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const unauthorized = (message: string): GraphHttpError =>
      new GraphHttpError(401, 'InvalidAuthenticationToken', message, {
        'www-authenticate': `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="${GRAPH_APP_ID}"`,
      });
    if (!match) throw unauthorized('Access token is empty.');
    const issued = this.tokens.get(match[1]!);
    if (!issued) throw unauthorized('Access token validation failure. Invalid audience.');
    if (Date.now() >= issued.expiresAt) {
      this.tokens.delete(match[1]!);
      throw unauthorized('Lifetime validation failed, the token is expired.');
    }
    const tenant = this.tenantsById.get(issued.tenantId);
    if (!tenant) throw unauthorized('Access token validation failure.');
    return tenant;
  }

  // ----- Graph ---------------------------------------------------------------------------------

  private handleGraph(req: IncomingMessage, url: URL, text: string, requestId: string, record: RequestRecord): GraphReply {
    const tenant = this.authenticate(req);
    record.tenantId = tenant.tenantId;
    const path = normaliseKeySyntax(url.pathname.slice('/v1.0'.length));
    const method = req.method ?? 'GET';
    let pathMatched = false;
    for (const route of this.routes) {
      const match = route.pattern.exec(path);
      if (!match) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      const params = match.slice(1).map((p) => decodeURIComponent(p));
      return route.handler({ req, url, path, tenant, requestId, body: parseJsonBody(text) }, params);
    }
    if (pathMatched) throw new GraphHttpError(405, 'Request_BadRequest', `The HTTP method '${method}' is not allowed for this resource.`);
    const segment = path.split('/').filter(Boolean).pop() ?? '';
    throw new GraphHttpError(400, 'BadRequest', `Resource not found for the segment '${segment}'.`);
  }

  private graphRoutes(): Route[] {
    const route = (method: string, pattern: RegExp, handler: GraphHandler): Route => ({ method, pattern, handler });
    return [
      route('GET', /^\/users$/, (call) => this.listUsers(call)),
      route('GET', /^\/users\/([^/]+)$/, (call, [key]) => this.getUser(call, key!)),
      route('PATCH', /^\/users\/([^/]+)$/, (call, [key]) => this.patchUser(call, key!)),
      route('GET', /^\/users\/([^/]+)\/manager$/, (call, [key]) => this.getManager(call, key!)),
      route('GET', /^\/users\/([^/]+)\/memberOf(?:\/microsoft\.graph\.group)?$/, (call, [key]) => this.listMemberOf(call, key!)),
      route('GET', /^\/users\/([^/]+)\/licenseDetails$/, (call, [key]) => this.listLicenseDetails(call, key!)),
      route('POST', /^\/users\/([^/]+)\/assignLicense$/, (call, [key]) => this.assignLicense(call, key!)),
      route('POST', /^\/users\/([^/]+)\/revokeSignInSessions$/, (call, [key]) => this.revokeSessions(call, key!)),
      route('GET', /^\/users\/([^/]+)\/authentication\/methods$/, (call, [key]) => this.listMethods(call, key!)),
      route('DELETE', /^\/users\/([^/]+)\/authentication\/(\w+Methods)\/([^/]+)$/, (call, [key, collection, id]) =>
        this.deleteMethod(call, key!, collection!, id!),
      ),
      route('POST', /^\/users\/([^/]+)\/sendMail$/, (call, [key]) => this.sendMail(call, key!)),
      route('GET', /^\/users\/([^/]+)\/mailFolders\/([^/]+)\/messages$/, (call, [key, folder]) => this.listFolderMessages(call, key!, folder!)),
      route('GET', /^\/groups$/, (call) => this.listGroups(call)),
      route('GET', /^\/groups\/([^/]+)$/, (call, [id]) => this.getGroup(call, id!)),
      route('GET', /^\/groups\/([^/]+)\/members$/, (call, [id]) => this.listMembers(call, id!)),
      route('POST', /^\/groups\/([^/]+)\/members\/\$ref$/, (call, [id]) => this.addMember(call, id!)),
      route('DELETE', /^\/groups\/([^/]+)\/members\/([^/]+)\/\$ref$/, (call, [id, member]) => this.removeMember(call, id!, member!)),
      route('GET', /^\/subscribedSkus$/, (call) => this.listSkus(call)),
    ];
  }

  // ----- effects -----

  /** Appends one applied change to the effects log (never a secret: ids, names and the path only). */
  private recordEffect(call: GraphCall, op: GraphEffectOp, target: { id: string; name: string }, object: { id: string; name: string } | null): void {
    const effect: EffectInput = {
      tenant: call.tenant.tenantId,
      clientId: call.tenant.clientId,
      op,
      target: target.id,
      targetName: target.name,
      object: object?.id ?? null,
      objectName: object?.name ?? null,
      requestPath: call.url.pathname,
    };
    this.effectsLog.append(effect);
  }

  // ----- users -----

  private requireUser(tenant: EmulatedTenant, key: string): EmulatedUser {
    const user = tenant.userByKey(key);
    if (!user) throw notFound(key);
    return user;
  }

  private listUsers(call: GraphCall): GraphReply {
    const users = [...call.tenant.users.values()].map((u) => userResource(u));
    const selected = this.queryCollection(call, users, { filterable: userFilterable, searchable: userSearchable });
    return this.page(call, selected, userType, 'users');
  }

  private getUser(call: GraphCall, key: string): GraphReply {
    const user = this.requireUser(call.tenant, key);
    const select = call.url.searchParams.get('$select');
    // Graph serves signInActivity by object id only; by UPN it answers 400 (MS Q&A 1311910).
    if (select?.split(',').includes('signInActivity') && key.toLowerCase() !== user.id) {
      throw new GraphHttpError(400, 'BadRequest', 'Get By Key only supports UserId and the key has to be a valid Guid');
    }
    return jsonReply(200, { '@odata.context': this.context(call, 'users/$entity'), ...project(userResource(user), select, userType) });
  }

  private patchUser(call: GraphCall, key: string): GraphReply {
    const user = this.requireUser(call.tenant, key);
    const body = parseBody(patchUserBody, call.body ?? {}, 'user update (the emulator accepts accountEnabled and passwordProfile)');
    if (body.passwordProfile) {
      call.tenant.recordPasswordReset(user, body.passwordProfile.password, body.passwordProfile.forceChangePasswordNextSignIn ?? false, new Date());
      this.recordEffect(call, 'password_reset', userRef(user), null);
    }
    if (body.accountEnabled !== undefined && call.tenant.setAccountEnabled(user, body.accountEnabled)) {
      this.recordEffect(call, body.accountEnabled ? 'account_enabled' : 'account_disabled', userRef(user), null);
    }
    return emptyReply(204);
  }

  private getManager(call: GraphCall, key: string): GraphReply {
    const user = this.requireUser(call.tenant, key);
    const manager = user.managerId ? call.tenant.users.get(user.managerId) : undefined;
    if (!manager) {
      throw new GraphHttpError(404, 'Request_ResourceNotFound', "Resource 'manager' does not exist or one of its queried reference-property objects are not present.");
    }
    const resource = { '@odata.type': '#microsoft.graph.user', ...userResource(manager) };
    return jsonReply(200, { '@odata.context': this.context(call, 'directoryObjects/$entity'), ...project(resource, call.url.searchParams.get('$select'), userType) });
  }

  private listMemberOf(call: GraphCall, key: string): GraphReply {
    const user = this.requireUser(call.tenant, key);
    const groups = call.tenant.groupsOf(user.id).map((g) => ({ '@odata.type': '#microsoft.graph.group', ...groupResource(g) }));
    const selected = this.queryCollection(call, groups, { filterable: groupFilterable, searchable: groupSearchable });
    return this.page(call, selected, groupType, 'directoryObjects');
  }

  private listLicenseDetails(call: GraphCall, key: string): GraphReply {
    const user = this.requireUser(call.tenant, key);
    const details = [...user.licenses].map((skuId) => {
      const sku = call.tenant.skus.get(skuId)!;
      return { id: `${user.id}_${skuId}`, skuId, skuPartNumber: sku.skuPartNumber, servicePlans: [] };
    });
    return this.page(call, details, licenseDetailType, `users('${user.id}')/licenseDetails`);
  }

  private assignLicense(call: GraphCall, key: string): GraphReply {
    const user = this.requireUser(call.tenant, key);
    const body = parseBody(assignLicenseBody, call.body, 'assignLicense request (addLicenses and removeLicenses are both required)');
    const changes = call.tenant.assignLicenses(
      user,
      body.addLicenses.map((l) => l.skuId.toLowerCase()),
      body.removeLicenses.map((id) => id.toLowerCase()),
    );
    const skuRef = (skuId: string) => ({ id: skuId, name: call.tenant.skus.get(skuId)?.skuPartNumber ?? skuId });
    for (const skuId of changes.removed) this.recordEffect(call, 'license_removed', userRef(user), skuRef(skuId));
    for (const skuId of changes.added) this.recordEffect(call, 'license_assigned', userRef(user), skuRef(skuId));
    return jsonReply(200, { '@odata.context': this.context(call, 'users/$entity'), ...project(userResource(user), null, userType) });
  }

  private revokeSessions(call: GraphCall, key: string): GraphReply {
    const user = this.requireUser(call.tenant, key);
    call.tenant.revokeSessions(user, new Date());
    this.recordEffect(call, 'sessions_revoked', userRef(user), null);
    return jsonReply(200, { '@odata.context': this.context(call, 'Edm.Boolean'), value: true });
  }

  private listMethods(call: GraphCall, key: string): GraphReply {
    const user = this.requireUser(call.tenant, key);
    const methods = user.methods.map((m) => ({ '@odata.type': `#microsoft.graph.${m.type}`, id: m.id, ...m.properties }));
    return jsonReply(200, { '@odata.context': this.context(call, `users('${user.id}')/authentication/methods`), value: methods });
  }

  private deleteMethod(call: GraphCall, key: string, collection: string, methodId: string): GraphReply {
    const user = this.requireUser(call.tenant, key);
    const removed = call.tenant.deleteMethod(user, collection, methodId);
    this.recordEffect(call, 'auth_method_deleted', userRef(user), { id: removed.id, name: removed.type });
    return emptyReply(204);
  }

  // ----- mail -----

  /** The mailbox's address for `/users/{key}`: a user's UPN or the tenant's helpdesk mailbox. */
  private requireMailbox(tenant: EmulatedTenant, key: string): string {
    if (!tenant.isMailbox(key)) throw new GraphHttpError(404, 'ErrorInvalidUser', `The requested user '${key}' is invalid.`);
    return tenant.userByKey(key)?.userPrincipalName ?? tenant.senderMailbox;
  }

  private sendMail(call: GraphCall, key: string): GraphReply {
    const from = this.requireMailbox(call.tenant, key);
    const body = parseBody(sendMailBody, call.body, 'sendMail request');
    const mail: SentMail = {
      id: sentItemId(),
      tenantId: call.tenant.tenantId,
      clientId: call.tenant.clientId,
      from,
      to: body.message.toRecipients.map((r) => r.emailAddress.address),
      cc: (body.message.ccRecipients ?? []).map((r) => r.emailAddress.address),
      subject: body.message.subject,
      contentType: body.message.body.contentType,
      content: body.message.body.content,
      // Graph's default: saved unless the caller says false.
      saveToSentItems: body.saveToSentItems ?? true,
      sentAt: new Date().toISOString(),
    };
    this.sentMail.push(mail);
    this.recordEffect(call, 'mail_sent', { id: from, name: from }, { id: mail.id, name: mail.subject });
    return emptyReply(202);
  }

  /** `/users/{key}/mailFolders/{folder}/messages`: Sent Items holds what was sent with saveToSentItems. */
  private listFolderMessages(call: GraphCall, key: string, folder: string): GraphReply {
    const mailbox = this.requireMailbox(call.tenant, key);
    const name = folder.toLowerCase();
    if (name !== SENT_ITEMS && !EMPTY_MAIL_FOLDERS.has(name)) {
      throw new GraphHttpError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    }
    const messages = name === SENT_ITEMS ? this.sentItems(call.tenant, mailbox).map(messageResource) : [];
    const selected = this.queryCollection(call, messages, { filterable: messageFilterable, searchable: NOTHING_SEARCHABLE });
    return this.page(call, selected, messageType, `users('${key}')/mailFolders('${folder}')/messages`);
  }

  /** Newest first, as Outlook lists a folder. */
  private sentItems(tenant: EmulatedTenant, mailbox: string): StoredMessage[] {
    const address = mailbox.toLowerCase();
    return this.sentMail
      .filter((m) => m.tenantId === tenant.tenantId && m.saveToSentItems && m.from.toLowerCase() === address)
      .map((m) => ({ ...m, sentAt: graphDateTime(new Date(m.sentAt)), folderId: sentItemsFolderId(tenant, address) }))
      .reverse();
  }

  // ----- groups -----

  private requireGroup(tenant: EmulatedTenant, id: string): EmulatedGroup {
    const group = tenant.groupById(id);
    if (!group) throw notFound(id);
    return group;
  }

  private listGroups(call: GraphCall): GraphReply {
    const groups = [...call.tenant.groups.values()].map(groupResource);
    const selected = this.queryCollection(call, groups, { filterable: groupFilterable, searchable: groupSearchable });
    return this.page(call, selected, groupType, 'groups');
  }

  private getGroup(call: GraphCall, id: string): GraphReply {
    const group = this.requireGroup(call.tenant, id);
    return jsonReply(200, { '@odata.context': this.context(call, 'groups/$entity'), ...project(groupResource(group), call.url.searchParams.get('$select'), groupType) });
  }

  private listMembers(call: GraphCall, id: string): GraphReply {
    const group = this.requireGroup(call.tenant, id);
    const members = [...group.members].map((userId) => ({
      '@odata.type': '#microsoft.graph.user',
      ...userResource(call.tenant.users.get(userId)!),
    }));
    return this.page(call, members, userType, 'directoryObjects');
  }

  /** A duplicate add is refused with 400 by the tenant before anything is logged: not an effect. */
  private addMember(call: GraphCall, id: string): GraphReply {
    const group = this.requireGroup(call.tenant, id);
    const body = parseBody(refBody, call.body, 'reference');
    const userId = referencedObjectId(body['@odata.id']);
    call.tenant.addMember(group, userId);
    this.recordEffect(call, 'member_added', userRef(call.tenant.users.get(userId)!), { id: group.id, name: group.displayName });
    return emptyReply(204);
  }

  private removeMember(call: GraphCall, id: string, memberId: string): GraphReply {
    const group = this.requireGroup(call.tenant, id);
    const userId = memberId.toLowerCase();
    call.tenant.removeMember(group, userId);
    this.recordEffect(call, 'member_removed', userRef(call.tenant.users.get(userId)!), { id: group.id, name: group.displayName });
    return emptyReply(204);
  }

  // ----- licenses -----

  private listSkus(call: GraphCall): GraphReply {
    const skus = [...call.tenant.skus.values()].map((sku) => ({
      id: `${call.tenant.tenantId}_${sku.skuId}`,
      accountId: call.tenant.tenantId,
      accountName: call.tenant.client.name,
      appliesTo: 'User',
      capabilityStatus: 'Enabled',
      consumedUnits: call.tenant.consumedUnits(sku.skuId),
      prepaidUnits: { enabled: sku.total, suspended: 0, warning: 0, lockedOut: 0 },
      servicePlans: [],
      skuId: sku.skuId,
      skuPartNumber: sku.skuPartNumber,
      subscriptionIds: [],
    }));
    const select = call.url.searchParams.get('$select');
    return jsonReply(200, {
      '@odata.context': this.context(call, 'subscribedSkus'),
      value: skus.map((s) => project(s, select, skuType)),
    });
  }

  // ----- collections -----

  /**
   * `$filter` and `$search` over a collection. `$search` and `$count` need `ConsistencyLevel:
   * eventual` in Graph's directory; without it Graph refuses, and so does the emulator.
   */
  private queryCollection(
    call: GraphCall,
    items: ODataRecord[],
    fields: { filterable: ReadonlySet<string>; searchable: ReadonlySet<string> },
  ): ODataRecord[] {
    const params = call.url.searchParams;
    const eventual = (call.req.headers['consistencylevel'] ?? '').toString().toLowerCase() === 'eventual';
    const predicates: Predicate[] = [];
    const filter = params.get('$filter');
    if (filter !== null) predicates.push(compileFilter(filter, fields.filterable));
    const search = params.get('$search');
    if (search !== null) {
      if (!eventual) {
        throw new GraphHttpError(400, 'Request_UnsupportedQuery', "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'");
      }
      predicates.push(compileSearch(search, fields.searchable));
    }
    if (params.get('$count') === 'true' && !eventual) {
      throw new GraphHttpError(400, 'Request_BadRequest', '$count is not currently supported.');
    }
    return items.filter((item) => predicates.every((p) => p(item)));
  }

  /** One page of `items`: `$top` (default page size) from the `$skiptoken` offset, and a nextLink. */
  private page(call: GraphCall, items: readonly ODataRecord[], type: ResourceType, contextPath: string): GraphReply {
    const params = call.url.searchParams;
    const top = pageSizeOf(params.get('$top'), this.pageSize);
    const offset = offsetOf(params.get('$skiptoken'));
    const select = params.get('$select');
    const page = items.slice(offset, offset + top).map((item) => project(item, select, type));
    const body: Record<string, unknown> = { '@odata.context': this.context(call, contextPath) };
    if (params.get('$count') === 'true') body['@odata.count'] = items.length;
    if (offset + top < items.length) body['@odata.nextLink'] = nextLink(call.url, offset + top);
    body['value'] = page;
    return jsonReply(200, body);
  }

  private context(call: GraphCall, path: string): string {
    return `${call.url.origin}/v1.0/$metadata#${path}`;
  }

  // ----- control -------------------------------------------------------------------------------

  private async handleControl(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '');
    const text = await readBody(req);
    if (method === 'GET' && path === '/_emulator/health') return sendJson(res, 200, { status: 'ok' });
    if (method === 'GET' && path === '/_emulator/tenants') return sendJson(res, 200, this.tenantList());
    const tenantMatch = /^\/_emulator\/tenants\/([^/]+)$/.exec(path);
    if (method === 'GET' && tenantMatch) {
      const tenant = this.tenantByKey(decodeURIComponent(tenantMatch[1]!));
      if (!tenant) return sendJson(res, 404, { error: `no tenant ${tenantMatch[1]}` });
      return sendJson(res, 200, tenant.snapshot());
    }
    if (method === 'GET' && path === '/_emulator/mail') {
      const tenantKey = url.searchParams.get('tenant');
      const tenant = tenantKey ? this.tenantByKey(tenantKey) : undefined;
      return sendJson(res, 200, this.mail().filter((m) => !tenantKey || m.tenantId === tenant?.tenantId));
    }
    if (method === 'POST' && path === '/_emulator/reset') {
      this.reset();
      return sendJson(res, 200, { reset: true });
    }
    if (path === '/_emulator/faults') {
      if (method === 'GET') return sendJson(res, 200, this.faults.list());
      if (method === 'DELETE') {
        this.clearFaults();
        return sendJson(res, 200, { faults: [] });
      }
      if (method === 'POST') {
        const parsed = faultSchema.safeParse(parseControlJson(text));
        if (!parsed.success) {
          return sendJson(res, 400, { error: `a fault is ${FAULT_SHAPE}: ${parsed.error.issues.map((i) => i.message).join('; ')}` });
        }
        this.faults.add(parsed.data);
        return sendJson(res, 201, { faults: this.faults.list() });
      }
    }
    if (method === 'GET' && path === '/_emulator/effects') {
      const tenantKey = url.searchParams.get('tenant');
      return sendJson(res, 200, { effects: this.effects(tenantKey ?? undefined) });
    }
    if (path === '/_emulator/latency') return this.latencyControl(res, method, text);
    if (method === 'POST' && path === '/_emulator/tokens/revoke') {
      this.revokeTokens();
      return sendJson(res, 200, { revoked: true });
    }
    if (path === '/_emulator/requests') {
      if (method === 'GET') return sendJson(res, 200, this.requests());
      if (method === 'DELETE') {
        this.clearRequests();
        return sendJson(res, 200, { cleared: true });
      }
    }
    sendJson(res, 404, { error: `no control endpoint ${method} ${path}` });
  }

  /** GET shows the latency; POST `{min, max}` sets it (ms, uniform); DELETE turns it off. */
  private latencyControl(res: ServerResponse, method: string, text: string): void {
    if (method === 'POST') {
      const parsed = latencySchema.safeParse(parseControlJson(text));
      if (!parsed.success) {
        sendJson(res, 400, { error: `latency is {min, max} in milliseconds (0 to 60000, min <= max): ${parsed.error.issues.map((i) => i.message).join('; ')}` });
        return;
      }
      this.setLatency(parsed.data);
    } else if (method === 'DELETE') {
      this.setLatency(null);
    } else if (method !== 'GET') {
      sendJson(res, 405, { error: `${method} is not allowed on /_emulator/latency` });
      return;
    }
    sendJson(res, 200, { latencyMs: this.latency });
  }
}

// ---------------------------------------------------------------------------------------------
// Small pure pieces
// ---------------------------------------------------------------------------------------------

function userRef(user: EmulatedUser): { id: string; name: string } {
  return { id: user.id, name: user.userPrincipalName };
}

/** Shaped like an Exchange item id (opaque base64); unique per sent mail. */
function sentItemId(): string {
  return `AAMkAG${randomBytes(30).toString('base64url')}`;
}

function sentItemsFolderId(tenant: EmulatedTenant, mailbox: string): string {
  return `AAMkAGSentItems.${Buffer.from(`${tenant.tenantId}/${mailbox}`).toString('base64url')}`;
}

function notFound(key: string): GraphHttpError {
  return new GraphHttpError(404, 'Request_ResourceNotFound', `Resource '${key}' does not exist or one of its queried reference-property objects are not present.`);
}

function aadError(error: string, description: string): Record<string, unknown> {
  const traceId = randomUUID();
  return {
    error,
    error_description: `${description}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${new Date().toISOString().replace('T', ' ').slice(0, 19)}Z`,
    error_codes: [Number(/AADSTS(\d+)/.exec(description)?.[1] ?? 0)],
    timestamp: new Date().toISOString().replace('T', ' ').slice(0, 19).concat('Z'),
    trace_id: traceId,
    correlation_id: randomUUID(),
  };
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** `/users('x@y.com')` (Graph's key syntax, needed for UPNs starting with `$`) → `/users/x%40y.com`. */
function normaliseKeySyntax(path: string): string {
  return path.replace(/^\/users\((?:'|%27)(.*?)(?:'|%27)\)/, (_, key: string) => `/users/${encodeURIComponent(decodeURIComponent(key).replaceAll("''", "'"))}`);
}

/** The object id at the end of an `@odata.id` such as `https://graph.microsoft.com/v1.0/directoryObjects/{id}`. */
function referencedObjectId(reference: string): string {
  const match = /\/(?:directoryObjects|users)\/([^/?#]+)$/.exec(reference);
  if (!match) throw new GraphHttpError(400, 'Request_BadRequest', `Invalid object identifier '${reference}'.`);
  return decodeURIComponent(match[1]!).toLowerCase();
}

function pageSizeOf(top: string | null, fallback: number): number {
  if (top === null) return fallback;
  const size = Number(top);
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new GraphHttpError(400, 'Request_BadRequest', `Invalid page size specified: '${top}'. Must be between 1 and ${MAX_PAGE_SIZE} inclusive.`);
  }
  return size;
}

/** Skip tokens are opaque to clients; here they carry the offset of the next page. */
function offsetOf(skipToken: string | null): number {
  if (skipToken === null) return 0;
  const match = /^o(\d+)$/.exec(Buffer.from(skipToken, 'base64url').toString('utf8'));
  if (!match) throw new GraphHttpError(400, 'Request_BadRequest', 'The specified page token value has expired or is invalid.');
  return Number(match[1]);
}

/** Graph writes system query options with a literal `$` (`...?$top=5&$skiptoken=...`). */
function nextLink(url: URL, offset: number): string {
  const params = [...url.searchParams.entries()].filter(([name]) => name !== '$skiptoken');
  params.push(['$skiptoken', Buffer.from(`o${offset}`).toString('base64url')]);
  const query = params.map(([name, value]) => `${encodeURIComponent(name).replace(/^%24/, '$')}=${encodeURIComponent(value)}`).join('&');
  return `${url.origin}${url.pathname}?${query}`;
}

function parseControlJson(text: string): unknown {
  try {
    return text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Starting it
// ---------------------------------------------------------------------------------------------

export async function startGraphEmulator(options: GraphEmulatorOptions): Promise<GraphEmulator> {
  const emulator = new GraphEmulatorServer(options);
  const server: Server = createServer((req, res) => {
    void emulator.handle(req, res);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const url = `${origin}/v1.0`;
  const snapshot = (key: string): TenantSnapshot => {
    const tenant = emulator.tenantByKey(key);
    if (!tenant) throw new Error(`the Graph emulator has no tenant ${key}`);
    return tenant.snapshot();
  };
  return {
    url,
    loginUrl: origin,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // fetch keeps connections alive; close them so that close() does not wait for their timeout.
        server.closeAllConnections();
      }),
    credentials: emulatorAppCredentials,
    clientConfig: (clientId) => ({ ...emulatorAppCredentials(clientId), graphBaseUrl: url, loginBaseUrl: origin }),
    tenants: () => emulator.tenantList(),
    tenant: snapshot,
    mail: () => emulator.mail(),
    requests: () => emulator.requests(),
    clearRequests: () => emulator.clearRequests(),
    reset: () => emulator.reset(),
    injectFault: (fault) => {
      emulator.injectFault(fault);
    },
    clearFaults: () => emulator.clearFaults(),
    revokeTokens: () => emulator.revokeTokens(),
    effects: (key) => emulator.effects(key),
    setLatency: (latency) => emulator.setLatency(latency),
  };
}

