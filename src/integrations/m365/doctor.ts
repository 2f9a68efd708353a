import { describeError, isDeskhandError } from '../../core/errors.ts';
import type { ConnectedIntegration, ConnectionInput, DoctorCheck, DoctorHost, DoctorReport, ToolDoctorReport } from '../module.ts';
import { type GraphClient, graphErrorOf, LOGIN_BASE_URL } from './client.ts';
import { exchangeDoctorChecks } from './exchange/doctor.ts';
import {
  ENTRA_ROLE_IDS,
  fixFor,
  GRAPH_APP_ROLE_IDS,
  GRAPH_RESOURCE_APP_ID,
  type Need,
  OTHER_REQUIREMENTS,
  satisfied,
  toolRequirement,
} from './requirements.ts';

/**
 * `deskhand doctor` for Microsoft 365: in each tenant the integration reaches (every linked client's
 * tenant for an MSP's multi-tenant app, or a client's own app's tenant), sign in, read the app's
 * service principal, its Microsoft Graph app role assignments (application permissions) and its
 * Entra directory role assignments, and compare them with what each tool needs (requirements.ts).
 * Reads only. A tool is `ok` when every required permission and role is there, `missing` (with the
 * fix) when one is not, `error` when it could not be checked.
 *
 * Not seen here (an admin checks them by hand): roles the service principal holds through a group,
 * or scoped to an administrative unit (only tenant-wide `/` assignments count), and Exchange
 * application access policies that narrow Mail.Send.
 */

/** The tools that go through Exchange Online for distribution lists and mail-enabled security groups. */
const EXCHANGE_TOOLS = ['m365.add_user_to_group', 'm365.remove_user_from_group'];

interface DoctorOptions {
  tools: readonly string[];
  graphClient: (input: Pick<ConnectionInput, 'integrationId' | 'name' | 'kind' | 'settings' | 'secrets' | 'clientLink'>) => GraphClient;
}

type Held = { permissions: Set<string>; roles: Set<string> };

const PERMISSION_NAMES = new Map<string, string>(Object.entries(GRAPH_APP_ROLE_IDS).map(([name, id]) => [id, name]));
const ROLE_NAMES = new Map<string, string>(Object.entries(ENTRA_ROLE_IDS).map(([name, id]) => [id, name]));

export async function m365Doctor(integration: ConnectedIntegration, host: DoctorHost, options: DoctorOptions): Promise<DoctorReport> {
  const links = await host.linkedClients();
  const ownTenant = typeof integration.settings['tenantId'] === 'string' ? integration.settings['tenantId'] : null;
  const targets: { tenantId: string; client?: { id: string; name: string } }[] = [
    ...(ownTenant ? [{ tenantId: ownTenant }] : []),
    ...links.map((l) => ({ tenantId: l.externalId, client: { id: l.clientId, name: l.clientName } })),
  ];
  const checks: DoctorCheck[] = [];
  const tools: ToolDoctorReport[] = [];
  if (targets.length === 0) {
    checks.push({ name: 'linked client tenants', ok: false, detail: 'no client is linked to this app, so no tenant was checked', fix: "link each client by its Entra tenant id once the client's admin has consented to the app" });
  }
  for (const target of targets) {
    const result = await checkTenant(integration, options, target.tenantId, host);
    const where = target.client ? ` (${target.client.name}, tenant ${target.tenantId})` : ` (tenant ${target.tenantId})`;
    checks.push(...result.checks.map((c) => ({ ...c, name: `${c.name}${where}` })));
    tools.push(...result.tools.map((t) => ({ ...t, ...(target.client ? { client: target.client } : {}) })));
    // Exchange Online, for the membership tools on distribution lists and mail-enabled security
    // groups. Not switched on is not a fault: those requests escalate to a technician by design.
    const exchangeOn = (integration.settings['exchangeOnline'] as { enabled?: unknown } | undefined)?.enabled === true;
    const exchange = (await exchangeDoctorChecks({ settings: integration.settings, secrets: integration.secrets, tenantId: target.tenantId })).map((c) =>
      exchangeOn ? c : { name: c.name, ok: true, detail: c.detail },
    );
    checks.push(...exchange.map((c) => ({ ...c, name: `${c.name}${where}` })));
    const failed = exchange.filter((c) => !c.ok);
    if (failed.length > 0) {
      for (const line of tools.filter((t) => EXCHANGE_TOOLS.includes(t.tool) && (t.client?.id ?? null) === (target.client?.id ?? null))) {
        line.status = 'missing';
        line.missing = [...line.missing, ...failed];
      }
    }
  }
  const ok = checks.every((c) => c.ok) && tools.every((t) => t.status === 'ok');
  return { ok, checks, tools };
}

async function checkTenant(integration: ConnectedIntegration, options: DoctorOptions, tenantId: string, host: DoctorHost): Promise<{ checks: DoctorCheck[]; tools: ToolDoctorReport[] }> {
  const appId = String(integration.settings['clientId'] ?? '');
  const consent = adminConsentUrl(tenantId, appId);
  const checks: DoctorCheck[] = [];
  const unchecked = (check: DoctorCheck) => ({ checks: [...checks, check], tools: options.tools.map((tool) => ({ tool, status: 'error' as const, missing: [check] })) });
  let graph: GraphClient;
  try {
    graph = options.graphClient({ integrationId: integration.id, name: integration.name, kind: integration.kind, settings: integration.settings, secrets: integration.secrets, clientLink: tenantId });
  } catch (error) {
    return unchecked({ name: 'configuration', ok: false, detail: describeError(error), fix: 'correct the Microsoft 365 integration settings (client id, tenant id, credential)' });
  }
  let principal: Awaited<ReturnType<GraphClient['getServicePrincipal']>>;
  let graphPrincipal: Awaited<ReturnType<GraphClient['getServicePrincipal']>>;
  try {
    principal = await graph.getServicePrincipal(appId);
    graphPrincipal = await graph.getServicePrincipal(GRAPH_RESOURCE_APP_ID);
  } catch (error) {
    if (isDeskhandError(error) && error.code === 'config') {
      return unchecked({ name: 'sign-in', ok: false, detail: describeError(error), fix: `check the app's credential, and that the tenant's admin consented to the app: ${consent}` });
    }
    if (graphErrorOf(error)?.status === 403) {
      return unchecked(needCheck(doctorNeed('Application.Read.All'), false, consent, "Graph refused to read the app's service principal: the permissions cannot be checked"));
    }
    host.logger.warn({ integration: integration.id, tenantId, error: describeError(error) }, 'doctor could not read the service principal');
    return unchecked({ name: 'service principal', ok: false, detail: `could not be read: ${describeError(error)}`, fix: 'try again; if it persists, check that Microsoft Graph is reachable' });
  }
  checks.push({ name: 'sign-in', ok: true, detail: `the app ${appId} signed in` });
  if (!principal) {
    return unchecked({ name: 'service principal', ok: false, detail: `the app ${appId} has no service principal in this tenant`, fix: `the tenant's admin consents to the app: ${consent}` });
  }
  checks.push({ name: 'service principal', ok: true, detail: `${principal.displayName ?? appId} (${principal.id})` });

  const held: Held = { permissions: new Set(), roles: new Set() };
  const assignments = await graph.listAppRoleAssignments(principal.id);
  for (const assignment of assignments) {
    if (graphPrincipal && assignment.resourceId.toLowerCase() !== graphPrincipal.id.toLowerCase()) continue;
    const name = PERMISSION_NAMES.get(assignment.appRoleId.toLowerCase());
    if (name) held.permissions.add(name);
  }
  checks.push({ name: 'Graph application permissions', ok: true, detail: [...held.permissions].sort().join(', ') || 'none' });
  let rolesUnknown: DoctorCheck | null = null;
  try {
    for (const assignment of await graph.listDirectoryRoleAssignments(principal.id)) {
      const name = ROLE_NAMES.get(assignment.roleDefinitionId.toLowerCase());
      if (name && assignment.directoryScopeId === '/') held.roles.add(name);
    }
    checks.push({ name: 'Entra roles', ok: true, detail: [...held.roles].sort().join(', ') || 'none' });
  } catch (error) {
    if (graphErrorOf(error)?.status !== 403) throw error;
    rolesUnknown = needCheck(doctorNeed('RoleManagement.Read.Directory'), false, consent, "Graph refused to read the app's directory roles: the roles cannot be checked");
    checks.push(rolesUnknown);
  }

  // Needs besides the tools (manager approval mail, this check), and every optional need once.
  for (const requirement of OTHER_REQUIREMENTS) {
    for (const need of requirement.needs) checks.push(needCheck(need, satisfied(need, held), consent, `for ${requirement.what}`));
  }
  const optional = new Map<string, Need>();
  const tools: ToolDoctorReport[] = [];
  for (const tool of options.tools) {
    const requirement = toolRequirement(tool);
    if (!requirement) {
      tools.push({ tool, status: 'error', missing: [{ name: 'requirements', ok: false, detail: `deskhand does not know what ${tool} needs`, fix: 'report this as a bug' }] });
      continue;
    }
    for (const need of requirement.needs.filter((n) => n.level === 'optional')) optional.set(need.name, need);
    const required = requirement.needs.filter((n) => n.level === 'required');
    if (rolesUnknown && required.some((n) => n.kind === 'role')) {
      tools.push({ tool, status: 'error', missing: [rolesUnknown] });
      continue;
    }
    const missing = required.filter((need) => !satisfied(need, held)).map((need) => needCheck(need, false, consent, need.why));
    tools.push({ tool, status: missing.length === 0 ? 'ok' : 'missing', missing });
  }
  for (const need of optional.values()) {
    const has = need.kind === 'role' && rolesUnknown ? null : satisfied(need, held);
    checks.push({
      name: `${label(need)} (optional)`,
      ok: true,
      detail: has === null ? 'not checked (the roles could not be read)' : has ? 'granted' : `not granted: without it, deskhand cannot ${need.why}`,
    });
  }
  return { checks, tools };
}

function label(need: Need): string {
  return need.kind === 'role' ? `Entra role ${need.name}` : `Graph application permission ${need.name}`;
}

function needCheck(need: Need, ok: boolean, consent: string, detail: string): DoctorCheck {
  if (ok) return { name: label(need), ok: true, detail: 'granted' };
  const fix = need.kind === 'permission' ? `${fixFor(need)} (admin consent: ${consent})` : fixFor(need);
  return { name: label(need), ok: false, detail: `missing: ${detail}`, fix };
}

function doctorNeed(name: string): Need {
  const need = OTHER_REQUIREMENTS.flatMap((r) => r.needs).find((n) => n.name === name);
  if (!need) throw new Error(`requirements.ts has no need ${name}`);
  return need;
}

/** Entra's admin consent endpoint for the app in a tenant (grants every permission the registration lists). */
export function adminConsentUrl(tenantId: string, appId: string): string {
  return `${LOGIN_BASE_URL}/${encodeURIComponent(tenantId)}/adminconsent?client_id=${encodeURIComponent(appId)}`;
}
