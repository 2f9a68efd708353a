/**
 * What the Entra app needs in each client tenant, per tool: the Microsoft Graph application
 * permissions (app role assignments of the app's service principal, given by admin consent) and the
 * Entra directory roles assigned to that service principal. One table read by `deskhand doctor`
 * (doctor.ts), by the failure messages of the tools (failures.ts), by the emulator (its demo tenants
 * are granted exactly the required entries) and checked against the README's set-up list by a test.
 *
 * Least privilege: each entry names the narrowest permission Graph documents for the calls the tool
 * makes; `alsoAccepted` lists the broader ones Graph also accepts (an app that already holds one of
 * those is not reported as missing). Sources: each API's "Permissions" table on
 * learn.microsoft.com/graph/api (user-get, user-update, group-post-members, group-delete-members,
 * user-assignlicense, subscribedsku-list, user-revokesigninsessions, authentication-list-methods,
 * phoneauthenticationmethod-delete, user-sendmail, serviceprincipal-list-approleassignments,
 * rbacapplication-list-roleassignments) and "Microsoft Entra built-in roles".
 */

/** The Microsoft Graph resource (its appId is the same in every tenant). */
export const GRAPH_RESOURCE_APP_ID = '00000003-0000-0000-c000-000000000000';

/** Microsoft Graph application permissions by name → their app role id (the same in every tenant). */
export const GRAPH_APP_ROLE_IDS = {
  'User.Read.All': 'df021288-bdef-4463-88db-98f22de89214',
  'User.ReadWrite.All': '741f803b-c850-494e-b5df-cde7c675a1ca',
  'User-PasswordProfile.ReadWrite.All': 'cc117bb9-00cf-4eb8-b580-ea2a878fe8f7',
  'User.EnableDisableAccount.All': '3011c876-62b7-4ada-afa2-506cbbecc68c',
  'User.RevokeSessions.All': '77f3a031-c388-4f99-b373-dc68676a979e',
  'GroupMember.Read.All': '98830695-27a2-44f7-8c18-0c3ebc9698f6',
  'GroupMember.ReadWrite.All': 'dbaae8cf-10b5-4b86-a4a1-f871c94c6695',
  'Group.Read.All': '5b567255-7703-4780-807c-7be8301ae99b',
  'Group.ReadWrite.All': '62a82d76-70ea-41e2-9197-370581804d09',
  'Directory.Read.All': '7ab1d382-f21e-4acd-a863-ba3e13f7da61',
  'Directory.ReadWrite.All': '19dbc75e-c2e2-444c-a770-ec69d8559fc7',
  'Organization.Read.All': '498476ce-e0fe-48b0-b801-37ba7e2685c6',
  'LicenseAssignment.Read.All': 'e2f98668-2877-4f38-a2f4-8202e0717aa1',
  'LicenseAssignment.ReadWrite.All': '5facf0c1-8979-4e95-abcf-ff3d079771c0',
  'UserAuthenticationMethod.Read.All': '38d9df27-64da-44fd-b7c5-a6fbac20248f',
  'UserAuthenticationMethod.ReadWrite.All': '50483e42-d915-4231-9639-7fdb7fd190e5',
  'AuditLog.Read.All': 'b0afded3-3588-46d8-8b3d-9842eff778da',
  'Mail.Send': 'b633e1c5-b582-4048-a93e-9f11b44c7e96',
  'Mail.ReadBasic.All': '693c5e45-0940-467d-9b8a-1022fb9d42ef',
  'Application.Read.All': '9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30',
  'RoleManagement.Read.Directory': '483bed4a-2ad3-4361-a73b-c83ccdbdc53c',
  'RoleManagement.ReadWrite.Directory': '9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8',
} as const;

export type GraphPermission = keyof typeof GRAPH_APP_ROLE_IDS;

/** Entra built-in roles by name → their role template id (a role assignment's `roleDefinitionId`). */
export const ENTRA_ROLE_IDS = {
  'User Administrator': 'fe930be7-5e62-47db-91af-98c3a49a38b1',
  'Helpdesk Administrator': '729827e3-9c14-49f7-bb1b-9608f156bbb8',
  'Password Administrator': '966707d0-3269-4727-9be2-8c3a10f19b9d',
  'Authentication Administrator': 'c4e39bd9-1100-46d3-8c65-fb160da0071f',
  'Privileged Authentication Administrator': '7be44c8a-adaf-4e2a-84d6-ab2649e08a13',
  'Privileged Role Administrator': 'e8611ab8-c189-46e8-94e1-60213ab1f814',
  'Global Administrator': '62e90394-69f5-4237-9190-012177145e10',
} as const;

export type EntraRole = keyof typeof ENTRA_ROLE_IDS;

/** One thing a tool needs: a Graph permission or an Entra role, and why. */
export interface Need {
  kind: 'permission' | 'role';
  /** The least-privileged one: what the set-up list asks an admin to grant. */
  name: GraphPermission | EntraRole;
  /** Broader ones Graph also accepts for the same calls. */
  alsoAccepted: readonly (GraphPermission | EntraRole)[];
  why: string;
  /**
   * `required`: the tool fails without it. `optional`: only some targets need it (an administrator's
   * password, a role-assignable group); without it those are refused and the rest works.
   */
  level: 'required' | 'optional';
}

export interface ToolRequirement {
  tool: string;
  needs: readonly Need[];
}

const permission = (name: GraphPermission, why: string, alsoAccepted: GraphPermission[] = [], level: Need['level'] = 'required'): Need => ({
  kind: 'permission',
  name,
  alsoAccepted,
  why,
  level,
});

const role = (name: EntraRole, why: string, alsoAccepted: EntraRole[] = [], level: Need['level'] = 'required'): Need => ({ kind: 'role', name, alsoAccepted, why, level });

const READ_USERS = permission('User.Read.All', 'read users by UPN or id (and resolve the plan step to an object id)', ['User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All']);
const READ_GROUPS = permission('GroupMember.Read.All', "read groups and their flags (memberOf lists a group's properties only with a group permission)", [
  'Group.Read.All',
  'GroupMember.ReadWrite.All',
  'Group.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
]);
const READ_SKUS = permission('LicenseAssignment.Read.All', "read the tenant's subscriptions and free seats (subscribedSkus)", [
  'LicenseAssignment.ReadWrite.All',
  'Organization.Read.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
]);
const READ_METHODS = permission('UserAuthenticationMethod.Read.All', "list the user's registered sign-in methods", ['UserAuthenticationMethod.ReadWrite.All']);
/** Roles that may reset a non-administrator's password ("Who can reset passwords", Entra built-in roles). */
const PASSWORD_ROLES: EntraRole[] = ['Helpdesk Administrator', 'Password Administrator', 'Authentication Administrator', 'Privileged Authentication Administrator', 'Global Administrator'];

export const TOOL_REQUIREMENTS: readonly ToolRequirement[] = [
  { tool: 'm365.get_user', needs: [READ_USERS, permission('AuditLog.Read.All', 'show the last sign-in (signInActivity; also needs Entra ID P1). Without it the last sign-in reads as unknown', ['Directory.Read.All'])] },
  { tool: 'm365.find_user', needs: [READ_USERS] },
  { tool: 'm365.get_manager', needs: [READ_USERS] },
  { tool: 'm365.list_user_groups', needs: [READ_USERS, READ_GROUPS] },
  { tool: 'm365.list_user_licenses', needs: [READ_USERS] },
  { tool: 'm365.list_licenses', needs: [READ_SKUS] },
  { tool: 'm365.list_auth_methods', needs: [READ_USERS, READ_METHODS] },
  { tool: 'm365.find_group', needs: [READ_GROUPS] },
  {
    tool: 'm365.add_user_to_group',
    needs: [
      READ_USERS,
      READ_GROUPS,
      permission('GroupMember.ReadWrite.All', 'add a member (POST /groups/{id}/members/$ref)', ['Group.ReadWrite.All', 'Directory.ReadWrite.All']),
      permission(
        'RoleManagement.ReadWrite.Directory',
        'change the members of a role-assignable group (isAssignableToRole); grant it only if such groups are in scope: it lets the app assign any Entra role',
        [],
        'optional',
      ),
    ],
  },
  {
    tool: 'm365.remove_user_from_group',
    needs: [
      READ_USERS,
      READ_GROUPS,
      permission('GroupMember.ReadWrite.All', 'remove a member (DELETE /groups/{id}/members/{id}/$ref)', ['Group.ReadWrite.All', 'Directory.ReadWrite.All']),
      permission('RoleManagement.ReadWrite.Directory', 'change the members of a role-assignable group (isAssignableToRole)', [], 'optional'),
    ],
  },
  {
    tool: 'm365.reset_password',
    needs: [
      READ_USERS,
      permission('User-PasswordProfile.ReadWrite.All', "set the user's passwordProfile (PATCH /users/{id})", ['User.ReadWrite.All', 'Directory.ReadWrite.All']),
      role('User Administrator', "Graph refuses an app's password reset without a directory role that may reset passwords", PASSWORD_ROLES),
      role(
        'Privileged Authentication Administrator',
        "reset the password of an administrator (a user holding an Entra role, directly or through a role-assignable group). A high-privilege role: it can reset any user's credentials, Global Administrators' included; assign it only if administrators' passwords are in scope",
        ['Global Administrator'],
        'optional',
      ),
    ],
  },
  { tool: 'm365.revoke_sessions', needs: [READ_USERS, permission('User.RevokeSessions.All', 'revoke sign-in sessions (POST /users/{id}/revokeSignInSessions)', ['User.ReadWrite.All', 'Directory.ReadWrite.All'])] },
  {
    tool: 'm365.reset_mfa',
    needs: [READ_USERS, permission('UserAuthenticationMethod.ReadWrite.All', "list and delete the user's sign-in methods (DELETE /users/{id}/authentication/{type}Methods/{id})")],
  },
  {
    tool: 'm365.assign_license',
    needs: [READ_USERS, READ_SKUS, permission('LicenseAssignment.ReadWrite.All', 'assign a license (POST /users/{id}/assignLicense)', ['User.ReadWrite.All', 'Directory.ReadWrite.All'])],
  },
  {
    tool: 'm365.remove_license',
    needs: [READ_USERS, READ_SKUS, permission('LicenseAssignment.ReadWrite.All', 'remove a license (POST /users/{id}/assignLicense)', ['User.ReadWrite.All', 'Directory.ReadWrite.All'])],
  },
  {
    tool: 'm365.disable_account',
    needs: [READ_USERS, permission('User.EnableDisableAccount.All', 'set accountEnabled (PATCH /users/{id})', ['User.ReadWrite.All', 'Directory.ReadWrite.All'])],
  },
  {
    tool: 'm365.enable_account',
    needs: [READ_USERS, permission('User.EnableDisableAccount.All', 'set accountEnabled (PATCH /users/{id})', ['User.ReadWrite.All', 'Directory.ReadWrite.All'])],
  },
];

/** What deskhand needs besides its tools: manager approval mail, and the doctor's own reads. */
export interface CapabilityRequirement {
  /** What it is for, in words. */
  what: string;
  needs: readonly Need[];
}

export const OTHER_REQUIREMENTS: readonly CapabilityRequirement[] = [
  {
    what: "approval mail to the requester's manager",
    needs: [
      permission('Mail.Send', "send the manager's approval mail from the client's helpdesk mailbox (restrict it to that mailbox with an Exchange application access policy)"),
      permission('Mail.ReadBasic.All', 'look in the Sent Items before sending again, so that a mail is sent once'),
    ],
  },
  {
    what: 'deskhand doctor (this check)',
    needs: [
      permission('Application.Read.All', "read the app's own service principal and its app role assignments (read only; the tools work without it, but then nothing can tell which permission is missing)", ['Directory.Read.All']),
      permission('RoleManagement.Read.Directory', "read the directory roles assigned to the app's service principal (read only; as above)", ['Directory.Read.All', 'RoleManagement.ReadWrite.Directory']),
    ],
  },
];

export function toolRequirement(tool: string): ToolRequirement | undefined {
  return TOOL_REQUIREMENTS.find((r) => r.tool === tool);
}

/** Every need, tools first: for the set-up list and the emulator's demo grants. */
export function allNeeds(): Need[] {
  return [...TOOL_REQUIREMENTS.flatMap((r) => r.needs), ...OTHER_REQUIREMENTS.flatMap((r) => r.needs)];
}

/** The least-privileged permissions and roles that every tool needs (required ones only), without repeats. */
export function requiredGrants(): { permissions: GraphPermission[]; roles: EntraRole[] } {
  const needs = allNeeds().filter((n) => n.level === 'required');
  return {
    permissions: [...new Set(needs.filter((n) => n.kind === 'permission').map((n) => n.name as GraphPermission))],
    roles: [...new Set(needs.filter((n) => n.kind === 'role').map((n) => n.name as EntraRole))],
  };
}

/** Whether what the app holds satisfies a need (the named one, or one Graph also accepts). */
export function satisfied(need: Need, held: { permissions: ReadonlySet<string>; roles: ReadonlySet<string> }): boolean {
  const names = [need.name, ...need.alsoAccepted];
  const set = need.kind === 'permission' ? held.permissions : held.roles;
  return names.some((name) => set.has(name));
}

/** The fix for a missing need, in words an admin follows. */
export function fixFor(need: Need): string {
  if (need.kind === 'permission') {
    return `add the Microsoft Graph application permission ${need.name} to the app registration (API permissions) and grant admin consent in this tenant`;
  }
  return `assign the Entra role ${need.name} to the app's service principal (enterprise application) in this tenant: Entra admin center > Roles & admins > ${need.name} > Add assignments`;
}
