import type { AuthMethod, DirectoryGroup, DirectoryUser, SubscribedSku } from '../../core/directory.ts';
import { DeskhandError } from '../../core/errors.ts';
import type { ArgumentObject, ToolDefinition } from '../../core/tool.ts';
import { type GraphClient, graphErrorOf, isPasswordMethod } from './client.ts';
import { ExchangeGroupMembership } from './exchange/membership.ts';
import { explainRefusal } from './failures.ts';
import { generateTemporaryPassword } from './password.ts';
import { m365ToolByName } from './tools.ts';

export { generateTemporaryPassword } from './password.ts';

/**
 * Runs the Microsoft 365 tools. Write tools act on the object ids a plan step resolved and froze
 * (`resolved`), never on names looked up again, so that an approved plan cannot be redirected by a
 * rename. Every write is safe to repeat: a second run finds the change made and says so in `data`.
 * After a crash or a lost answer, `reconcile` tells (by reading only) whether a write already took
 * effect, so that the engine records it instead of making it twice.
 */

export interface ToolResult {
  /** One line for the note and the audit log. Never contains a secret. */
  summary: string;
  /** Structured outcome for the step record. Never contains a secret. */
  data: unknown;
  /** Only `m365.reset_password`: the temporary password, shown once to the approving technician. */
  secret?: string;
  /** A write that succeeded in part: what was left as it was, and why, in plain words (see module.ts). */
  partial?: string;
}

/** What the engine prepared before the call (and stored, encrypted, before making it). */
export interface PreparedInput {
  /** `m365.reset_password`: the temporary password to set, so that a retry sets the same one. */
  temporaryPassword?: string;
}

/** Whether a write's effect is already there: then `result` is what running it would have reported. */
export type Reconciliation = { done: true; result: ToolResult } | { done: false };

/**
 * How far before the recorded intent a Graph timestamp may be and still count as our change. The
 * intent is written just before the call, but the timestamp comes from Microsoft's clock, not ours
 * (a few seconds of skew are normal), and Graph truncates it to whole seconds. Five seconds covers
 * both; a change by someone else within those seconds would have had the same effect anyway.
 */
export const RECONCILE_CLOCK_MARGIN_MS = 5_000;

type Args = Record<string, string>;
type ToolHandler = (args: Args, resolved: Args, prepared: PreparedInput) => Promise<ToolResult>;
type Reconciler = (args: Args, resolved: Args, intentAt: Date) => Promise<Reconciliation>;

export interface Resolution {
  resolved: Record<string, string>;
  problems: string[];
}

export class M365ToolRunner {
  private readonly handlers: Readonly<Record<string, ToolHandler>>;
  private readonly reconcilers: Readonly<Record<string, Reconciler>>;
  /** Distribution lists and mail-enabled security groups: their members change through Exchange Online. */
  private readonly exchangeGroups: ExchangeGroupMembership;

  constructor(
    private readonly client: GraphClient,
    exchangeGroups?: ExchangeGroupMembership,
  ) {
    this.exchangeGroups = exchangeGroups ?? new ExchangeGroupMembership(client, null);
    this.handlers = {
      'm365.get_user': (a, r) => this.getUser(a, r),
      'm365.find_user': (a) => this.findUser(a),
      'm365.get_manager': (a, r) => this.getManager(a, r),
      'm365.list_user_groups': (a, r) => this.listUserGroups(a, r),
      'm365.list_user_licenses': (a, r) => this.listUserLicenses(a, r),
      'm365.list_licenses': () => this.listLicenses(),
      'm365.list_auth_methods': (a, r) => this.listAuthMethods(a, r),
      'm365.find_group': (a) => this.findGroup(a),
      'm365.add_user_to_group': (a, r) => this.addUserToGroup(a, r),
      'm365.remove_user_from_group': (a, r) => this.removeUserFromGroup(a, r),
      'm365.reset_password': (a, r, p) => this.resetPassword(a, r, p),
      'm365.revoke_sessions': (a, r) => this.revokeSessions(a, r),
      'm365.reset_mfa': (a, r) => this.resetMfa(a, r),
      'm365.assign_license': (a, r) => this.assignLicense(a, r),
      'm365.remove_license': (a, r) => this.removeLicense(a, r),
      'm365.disable_account': (a, r) => this.setAccountEnabled(a, r, false),
      'm365.enable_account': (a, r) => this.setAccountEnabled(a, r, true),
    };
    this.reconcilers = {
      'm365.add_user_to_group': (a, r) => this.reconcileMembership(a, r, true),
      'm365.remove_user_from_group': (a, r) => this.reconcileMembership(a, r, false),
      'm365.assign_license': (a, r) => this.reconcileLicense(a, r, true),
      'm365.remove_license': (a, r) => this.reconcileLicense(a, r, false),
      'm365.disable_account': (a, r) => this.reconcileAccountEnabled(a, r, false),
      'm365.enable_account': (a, r) => this.reconcileAccountEnabled(a, r, true),
      'm365.revoke_sessions': (a, r, at) => this.reconcileRevokeSessions(a, r, at),
      'm365.reset_password': (a, r, at) => this.reconcileResetPassword(a, r, at),
      'm365.reset_mfa': (a, r) => this.reconcileResetMfa(a, r),
    };
  }

  /** The tools this runner can run (the whole m365 catalog; a test keeps the two in step). */
  get toolNames(): string[] {
    return Object.keys(this.handlers);
  }

  /**
   * Runs one tool. `prepared.temporaryPassword` is the password `m365.reset_password` sets (the
   * engine generates it with `generateTemporaryPassword` and stores it before the call); without
   * it one is generated here.
   */
  async run(tool: string, args: Record<string, string>, resolved: Record<string, string>, prepared: PreparedInput = {}): Promise<ToolResult> {
    const handler = this.handlers[tool];
    const valid = validArgs(tool, args);
    if (!handler) throw new DeskhandError('bad_request', `${tool} is not a Microsoft 365 tool`);
    try {
      return await handler(valid, resolved, prepared);
    } catch (error) {
      // A missing permission or role, an object synced from on-premises: said as what it is, with the fix.
      if (m365ToolByName(tool)?.kind === 'write') throw await explainRefusal(this.client, tool, valid, resolved, error);
      throw error;
    }
  }

  /**
   * Has this write already taken effect? Asked after an interrupted attempt (intent recorded at
   * `intentAt`, no result), before running it again. Reads only. `done: true` carries the result the
   * run would have reported (never a secret: the engine holds the password it prepared). Tools whose
   * effect cannot be told apart from the state before (read tools) are never done: run them again.
   */
  async reconcile(tool: string, args: Record<string, string>, resolved: Record<string, string>, intentAt: Date): Promise<Reconciliation> {
    const valid = validArgs(tool, args);
    const reconciler = this.reconcilers[tool];
    if (!reconciler) return { done: false };
    return reconciler(valid, resolved, intentAt);
  }

  // ----- resolving plan arguments --------------------------------------------------------------

  /**
   * Turns a step's human-readable arguments into object ids: a UPN (or mail) into the user's id, a
   * group display name into the id of the one group with exactly that name (case-insensitive), a SKU
   * part number into its skuId. Each argument that does not resolve gets a problem a technician can
   * read; free-text arguments are left alone.
   */
  async resolve(argObjects: Readonly<Record<string, ArgumentObject>>, args: Record<string, string>): Promise<Resolution> {
    const resolved: Record<string, string> = {};
    const problems: string[] = [];
    let skus: Promise<SubscribedSku[]> | undefined;
    for (const [name, kind] of Object.entries(argObjects)) {
      if (kind === 'text' || kind === 'id') continue;
      const value = args[name]?.trim();
      if (!value) {
        problems.push(`the ${name} argument is missing`);
        continue;
      }
      let outcome: { id: string } | { problem: string };
      if (kind === 'user') outcome = await this.resolveUser(value);
      else if (kind === 'group') outcome = await this.resolveGroup(value);
      else {
        skus ??= this.client.listSubscribedSkus();
        outcome = resolveSku(value, await skus);
      }
      if ('id' in outcome) resolved[name] = outcome.id;
      else problems.push(outcome.problem);
    }
    return { resolved, problems };
  }

  private async resolveUser(upn: string): Promise<{ id: string } | { problem: string }> {
    const user = await this.client.getUserByUpnOrMail(upn);
    return user ? { id: user.id } : { problem: `no user ${upn} in this Microsoft 365 tenant` };
  }

  private async resolveGroup(name: string): Promise<{ id: string } | { problem: string }> {
    const wanted = name.toLowerCase();
    const matches = (await this.client.findGroupsByName(name)).filter((g) => g.displayName.toLowerCase() === wanted);
    if (matches.length === 1) return { id: matches[0]!.id };
    if (matches.length === 0) return { problem: `no group named "${name}" in this Microsoft 365 tenant` };
    return {
      problem: `${matches.length} groups are named "${name}" (ids ${matches.map((g) => g.id).join(', ')}); a technician must pick one`,
    };
  }

  // ----- read tools ----------------------------------------------------------------------------

  /** The user a read is about: the resolved id when the step has one, else looked up by UPN. */
  private async userOf(args: Args, resolved: Args): Promise<{ id: string; upn: string }> {
    const upn = args['user']!;
    if (resolved['user']) return { id: resolved['user'], upn };
    const user = await this.client.getUserByUpnOrMail(upn);
    if (!user) throw new DeskhandError('not_found', `no user ${upn} in this Microsoft 365 tenant`);
    return { id: user.id, upn };
  }

  private async getUser(args: Args, resolved: Args): Promise<ToolResult> {
    const upn = args['user']!;
    const user = resolved['user'] ? await this.client.getUser(resolved['user']) : await this.client.getUserByUpnOrMail(upn);
    if (!user) return { summary: `No user ${upn} in this Microsoft 365 tenant`, data: null };
    return { summary: describeUser(user), data: user };
  }

  private async findUser(args: Args): Promise<ToolResult> {
    const query = args['query']!;
    const users = await this.client.findUsers(query);
    const names = users.map((u) => `${u.displayName} <${u.userPrincipalName}>`);
    return { summary: `${plural(users.length, 'user')} start with "${query}"${listed(names)}`, data: users };
  }

  private async getManager(args: Args, resolved: Args): Promise<ToolResult> {
    const user = await this.userOf(args, resolved);
    const manager = await this.client.getManager(user.id);
    if (!manager) return { summary: `${user.upn} has no manager set`, data: null };
    return { summary: `${user.upn}'s manager is ${manager.displayName} <${manager.userPrincipalName}>`, data: manager };
  }

  private async listUserGroups(args: Args, resolved: Args): Promise<ToolResult> {
    const user = await this.userOf(args, resolved);
    const groups = await this.client.listUserGroups(user.id);
    return { summary: `${user.upn} is a member of ${plural(groups.length, 'group')}${listed(groups.map(describeGroup))}`, data: groups };
  }

  private async listUserLicenses(args: Args, resolved: Args): Promise<ToolResult> {
    const user = await this.userOf(args, resolved);
    const licenses = await this.client.listUserLicenses(user.id);
    const summary = licenses.length > 0 ? `${user.upn} holds ${licenses.join(', ')}` : `${user.upn} holds no licenses`;
    return { summary, data: licenses };
  }

  private async listLicenses(): Promise<ToolResult> {
    const skus = await this.client.listSubscribedSkus();
    const lines = skus.map((s) => `${s.skuPartNumber} ${s.consumed}/${s.total} in use${s.consumed >= s.total ? ' (none free)' : ''}`);
    return { summary: skus.length > 0 ? `Subscriptions: ${lines.join(', ')}` : 'The tenant has no subscriptions', data: skus };
  }

  private async listAuthMethods(args: Args, resolved: Args): Promise<ToolResult> {
    const user = await this.userOf(args, resolved);
    const methods = await this.client.listAuthMethods(user.id);
    return { summary: `${user.upn} has registered ${methods.map(methodName).join(', ') || 'no methods'}`, data: methods };
  }

  private async findGroup(args: Args): Promise<ToolResult> {
    const query = args['query']!;
    const groups = await this.client.findGroups(query);
    return { summary: `${plural(groups.length, 'group')} match "${query}"${listed(groups.map(describeGroup))}`, data: groups };
  }

  // ----- write tools ---------------------------------------------------------------------------

  private async addUserToGroup(args: Args, resolved: Args): Promise<ToolResult> {
    const userId = requireResolved(resolved, 'user', 'm365.add_user_to_group');
    const groupId = requireResolved(resolved, 'group', 'm365.add_user_to_group');
    const exchangeGroup = await this.exchangeGroups.exchangeGroup(groupId, 'm365.add_user_to_group');
    if (exchangeGroup) return this.exchangeGroups.add(args as { user: string; group: string }, userId, exchangeGroup);
    const { alreadyMember } = await this.client.addMember(groupId, userId);
    const { user, group } = args as { user: string; group: string };
    return {
      summary: alreadyMember ? `${user} was already a member of ${group}; nothing changed` : `Added ${user} to ${group}`,
      data: { user, group, userId, groupId, alreadyMember },
    };
  }

  private async removeUserFromGroup(args: Args, resolved: Args): Promise<ToolResult> {
    const userId = requireResolved(resolved, 'user', 'm365.remove_user_from_group');
    const groupId = requireResolved(resolved, 'group', 'm365.remove_user_from_group');
    const exchangeGroup = await this.exchangeGroups.exchangeGroup(groupId, 'm365.remove_user_from_group');
    if (exchangeGroup) return this.exchangeGroups.remove(args as { user: string; group: string }, userId, exchangeGroup);
    const { notMember } = await this.client.removeMember(groupId, userId);
    const { user, group } = args as { user: string; group: string };
    return {
      summary: notMember ? `${user} was not a member of ${group}; nothing changed` : `Removed ${user} from ${group}`,
      data: { user, group, userId, groupId, notMember },
    };
  }

  /** The password goes to Graph and into `secret`, nowhere else: not the summary, data, logs or errors. */
  private async resetPassword(args: Args, resolved: Args, prepared: PreparedInput): Promise<ToolResult> {
    const userId = requireResolved(resolved, 'user', 'm365.reset_password');
    const password = prepared.temporaryPassword ?? generateTemporaryPassword();
    await this.client.setTemporaryPassword(userId, password);
    return { ...passwordResetResult(args['user']!, userId), secret: password };
  }

  private async revokeSessions(args: Args, resolved: Args): Promise<ToolResult> {
    const userId = requireResolved(resolved, 'user', 'm365.revoke_sessions');
    await this.client.revokeSessions(userId);
    return revokedResult(args['user']!, userId);
  }

  /**
   * Deletes every method but the password. Phones go last, the mobile number very last: an alternate
   * mobile needs the mobile. Graph never deletes the user's default MFA method ("Cannot delete default
   * method ..."): that one stays, the others go, and the step succeeds in part, naming what remains.
   */
  private async resetMfa(args: Args, resolved: Args): Promise<ToolResult> {
    const userId = requireResolved(resolved, 'user', 'm365.reset_mfa');
    const user = args['user']!;
    const methods = await this.client.listAuthMethods(userId);
    const kept = methods.filter(isPasswordMethod);
    const toRemove = methods.filter((m) => !isPasswordMethod(m)).sort((a, b) => deletionOrder(a) - deletionOrder(b));
    const removed: AuthMethod[] = [];
    const defaults: AuthMethod[] = [];
    for (const method of toRemove) {
      try {
        await this.client.deleteAuthMethod(userId, method);
      } catch (error) {
        if (isDefaultMethodRefusal(error)) {
          defaults.push(method);
          continue;
        }
        throw new DeskhandError('upstream', `MFA reset of ${user} stopped at ${methodName(method)}: ${messageOf(error)}`, {
          details: { removed, remaining: toRemove.filter((m) => !removed.includes(m) && m !== method).map((m) => m.type) },
          cause: error,
        });
      }
      removed.push(method);
    }
    const data = { user, userId, removed, kept: [...kept, ...defaults], alreadyReset: removed.length === 0 && defaults.length === 0 };
    if (defaults.length > 0) {
      const remaining = defaults.map(methodName).join(', ');
      const partial = `the ${remaining} method stays registered: it is the default sign-in method of ${user}, which Microsoft 365 does not let an administrator delete; it can be removed after choosing another default method at https://mysignins.microsoft.com/security-info (a technician can help)`;
      return {
        summary: `Removed ${plural(removed.length, 'authentication method')} of ${user}${removed.length > 0 ? ` (${removed.map(methodName).join(', ')})` : ''}; the ${remaining} method remains (the default MFA method, which Graph refuses to delete)`,
        data: { ...data, remainingDefault: defaults, partial },
        partial,
      };
    }
    return {
      summary: data.alreadyReset
        ? `${user} has no authentication methods besides the password; nothing to remove`
        : `Removed ${plural(removed.length, 'authentication method')} of ${user} (${removed.map(methodName).join(', ')}); they will register MFA again at next sign-in`,
      data,
    };
  }

  /** Checks the user's licenses and the seats before assigning, so that a full SKU fails with the reason. */
  private async assignLicense(args: Args, resolved: Args): Promise<ToolResult> {
    const userId = requireResolved(resolved, 'user', 'm365.assign_license');
    const skuId = requireResolved(resolved, 'sku', 'm365.assign_license');
    const { user, sku } = args as { user: string; sku: string };
    const [held, skus] = await Promise.all([this.client.listUserLicenseDetails(userId), this.client.listSubscribedSkus()]);
    if (held.some((l) => l.skuId === skuId)) {
      return { summary: `${user} already holds ${sku}; nothing changed`, data: { user, sku, userId, skuId, alreadyAssigned: true } };
    }
    const subscription = skus.find((s) => s.skuId === skuId);
    if (!subscription) throw new DeskhandError('upstream', `the tenant no longer has a subscription to ${sku}`);
    if (subscription.consumed >= subscription.total) {
      throw new DeskhandError('upstream', `no free seat of ${sku}: ${subscription.consumed} of ${subscription.total} in use`, {
        details: { sku, skuId, total: subscription.total, consumed: subscription.consumed },
      });
    }
    await this.client.assignLicense(userId, skuId);
    return {
      summary: `Assigned ${sku} to ${user} (${subscription.total - subscription.consumed - 1} of ${subscription.total} seats left)`,
      data: { user, sku, userId, skuId, alreadyAssigned: false, seatsFree: subscription.total - subscription.consumed - 1 },
    };
  }

  private async removeLicense(args: Args, resolved: Args): Promise<ToolResult> {
    const userId = requireResolved(resolved, 'user', 'm365.remove_license');
    const skuId = requireResolved(resolved, 'sku', 'm365.remove_license');
    const { user, sku } = args as { user: string; sku: string };
    const { notAssigned } = await this.client.removeLicense(userId, skuId);
    return {
      summary: notAssigned ? `${user} did not hold ${sku}; nothing changed` : `Removed ${sku} from ${user}; the seat is free again`,
      data: { user, sku, userId, skuId, notAssigned },
    };
  }

  private async setAccountEnabled(args: Args, resolved: Args, enabled: boolean): Promise<ToolResult> {
    const tool = enabled ? 'm365.enable_account' : 'm365.disable_account';
    const userId = requireResolved(resolved, 'user', tool);
    const user = args['user']!;
    const current = await this.client.getUser(userId);
    if (!current) throw new DeskhandError('not_found', `the user ${user} (${userId}) no longer exists in this Microsoft 365 tenant`);
    const unchanged = current.accountEnabled === enabled;
    // Written even when unchanged: the read may lag (directory reads are eventually consistent).
    await this.client.setAccountEnabled(userId, enabled);
    const state = enabled ? 'enabled' : 'disabled';
    return {
      summary: unchanged ? `${user}'s account was already ${state}; nothing changed` : `${enabled ? 'Enabled' : 'Disabled'} sign-in for ${user}`,
      data: enabled ? { user, userId, accountEnabled: true, alreadyEnabled: unchanged } : { user, userId, accountEnabled: false, alreadyDisabled: unchanged },
    };
  }

  // ----- reconciliation ------------------------------------------------------------------------
  // Directory reads are eventually consistent: a read that lags says "not done", and the run that
  // follows finds the change made (Graph refuses the duplicate add, the license is held, ...). Only
  // revocations and password resets repeat for real, which is why they are judged by timestamps.

  /** Direct memberships (memberOf), the ones the write tools add and remove. */
  private async reconcileMembership(args: Args, resolved: Args, member: boolean): Promise<Reconciliation> {
    const tool = member ? 'm365.add_user_to_group' : 'm365.remove_user_from_group';
    const userId = requireResolved(resolved, 'user', tool);
    const groupId = requireResolved(resolved, 'group', tool);
    const exchangeGroup = await this.exchangeGroups.exchangeGroup(groupId, tool);
    const isMember = exchangeGroup
      ? await this.exchangeGroups.isMember(userId, exchangeGroup)
      : (await this.client.listUserGroups(userId)).some((g) => sameId(g.id, groupId));
    if (isMember !== member) return { done: false };
    const { user, group } = args as { user: string; group: string };
    if (exchangeGroup) {
      const through = { through: 'Exchange Online' };
      return reconciled(
        member
          ? { summary: `Added ${user} to ${group} through Exchange Online (confirmed after an interrupted attempt)`, data: { user, group, userId, groupId, alreadyMember: false, ...through } }
          : { summary: `Removed ${user} from ${group} through Exchange Online (confirmed after an interrupted attempt)`, data: { user, group, userId, groupId, notMember: false, ...through } },
      );
    }
    return reconciled(
      member
        ? { summary: `Added ${user} to ${group} (confirmed after an interrupted attempt)`, data: { user, group, userId, groupId, alreadyMember: false } }
        : { summary: `Removed ${user} from ${group} (confirmed after an interrupted attempt)`, data: { user, group, userId, groupId, notMember: false } },
    );
  }

  private async reconcileLicense(args: Args, resolved: Args, assigned: boolean): Promise<Reconciliation> {
    const tool = assigned ? 'm365.assign_license' : 'm365.remove_license';
    const userId = requireResolved(resolved, 'user', tool);
    const skuId = requireResolved(resolved, 'sku', tool);
    const held = await this.client.listUserLicenseDetails(userId);
    if (held.some((l) => sameId(l.skuId, skuId)) !== assigned) return { done: false };
    const { user, sku } = args as { user: string; sku: string };
    return reconciled(
      assigned
        ? { summary: `Assigned ${sku} to ${user} (confirmed after an interrupted attempt)`, data: { user, sku, userId, skuId, alreadyAssigned: false } }
        : { summary: `Removed ${sku} from ${user} (confirmed after an interrupted attempt); the seat is free again`, data: { user, sku, userId, skuId, notAssigned: false } },
    );
  }

  private async reconcileAccountEnabled(args: Args, resolved: Args, enabled: boolean): Promise<Reconciliation> {
    const userId = requireResolved(resolved, 'user', enabled ? 'm365.enable_account' : 'm365.disable_account');
    const state = await this.client.getUserState(userId);
    if (state?.accountEnabled !== enabled) return { done: false };
    const user = args['user']!;
    return reconciled({
      summary: `${enabled ? 'Enabled' : 'Disabled'} sign-in for ${user} (confirmed after an interrupted attempt)`,
      data: enabled ? { user, userId, accountEnabled: true, alreadyEnabled: false } : { user, userId, accountEnabled: false, alreadyDisabled: false },
    });
  }

  /** Revoking moves signInSessionsValidFromDateTime to the time of the revocation. */
  private async reconcileRevokeSessions(args: Args, resolved: Args, intentAt: Date): Promise<Reconciliation> {
    const userId = requireResolved(resolved, 'user', 'm365.revoke_sessions');
    const state = await this.client.getUserState(userId);
    if (!changedSince(state?.signInSessionsValidFromDateTime ?? null, intentAt)) return { done: false };
    return reconciled(revokedResult(args['user']!, userId));
  }

  /** A reset sets lastPasswordChangeDateTime. The password itself stays with the engine, which prepared it. */
  private async reconcileResetPassword(args: Args, resolved: Args, intentAt: Date): Promise<Reconciliation> {
    const userId = requireResolved(resolved, 'user', 'm365.reset_password');
    const state = await this.client.getUserState(userId);
    if (!changedSince(state?.lastPasswordChangeDateTime ?? null, intentAt)) return { done: false };
    return reconciled(passwordResetResult(args['user']!, userId));
  }

  /** Done when nothing but the password is left; a reset cut short is resumed by running it again. */
  private async reconcileResetMfa(args: Args, resolved: Args): Promise<Reconciliation> {
    const userId = requireResolved(resolved, 'user', 'm365.reset_mfa');
    const methods = await this.client.listAuthMethods(userId);
    if (methods.some((m) => !isPasswordMethod(m))) return { done: false };
    const user = args['user']!;
    return reconciled({
      summary: `${user} has no authentication method left besides the password (confirmed after an interrupted attempt); they will register MFA again at next sign-in`,
      data: { user, userId, kept: methods, alreadyReset: false },
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Reconciliation: reads that show whether a write's effect is already there
// ---------------------------------------------------------------------------------------------

function passwordResetResult(user: string, userId: string): ToolResult {
  return {
    summary: `Set a temporary password for ${user}; they must change it at next sign-in. It is shown once to the approving technician.`,
    data: { user, userId, forceChangePasswordNextSignIn: true },
  };
}

function revokedResult(user: string, userId: string): ToolResult {
  return { summary: `Signed ${user} out of every session; apps may take a few minutes to notice`, data: { user, userId, revoked: true } };
}

/** Marks a result as found by reconciliation, so that the step record tells it from a fresh run. */
function reconciled(result: ToolResult): Reconciliation {
  const data = typeof result.data === 'object' && result.data !== null ? result.data : {};
  return { done: true, result: { summary: result.summary, data: { ...data, reconciled: true } } };
}

/** Object ids are GUIDs; Graph may write them in either case. */
function sameId(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** A Graph timestamp at or after the intent, less the clock margin (see RECONCILE_CLOCK_MARGIN_MS). */
function changedSince(timestamp: string | null, intentAt: Date): boolean {
  if (timestamp === null) return false;
  const at = Date.parse(timestamp);
  return Number.isFinite(at) && at >= intentAt.getTime() - RECONCILE_CLOCK_MARGIN_MS;
}

// ---------------------------------------------------------------------------------------------

/** The tool's arguments, checked against its schema; a plan step that fails this was never valid. */
function validArgs(tool: string, args: Record<string, string>): Args {
  const definition: ToolDefinition | undefined = m365ToolByName(tool);
  if (!definition) throw new DeskhandError('bad_request', `${tool} is not a Microsoft 365 tool`);
  const parsed = definition.args.safeParse(args);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`).join('; ');
    throw new DeskhandError('invalid_plan', `${tool} was given invalid arguments (${issues})`);
  }
  return parsed.data;
}

function requireResolved(resolved: Args, name: string, tool: string): string {
  const id = resolved[name]?.trim();
  if (!id) {
    throw new DeskhandError('invalid_plan', `${tool} needs the resolved object id of its ${name} argument; the plan step has none`);
  }
  return id;
}

function resolveSku(partNumber: string, skus: readonly SubscribedSku[]): { id: string } | { problem: string } {
  const wanted = partNumber.toLowerCase();
  const sku = skus.find((s) => s.skuPartNumber.toLowerCase() === wanted);
  if (sku) return { id: sku.skuId };
  const available = skus.map((s) => s.skuPartNumber).join(', ') || 'none';
  return { problem: `the tenant has no subscription to ${partNumber} (it has: ${available})` };
}

function deletionOrder(method: AuthMethod): number {
  if (method.type !== 'phoneAuthenticationMethod') return 0;
  // Graph's fixed phone method ids: alternate mobile, office, then mobile.
  if (method.id === 'b6332ec1-7057-4abe-9331-3d72feddfe41') return 1;
  if (method.id === 'e37fc753-ff3b-4958-9484-eaa9425c82bc') return 2;
  return 3;
}

/** Graph's refusal to delete a user's default MFA method (400 "Cannot delete default method ..."). */
function isDefaultMethodRefusal(error: unknown): boolean {
  const graphError = graphErrorOf(error);
  return graphError?.status === 400 && /default method/i.test(graphError.message);
}

function methodName(method: AuthMethod): string {
  return method.type.replace(/AuthenticationMethod$/, '');
}

function describeUser(user: DirectoryUser): string {
  const role = [user.jobTitle, user.department].filter(Boolean).join(', ') || 'no title or department';
  const account = user.accountEnabled === false ? 'account disabled' : user.accountEnabled ? 'account enabled' : 'account state unknown';
  const signIn = user.lastSignInDateTime ? `last sign-in ${user.lastSignInDateTime}` : 'last sign-in unknown';
  return `${user.displayName} <${user.userPrincipalName}>: ${role}; ${account}; ${signIn}`;
}

function describeGroup(group: DirectoryGroup): string {
  const notes = [group.kind.replace('_', ' '), group.privileged ? 'privileged' : null].filter(Boolean).join(', ');
  return `${group.displayName} (${notes})`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function listed(items: readonly string[]): string {
  return items.length > 0 ? `: ${items.join('; ')}` : '';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
