import { createHash } from 'node:crypto';
import type { WorldClient, WorldEmployee, WorldGroup } from '../../../world/fixture.ts';
import { deterministicUuid } from '../../../world/ids.ts';
import { PASSWORD_METHOD_ID } from '../client.ts';
import { type AppCredentials, emulatorAppCredentials } from './credentials.ts';
import { DEFAULT_METHOD_MESSAGE, HYBRID_MARKS } from './principals.ts';

/**
 * One emulated Entra tenant per fixture client: its users, groups, subscriptions and methods, and the
 * rules that change them (seat counts, membership, methods). The HTTP layer (graph-routes.ts) maps these
 * outcomes to Graph's answers. Every id is derived from the fixture, so it is the same on every run.
 * Passwords are never stored: a reset only counts.
 */

/** Well-known ids of Graph: the password method, and phone methods by phone type. */
const MOBILE_PHONE_METHOD_ID = '3179e48a-750b-4051-897c-87b9720928f7';

export interface EmulatedMethod {
  id: string;
  /** Graph's type without the namespace, e.g. `microsoftAuthenticatorAuthenticationMethod`. */
  type: string;
  /** Type-specific properties as Graph returns them. */
  properties: Record<string, unknown>;
}

export interface EmulatedUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
  givenName: string | null;
  surname: string | null;
  mail: string;
  mailNickname: string;
  jobTitle: string | null;
  department: string | null;
  businessPhones: string[];
  usageLocation: string | null;
  accountEnabled: boolean;
  managerId: string | null;
  licenses: Set<string>;
  methods: EmulatedMethod[];
  lastSignInDateTime: string;
  createdDateTime: string;
  passwordResets: number;
  lastPasswordResetAt: string | null;
  /** Graph's user property: when the password was last set (whole seconds, like every Graph time). */
  lastPasswordChangeDateTime: string;
  forceChangePasswordNextSignIn: boolean;
  sessionRevocations: number;
  signInSessionsValidFromDateTime: string;
  /** Synced from an on-premises Active Directory: Graph refuses changes to its properties. */
  onPremisesSyncEnabled: boolean;
  /** The user's default MFA method (Graph refuses to delete it), or null. */
  defaultMethodId: string | null;
}

/** What an assignLicense call changed: Graph treats re-adding a held SKU as an update, not a change. */
export interface LicenseChanges {
  added: string[];
  removed: string[];
}

export interface EmulatedGroup {
  id: string;
  displayName: string;
  description: string | null;
  mail: string | null;
  mailNickname: string;
  mailEnabled: boolean;
  securityEnabled: boolean;
  groupTypes: string[];
  isAssignableToRole: boolean;
  createdDateTime: string;
  members: Set<string>;
  /** Synced from an on-premises Active Directory (mastered there): Graph and Exchange refuse to change its members. */
  onPremisesSyncEnabled?: boolean;
}

export interface EmulatedSku {
  skuId: string;
  skuPartNumber: string;
  name: string;
  total: number;
}

/** Why a change was refused, in Graph's words; replies.ts turns it into the HTTP answer. */
export class TenantRuleError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TenantRuleError';
  }
}

/** Fixed so that fixture-derived times are stable; sign-ins are placed relative to the emulator's start. */
const DIRECTORY_CREATED = '2021-03-01T09:00:00Z';

function hashNumber(...parts: string[]): number {
  return Number.parseInt(createHash('sha256').update(parts.join('/')).digest('hex').slice(0, 8), 16);
}

function nickname(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]/g, '');
}

function splitName(name: string): { givenName: string | null; surname: string | null } {
  const [first, ...rest] = name.trim().split(/\s+/);
  return { givenName: first ?? null, surname: rest.length > 0 ? rest.join(' ') : null };
}

/** Graph writes phone numbers as `+{country} {number}`. */
function graphPhoneNumber(phone: string): string {
  const match = /^\+(\d+)\s+(.*)$/.exec(phone.trim());
  return match ? `+${match[1]} ${match[2]!.replace(/\D/g, '')}` : phone;
}

export class EmulatedTenant {
  readonly tenantId: string;
  readonly app: AppCredentials;
  readonly users = new Map<string, EmulatedUser>();
  readonly groups = new Map<string, EmulatedGroup>();
  readonly skus = new Map<string, EmulatedSku>();

  private constructor(
    readonly client: WorldClient,
    private readonly startedAt: Date,
  ) {
    this.app = emulatorAppCredentials(client.id);
    this.tenantId = this.app.tenantId;
  }

  get clientId(): string {
    return this.client.id;
  }

  get domain(): string {
    return this.client.domain;
  }

  /** The mailbox deskhand sends from (manager approvals); a mailbox of the tenant, not a person. */
  get senderMailbox(): string {
    return this.client.senderMailbox;
  }

  /**
   * The client's tenant as the fixture describes it, plus (unless `hybridMarks` is false) the
   * emulator's own hybrid marks: the evaluation measures the planner on the fixture's world alone.
   */
  static fromFixture(client: WorldClient, startedAt: Date, options: { hybridMarks?: boolean } = {}): EmulatedTenant {
    const tenant = new EmulatedTenant(client, startedAt);
    for (const license of client.licenses) tenant.addSku(license.sku, license.name, license.total);
    for (const group of client.groups) tenant.addGroup(group);
    for (const employee of client.employees) tenant.addUser(employee);
    for (const employee of client.employees) tenant.linkEmployee(employee);
    if (options.hybridMarks !== false) tenant.applyHybridMarks();
    return tenant;
  }

  /** The emulator's own marks on the fixture: synced users and groups, default phone methods (principals.ts). */
  private applyHybridMarks(): void {
    const marks = HYBRID_MARKS[this.client.id];
    if (!marks) return;
    for (const upn of marks.syncedUsers) this.requireUser(upn).onPremisesSyncEnabled = true;
    for (const name of marks.syncedGroups) this.requireGroupByName(name).onPremisesSyncEnabled = true;
    for (const upn of marks.defaultPhoneUsers) {
      const user = this.requireUser(upn);
      const phone = user.methods.find((m) => m.type === 'phoneAuthenticationMethod');
      if (!phone) throw new Error(`fixture ${this.client.id}: ${upn} has no phone method to make the default`);
      user.defaultMethodId = phone.id;
    }
  }

  // ----- building from the fixture -------------------------------------------------------------

  private addSku(partNumber: string, name: string, total: number): void {
    // SKU ids are global in Microsoft 365 (the same product has the same id in every tenant).
    const skuId = deterministicUuid('m365', 'sku', partNumber);
    this.skus.set(skuId, { skuId, skuPartNumber: partNumber, name, total });
  }

  private addGroup(group: WorldGroup): void {
    const id = deterministicUuid('m365', 'group', this.client.id, group.name);
    const mailNickname = nickname(group.name);
    const ownAddress = `${mailNickname.toLowerCase()}@${this.client.domain}`;
    const shape = groupShape(group, ownAddress);
    this.groups.set(id, {
      id,
      displayName: group.name,
      description: groupDescription(group),
      mailNickname,
      isAssignableToRole: group.privileged === true,
      createdDateTime: DIRECTORY_CREATED,
      members: new Set(),
      onPremisesSyncEnabled: false,
      ...shape,
    });
  }

  private addUser(employee: WorldEmployee): void {
    const upn = employee.upn;
    const id = deterministicUuid('m365', 'user', this.client.id, upn.toLowerCase());
    const enabled = employee.accountEnabled ?? true;
    this.users.set(id, {
      id,
      userPrincipalName: upn,
      displayName: employee.name,
      ...splitName(employee.name),
      mail: upn,
      mailNickname: upn.split('@')[0]!,
      jobTitle: employee.title,
      department: employee.department,
      businessPhones: employee.phone ? [employee.phone] : [],
      usageLocation: employee.usageLocation ?? null,
      accountEnabled: enabled,
      managerId: null,
      licenses: new Set(),
      methods: employee.authMethods.map((name) => this.methodFor(upn, name, employee.phone)),
      lastSignInDateTime: this.lastSignInFor(upn, enabled),
      createdDateTime: DIRECTORY_CREATED,
      passwordResets: 0,
      lastPasswordResetAt: null,
      lastPasswordChangeDateTime: DIRECTORY_CREATED,
      forceChangePasswordNextSignIn: false,
      sessionRevocations: 0,
      signInSessionsValidFromDateTime: DIRECTORY_CREATED,
      onPremisesSyncEnabled: false,
      defaultMethodId: null,
    });
  }

  /** Managers, groups and licenses refer to other fixture objects by name: resolved once all exist. */
  private linkEmployee(employee: WorldEmployee): void {
    const user = this.requireUser(employee.upn);
    if (employee.manager) user.managerId = this.requireUser(employee.manager).id;
    for (const name of employee.groups) this.requireGroupByName(name).members.add(user.id);
    for (const sku of employee.licenses) user.licenses.add(this.requireSkuByPart(sku).skuId);
  }

  private requireUser(upn: string): EmulatedUser {
    const user = this.userByKey(upn);
    if (!user) throw new Error(`fixture ${this.client.id}: no employee ${upn}`);
    return user;
  }

  private requireGroupByName(name: string): EmulatedGroup {
    const group = [...this.groups.values()].find((g) => g.displayName === name);
    if (!group) throw new Error(`fixture ${this.client.id}: no group ${name}`);
    return group;
  }

  private requireSkuByPart(partNumber: string): EmulatedSku {
    const sku = [...this.skus.values()].find((s) => s.skuPartNumber === partNumber);
    if (!sku) throw new Error(`fixture ${this.client.id}: no subscription ${partNumber}`);
    return sku;
  }

  private methodFor(upn: string, name: string, phone: string | undefined): EmulatedMethod {
    const type = `${name}AuthenticationMethod`;
    const created = DIRECTORY_CREATED;
    switch (name) {
      case 'password':
        return { id: PASSWORD_METHOD_ID, type, properties: { password: null, createdDateTime: created } };
      case 'phone':
        return {
          id: MOBILE_PHONE_METHOD_ID,
          type,
          properties: {
            phoneNumber: graphPhoneNumber(phone ?? `+1 425555${String(hashNumber(upn) % 10_000).padStart(4, '0')}`),
            phoneType: 'mobile',
            smsSignInState: 'notAllowedByPolicy',
          },
        };
      case 'microsoftAuthenticator':
        return {
          id: deterministicUuid('m365', 'method', this.client.id, upn.toLowerCase(), name),
          type,
          properties: { displayName: 'iPhone', deviceTag: 'SoftwareTokenActivated', phoneAppVersion: '6.8.7', createdDateTime: created },
        };
      case 'email':
        return {
          id: deterministicUuid('m365', 'method', this.client.id, upn.toLowerCase(), name),
          type,
          properties: { emailAddress: `${upn.split('@')[0]}@personal.example` },
        };
      default:
        return {
          id: deterministicUuid('m365', 'method', this.client.id, upn.toLowerCase(), name),
          type,
          properties: { displayName: name, createdDateTime: created },
        };
    }
  }

  /** Recent for active people (within three days), about a month back for disabled accounts. */
  private lastSignInFor(upn: string, enabled: boolean): string {
    const minutesAgo = enabled ? 30 + (hashNumber('signin', upn) % (72 * 60)) : 30 * 24 * 60 + (hashNumber('signin', upn) % (14 * 24 * 60));
    const at = new Date(this.startedAt.getTime() - minutesAgo * 60_000);
    at.setUTCSeconds(0, 0);
    return at.toISOString().replace('.000Z', 'Z');
  }

  // ----- lookups -------------------------------------------------------------------------------

  /** By object id or UPN (case-insensitive), as Graph's `/users/{id|upn}`. */
  userByKey(key: string): EmulatedUser | undefined {
    const byId = this.users.get(key.toLowerCase());
    if (byId) return byId;
    const upn = key.toLowerCase();
    return [...this.users.values()].find((u) => u.userPrincipalName.toLowerCase() === upn);
  }

  groupById(id: string): EmulatedGroup | undefined {
    return this.groups.get(id.toLowerCase());
  }

  groupsOf(userId: string): EmulatedGroup[] {
    return [...this.groups.values()].filter((g) => g.members.has(userId));
  }

  /** Seats in use are the users holding the SKU (the fixture's rule, and Graph's consumedUnits). */
  consumedUnits(skuId: string): number {
    let consumed = 0;
    for (const user of this.users.values()) if (user.licenses.has(skuId)) consumed++;
    return consumed;
  }

  /** sendMail may come from any user of the tenant or from the tenant's helpdesk mailbox. */
  isMailbox(address: string): boolean {
    return address.toLowerCase() === this.senderMailbox.toLowerCase() || this.userByKey(address) !== undefined;
  }

  // ----- changes -------------------------------------------------------------------------------

  addMember(group: EmulatedGroup, userId: string): void {
    if (!this.users.has(userId)) {
      throw new TenantRuleError(404, 'Request_ResourceNotFound', `Resource '${userId}' does not exist or one of its queried reference-property objects are not present.`);
    }
    if (group.members.has(userId)) {
      throw new TenantRuleError(
        400,
        'Request_BadRequest',
        "One or more added object references already exist for the following modified properties: 'members'.",
      );
    }
    group.members.add(userId);
  }

  /** Graph answers 404 for a non-member (sometimes 400; the client accepts both). */
  removeMember(group: EmulatedGroup, userId: string): void {
    if (!group.members.delete(userId)) {
      throw new TenantRuleError(404, 'Request_ResourceNotFound', `Resource '${userId}' does not exist or one of its queried reference-property objects are not present.`);
    }
  }

  /** All checks first, then the change: Graph applies an assignLicense call as a whole or not at all. */
  assignLicenses(user: EmulatedUser, add: readonly string[], remove: readonly string[]): LicenseChanges {
    for (const skuId of [...add, ...remove]) {
      if (!this.skus.has(skuId)) {
        throw new TenantRuleError(400, 'Request_BadRequest', `License ${skuId} does not correspond to a valid company License.`);
      }
    }
    for (const skuId of remove) {
      if (!user.licenses.has(skuId)) throw new TenantRuleError(400, 'Request_BadRequest', 'User does not have a corresponding license.');
    }
    const newlyAdded = add.filter((skuId) => !user.licenses.has(skuId));
    if (newlyAdded.length > 0 && !user.usageLocation) {
      throw new TenantRuleError(400, 'Request_BadRequest', 'License assignment cannot be done for user with invalid usage location.');
    }
    for (const skuId of newlyAdded) {
      const sku = this.skus.get(skuId)!;
      if (this.consumedUnits(skuId) >= sku.total) {
        throw new TenantRuleError(400, 'Request_BadRequest', `Subscription with SKU ${skuId} does not have any available licenses.`);
      }
    }
    for (const skuId of remove) user.licenses.delete(skuId);
    for (const skuId of newlyAdded) user.licenses.add(skuId);
    return { added: newlyAdded, removed: [...remove] };
  }

  /** True when the account's state changed; writing the value it already has changes nothing. */
  setAccountEnabled(user: EmulatedUser, enabled: boolean): boolean {
    if (user.accountEnabled === enabled) return false;
    user.accountEnabled = enabled;
    return true;
  }

  /** Counts the reset; the password itself is checked for complexity and then forgotten. */
  recordPasswordReset(user: EmulatedUser, password: string, forceChange: boolean, at: Date): void {
    if (!meetsComplexity(password)) {
      throw new TenantRuleError(
        400,
        'Request_BadRequest',
        'The specified password does not comply with password complexity requirements. Please provide a different password.',
      );
    }
    user.passwordResets++;
    user.lastPasswordResetAt = at.toISOString();
    user.lastPasswordChangeDateTime = graphDateTime(at);
    user.forceChangePasswordNextSignIn = forceChange;
  }

  revokeSessions(user: EmulatedUser, at: Date): void {
    user.sessionRevocations++;
    user.signInSessionsValidFromDateTime = graphDateTime(at);
  }

  /** Removes the method and returns it (for the effects log). */
  deleteMethod(user: EmulatedUser, collection: string, methodId: string): EmulatedMethod {
    if (collection === 'passwordMethods') {
      throw new TenantRuleError(400, 'BadRequest', 'The password method cannot be deleted.');
    }
    const index = user.methods.findIndex(
      (m) => m.id.toLowerCase() === methodId.toLowerCase() && methodCollectionOf(m.type) === collection,
    );
    if (index < 0) throw new TenantRuleError(404, 'itemNotFound', `The authentication method '${methodId}' was not found.`);
    if (user.methods[index]!.id === user.defaultMethodId) throw new TenantRuleError(400, 'badRequest', DEFAULT_METHOD_MESSAGE);
    return user.methods.splice(index, 1)[0]!;
  }

  // ----- inspection ----------------------------------------------------------------------------

  snapshot(): TenantSnapshot {
    const skuPart = (skuId: string): string => this.skus.get(skuId)?.skuPartNumber ?? skuId;
    return {
      clientId: this.client.id,
      tenantId: this.tenantId,
      name: this.client.name,
      domain: this.client.domain,
      senderMailbox: this.senderMailbox,
      users: [...this.users.values()].map((u) => ({
        id: u.id,
        userPrincipalName: u.userPrincipalName,
        displayName: u.displayName,
        accountEnabled: u.accountEnabled,
        manager: u.managerId ? (this.users.get(u.managerId)?.userPrincipalName ?? null) : null,
        groups: this.groupsOf(u.id).map((g) => g.displayName),
        licenses: [...u.licenses].map(skuPart),
        authMethods: u.methods.map((m) => ({ id: m.id, type: m.type })),
        passwordResets: u.passwordResets,
        lastPasswordResetAt: u.lastPasswordResetAt,
        lastPasswordChangeDateTime: u.lastPasswordChangeDateTime,
        forceChangePasswordNextSignIn: u.forceChangePasswordNextSignIn,
        sessionRevocations: u.sessionRevocations,
        signInSessionsValidFromDateTime: u.signInSessionsValidFromDateTime,
        onPremisesSyncEnabled: u.onPremisesSyncEnabled,
        defaultMethodId: u.defaultMethodId,
      })),
      groups: [...this.groups.values()].map((g) => ({
        id: g.id,
        displayName: g.displayName,
        members: [...g.members].map((id) => this.users.get(id)?.userPrincipalName ?? id),
        onPremisesSyncEnabled: g.onPremisesSyncEnabled === true,
      })),
      licenses: [...this.skus.values()].map((s) => ({
        skuId: s.skuId,
        skuPartNumber: s.skuPartNumber,
        total: s.total,
        consumed: this.consumedUnits(s.skuId),
      })),
    };
  }
}

export interface TenantSnapshot {
  clientId: string;
  tenantId: string;
  name: string;
  domain: string;
  senderMailbox: string;
  users: {
    id: string;
    userPrincipalName: string;
    displayName: string;
    accountEnabled: boolean;
    manager: string | null;
    groups: string[];
    licenses: string[];
    authMethods: { id: string; type: string }[];
    passwordResets: number;
    lastPasswordResetAt: string | null;
    lastPasswordChangeDateTime: string;
    forceChangePasswordNextSignIn: boolean;
    sessionRevocations: number;
    signInSessionsValidFromDateTime: string;
    onPremisesSyncEnabled: boolean;
    defaultMethodId: string | null;
  }[];
  groups: { id: string; displayName: string; members: string[]; onPremisesSyncEnabled: boolean }[];
  licenses: { skuId: string; skuPartNumber: string; total: number; consumed: number }[];
}

/**
 * Graph's refusals of a membership change through `/members/$ref`, before anything else is looked
 * at: distribution lists and mail-enabled security groups are Exchange Online's (Graph reads them
 * only), rule-based groups compute their members, synced groups belong to the on-premises directory.
 * The first text is Graph's (microsoft-graph-docs issues #546, #14827); the dynamic-group text is
 * not verified against Graph.
 */
export function assertGraphCanChangeMembers(group: EmulatedGroup): void {
  if (group.mailEnabled && !group.groupTypes.includes('Unified')) {
    throw new TenantRuleError(400, 'Request_BadRequest', 'Cannot Update a mail-enabled security groups and or distribution list.');
  }
  if (group.groupTypes.includes('DynamicMembership')) {
    throw new TenantRuleError(400, 'Request_BadRequest', 'Insufficient privileges to complete the operation: members of a group with dynamic membership cannot be added or removed.');
  }
  if (group.onPremisesSyncEnabled === true) {
    throw new TenantRuleError(400, 'Request_BadRequest', 'Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.');
  }
}

/**
 * Graph writes directory times in whole seconds (`2024-05-01T09:30:12Z`), so a time it reports can be
 * up to a second earlier than the moment of the change: the emulator does the same, so that clients
 * that compare such times with their own clock meet the truncation in tests.
 */
export function graphDateTime(at: Date): string {
  return `${at.toISOString().slice(0, 19)}Z`;
}

/** `phoneAuthenticationMethod` → `phoneMethods`: the per-type collection Graph deletes through. */
export function methodCollectionOf(type: string): string {
  return `${type.replace(/AuthenticationMethod$/, '')}Methods`;
}

/** Graph's group flags for each fixture kind (see groupKindOf in client.ts for the way back). */
function groupShape(
  group: WorldGroup,
  ownAddress: string,
): Pick<EmulatedGroup, 'mail' | 'mailEnabled' | 'securityEnabled' | 'groupTypes'> {
  switch (group.kind) {
    case 'microsoft365':
      return { mail: ownAddress, mailEnabled: true, securityEnabled: false, groupTypes: ['Unified'] };
    case 'distribution':
      return { mail: ownAddress, mailEnabled: true, securityEnabled: false, groupTypes: [] };
    case 'shared_mailbox':
      // Mailbox access is granted to a mail-enabled security group; the fixture's mailbox is its `mail`.
      return { mail: group.mailbox ?? ownAddress, mailEnabled: true, securityEnabled: true, groupTypes: [] };
    case 'security':
      return { mail: null, mailEnabled: false, securityEnabled: true, groupTypes: [] };
  }
}

function groupDescription(group: WorldGroup): string | null {
  if (group.app) return `Access to ${group.app}`;
  if (group.kind === 'shared_mailbox' && group.mailbox) return `Full access to the shared mailbox ${group.mailbox}`;
  if (group.privileged) return 'Role-assignable group for administrators';
  return null;
}

/** Entra's rule: 8–256 characters and three of lower case, upper case, digits, symbols. */
function meetsComplexity(password: string): boolean {
  if (password.length < 8 || password.length > 256) return false;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  return classes >= 3;
}
