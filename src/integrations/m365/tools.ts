import { z } from 'zod';
import type { ArgumentObject, ToolDefinition, ToolKind } from '../../core/tool.ts';

/**
 * The Microsoft 365 tool catalog (TOOLS.md). Names, kinds and arguments are a contract: plans,
 * policies, evaluation files and the audit log use them. Arguments are the human-readable values a
 * technician reads in a note (a UPN, a group's display name, a SKU part number); the object ids they
 * resolve to travel beside them in the plan step.
 */

/**
 * A UPN is shaped like an email address. Entra allows `#` (guest UPNs `x_y.com#EXT#@tenant...`),
 * apostrophes and the other atext characters in the local part; the domain is a DNS name.
 */
const UPN_PATTERN =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;

export const upnSchema = z
  .string()
  .max(320, 'a UPN is at most 320 characters')
  .regex(UPN_PATTERN, 'expected a user principal name such as alex.wilber@contoso.example');

/** Entra group display names: 1–256 characters, not only whitespace. */
export const groupNameSchema = z
  .string()
  .max(256, 'a group display name is at most 256 characters')
  .regex(/\S/, 'expected a group display name such as SG-App-Zendesk');

/** SKU part numbers look like `SPE_E3`, `O365_BUSINESS_PREMIUM`, `Microsoft_365_Copilot`. */
export const skuPartNumberSchema = z
  .string()
  .max(100, 'a SKU part number is at most 100 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'expected a SKU part number such as SPE_E3');

export const querySchema = z.string().max(256, 'a query is at most 256 characters').regex(/\S/, 'expected a non-empty query');

const userArgs = z.strictObject({ user: upnSchema });
const userGroupArgs = z.strictObject({ user: upnSchema, group: groupNameSchema });
const userSkuArgs = z.strictObject({ user: upnSchema, sku: skuPartNumberSchema });
const queryArgs = z.strictObject({ query: querySchema });
const noArgs = z.strictObject({});

const USER: Readonly<Record<string, ArgumentObject>> = { user: 'user' };
const USER_GROUP: Readonly<Record<string, ArgumentObject>> = { user: 'user', group: 'group' };
const USER_SKU: Readonly<Record<string, ArgumentObject>> = { user: 'user', sku: 'sku' };
const QUERY: Readonly<Record<string, ArgumentObject>> = { query: 'text' };

function tool(
  name: string,
  kind: ToolKind,
  description: string,
  args: z.ZodType<Record<string, string>>,
  argObjects: Readonly<Record<string, ArgumentObject>>,
  options: { secretResult?: boolean } = {},
): ToolDefinition {
  return { name, integration: 'm365', kind, description, args, argObjects, ...(options.secretResult ? { secretResult: true } : {}) };
}

export const m365Tools: ToolDefinition[] = [
  tool(
    'm365.get_user',
    'read',
    "A user's profile: display name, department, job title, whether the account is enabled, last sign-in.",
    userArgs,
    USER,
  ),
  tool(
    'm365.find_user',
    'read',
    'Users whose display name, given name, surname or UPN starts with the query.',
    queryArgs,
    QUERY,
  ),
  tool('m365.get_manager', 'read', "The user's direct manager, or none when no manager is set.", userArgs, USER),
  tool(
    'm365.list_user_groups',
    'read',
    'Groups the user is a direct member of, with their kind (security, distribution, shared mailbox, Microsoft 365) and whether they are privileged.',
    userArgs,
    USER,
  ),
  tool('m365.list_user_licenses', 'read', "The SKU part numbers of the user's assigned licenses.", userArgs, USER),
  tool('m365.list_licenses', 'read', "The tenant's subscribed SKUs with seats bought and seats in use.", noArgs, {}),
  tool('m365.list_auth_methods', 'read', "The user's registered authentication methods.", userArgs, USER),
  tool('m365.find_group', 'read', 'Groups whose display name, description or mail matches the query.', queryArgs, QUERY),
  tool('m365.add_user_to_group', 'write', 'Add the user to the group as a member.', userGroupArgs, USER_GROUP),
  tool('m365.remove_user_from_group', 'write', 'Remove the user from the group.', userGroupArgs, USER_GROUP),
  tool(
    'm365.reset_password',
    'write',
    'Set a generated temporary password that must be changed at next sign-in. The password is shown once to the approving technician and never written anywhere else.',
    userArgs,
    USER,
    { secretResult: true },
  ),
  tool('m365.revoke_sessions', 'write', 'Sign the user out of every session and device.', userArgs, USER),
  tool(
    'm365.reset_mfa',
    'write',
    "Delete the user's authentication methods other than the password, so that they register MFA again.",
    userArgs,
    USER,
  ),
  tool('m365.assign_license', 'write', 'Assign a license; fails cleanly when no seat is free.', userSkuArgs, USER_SKU),
  tool('m365.remove_license', 'write', 'Remove a license from the user.', userSkuArgs, USER_SKU),
  tool('m365.disable_account', 'write', 'Block sign-in for the account.', userArgs, USER),
  tool('m365.enable_account', 'write', 'Allow sign-in for the account.', userArgs, USER),
];

const toolsByName: ReadonlyMap<string, ToolDefinition> = new Map(m365Tools.map((t) => [t.name, t]));

export function m365ToolByName(name: string): ToolDefinition | undefined {
  return toolsByName.get(name);
}
