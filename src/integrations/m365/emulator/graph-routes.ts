import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, HTTPMethods } from 'fastify';
import { compileFilter, compileSearch, type ODataRecord, type Predicate, project } from './odata.ts';
import type { GraphEffectOp } from './effects.ts';
import { emptyReply, GraphHttpError, type GraphReply, jsonReply, parseBody, parseJsonBody, replyForError } from './replies.ts';
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
  userFilterable,
  userResource,
  userSearchable,
  userType,
} from './resources.ts';
import { registerPrincipalRoutes } from './principal-routes.ts';
import {
  ADMIN_PASSWORD_RESET_ROLES,
  ENDPOINT_PERMISSIONS,
  type Grants,
  isAdministrator,
  PASSWORD_RESET_ROLES,
  refuseIfSynced,
  requirePermission,
  requireRole,
  ROLE_ASSIGNABLE_GROUP_PERMISSIONS,
  SIGN_IN_ACTIVITY_PERMISSIONS,
  USER_PROPERTY_PERMISSIONS,
} from './principals.ts';
import { servicePlansOf } from '../service-plans.ts';
import type { GraphEmulatorState, SentMail } from './state.ts';
import { assertGraphCanChangeMembers, type EmulatedGroup, type EmulatedTenant, type EmulatedUser, graphDateTime } from './tenant.ts';
import { finish, trafficOf } from './traffic.ts';

/**
 * Microsoft Graph v1.0 as the emulator speaks it: one Fastify route per endpoint GraphClient uses,
 * each behind an app-only bearer token bound to one tenant (a token never acts in another tenant).
 * Like Graph: `$select` defaults, `$top` + `@odata.nextLink` paging, `$filter` and `$search` (with
 * `ConsistencyLevel: eventual`), 204s without bodies, Graph's error bodies and messages, seat
 * counting, Sent Items; a path Graph has but a method it does not allow is a 405, an unknown segment
 * a 400.
 */

export interface GraphCall {
  request: FastifyRequest;
  /** The URL as sent: its query string, and its origin for `@odata.context` and next links. */
  url: URL;
  tenant: EmulatedTenant;
  /** The permissions and roles of the calling app's service principal in this tenant. */
  grants: Grants;
  requestId: string;
  body: unknown;
}

export type GraphHandler = (call: GraphCall, params: Record<string, string>) => GraphReply;

const MAX_PAGE_SIZE = 999;
/** Well-known mail folders that exist (empty) in every emulated mailbox besides Sent Items. */
const EMPTY_MAIL_FOLDERS = new Set(['inbox', 'drafts', 'deleteditems', 'junkemail', 'outbox', 'archive']);
/** Sent Items' well-known name (Graph accepts it in any case). */
const SENT_ITEMS = 'sentitems';
const NOTHING_SEARCHABLE: ReadonlySet<string> = new Set();
const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
const ALL_METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
export const GRAPH_PREFIX = '/v1.0';

/** Registers the Graph routes on an instance whose traffic hooks are already in place. */
export function registerGraphRoutes(app: FastifyInstance, state: GraphEmulatorState): void {
  const methodsByPath = new Map<string, HTTPMethods[]>();
  const route = (method: HTTPMethods, path: string, handler: GraphHandler): void => {
    methodsByPath.set(path, [...(methodsByPath.get(path) ?? []), method]);
    app.route({
      method,
      url: `${GRAPH_PREFIX}${path}`,
      handler: (request, reply) => {
        const traffic = trafficOf(request);
        let result: GraphReply;
        try {
          const { tenant, appId } = authenticateApp(state, request);
          traffic.record.tenantId = tenant.tenantId;
          const grants = state.principals.grants(tenant.tenantId, appId);
          const accepted = ENDPOINT_PERMISSIONS[`${method} ${path}`];
          if (accepted) requirePermission(grants, accepted);
          const call: GraphCall = { request, url: traffic.url, tenant, grants, requestId: traffic.requestId, body: parseJsonBody(request.body as string | undefined) };
          result = handler(call, request.params as Record<string, string>);
        } catch (error) {
          result = replyForError(error, traffic.requestId);
        }
        finish(request, reply, result);
      },
    });
  };

  const graph = new GraphHandlers(state);
  route('GET', '/users', (call) => graph.listUsers(call));
  route('GET', '/users/:key', (call, p) => graph.getUser(call, p['key']!));
  route('PATCH', '/users/:key', (call, p) => graph.patchUser(call, p['key']!));
  route('GET', '/users/:key/manager', (call, p) => graph.getManager(call, p['key']!));
  route('GET', '/users/:key/memberOf', (call, p) => graph.listMemberOf(call, p['key']!));
  route('GET', '/users/:key/memberOf/microsoft.graph.group', (call, p) => graph.listMemberOf(call, p['key']!));
  route('GET', '/users/:key/licenseDetails', (call, p) => graph.listLicenseDetails(call, p['key']!));
  route('POST', '/users/:key/assignLicense', (call, p) => graph.assignLicense(call, p['key']!));
  route('POST', '/users/:key/revokeSignInSessions', (call, p) => graph.revokeSessions(call, p['key']!));
  route('GET', '/users/:key/authentication/methods', (call, p) => graph.listMethods(call, p['key']!));
  route('DELETE', '/users/:key/authentication/:collection/:methodId', (call, p) => graph.deleteMethod(call, p['key']!, p['collection']!, p['methodId']!));
  route('POST', '/users/:key/sendMail', (call, p) => graph.sendMail(call, p['key']!));
  route('GET', '/users/:key/mailFolders/:folder/messages', (call, p) => graph.listFolderMessages(call, p['key']!, p['folder']!));
  route('GET', '/groups', (call) => graph.listGroups(call));
  route('GET', '/groups/:id', (call, p) => graph.getGroup(call, p['id']!));
  route('GET', '/groups/:id/members', (call, p) => graph.listMembers(call, p['id']!));
  route('POST', '/groups/:id/members/$ref', (call, p) => graph.addMember(call, p['id']!));
  route('DELETE', '/groups/:id/members/:memberId/$ref', (call, p) => graph.removeMember(call, p['id']!, p['memberId']!));
  route('GET', '/subscribedSkus', (call) => graph.listSkus(call));
  registerPrincipalRoutes(route, state);

  // A resource Graph has, with a method it does not allow there: 405, once the token checks out.
  for (const [path, methods] of methodsByPath) {
    const others = ALL_METHODS.filter((m) => !methods.includes(m));
    app.route({
      method: others,
      url: `${GRAPH_PREFIX}${path}`,
      handler: (request, reply) => {
        const traffic = trafficOf(request);
        let result: GraphReply;
        try {
          traffic.record.tenantId = authenticate(state, request).tenantId;
          throw new GraphHttpError(405, 'Request_BadRequest', `The HTTP method '${request.method}' is not allowed for this resource.`);
        } catch (error) {
          result = replyForError(error, traffic.requestId);
        }
        finish(request, reply, result);
      },
    });
  }
}

/** A path under /v1.0 that no route serves: 401 without a valid token, else Graph's 400 for the segment. */
export function unknownGraphPath(state: GraphEmulatorState, request: FastifyRequest): never {
  const traffic = trafficOf(request);
  traffic.record.tenantId = authenticate(state, request).tenantId;
  const segment = traffic.url.pathname.split('/').filter(Boolean).pop() ?? '';
  throw new GraphHttpError(400, 'BadRequest', `Resource not found for the segment '${decodeSegment(segment)}'.`);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The tenant the bearer token was issued for; Graph's 401 otherwise. */
function authenticate(state: GraphEmulatorState, request: FastifyRequest): EmulatedTenant {
  return authenticateApp(state, request).tenant;
}

/** The tenant and the app the bearer token was issued for; Graph's 401 otherwise. */
function authenticateApp(state: GraphEmulatorState, request: FastifyRequest): { tenant: EmulatedTenant; appId: string } {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  const unauthorized = (message: string): GraphHttpError =>
    new GraphHttpError(401, 'InvalidAuthenticationToken', message, {
      'www-authenticate': `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="${GRAPH_APP_ID}"`,
    });
  if (!match) throw unauthorized('Access token is empty.');
  const issued = state.token(match[1]!);
  if (issued === undefined) throw unauthorized('Access token validation failure. Invalid audience.');
  if (issued === 'expired') throw unauthorized('Lifetime validation failed, the token is expired.');
  // A token for another API (Exchange Online's audience) is not a Graph token.
  if (issued.resource !== 'graph') throw unauthorized('Access token validation failure. Invalid audience.');
  const tenant = state.tenantById(issued.tenantId);
  if (!tenant) throw unauthorized('Access token validation failure.');
  return { tenant, appId: issued.appId };
}

/**
 * `/users('x@y.com')...` (Graph's key syntax, needed for UPNs starting with `$`) → `/users/x%40y.com...`,
 * so that one route serves both; applied to the URL before routing (the request log keeps it as sent).
 */
export function rewriteKeySyntax(url: string): string {
  if (!url.startsWith(`${GRAPH_PREFIX}/users(`)) return url;
  const queryAt = url.indexOf('?');
  const path = queryAt < 0 ? url : url.slice(0, queryAt);
  try {
    const rewritten = path
      .slice(GRAPH_PREFIX.length)
      .replace(/^\/users\((?:'|%27)(.*?)(?:'|%27)\)/, (_, key: string) => `/users/${encodeURIComponent(decodeURIComponent(key).replaceAll("''", "'"))}`);
    return `${GRAPH_PREFIX}${rewritten}${queryAt < 0 ? '' : url.slice(queryAt)}`;
  } catch {
    return url;
  }
}

// ---------------------------------------------------------------------------------------------
// The handlers
// ---------------------------------------------------------------------------------------------

class GraphHandlers {
  constructor(private readonly state: GraphEmulatorState) {}

  // ----- effects -----

  /** Appends one applied change to the effects log (never a secret: ids, names and the path only). */
  private recordEffect(call: GraphCall, op: GraphEffectOp, target: { id: string; name: string }, object: { id: string; name: string } | null): void {
    this.state.recordEffect({
      tenant: call.tenant.tenantId,
      clientId: call.tenant.clientId,
      op,
      target: target.id,
      targetName: target.name,
      object: object?.id ?? null,
      objectName: object?.name ?? null,
      requestPath: call.url.pathname,
    });
  }

  // ----- users -----

  private requireUser(tenant: EmulatedTenant, key: string): EmulatedUser {
    const user = tenant.userByKey(key);
    if (!user) throw notFound(key);
    return user;
  }

  listUsers(call: GraphCall): GraphReply {
    const users = [...call.tenant.users.values()].map((u) => userResource(u));
    const selected = queryCollection(call, users, { filterable: userFilterable, searchable: userSearchable });
    return this.page(call, selected, userType, 'users');
  }

  getUser(call: GraphCall, key: string): GraphReply {
    const user = this.requireUser(call.tenant, key);
    const select = call.url.searchParams.get('$select');
    // Graph serves signInActivity by object id only; by UPN it answers 400 (MS Q&A 1311910).
    if (select?.split(',').includes('signInActivity') && key.toLowerCase() !== user.id) {
      throw new GraphHttpError(400, 'BadRequest', 'Get By Key only supports UserId and the key has to be a valid Guid');
    }
    if (select?.split(',').includes('signInActivity')) requirePermission(call.grants, SIGN_IN_ACTIVITY_PERMISSIONS);
    return jsonReply(200, { '@odata.context': context(call, 'users/$entity'), ...project(userResource(user), select, userType) });
  }

  patchUser(call: GraphCall, key: string): GraphReply {
    const user = this.requireUser(call.tenant, key);
    const body = parseBody(patchUserBody, call.body ?? {}, 'user update (the emulator accepts accountEnabled and passwordProfile)');
    // As Graph: the permission for each property written, the directory role a password reset needs
    // (a stronger one for an administrator), then the on-premises master of a synced user.
    for (const property of ['passwordProfile', 'accountEnabled'] as const) {
      if (body[property] !== undefined) requirePermission(call.grants, USER_PROPERTY_PERMISSIONS[property]!);
    }
    if (body.passwordProfile) requireRole(call.grants, isAdministrator(call.tenant, user) ? ADMIN_PASSWORD_RESET_ROLES : PASSWORD_RESET_ROLES);
    if (body.passwordProfile || body.accountEnabled !== undefined) refuseIfSynced(user);
    if (body.passwordProfile) {
      call.tenant.recordPasswordReset(user, body.passwordProfile.password, body.passwordProfile.forceChangePasswordNextSignIn ?? false, new Date());
      this.recordEffect(call, 'password_reset', userRef(user), null);
    }
    if (body.accountEnabled !== undefined && call.tenant.setAccountEnabled(user, body.accountEnabled)) {
      this.recordEffect(call, body.accountEnabled ? 'account_enabled' : 'account_disabled', userRef(user), null);
    }
    return emptyReply(204);
  }

  getManager(call: GraphCall, key: string): GraphReply {
    const user = this.requireUser(call.tenant, key);
    const manager = user.managerId ? call.tenant.users.get(user.managerId) : undefined;
    if (!manager) {
      throw new GraphHttpError(404, 'Request_ResourceNotFound', "Resource 'manager' does not exist or one of its queried reference-property objects are not present.");
    }
    const resource = { '@odata.type': '#microsoft.graph.user', ...userResource(manager) };
    return jsonReply(200, { '@odata.context': context(call, 'directoryObjects/$entity'), ...project(resource, call.url.searchParams.get('$select'), userType) });
  }

  listMemberOf(call: GraphCall, key: string): GraphReply {
    const user = this.requireUser(call.tenant, key);
    const groups = call.tenant.groupsOf(user.id).map((g) => ({ '@odata.type': '#microsoft.graph.group', ...groupResource(g) }));
    const selected = queryCollection(call, groups, { filterable: groupFilterable, searchable: groupSearchable });
    return this.page(call, selected, groupType, 'directoryObjects');
  }

  listLicenseDetails(call: GraphCall, key: string): GraphReply {
    const user = this.requireUser(call.tenant, key);
    const details = [...user.licenses].map((skuId) => {
      const sku = call.tenant.skus.get(skuId)!;
      return { id: `${user.id}_${skuId}`, skuId, skuPartNumber: sku.skuPartNumber, servicePlans: servicePlansOf(sku.skuPartNumber) };
    });
    return this.page(call, details, licenseDetailType, `users('${user.id}')/licenseDetails`);
  }

  assignLicense(call: GraphCall, key: string): GraphReply {
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
    return jsonReply(200, { '@odata.context': context(call, 'users/$entity'), ...project(userResource(user), null, userType) });
  }

  revokeSessions(call: GraphCall, key: string): GraphReply {
    const user = this.requireUser(call.tenant, key);
    call.tenant.revokeSessions(user, new Date());
    this.recordEffect(call, 'sessions_revoked', userRef(user), null);
    return jsonReply(200, { '@odata.context': context(call, 'Edm.Boolean'), value: true });
  }

  listMethods(call: GraphCall, key: string): GraphReply {
    const user = this.requireUser(call.tenant, key);
    const methods = user.methods.map((m) => ({ '@odata.type': `#microsoft.graph.${m.type}`, id: m.id, ...m.properties }));
    return jsonReply(200, { '@odata.context': context(call, `users('${user.id}')/authentication/methods`), value: methods });
  }

  /** Only the per-type collections (`phoneMethods`, ...) accept DELETE; anything else is no segment Graph has. */
  deleteMethod(call: GraphCall, key: string, collection: string, methodId: string): GraphReply {
    if (!/^\w+Methods$/.test(collection)) throw new GraphHttpError(400, 'BadRequest', `Resource not found for the segment '${collection}'.`);
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

  sendMail(call: GraphCall, key: string): GraphReply {
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
    this.state.addMail(mail);
    this.recordEffect(call, 'mail_sent', { id: from, name: from }, { id: mail.id, name: mail.subject });
    return emptyReply(202);
  }

  /** `/users/{key}/mailFolders/{folder}/messages`: Sent Items holds what was sent with saveToSentItems. */
  listFolderMessages(call: GraphCall, key: string, folder: string): GraphReply {
    const mailbox = this.requireMailbox(call.tenant, key);
    const name = folder.toLowerCase();
    if (name !== SENT_ITEMS && !EMPTY_MAIL_FOLDERS.has(name)) {
      throw new GraphHttpError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    }
    const messages = name === SENT_ITEMS ? this.sentItems(call.tenant, mailbox).map(messageResource) : [];
    const selected = queryCollection(call, messages, { filterable: messageFilterable, searchable: NOTHING_SEARCHABLE });
    return this.page(call, selected, messageType, `users('${key}')/mailFolders('${folder}')/messages`);
  }

  /** Newest first, as Outlook lists a folder. */
  private sentItems(tenant: EmulatedTenant, mailbox: string): StoredMessage[] {
    const address = mailbox.toLowerCase();
    return this.state
      .mailOf(tenant.tenantId)
      .filter((m) => m.saveToSentItems && m.from.toLowerCase() === address)
      .map((m) => ({ ...m, sentAt: graphDateTime(new Date(m.sentAt)), folderId: sentItemsFolderId(tenant, address) }))
      .reverse();
  }

  // ----- groups -----

  private requireGroup(tenant: EmulatedTenant, id: string): EmulatedGroup {
    const group = tenant.groupById(id);
    if (!group) throw notFound(id);
    return group;
  }

  listGroups(call: GraphCall): GraphReply {
    const groups = [...call.tenant.groups.values()].map(groupResource);
    const selected = queryCollection(call, groups, { filterable: groupFilterable, searchable: groupSearchable });
    return this.page(call, selected, groupType, 'groups');
  }

  getGroup(call: GraphCall, id: string): GraphReply {
    const group = this.requireGroup(call.tenant, id);
    return jsonReply(200, { '@odata.context': context(call, 'groups/$entity'), ...project(groupResource(group), call.url.searchParams.get('$select'), groupType) });
  }

  listMembers(call: GraphCall, id: string): GraphReply {
    const group = this.requireGroup(call.tenant, id);
    const members = [...group.members].map((userId) => ({
      '@odata.type': '#microsoft.graph.user',
      ...userResource(call.tenant.users.get(userId)!),
    }));
    return this.page(call, members, userType, 'directoryObjects');
  }

  /** A duplicate add is refused with 400 by the tenant before anything is logged: not an effect. */
  addMember(call: GraphCall, id: string): GraphReply {
    const group = this.requireGroup(call.tenant, id);
    assertGraphCanChangeMembers(group);
    const body = parseBody(refBody, call.body, 'reference');
    const userId = referencedObjectId(body['@odata.id']);
    checkMembershipChange(call, group);
    call.tenant.addMember(group, userId);
    this.recordEffect(call, 'member_added', userRef(call.tenant.users.get(userId)!), { id: group.id, name: group.displayName });
    return emptyReply(204);
  }

  removeMember(call: GraphCall, id: string, memberId: string): GraphReply {
    const group = this.requireGroup(call.tenant, id);
    assertGraphCanChangeMembers(group);
    const userId = memberId.toLowerCase();
    checkMembershipChange(call, group);
    call.tenant.removeMember(group, userId);
    this.recordEffect(call, 'member_removed', userRef(call.tenant.users.get(userId)!), { id: group.id, name: group.displayName });
    return emptyReply(204);
  }

  // ----- licenses -----

  listSkus(call: GraphCall): GraphReply {
    const skus = [...call.tenant.skus.values()].map((sku) => ({
      id: `${call.tenant.tenantId}_${sku.skuId}`,
      accountId: call.tenant.tenantId,
      accountName: call.tenant.client.name,
      appliesTo: 'User',
      capabilityStatus: 'Enabled',
      consumedUnits: call.tenant.consumedUnits(sku.skuId),
      prepaidUnits: { enabled: sku.total, suspended: 0, warning: 0, lockedOut: 0 },
      servicePlans: servicePlansOf(sku.skuPartNumber),
      skuId: sku.skuId,
      skuPartNumber: sku.skuPartNumber,
      subscriptionIds: [],
    }));
    const select = call.url.searchParams.get('$select');
    return jsonReply(200, {
      '@odata.context': context(call, 'subscribedSkus'),
      value: skus.map((s) => project(s, select, skuType)),
    });
  }

  /** One page of `items`: `$top` (default page size) from the `$skiptoken` offset, and a nextLink. */
  private page(call: GraphCall, items: readonly ODataRecord[], type: ResourceType, contextPath: string): GraphReply {
    const params = call.url.searchParams;
    const top = pageSizeOf(params.get('$top'), this.state.pageSize);
    const offset = offsetOf(params.get('$skiptoken'));
    const select = params.get('$select');
    const page = items.slice(offset, offset + top).map((item) => project(item, select, type));
    const body: Record<string, unknown> = { '@odata.context': context(call, contextPath) };
    if (params.get('$count') === 'true') body['@odata.count'] = items.length;
    if (offset + top < items.length) body['@odata.nextLink'] = nextLink(call.url, offset + top);
    body['value'] = page;
    return jsonReply(200, body);
  }
}

// ---------------------------------------------------------------------------------------------
// Small pure pieces
// ---------------------------------------------------------------------------------------------

/**
 * `$filter` and `$search` over a collection. `$search` and `$count` need `ConsistencyLevel:
 * eventual` in Graph's directory; without it Graph refuses, and so does the emulator.
 */
function queryCollection(call: GraphCall, items: ODataRecord[], fields: { filterable: ReadonlySet<string>; searchable: ReadonlySet<string> }): ODataRecord[] {
  const params = call.url.searchParams;
  const eventual = (call.request.headers['consistencylevel'] ?? '').toString().toLowerCase() === 'eventual';
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

/** A role-assignable group's members change only with RoleManagement.ReadWrite.Directory; a synced group's not at all. */
function checkMembershipChange(call: GraphCall, group: EmulatedGroup): void {
  if (group.isAssignableToRole) requirePermission(call.grants, ROLE_ASSIGNABLE_GROUP_PERMISSIONS);
  refuseIfSynced(group);
}

export function context(call: GraphCall, path: string): string {
  return `${call.url.origin}${GRAPH_PREFIX}/$metadata#${path}`;
}

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
