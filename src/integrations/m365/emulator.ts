import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { World } from '../../world/fixture.ts';
import { GRAPH_SCOPE } from './client.ts';
import { compileFilter, compileSearch, ODataQueryError, type ODataRecord, type Predicate, project } from './emulator-odata.ts';
import {
  assignLicenseBody,
  groupFilterable,
  groupResource,
  groupSearchable,
  groupType,
  licenseDetailType,
  patchUserBody,
  type ResourceType,
  refBody,
  sendMailBody,
  skuType,
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
  type TenantSnapshot,
  TenantRuleError,
} from './emulator-tenant.ts';

export { type AppCredentials, emulatorAppCredentials, type TenantSnapshot } from './emulator-tenant.ts';

/**
 * A Microsoft Graph v1.0 emulator: the token endpoint and the Graph endpoints GraphClient uses, one
 * tenant per fixture client, over real HTTP. It behaves like Graph where the product depends on it
 * (app-only tokens bound to a tenant, `$select` defaults, `$top` + `@odata.nextLink` paging, `$filter`
 * and `$search` with `ConsistencyLevel: eventual`, 204s without bodies, Graph's error bodies and
 * messages, seat counting) and adds control endpoints under `/_emulator/` for tests, the demo and
 * the benchmarks: inspection, reset, fault injection and a request log.
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
}

export interface SentMail {
  id: string;
  tenantId: string;
  clientId: string;
  from: string;
  to: string[];
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

export const faultSchema = z.strictObject({
  /** Answer this status (Graph error body) instead of handling the call. */
  status: z.number().int().min(400).max(599).optional(),
  /** How many matching calls the fault applies to. */
  count: z.number().int().min(1).default(1),
  /** Only calls whose path (after the host) contains this text; e.g. `/memberOf`, `/oauth2/`. */
  pathContains: z.string().min(1).optional(),
  /** Only calls with this HTTP method. */
  method: z.enum(['GET', 'POST', 'PATCH', 'PUT', 'DELETE']).optional(),
  retryAfterSeconds: z.number().int().min(0).optional(),
  /** Wait this long before answering (with `status`) or before handling the call normally. */
  delayMs: z.number().int().min(0).max(120_000).optional(),
  code: z.string().min(1).optional(),
  message: z.string().min(1).optional(),
});
export type FaultInput = z.input<typeof faultSchema>;
type Fault = z.output<typeof faultSchema>;

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
}

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 999;
const REQUEST_LOG_LIMIT = 5000;
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

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; odata.metadata=minimal; charset=utf-8', ...headers });
  res.end(text);
}

/** `$ref` writes, PATCH and DELETE answer 204 and sendMail 202, all with no body (Graph's gotcha). */
function sendEmpty(res: ServerResponse, status: 202 | 204): void {
  res.writeHead(status);
  res.end();
}

function sendGraphError(res: ServerResponse, error: GraphHttpError, requestId: string): void {
  sendJson(
    res,
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
  res: ServerResponse;
  url: URL;
  /** The path after `/v1.0`, with `users('upn')` rewritten to `users/upn`. */
  path: string;
  tenant: EmulatedTenant;
  requestId: string;
  body: unknown;
}

type GraphHandler = (call: GraphCall, params: string[]) => void | Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: GraphHandler;
}

class GraphEmulatorServer {
  private tenantsById = new Map<string, EmulatedTenant>();
  private readonly tokens = new Map<string, IssuedToken>();
  private faults: Fault[] = [];
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
    this.faults = [];
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
    const fault = faultSchema.parse(input);
    if (fault.status === undefined && fault.delayMs === undefined) {
      throw new Error('a fault needs a status, a delayMs, or both');
    }
    this.faults.push(fault);
    return fault;
  }

  clearFaults(): void {
    this.faults = [];
  }

  revokeTokens(): void {
    this.tokens.clear();
  }

  mail(): SentMail[] {
    return this.sentMail.map((m) => ({ ...m, to: [...m.to] }));
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
    const record: RequestRecord = {
      at: new Date().toISOString(),
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search,
      status: 0,
      tenantId: null,
    };
    res.on('finish', () => {
      record.status = res.statusCode;
      if (url.pathname.startsWith('/_emulator/')) return;
      this.log.push(record);
      if (this.log.length > REQUEST_LOG_LIMIT) this.log.splice(0, this.log.length - REQUEST_LOG_LIMIT);
    });
    try {
      if (url.pathname.startsWith('/_emulator/')) {
        await this.handleControl(req, res, url);
        return;
      }
      if (await this.applyFault(req, res, url, requestId)) return;
      const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
      if (token) {
        await this.handleToken(req, res, decodeURIComponent(token[1]!));
        return;
      }
      if (url.pathname === '/v1.0' || url.pathname.startsWith('/v1.0/')) {
        await this.handleGraph(req, res, url, requestId, record);
        return;
      }
      throw new GraphHttpError(404, 'NotFound', `No such endpoint: ${url.pathname}`);
    } catch (error) {
      if (res.headersSent) return;
      if (error instanceof GraphHttpError) sendGraphError(res, error, requestId);
      else if (error instanceof TenantRuleError) sendGraphError(res, new GraphHttpError(error.status, error.code, error.message), requestId);
      else if (error instanceof ODataQueryError) sendGraphError(res, new GraphHttpError(400, 'Request_UnsupportedQuery', error.message), requestId);
      else sendGraphError(res, new GraphHttpError(500, 'InternalServerError', error instanceof Error ? error.message : String(error)), requestId);
    }
  }

  // ----- faults --------------------------------------------------------------------------------

  /** Applies the first matching fault; true when it answered the call. */
  private async applyFault(req: IncomingMessage, res: ServerResponse, url: URL, requestId: string): Promise<boolean> {
    const target = `${url.pathname}${url.search}`;
    const fault = this.faults.find(
      (f) => (!f.pathContains || target.includes(f.pathContains)) && (!f.method || f.method === req.method),
    );
    if (!fault) return false;
    fault.count--;
    if (fault.count <= 0) this.faults.splice(this.faults.indexOf(fault), 1);
    if (fault.delayMs) await sleep(fault.delayMs);
    if (fault.status === undefined) return false;
    const defaults = defaultFaultErrors[fault.status] ?? { code: 'UnknownError', message: `Injected HTTP ${fault.status}.` };
    const headers: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
    await readBody(req);
    sendGraphError(res, new GraphHttpError(fault.status, fault.code ?? defaults.code, fault.message ?? defaults.message, headers), requestId);
    return true;
  }

  // ----- token endpoint ------------------------------------------------------------------------

  /** Entra's client-credentials grant, with its AADSTS errors for the mistakes people make. */
  private async handleToken(req: IncomingMessage, res: ServerResponse, tenantKey: string): Promise<void> {
    if (req.method !== 'POST') {
      sendJson(res, 405, aadError('invalid_request', 'AADSTS900561: The endpoint only accepts POST requests.'));
      return;
    }
    const form = tokenForm.parse(Object.fromEntries(new URLSearchParams(await readBody(req))));
    const tenant = this.tenantByKey(tenantKey);
    if (!tenant) {
      sendJson(res, 400, aadError('invalid_request', `AADSTS90002: Tenant '${tenantKey}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`));
      return;
    }
    if (form.grant_type !== 'client_credentials') {
      sendJson(res, 400, aadError('unsupported_grant_type', "AADSTS70003: The app requested an unsupported grant type ''."));
      return;
    }
    if (form.scope !== GRAPH_SCOPE) {
      sendJson(res, 400, aadError('invalid_scope', `AADSTS1002012: The provided value for scope ${form.scope ?? ''} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`));
      return;
    }
    if (form.client_id !== tenant.app.clientId) {
      sendJson(res, 400, aadError('unauthorized_client', `AADSTS700016: Application with identifier '${form.client_id ?? ''}' was not found in the directory '${tenant.tenantId}'.`));
      return;
    }
    if (!sameSecret(form.client_secret ?? '', tenant.app.clientSecret)) {
      sendJson(res, 401, aadError('invalid_client', `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${tenant.app.clientId}'.`));
      return;
    }
    const accessToken = `emu.${randomBytes(32).toString('base64url')}`;
    this.tokens.set(accessToken, { tenantId: tenant.tenantId, expiresAt: Date.now() + this.tokenLifetimeSeconds * 1000 });
    sendJson(res, 200, {
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

  private async handleGraph(req: IncomingMessage, res: ServerResponse, url: URL, requestId: string, record: RequestRecord): Promise<void> {
    // The body is read before any refusal so that the connection stays usable for the next call.
    const text = await readBody(req);
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
      await route.handler({ req, res, url, path, tenant, requestId, body: parseJsonBody(text) }, params);
      return;
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
      route('GET', /^\/groups$/, (call) => this.listGroups(call)),
      route('GET', /^\/groups\/([^/]+)$/, (call, [id]) => this.getGroup(call, id!)),
      route('GET', /^\/groups\/([^/]+)\/members$/, (call, [id]) => this.listMembers(call, id!)),
      route('POST', /^\/groups\/([^/]+)\/members\/\$ref$/, (call, [id]) => this.addMember(call, id!)),
      route('DELETE', /^\/groups\/([^/]+)\/members\/([^/]+)\/\$ref$/, (call, [id, member]) => this.removeMember(call, id!, member!)),
      route('GET', /^\/subscribedSkus$/, (call) => this.listSkus(call)),
    ];
  }

  // ----- users -----

  private requireUser(tenant: EmulatedTenant, key: string): EmulatedUser {
    const user = tenant.userByKey(key);
    if (!user) throw notFound(key);
    return user;
  }

  private listUsers(call: GraphCall): void {
    const users = [...call.tenant.users.values()].map((u) => userResource(u));
    const selected = this.queryCollection(call, users, { filterable: userFilterable, searchable: userSearchable });
    this.sendPage(call, selected, userType, 'users');
  }

  private getUser(call: GraphCall, key: string): void {
    const user = this.requireUser(call.tenant, key);
    const select = call.url.searchParams.get('$select');
    // Graph serves signInActivity by object id only; by UPN it answers 400 (MS Q&A 1311910).
    if (select?.split(',').includes('signInActivity') && key.toLowerCase() !== user.id) {
      throw new GraphHttpError(400, 'BadRequest', 'Get By Key only supports UserId and the key has to be a valid Guid');
    }
    sendJson(call.res, 200, { '@odata.context': this.context(call, 'users/$entity'), ...project(userResource(user), select, userType) });
  }

  private patchUser(call: GraphCall, key: string): void {
    const user = this.requireUser(call.tenant, key);
    const body = parseBody(patchUserBody, call.body ?? {}, 'user update (the emulator accepts accountEnabled and passwordProfile)');
    if (body.passwordProfile) {
      call.tenant.recordPasswordReset(user, body.passwordProfile.password, body.passwordProfile.forceChangePasswordNextSignIn ?? false, new Date());
    }
    if (body.accountEnabled !== undefined) user.accountEnabled = body.accountEnabled;
    sendEmpty(call.res, 204);
  }

  private getManager(call: GraphCall, key: string): void {
    const user = this.requireUser(call.tenant, key);
    const manager = user.managerId ? call.tenant.users.get(user.managerId) : undefined;
    if (!manager) {
      throw new GraphHttpError(404, 'Request_ResourceNotFound', "Resource 'manager' does not exist or one of its queried reference-property objects are not present.");
    }
    const resource = { '@odata.type': '#microsoft.graph.user', ...userResource(manager) };
    sendJson(call.res, 200, { '@odata.context': this.context(call, 'directoryObjects/$entity'), ...project(resource, call.url.searchParams.get('$select'), userType) });
  }

  private listMemberOf(call: GraphCall, key: string): void {
    const user = this.requireUser(call.tenant, key);
    const groups = call.tenant.groupsOf(user.id).map((g) => ({ '@odata.type': '#microsoft.graph.group', ...groupResource(g) }));
    const selected = this.queryCollection(call, groups, { filterable: groupFilterable, searchable: groupSearchable });
    this.sendPage(call, selected, groupType, 'directoryObjects');
  }

  private listLicenseDetails(call: GraphCall, key: string): void {
    const user = this.requireUser(call.tenant, key);
    const details = [...user.licenses].map((skuId) => {
      const sku = call.tenant.skus.get(skuId)!;
      return { id: `${user.id}_${skuId}`, skuId, skuPartNumber: sku.skuPartNumber, servicePlans: [] };
    });
    this.sendPage(call, details, licenseDetailType, `users('${user.id}')/licenseDetails`);
  }

  private assignLicense(call: GraphCall, key: string): void {
    const user = this.requireUser(call.tenant, key);
    const body = parseBody(assignLicenseBody, call.body, 'assignLicense request (addLicenses and removeLicenses are both required)');
    call.tenant.assignLicenses(
      user,
      body.addLicenses.map((l) => l.skuId.toLowerCase()),
      body.removeLicenses.map((id) => id.toLowerCase()),
    );
    sendJson(call.res, 200, { '@odata.context': this.context(call, 'users/$entity'), ...project(userResource(user), null, userType) });
  }

  private revokeSessions(call: GraphCall, key: string): void {
    const user = this.requireUser(call.tenant, key);
    call.tenant.revokeSessions(user, new Date());
    sendJson(call.res, 200, { '@odata.context': this.context(call, 'Edm.Boolean'), value: true });
  }

  private listMethods(call: GraphCall, key: string): void {
    const user = this.requireUser(call.tenant, key);
    const methods = user.methods.map((m) => ({ '@odata.type': `#microsoft.graph.${m.type}`, id: m.id, ...m.properties }));
    sendJson(call.res, 200, { '@odata.context': this.context(call, `users('${user.id}')/authentication/methods`), value: methods });
  }

  private deleteMethod(call: GraphCall, key: string, collection: string, methodId: string): void {
    const user = this.requireUser(call.tenant, key);
    call.tenant.deleteMethod(user, collection, methodId);
    sendEmpty(call.res, 204);
  }

  private sendMail(call: GraphCall, key: string): void {
    if (!call.tenant.isMailbox(key)) {
      throw new GraphHttpError(404, 'ErrorInvalidUser', `The requested user '${key}' is invalid.`);
    }
    const body = parseBody(sendMailBody, call.body, 'sendMail request');
    const from = call.tenant.userByKey(key)?.userPrincipalName ?? call.tenant.senderMailbox;
    this.sentMail.push({
      id: randomUUID(),
      tenantId: call.tenant.tenantId,
      clientId: call.tenant.clientId,
      from,
      to: body.message.toRecipients.map((r) => r.emailAddress.address),
      subject: body.message.subject,
      contentType: body.message.body.contentType,
      content: body.message.body.content,
      saveToSentItems: body.saveToSentItems ?? true,
      sentAt: new Date().toISOString(),
    });
    sendEmpty(call.res, 202);
  }

  // ----- groups -----

  private requireGroup(tenant: EmulatedTenant, id: string): EmulatedGroup {
    const group = tenant.groupById(id);
    if (!group) throw notFound(id);
    return group;
  }

  private listGroups(call: GraphCall): void {
    const groups = [...call.tenant.groups.values()].map(groupResource);
    const selected = this.queryCollection(call, groups, { filterable: groupFilterable, searchable: groupSearchable });
    this.sendPage(call, selected, groupType, 'groups');
  }

  private getGroup(call: GraphCall, id: string): void {
    const group = this.requireGroup(call.tenant, id);
    sendJson(call.res, 200, { '@odata.context': this.context(call, 'groups/$entity'), ...project(groupResource(group), call.url.searchParams.get('$select'), groupType) });
  }

  private listMembers(call: GraphCall, id: string): void {
    const group = this.requireGroup(call.tenant, id);
    const members = [...group.members].map((userId) => ({
      '@odata.type': '#microsoft.graph.user',
      ...userResource(call.tenant.users.get(userId)!),
    }));
    this.sendPage(call, members, userType, 'directoryObjects');
  }

  private addMember(call: GraphCall, id: string): void {
    const group = this.requireGroup(call.tenant, id);
    const body = parseBody(refBody, call.body, 'reference');
    call.tenant.addMember(group, referencedObjectId(body['@odata.id']));
    sendEmpty(call.res, 204);
  }

  private removeMember(call: GraphCall, id: string, memberId: string): void {
    const group = this.requireGroup(call.tenant, id);
    call.tenant.removeMember(group, memberId.toLowerCase());
    sendEmpty(call.res, 204);
  }

  // ----- licenses -----

  private listSkus(call: GraphCall): void {
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
    sendJson(call.res, 200, {
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
  private sendPage(
    call: GraphCall,
    items: readonly ODataRecord[],
    type: ResourceType,
    contextPath: string,
  ): void {
    const params = call.url.searchParams;
    const top = pageSizeOf(params.get('$top'), this.pageSize);
    const offset = offsetOf(params.get('$skiptoken'));
    const select = params.get('$select');
    const page = items.slice(offset, offset + top).map((item) => project(item, select, type));
    const body: Record<string, unknown> = { '@odata.context': this.context(call, contextPath) };
    if (params.get('$count') === 'true') body['@odata.count'] = items.length;
    if (offset + top < items.length) body['@odata.nextLink'] = nextLink(call.url, offset + top);
    body['value'] = page;
    sendJson(call.res, 200, body);
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
      if (method === 'GET') return sendJson(res, 200, this.faults);
      if (method === 'DELETE') {
        this.clearFaults();
        return sendJson(res, 200, { faults: [] });
      }
      if (method === 'POST') {
        const parsed = faultSchema.safeParse(parseControlJson(text));
        if (!parsed.success || (parsed.data.status === undefined && parsed.data.delayMs === undefined)) {
          return sendJson(res, 400, { error: 'a fault is {status?, count?, pathContains?, method?, retryAfterSeconds?, delayMs?, code?, message?} with a status or a delayMs' });
        }
        this.faults.push(parsed.data);
        return sendJson(res, 201, { faults: this.faults });
      }
    }
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
}

// ---------------------------------------------------------------------------------------------
// Small pure pieces
// ---------------------------------------------------------------------------------------------

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
  };
}

