import type { EmulatedGroup, EmulatedTenant, EmulatedUser } from '../../emulator/tenant.ts';

/**
 * What the Exchange Online emulator knows besides the tenants it shares with the Graph emulator
 * (a member added here is a member in Graph, and the other way round): what each tenant gave the
 * app (the `Exchange.ManageAsApp` permission, an Exchange role), the cmdlets it ran, and the
 * regional redirects waiting for the next calls. `reset()` goes back to the fixture: every tenant
 * consented `Exchange.ManageAsApp` and gave the app Exchange Administrator.
 *
 * Exchange's rules for membership (section C of the API notes): only mail-enabled groups that are not
 * Microsoft 365 groups (distribution lists, mail-enabled security groups) take members through
 * `Add-DistributionGroupMember`; members must be mail recipients; a group mastered on-premises is
 * refused; without `BypassSecurityGroupManagerCheck` only the group's managers may change it (the app
 * never is one).
 */

/** The roles the emulator models; Exchange Administrator covers every Exchange task. */
export type ExchangeRole = 'Exchange Administrator' | 'Global Reader';

export interface ExchangeAccess {
  /** The `Exchange.ManageAsApp` application permission, consented in the tenant. */
  manageAsApp: boolean;
  /** The Entra role the app's service principal holds in the tenant, or none. */
  role: ExchangeRole | null;
}

export interface ExchangeCall {
  at: string;
  tenantId: string;
  /** `InvokeCommand` (the module's transport) or a v2.0 endpoint name. */
  surface: string;
  cmdlet: string;
  /** The parameters as sent (none of these cmdlets take a secret). */
  parameters: Record<string, unknown>;
  status: number;
}

export interface ExchangeRedirect {
  /** Answer this many calls with 302 (any tenant), then serve normally. */
  count: number;
  /** Where the 302 points (an origin; the path and query of the call are kept). */
  origin: string;
}

const DEFAULT_ACCESS: ExchangeAccess = { manageAsApp: true, role: 'Exchange Administrator' };
const CALL_LOG_LIMIT = 2000;

export class ExchangeDirectory {
  private access = new Map<string, ExchangeAccess>();
  private log: ExchangeCall[] = [];
  private redirects: ExchangeRedirect[] = [];

  reset(): void {
    this.access = new Map();
    this.log = [];
    this.redirects = [];
  }

  accessOf(tenantId: string): ExchangeAccess {
    return this.access.get(tenantId) ?? DEFAULT_ACCESS;
  }

  setAccess(tenantId: string, access: Partial<ExchangeAccess>): void {
    this.access.set(tenantId, { ...this.accessOf(tenantId), ...access });
  }

  record(call: ExchangeCall): void {
    this.log.push(call);
    if (this.log.length > CALL_LOG_LIMIT) this.log.splice(0, this.log.length - CALL_LOG_LIMIT);
  }

  calls(tenantId?: string): ExchangeCall[] {
    return this.log.filter((c) => tenantId === undefined || c.tenantId === tenantId).map((c) => ({ ...c, parameters: { ...c.parameters } }));
  }

  redirectNext(redirect: ExchangeRedirect): void {
    this.redirects.push({ ...redirect });
  }

  /** The redirect for this call, counted down; undefined when none waits. */
  takeRedirect(): ExchangeRedirect | undefined {
    const next = this.redirects[0];
    if (!next) return undefined;
    next.count--;
    if (next.count <= 0) this.redirects.shift();
    return { ...next };
  }
}

/**
 * A cmdlet's failure as InvokeCommand reports it: the HTTP status, the error code and message, and
 * `details[0].message` as `{error id}|{.NET exception type}|{readable text}`. The ids are made up
 * (Exchange's are opaque); the exception types and texts are Exchange's where the notes have them.
 */
export class CmdletError extends Error {
  constructor(
    readonly status: number,
    readonly exceptionType: string,
    readonly text: string,
  ) {
    super(text);
  }
}

const NOT_FOUND = 'Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException';

function notFound(identity: string): CmdletError {
  return new CmdletError(
    400,
    NOT_FOUND,
    `The operation couldn't be performed because object '${identity}' couldn't be found on 'emulated.prod.outlook.com'.`,
  );
}

/** Exchange's recipient kinds for the groups it manages (`RecipientTypeDetails`). */
export function recipientTypeOf(group: EmulatedGroup): 'MailUniversalDistributionGroup' | 'MailUniversalSecurityGroup' | 'GroupMailbox' | null {
  if (group.groupTypes.includes('Unified')) return 'GroupMailbox';
  if (!group.mailEnabled) return null;
  return group.securityEnabled ? 'MailUniversalSecurityGroup' : 'MailUniversalDistributionGroup';
}

/** `Identity` accepts a name, an alias, an address or the object id; groups Exchange does not see are not found. */
export function findGroup(tenant: EmulatedTenant, identity: string): EmulatedGroup {
  const key = identity.trim().toLowerCase();
  const group = [...tenant.groups.values()].find(
    (g) => g.id === key || g.displayName.toLowerCase() === key || g.mailNickname.toLowerCase() === key || g.mail?.toLowerCase() === key,
  );
  if (!group || recipientTypeOf(group) === null) throw notFound(identity);
  return group;
}

/** A member may be a user with a mailbox (by UPN, address or id), or a mail-enabled group; nothing else. */
function findMember(tenant: EmulatedTenant, identity: string): EmulatedUser {
  const key = identity.trim().toLowerCase();
  const user = tenant.userByKey(key) ?? [...tenant.users.values()].find((u) => u.mail.toLowerCase() === key);
  if (user) return user;
  const group = [...tenant.groups.values()].find((g) => g.id === key || g.displayName.toLowerCase() === key || g.mail?.toLowerCase() === key);
  if (group) {
    // Microsoft 365 groups and security groups without mail are not valid members of a distribution group.
    throw new CmdletError(
      400,
      'Microsoft.Exchange.Management.Tasks.RecipientTaskException',
      `"${group.displayName}" can't be a member of a distribution group: only mail-enabled recipients (mailboxes, mail users, mail contacts, distribution groups and mail-enabled security groups) can be members.`,
    );
  }
  throw notFound(identity);
}

/** The checks every membership change makes, in Exchange's order: the group, the member, then the rules. */
export function membershipTarget(
  tenant: EmulatedTenant,
  cmdlet: string,
  parameters: Record<string, unknown>,
): { group: EmulatedGroup; user: EmulatedUser } {
  const identity = stringParameter(parameters, 'Identity');
  const memberIdentity = stringParameter(parameters, 'Member');
  const group = findGroup(tenant, identity);
  if (recipientTypeOf(group) === 'GroupMailbox') {
    // Unverified wording: Exchange refuses the distribution-group cmdlets on Microsoft 365 groups and
    // points to Add-/Remove-UnifiedGroupLinks, which app-only sign-in cannot run.
    throw new CmdletError(
      400,
      'Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException',
      `The group '${group.displayName}' is a Microsoft 365 group; use ${cmdlet.startsWith('Add') ? 'Add' : 'Remove'}-UnifiedGroupLinks to change its members.`,
    );
  }
  const user = findMember(tenant, memberIdentity);
  if (group.onPremisesSyncEnabled === true) {
    throw new CmdletError(
      400,
      'Microsoft.Exchange.Configuration.Tasks.TaskException',
      `The action '${cmdlet}', 'Members', can't be performed on the object '${group.displayName}' because the object is being synchronized from your on-premises organization. This action should be performed on the object in your on-premises organization.`,
    );
  }
  if (parameters['BypassSecurityGroupManagerCheck'] !== true) {
    throw new CmdletError(
      400,
      'Microsoft.Exchange.Configuration.Tasks.OperationRequiresGroupManagerException',
      "You don't have sufficient permissions. This operation can only be performed by a manager of the group.",
    );
  }
  return { group, user };
}

export function memberAlreadyExists(user: EmulatedUser, group: EmulatedGroup): CmdletError {
  return new CmdletError(
    400,
    'Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException',
    `The recipient "${user.userPrincipalName}" is already a member of the group "${group.displayName}".`,
  );
}

export function memberNotFound(user: EmulatedUser, group: EmulatedGroup): CmdletError {
  return new CmdletError(
    400,
    'Microsoft.Exchange.Management.Tasks.MemberNotFoundException',
    `The recipient "${user.userPrincipalName}" isn't a member of the group "${group.displayName}".`,
  );
}

export function stringParameter(parameters: Record<string, unknown>, name: string): string {
  const value = parameters[name];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new CmdletError(400, 'System.Management.Automation.ParameterBindingException', `Cannot bind argument to parameter '${name}' because it is an empty string or missing.`);
  }
  return value;
}
