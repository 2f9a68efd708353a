import type { DirectoryUser } from '../core/directory.ts';
import type { PlanningContext } from './context.ts';
import { type Decision, escalate, step, steps } from './decision.ts';
import type { Mention } from './resources.ts';
import type { PeopleMentioned } from './subject.ts';
import type { PlannerWorkflow } from './types.ts';

/**
 * A workflow's structured steps, applied by the built-in planner: the MSP wrote the recipe ("new
 * phone: reset MFA for {requester}, revoke their sessions"), so when its trigger matches, the plan
 * is its steps with the templates filled from the request. A template the request does not fill
 * (no person named, no group named) escalates with the workflow's name; an administrative group is
 * never changed, whatever a workflow says. The tool policies and approvals apply to the plan as to
 * any other.
 */
export async function applyWorkflow(ctx: PlanningContext, workflow: PlannerWorkflow, mentions: readonly Mention[], people: PeopleMentioned): Promise<Decision> {
  const person = people.mentions.find((m) => m.role === 'subject')?.user ?? people.people[0] ?? null;
  const group = mentions.find((m) => m.resource.kind === 'group' && m.resource.group !== null)?.resource;
  const licence = mentions.find((m) => m.resource.kind === 'sku' && m.resource.sku !== null)?.resource;
  const fill: Record<string, () => string | null> = {
    '{requester}': () => ctx.requester.userPrincipalName,
    '{person named in the request}': () => person?.userPrincipalName ?? null,
    '{group named in the request}': () => (group?.kind === 'group' ? group.name : null),
    '{licence named in the request}': () => (licence?.kind === 'sku' ? licence.partNumber : null),
  };
  const planned = [];
  const missing = new Set<string>();
  for (const s of workflow.steps) {
    const args: Record<string, string> = {};
    for (const [name, value] of Object.entries(s.args)) {
      const template = fill[value];
      const filled = template ? template() : value;
      if (filled === null) missing.add(value);
      else args[name] = filled;
    }
    planned.push({ tool: s.tool, args });
  }
  const source = `Workflow "${workflow.name}" matches the request; its steps are applied.`;
  if (missing.size > 0) {
    return escalate(`the workflow "${workflow.name}" needs what the request does not say`, [
      source,
      `The request names no ${[...missing].map((m) => m.replace(/[{}]/g, '').replace(/ named in the request$/, '')).join(' and no ')} for ${[...missing].join(', ')}.`,
    ]);
  }
  for (const p of planned) {
    const name = p.args['group'];
    if (!name) continue;
    const found = ctx.groups.find((g) => g.displayName.toLowerCase() === name.toLowerCase());
    if (found?.privileged) {
      return escalate(`the workflow "${workflow.name}" would change an administrative group`, [source, `${found.displayName} is an administrative group; the helpdesk never changes its members, whatever a workflow says.`]);
    }
  }
  const who = (upn: string | undefined): string => {
    const known: DirectoryUser | null = upn?.toLowerCase() === ctx.requester.userPrincipalName.toLowerCase() ? ctx.requester : person && upn?.toLowerCase() === person.userPrincipalName.toLowerCase() ? person : null;
    return known?.displayName ?? upn ?? '';
  };
  const reasons = [source, ...(workflow.instructions.trim() ? [`The workflow's instructions: ${workflow.instructions.trim()}`] : [])];
  return steps(
    `apply the workflow "${workflow.name}"`,
    reasons,
    planned.map((p) => step(p.tool, p.args, `Step of the workflow "${workflow.name}"${p.args['user'] ? ` for ${who(p.args['user'])}` : ''}.`)),
  );
}
