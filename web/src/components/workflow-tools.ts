import { STEP_TEMPLATES } from '../../../src/core/workflows.ts';

/**
 * What a workflow's step editor offers. The tools come from the API (the policy tables of the
 * MSP's integrations: every write tool deskhand may call). Their argument names do not: no route
 * of the API lists a tool's arguments, so the few write tools' arguments are written down here,
 * with the kind of object each names (which templates fit it). The API checks every step against
 * the real catalog on save, so a tool missing here is still usable (its arguments typed by name)
 * and a mistake here is refused with a message that lists the tool's real arguments.
 * test/dashboard/planner.test.ts compares this list with the catalog, so it cannot drift unseen.
 */

export type ArgumentKind = 'user' | 'group' | 'sku' | 'text';

export const TOOL_ARGUMENTS: Readonly<Record<string, Readonly<Record<string, ArgumentKind>>>> = {
  'm365.add_user_to_group': { user: 'user', group: 'group' },
  'm365.remove_user_from_group': { user: 'user', group: 'group' },
  'm365.reset_password': { user: 'user' },
  'm365.revoke_sessions': { user: 'user' },
  'm365.reset_mfa': { user: 'user' },
  'm365.assign_license': { user: 'user', sku: 'sku' },
  'm365.remove_license': { user: 'user', sku: 'sku' },
  'm365.disable_account': { user: 'user' },
  'm365.enable_account': { user: 'user' },
};

/** The templates, in the API's order: what the planner fills from the request. */
export const TEMPLATES: readonly string[] = Object.keys(STEP_TEMPLATES);

/** The templates that fit an argument: one naming a user takes a person, a group a group, a licence a licence; free text any. */
export function templatesFor(kind: ArgumentKind | undefined): string[] {
  if (kind === undefined || kind === 'text') return [...TEMPLATES];
  return TEMPLATES.filter((template) => STEP_TEMPLATES[template] === kind);
}

/** A tool's argument names: the known ones, else those the step already has. */
export function argumentNames(tool: string, args: Readonly<Record<string, string>>): string[] {
  const known = TOOL_ARGUMENTS[tool];
  return known ? Object.keys(known) : Object.keys(args);
}
