import { z } from 'zod';
import { deterministicUuid } from '../../../world/ids.ts';
import { ENTRA_ROLE_IDS, type EntraRole, GRAPH_APP_ROLE_IDS, GRAPH_RESOURCE_APP_ID, type GraphPermission, requiredGrants } from '../requirements.ts';
import { GraphHttpError } from './replies.ts';
import type { EmulatedGroup, EmulatedTenant, EmulatedUser } from './tenant.ts';

/**
 * The app's service principal in each emulated tenant, as Entra keeps it: its Microsoft Graph
 * application permissions (app role assignments, given by admin consent) and the Entra directory
 * roles assigned to it. Graph checks both on every call; the emulator does too (`requirePermission`,
 * `requireRole`), with Graph's refusal: 403 `Authorization_RequestDenied` "Insufficient privileges to
 * complete the operation.".
 *
 * Every app starts with exactly what deskhand's tools need (`requiredGrants()` of requirements.ts:
 * the demo is all green); tests take a permission or a role away through `setGrants` (control route
 * `PUT /_emulator/tenants/:key/grants`). `reset()` goes back to that.
 */

export const INSUFFICIENT_PRIVILEGES = 'Insufficient privileges to complete the operation.';

export interface Grants {
  permissions: Set<string>;
  roles: Set<string>;
}

export const grantsInput = z.strictObject({
  /** The app (client id); every app of the tenant when absent. */
  app: z.string().min(1).optional(),
  permissions: z.array(z.enum(Object.keys(GRAPH_APP_ROLE_IDS) as [GraphPermission, ...GraphPermission[]])).optional(),
  roles: z.array(z.enum(Object.keys(ENTRA_ROLE_IDS) as [EntraRole, ...EntraRole[]])).optional(),
});
export type GrantsInput = z.infer<typeof grantsInput>;

export class PrincipalBook {
  /** `${tenantId}/${appId}` → grants, once changed from the default. */
  private changed = new Map<string, Grants>();

  reset(): void {
    this.changed = new Map();
  }

  grants(tenantId: string, appId: string): Grants {
    const key = `${tenantId}/${appId.toLowerCase()}`;
    const own = this.changed.get(key);
    if (own) return own;
    const defaults = requiredGrants();
    return { permissions: new Set(defaults.permissions), roles: new Set(defaults.roles) };
  }

  set(tenantId: string, appId: string, input: Omit<GrantsInput, 'app'>): Grants {
    const current = this.grants(tenantId, appId);
    const next: Grants = {
      permissions: input.permissions ? new Set(input.permissions) : current.permissions,
      roles: input.roles ? new Set(input.roles) : current.roles,
    };
    this.changed.set(`${tenantId}/${appId.toLowerCase()}`, next);
    return next;
  }
}

/** The object id of an app's service principal in a tenant (stable across runs). */
export function servicePrincipalId(tenantId: string, appId: string): string {
  return deterministicUuid('m365', 'servicePrincipal', tenantId, appId.toLowerCase());
}

/** Microsoft Graph's own service principal in a tenant: the resource of every app role assignment. */
export function graphServicePrincipalId(tenantId: string): string {
  return servicePrincipalId(tenantId, GRAPH_RESOURCE_APP_ID);
}

/** 403 unless the app holds one of `accepted` (Graph's permission table for the call). */
export function requirePermission(grants: Grants, accepted: readonly string[]): void {
  if (!accepted.some((p) => grants.permissions.has(p))) throw new GraphHttpError(403, 'Authorization_RequestDenied', INSUFFICIENT_PRIVILEGES);
}

/** 403 unless the app's service principal holds one of `accepted` directory roles. */
export function requireRole(grants: Grants, accepted: readonly EntraRole[]): void {
  if (!accepted.some((r) => grants.roles.has(r))) throw new GraphHttpError(403, 'Authorization_RequestDenied', INSUFFICIENT_PRIVILEGES);
}

// ---------------------------------------------------------------------------------------------
// Graph's permission tables, per endpoint the emulator serves (application permissions, any of)
// ---------------------------------------------------------------------------------------------

const READ_USERS = ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];
const READ_GROUPS = ['GroupMember.Read.All', 'Group.Read.All', 'GroupMember.ReadWrite.All', 'Group.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];
const WRITE_MEMBERS = ['GroupMember.ReadWrite.All', 'Group.ReadWrite.All', 'Directory.ReadWrite.All'];
const READ_APPS = ['Application.Read.All', 'Application.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];

/** `METHOD path` (the route as registered) → the permissions Graph accepts for it. PATCH /users is checked per property. */
export const ENDPOINT_PERMISSIONS: Readonly<Record<string, readonly string[]>> = {
  'GET /users': READ_USERS,
  'GET /users/:key': READ_USERS,
  'GET /users/:key/manager': READ_USERS,
  'GET /users/:key/memberOf': READ_USERS,
  'GET /users/:key/memberOf/microsoft.graph.group': READ_USERS,
  'GET /users/:key/licenseDetails': READ_USERS,
  'POST /users/:key/assignLicense': ['LicenseAssignment.ReadWrite.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'],
  'POST /users/:key/revokeSignInSessions': ['User.RevokeSessions.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'],
  'GET /users/:key/authentication/methods': ['UserAuthenticationMethod.Read.All', 'UserAuthenticationMethod.ReadWrite.All'],
  'DELETE /users/:key/authentication/:collection/:methodId': ['UserAuthenticationMethod.ReadWrite.All'],
  'POST /users/:key/sendMail': ['Mail.Send'],
  'GET /users/:key/mailFolders/:folder/messages': ['Mail.ReadBasic.All', 'Mail.ReadBasic', 'Mail.Read', 'Mail.ReadWrite'],
  'GET /groups': READ_GROUPS,
  'GET /groups/:id': READ_GROUPS,
  'GET /groups/:id/members': READ_GROUPS,
  'POST /groups/:id/members/$ref': WRITE_MEMBERS,
  'DELETE /groups/:id/members/:memberId/$ref': WRITE_MEMBERS,
  'GET /subscribedSkus': ['LicenseAssignment.Read.All', 'LicenseAssignment.ReadWrite.All', 'Organization.Read.All', 'Organization.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  'GET /servicePrincipals': READ_APPS,
  'GET /servicePrincipals/:id/appRoleAssignments': READ_APPS,
  'GET /roleManagement/directory/roleAssignments': ['RoleManagement.Read.Directory', 'RoleManagement.Read.All', 'RoleManagement.ReadWrite.Directory', 'Directory.Read.All', 'Directory.ReadWrite.All'],
};

/** Property writes of `PATCH /users/{id}`: the least-privileged permission per property, then broader ones. */
export const USER_PROPERTY_PERMISSIONS: Readonly<Record<string, readonly string[]>> = {
  passwordProfile: ['User-PasswordProfile.ReadWrite.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'],
  accountEnabled: ['User.EnableDisableAccount.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'],
};

/** `signInActivity` needs AuditLog.Read.All besides a user permission (user-get). */
export const SIGN_IN_ACTIVITY_PERMISSIONS = ['AuditLog.Read.All', 'Directory.Read.All'];

/** Changing the members of a role-assignable group also needs this (group-post-members, "isAssignableToRole"). */
export const ROLE_ASSIGNABLE_GROUP_PERMISSIONS = ['RoleManagement.ReadWrite.Directory'];

/**
 * Who may reset a password ("Who can reset passwords", Entra built-in roles), simplified: any of
 * these roles for a user without an admin role; for an administrator, Privileged Authentication
 * Administrator or Global Administrator. (Entra lets User and Helpdesk Administrators reset some
 * limited admin roles too; the emulator treats every administrator as privileged.)
 */
export const PASSWORD_RESET_ROLES: readonly EntraRole[] = [
  'User Administrator',
  'Helpdesk Administrator',
  'Password Administrator',
  'Authentication Administrator',
  'Privileged Authentication Administrator',
  'Global Administrator',
];
export const ADMIN_PASSWORD_RESET_ROLES: readonly EntraRole[] = ['Privileged Authentication Administrator', 'Global Administrator'];

/**
 * An administrator: a member of a role-assignable group. In the emulated tenants such a group holds
 * an Entra role (that is what makes it role-assignable), so its members are admins.
 */
export function isAdministrator(tenant: EmulatedTenant, user: EmulatedUser): boolean {
  return tenant.groupsOf(user.id).some((g) => g.isAssignableToRole);
}

// ---------------------------------------------------------------------------------------------
// Hybrid tenants: objects synced from an on-premises Active Directory
// ---------------------------------------------------------------------------------------------

/** Graph's answer to a change of an object mastered on-premises (user-update, group members). */
export const SYNCED_OBJECT_MESSAGE = 'Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.';

export function refuseIfSynced(object: EmulatedUser | EmulatedGroup): void {
  if (object.onPremisesSyncEnabled) throw new GraphHttpError(400, 'Request_BadRequest', SYNCED_OBJECT_MESSAGE);
}

/**
 * Graph refuses to delete a user's default MFA method (MS Q&A 1337439 quotes the message; the phone
 * method's docs: "If the phone number is the user's default Azure MFA authentication method, it can't
 * be deleted"). The error code is unverified; the message is the one quoted.
 */
export const DEFAULT_METHOD_MESSAGE = 'Cannot delete default method with other methods configured. Please change default method before deletion.';

/**
 * The emulator's marks on the demo world (the world file is a shared fixture, so they live here):
 * Contoso is a hybrid tenant where one user and one group are synced from its Active Directory, and
 * one user's default MFA method is her phone.
 */
export const HYBRID_MARKS: Readonly<Record<string, { syncedUsers: readonly string[]; syncedGroups: readonly string[]; defaultPhoneUsers: readonly string[] }>> = {
  contoso: {
    syncedUsers: ['adele.vance@contoso.example'],
    syncedGroups: ['SG-Finance-Share'],
    defaultPhoneUsers: ['lynne.robbins@contoso.example'],
  },
};
