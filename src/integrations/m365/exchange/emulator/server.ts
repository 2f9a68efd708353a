import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { type GraphReply, jsonReply, replyForError } from '../../emulator/replies.ts';
import type { GraphEmulatorState } from '../../emulator/state.ts';
import type { EmulatedTenant } from '../../emulator/tenant.ts';
import { finish, trafficOf, watchTraffic } from '../../emulator/traffic.ts';
import {
  CmdletError,
  findGroup,
  memberAlreadyExists,
  memberNotFound,
  membershipTarget,
  recipientTypeOf,
  stringParameter,
} from './directory.ts';

/**
 * Exchange Online's admin REST surfaces as the emulator speaks them, on a listener of its own that
 * shares the Graph emulator's state (tenants, tokens, faults, latency, request and effects logs):
 *
 * - `POST /adminapi/beta/{tenant}/InvokeCommand`: the ExchangeOnlineManagement module's own transport
 *   (unsupported by Microsoft), which runs cmdlets by name; an unknown cmdlet is a 403 with an empty body.
 * - `POST /adminapi/v2.0/{tenant}/{Endpoint}`: the documented Admin API (preview), each endpoint with
 *   the few cmdlets it accepts (here `OrganizationConfig` and `DistributionGroupMember`, reads only).
 *
 * Strict where Exchange is: the token must be one issued for Exchange Online (a Graph token is
 * refused), for the tenant in the path; the app must hold `Exchange.ManageAsApp` and an Exchange role
 * in that tenant (RBAC refusals are 401 "User is not allowed to call ..."); app-only calls carry the
 * system mailbox anchor; the membership rules are in directory.ts. Where the wording of a refusal is
 * not known from Microsoft or from working clients, the comment says so.
 */

const INVOKE_COMMAND_CMDLETS = new Set([
  'Get-OrganizationConfig',
  'Get-DistributionGroup',
  'Get-DistributionGroupMember',
  'Add-DistributionGroupMember',
  'Remove-DistributionGroupMember',
  'Add-UnifiedGroupLinks',
  'Remove-UnifiedGroupLinks',
]);

/** Admin API v2.0: each endpoint and the only cmdlets it accepts (admin-api-endpoints-reference). */
const V2_ENDPOINTS: Record<string, readonly string[]> = {
  OrganizationConfig: ['Get-OrganizationConfig'],
  DistributionGroupMember: ['Get-DistributionGroupMember'],
};

interface CmdletInput {
  name: string;
  parameters: Record<string, unknown>;
}

/** A refusal before any cmdlet runs: Exchange's OData error body, or no body at all. */
class ExchangeRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string | null,
    message: string,
    readonly innerType?: string,
  ) {
    super(message);
  }
}

export function buildExchangeServer(state: GraphEmulatorState): FastifyInstance {
  const app = Fastify({ logger: false, forceCloseConnections: true, exposeHeadRoutes: false, bodyLimit: 1024 * 1024, requestIdHeader: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.register(async (traffic) => {
    watchTraffic(traffic, state);
    traffic.post('/adminapi/beta/:tenant/InvokeCommand', (request, reply) => {
      finish(request, reply, answer(state, request, 'InvokeCommand'));
    });
    traffic.post('/adminapi/v2.0/:tenant/:endpoint', (request, reply) => {
      finish(request, reply, answer(state, request, (request.params as { endpoint: string }).endpoint));
    });
    traffic.setNotFoundHandler((request, reply) => {
      const status = request.method === 'POST' ? 404 : 405;
      finish(request, reply, jsonReply(status, { error: { code: status === 404 ? 'NotFound' : 'MethodNotAllowed', message: `No such endpoint: ${request.method} ${trafficOf(request).url.pathname}` } }));
    });
  });
  return app;
}

function answer(state: GraphEmulatorState, request: FastifyRequest, surface: string): GraphReply {
  const traffic = trafficOf(request);
  const redirect = state.exchange.takeRedirect();
  if (redirect) return { status: 302, headers: { location: `${redirect.origin}${request.originalUrl}` } };
  let tenant: EmulatedTenant | undefined;
  let input: CmdletInput | undefined;
  let result: GraphReply;
  try {
    tenant = authenticate(state, request);
    traffic.record.tenantId = tenant.tenantId;
    input = cmdletInput(request.body);
    result = run(state, tenant, surface, input, traffic.url.origin, (request.params as { tenant: string }).tenant, request.originalUrl);
  } catch (error) {
    result = refusal(error, traffic.requestId);
  }
  if (tenant && input) {
    state.exchange.record({ at: new Date().toISOString(), tenantId: tenant.tenantId, surface, cmdlet: input.name, parameters: input.parameters, status: result.status });
  }
  return result;
}

/** The tenant the token was issued for, when it is an Exchange token for the tenant in the path, from an app Exchange lets in. */
function authenticate(state: GraphEmulatorState, request: FastifyRequest): EmulatedTenant {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  // Exchange answers these with 401; the exact bodies are not verified (clients only read the status).
  if (!match) throw new ExchangeRefusal(401, 'Unauthorized', 'The request has no access token.');
  const issued = state.token(match[1]!);
  if (issued === undefined) throw new ExchangeRefusal(401, 'Unauthorized', 'The access token is not valid.');
  if (issued === 'expired') throw new ExchangeRefusal(401, 'Unauthorized', 'The access token has expired.');
  if (issued.resource !== 'exchange') throw new ExchangeRefusal(401, 'Unauthorized', 'The audience of the access token is not Exchange Online (https://outlook.office365.com).');
  const tenant = state.tenantById(issued.tenantId);
  const pathTenant = (request.params as { tenant: string }).tenant.toLowerCase();
  if (!tenant || (pathTenant !== tenant.tenantId && pathTenant !== tenant.domain)) {
    throw new ExchangeRefusal(401, 'Unauthorized', 'The access token was issued for another tenant than the one in the path.');
  }
  if (!state.exchange.accessOf(tenant.tenantId).manageAsApp) {
    throw new ExchangeRefusal(401, 'Unauthorized', 'The application does not hold the Exchange.ManageAsApp permission in this organization.');
  }
  const anchor = request.headers['x-anchormailbox'];
  const anchors = [tenant.tenantId, tenant.domain].map((key) => `app:systemmailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@${key}`);
  if (typeof anchor !== 'string' || !anchors.includes(anchor.toLowerCase())) {
    // Stricter than verified: calls without the anchor are reported to be misrouted, not refused.
    throw new ExchangeRefusal(400, 'BadRequest', 'An app-only call must be anchored to the system mailbox: X-AnchorMailbox: APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@{tenant}.');
  }
  return tenant;
}

function cmdletInput(body: unknown): CmdletInput {
  let parsed: unknown;
  try {
    parsed = typeof body === 'string' && body.trim() !== '' ? JSON.parse(body) : undefined;
  } catch {
    parsed = undefined;
  }
  const input = (parsed as { CmdletInput?: { CmdletName?: unknown; Parameters?: unknown } } | undefined)?.CmdletInput;
  if (!input || typeof input.CmdletName !== 'string') throw new ExchangeRefusal(400, 'BadRequest', 'The request body must be {"CmdletInput":{"CmdletName":...,"Parameters":{...}}}.');
  const parameters = input.Parameters ?? {};
  if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) throw new ExchangeRefusal(400, 'BadRequest', 'Parameters must be an object.');
  return { name: input.CmdletName, parameters: parameters as Record<string, unknown> };
}

function run(state: GraphEmulatorState, tenant: EmulatedTenant, surface: string, input: CmdletInput, origin: string, pathTenant: string, requestUrl: string): GraphReply {
  const cmdlet = input.name;
  if (surface === 'InvokeCommand') {
    // azure_auth: an unknown cmdlet name is answered 403 with an empty body.
    if (!INVOKE_COMMAND_CMDLETS.has(cmdlet)) throw new ExchangeRefusal(403, null, '');
  } else {
    const accepted = V2_ENDPOINTS[surface];
    if (!accepted) throw new ExchangeRefusal(404, 'NotFound', `The endpoint ${surface} does not exist.`);
    if (!accepted.includes(cmdlet)) throw new ExchangeRefusal(400, 'BadRequest', `The cmdlet ${cmdlet} is not supported on the ${surface} endpoint.`);
  }
  const role = state.exchange.accessOf(tenant.tenantId).role;
  if (role === null || (role === 'Global Reader' && !cmdlet.startsWith('Get-'))) {
    throw new ExchangeRefusal(401, 'Unauthorized', `User is not allowed to call ${cmdlet}`, 'Microsoft.Exchange.Admin.OData.Core.ODataServiceException');
  }
  const context = `${origin}/adminapi/${surface === 'InvokeCommand' ? 'beta' : 'v2.0'}/${pathTenant}/$metadata#Collection(Exchange.GenericHashTable)`;
  const values = (value: unknown[]): GraphReply => jsonReply(200, { '@odata.context': context, value });
  const parameters = input.parameters;
  switch (cmdlet) {
    case 'Get-OrganizationConfig':
      return values([{ Name: tenant.domain, DisplayName: tenant.client.name, Identity: tenant.domain, Guid: tenant.tenantId, IsDehydrated: false }]);
    case 'Get-DistributionGroup': {
      const group = findGroup(tenant, stringParameter(parameters, 'Identity'));
      return values([groupObject(group)]);
    }
    case 'Get-DistributionGroupMember': {
      const group = findGroup(tenant, stringParameter(parameters, 'Identity'));
      const members = [...group.members].map((id) => tenant.users.get(id)).filter((u) => u !== undefined);
      // Pages of the emulator's page size (Exchange: ResultSize, 1,000 by default); the next page is
      // POSTed with the same body to `@odata.nextLink`.
      const skip = Number(new URL(`http://x${requestUrl}`).searchParams.get('$skiptoken') ?? '0') || 0;
      const page = members.slice(skip, skip + state.pageSize);
      const next = skip + state.pageSize < members.length ? `${origin}${requestUrl.split('?')[0]}?$skiptoken=${skip + state.pageSize}` : undefined;
      const rows = page.map((u) => ({
        Identity: u.mailNickname,
        Name: u.mailNickname,
        DisplayName: u.displayName,
        PrimarySmtpAddress: u.mail,
        RecipientType: 'UserMailbox',
        RecipientTypeDetails: 'UserMailbox',
        ExternalDirectoryObjectId: u.id,
      }));
      return jsonReply(200, { '@odata.context': context, value: rows, ...(next ? { '@odata.nextLink': next } : {}) });
    }
    case 'Add-UnifiedGroupLinks':
    case 'Remove-UnifiedGroupLinks':
      // API notes, section C: not available to app-only sign-in (Graph changes Microsoft 365 groups). Wording unverified.
      throw new CmdletError(400, 'Microsoft.Exchange.Configuration.Tasks.TaskException', `${cmdlet} is not supported with app-only authentication; change the members of Microsoft 365 groups through Microsoft Graph.`);
    case 'Add-DistributionGroupMember': {
      const { group, user } = membershipTarget(tenant, cmdlet, parameters);
      if (group.members.has(user.id)) throw memberAlreadyExists(user, group);
      group.members.add(user.id);
      recordEffect(state, tenant, 'member_added', user.id, user.userPrincipalName, group, surface, pathTenant);
      return values([]);
    }
    case 'Remove-DistributionGroupMember': {
      const { group, user } = membershipTarget(tenant, cmdlet, parameters);
      if (!group.members.delete(user.id)) throw memberNotFound(user, group);
      recordEffect(state, tenant, 'member_removed', user.id, user.userPrincipalName, group, surface, pathTenant);
      return values([]);
    }
    default:
      throw new ExchangeRefusal(403, null, '');
  }
}

function groupObject(group: Parameters<typeof recipientTypeOf>[0]): Record<string, unknown> {
  return {
    Identity: group.displayName,
    Name: group.mailNickname,
    DisplayName: group.displayName,
    PrimarySmtpAddress: group.mail,
    RecipientTypeDetails: recipientTypeOf(group),
    ExternalDirectoryObjectId: group.id,
    IsDirSynced: group.onPremisesSyncEnabled === true,
    ManagedBy: [],
  };
}

function recordEffect(
  state: GraphEmulatorState,
  tenant: EmulatedTenant,
  op: 'member_added' | 'member_removed',
  userId: string,
  upn: string,
  group: { id: string; displayName: string },
  surface: string,
  pathTenant: string,
): void {
  state.recordEffect({
    tenant: tenant.tenantId,
    clientId: tenant.clientId,
    op,
    target: userId,
    targetName: upn,
    object: group.id,
    objectName: group.displayName,
    requestPath: `/adminapi/beta/${pathTenant}/${surface}`,
  });
}

/**
 * How Exchange answers a failure: a cmdlet's error as InvokeCommand wraps it (`details[].message` is
 * `{id}|{exception type}|{text}`, the readable text last), an RBAC refusal as 401 with its inner
 * type, an unknown cmdlet as 403 with no body at all.
 */
function refusal(error: unknown, requestId: string): GraphReply {
  if (error instanceof CmdletError) {
    const id = `Ex${randomUUID().replaceAll('-', '').slice(0, 6).toUpperCase()}`;
    const shortType = error.exceptionType.split('.').pop() ?? error.exceptionType;
    return jsonReply(
      error.status,
      {
        error: {
          code: 'BadRequest',
          message: 'Error executing cmdlet',
          details: [{ code: 'Context', target: '', message: `${id}|${error.exceptionType}|${error.text}` }],
          innererror: { message: error.text, type: error.exceptionType, internalException: { message: error.text } },
        },
      },
      { 'x-exceptiontype': shortType, 'request-id': requestId },
    );
  }
  if (error instanceof ExchangeRefusal) {
    if (error.code === null) return { status: error.status, headers: { 'request-id': requestId } };
    return jsonReply(error.status, { error: { code: error.code, message: error.message, ...(error.innerType ? { innererror: { type: error.innerType } } : {}) } }, { 'request-id': requestId });
  }
  return replyForError(error, requestId);
}

