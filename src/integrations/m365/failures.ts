import { DeskhandError } from '../../core/errors.ts';
import { type GraphClient, graphErrorOf } from './client.ts';
import { fixFor, type Need, toolRequirement } from './requirements.ts';

/**
 * Graph's refusals that no retry can fix, told as what they are and what an admin does about them:
 * a permission or Entra role the app lacks in this tenant (403 Authorization_RequestDenied), and an
 * object mastered in an on-premises Active Directory (400 "on-premises mastered Directory Sync
 * objects"). The error stays non-retryable (`upstream`): the request ends with a note naming the fix
 * and an honest reply, never a silent retry.
 */

const SYNCED = /on-premises mastered Directory Sync objects/i;

/** The refusal of a write tool, explained; anything else is returned as it was. */
export async function explainRefusal(client: GraphClient, tool: string, args: Record<string, string>, resolved: Record<string, string>, error: unknown): Promise<unknown> {
  // A step that wraps Graph's answer (an MFA reset stopped half-way) keeps it as the cause.
  const graphError = graphErrorOf(error) ?? (error instanceof Error ? graphErrorOf(error.cause) : null);
  if (!graphError) return error;
  const original = `Graph: HTTP ${graphError.status} ${graphError.code}${graphError.message ? ` "${graphError.message}"` : ''}`;
  const details = { status: graphError.status, code: graphError.code };
  if (graphError.status === 400 && SYNCED.test(graphError.message)) {
    return new DeskhandError('upstream', `${syncedMessage(tool, args)} (${original})`, { details: { ...details, reason: 'synced_from_on_premises' }, cause: error });
  }
  if (graphError.status === 403 && graphError.code === 'Authorization_RequestDenied') {
    const missing = await missingFor(client, tool, args, resolved);
    return new DeskhandError('upstream', `Microsoft 365 refused ${tool}${args['user'] ? ` for ${args['user']}` : ''}: ${missing} (${original}). Run \`deskhand doctor\` to see what this tenant's app is missing.`, {
      details: { ...details, reason: 'missing_permission' },
      cause: error,
    });
  }
  return error;
}

function syncedMessage(tool: string, args: Record<string, string>): string {
  if (tool === 'm365.add_user_to_group' || tool === 'm365.remove_user_from_group') {
    return `the group ${args['group']} is synced from the client's on-premises Active Directory, so Microsoft 365 refuses to change its members: change the membership there (Active Directory Users and Computers); it reaches Microsoft 365 at the next directory sync`;
  }
  const what = tool === 'm365.reset_password' ? 'reset the password' : tool === 'm365.disable_account' ? 'disable the account' : tool === 'm365.enable_account' ? 'enable the account' : 'make the change';
  return `the account ${args['user'] ?? ''} is synced from the client's on-premises Active Directory, so Microsoft 365 refuses to change it: ${what} there (Active Directory Users and Computers, or password writeback through self-service password reset); it reaches Microsoft 365 at the next directory sync`;
}

/** What the tool needs that the app most likely lacks, with the fix; looks at the target when that decides it. */
async function missingFor(client: GraphClient, tool: string, args: Record<string, string>, resolved: Record<string, string>): Promise<string> {
  const requirement = toolRequirement(tool);
  if (!requirement) return 'the app lacks a permission or Entra role this needs';
  const need = (name: string): Need | undefined => requirement.needs.find((n) => n.name === name);
  if (tool === 'm365.reset_password') {
    const admin = await administratorGroup(client, resolved['user']);
    const privileged = need('Privileged Authentication Administrator');
    if (admin && privileged) {
      return `${args['user']} is an administrator (a member of the role-assignable group ${admin}); resetting an administrator's password needs the Entra role Privileged Authentication Administrator on the app. Fix: ${fixFor(privileged)} — only if administrators' passwords are in scope (the role can reset any user's credentials), otherwise reset it by hand`;
    }
    const role = need('User Administrator');
    const permission = need('User-PasswordProfile.ReadWrite.All');
    return `a password reset needs the Entra role User Administrator assigned to the app's service principal and the Graph application permission User-PasswordProfile.ReadWrite.All. Fix: ${[role, permission].filter((n): n is Need => n !== undefined).map(fixFor).join('; and ')}`;
  }
  if (tool === 'm365.add_user_to_group' || tool === 'm365.remove_user_from_group') {
    const roleAssignable = need('RoleManagement.ReadWrite.Directory');
    if (roleAssignable && (await isRoleAssignable(client, resolved['group']))) {
      return `${args['group']} is a role-assignable group; changing its members needs the Graph application permission RoleManagement.ReadWrite.Directory, which also lets the app assign any Entra role. Fix: ${fixFor(roleAssignable)} — only if such groups are in scope, otherwise change it by hand`;
    }
  }
  const required = requirement.needs.filter((n) => n.level === 'required');
  return `the tool needs ${required.map((n) => `${n.kind === 'role' ? 'the Entra role' : 'the Graph application permission'} ${n.name}`).join(', ')}. Fix: ${required.map(fixFor).join('; ')}`;
}

/** The role-assignable group that makes the user an administrator, or null (also when it cannot be read). */
async function administratorGroup(client: GraphClient, userId: string | undefined): Promise<string | null> {
  if (!userId) return null;
  try {
    return (await client.listUserGroups(userId)).find((g) => g.privileged)?.displayName ?? null;
  } catch {
    return null;
  }
}

async function isRoleAssignable(client: GraphClient, groupId: string | undefined): Promise<boolean> {
  if (!groupId) return false;
  try {
    return (await client.listGroups()).some((g) => g.id.toLowerCase() === groupId.toLowerCase() && g.privileged);
  } catch {
    return false;
  }
}
