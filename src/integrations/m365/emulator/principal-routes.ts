import type { HTTPMethods } from 'fastify';
import { ENTRA_ROLE_IDS, type EntraRole, GRAPH_APP_ROLE_IDS, GRAPH_RESOURCE_APP_ID, type GraphPermission } from '../requirements.ts';
import type { AppRegistration } from './apps.ts';
import { type GraphCall, type GraphHandler, context } from './graph-routes.ts';
import { compileFilter, type ODataRecord } from './odata.ts';
import { graphServicePrincipalId, servicePrincipalId } from './principals.ts';
import { GraphHttpError, type GraphReply, jsonReply } from './replies.ts';
import type { GraphEmulatorState } from './state.ts';

/**
 * What an app may read about itself in a tenant (what `deskhand doctor` reads), shaped as Graph
 * answers it: `GET /servicePrincipals?$filter=appId eq '{id}'`, `GET /servicePrincipals/{id}/
 * appRoleAssignments` (its Graph application permissions, by Graph's app role ids), and `GET
 * /roleManagement/directory/roleAssignments?$filter=principalId eq '{id}'` (its Entra roles, by role
 * template id). Each needs its permission (principals.ts: Application.Read.All,
 * RoleManagement.Read.Directory), checked before the handler runs.
 */

type Route = (method: HTTPMethods, path: string, handler: GraphHandler) => void;

const CONSENTED_AT = '2024-01-15T10:00:00Z';
const SERVICE_PRINCIPAL_FILTERABLE = new Set(['id', 'appId', 'displayName', 'servicePrincipalType']);
const ROLE_ASSIGNMENT_FILTERABLE = new Set(['id', 'principalId', 'roleDefinitionId', 'directoryScopeId']);

export function registerPrincipalRoutes(route: Route, state: GraphEmulatorState): void {
  route('GET', '/servicePrincipals', (call) => listServicePrincipals(state, call));
  route('GET', '/servicePrincipals/:id/appRoleAssignments', (call, p) => listAppRoleAssignments(state, call, p['id']!));
  route('GET', '/roleManagement/directory/roleAssignments', (call) => listRoleAssignments(state, call));
}

function appName(app: AppRegistration): string {
  return app.kind === 'msp' ? `deskhand (${app.owner} multi-tenant app)` : `deskhand (${app.owner})`;
}

function servicePrincipals(state: GraphEmulatorState, call: GraphCall): ODataRecord[] {
  const tenantId = call.tenant.tenantId;
  const graph = {
    id: graphServicePrincipalId(tenantId),
    appId: GRAPH_RESOURCE_APP_ID,
    displayName: 'Microsoft Graph',
    servicePrincipalType: 'Application',
    accountEnabled: true,
    appOwnerOrganizationId: 'f8cdef31-a31e-4b4a-93e4-5f571e91255a',
    appRoles: Object.entries(GRAPH_APP_ROLE_IDS).map(([value, id]) => ({
      allowedMemberTypes: ['Application'],
      description: value,
      displayName: value,
      id,
      isEnabled: true,
      origin: 'Application',
      value,
    })),
  };
  const apps = state.apps.appsIn(tenantId).map((app) => ({
    id: servicePrincipalId(tenantId, app.appId),
    appId: app.appId,
    displayName: appName(app),
    servicePrincipalType: 'Application',
    accountEnabled: true,
    appOwnerOrganizationId: app.kind === 'msp' ? null : tenantId,
    appRoles: [],
  }));
  return [graph, ...apps];
}

function collection(call: GraphCall, path: string, items: readonly ODataRecord[]): GraphReply {
  return jsonReply(200, { '@odata.context': context(call, path), value: items });
}

function filtered(call: GraphCall, items: ODataRecord[], filterable: ReadonlySet<string>): ODataRecord[] {
  const filter = call.url.searchParams.get('$filter');
  if (filter === null) return items;
  const predicate = compileFilter(filter, filterable);
  return items.filter(predicate);
}

function listServicePrincipals(state: GraphEmulatorState, call: GraphCall): GraphReply {
  return collection(call, 'servicePrincipals', filtered(call, servicePrincipals(state, call), SERVICE_PRINCIPAL_FILTERABLE));
}

/** The app's Graph application permissions; Graph's own service principal holds none here. */
function listAppRoleAssignments(state: GraphEmulatorState, call: GraphCall, id: string): GraphReply {
  const tenantId = call.tenant.tenantId;
  const principal = servicePrincipals(state, call).find((sp) => String(sp['id']) === id.toLowerCase());
  if (!principal) {
    throw new GraphHttpError(404, 'Request_ResourceNotFound', `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
  }
  const appId = String(principal['appId']);
  const held = appId === GRAPH_RESOURCE_APP_ID ? [] : [...state.principals.grants(tenantId, appId).permissions];
  const assignments = held
    .filter((name): name is GraphPermission => name in GRAPH_APP_ROLE_IDS)
    .map((name) => ({
      id: assignmentId(String(principal['id']), GRAPH_APP_ROLE_IDS[name]),
      deletedDateTime: null,
      appRoleId: GRAPH_APP_ROLE_IDS[name],
      createdDateTime: CONSENTED_AT,
      principalDisplayName: principal['displayName'],
      principalId: principal['id'],
      principalType: 'ServicePrincipal',
      resourceDisplayName: 'Microsoft Graph',
      resourceId: graphServicePrincipalId(tenantId),
    }));
  return collection(call, `servicePrincipals('${principal['id']}')/appRoleAssignments`, assignments);
}

/** Directory role assignments of the tenant's app service principals, tenant-wide scope (`/`). */
function listRoleAssignments(state: GraphEmulatorState, call: GraphCall): GraphReply {
  const tenantId = call.tenant.tenantId;
  const assignments = state.apps.appsIn(tenantId).flatMap((app) => {
    const principalId = servicePrincipalId(tenantId, app.appId);
    return [...state.principals.grants(tenantId, app.appId).roles]
      .filter((name): name is EntraRole => name in ENTRA_ROLE_IDS)
      .map((name) => ({
        id: assignmentId(principalId, ENTRA_ROLE_IDS[name]),
        principalId,
        directoryScopeId: '/',
        roleDefinitionId: ENTRA_ROLE_IDS[name],
      }));
  });
  return collection(call, 'roleManagement/directory/roleAssignments', filtered(call, assignments, ROLE_ASSIGNMENT_FILTERABLE));
}

/** Shaped like Entra's assignment ids (opaque base64url), stable per principal and role. */
function assignmentId(principalId: string, roleId: string): string {
  return Buffer.from(`${roleId}/${principalId}`).toString('base64url').slice(0, 43);
}
