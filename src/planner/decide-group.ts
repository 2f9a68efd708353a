import type { DirectoryGroup, DirectoryUser } from '../core/directory.ts';
import { describeAllowed, describeRelations, mayAsk, relationsOf, sameUpn, who } from './authority.ts';
import type { PlanningContext } from './context.ts';
import { type Decision, escalate, noAction, step, steps } from './decision.ts';
import type { ResourceAction } from './intent.ts';
import { coreOfDisplayName, type GroupResource } from './resources.ts';
import { cite, type Reporter } from './runbook-rules.ts';
import { acronym, words } from './text.ts';
import { M365 } from './tool-names.ts';

/**
 * Asks to join or leave a group: an application's security group, a shared mailbox's group, a
 * distribution list. The runbook decides whether the helpdesk may grant it at all, for whom, and
 * with whose approval; the tenant decides whether anything needs to change.
 */
export interface GroupAsk {
  action: ResourceAction;
  resource: GroupResource;
  subject: DirectoryUser;
}

/**
 * Who may ask when the runbook does not say: the person themselves or their manager. A manager
 * asking for their report is the everyday case, and the manager is the one who would approve.
 */
const DEFAULT_ASKERS: readonly Reporter[] = ['self', 'manager'];

export function inDepartment(user: DirectoryUser, department: string): boolean {
  const mine = words(user.department ?? '');
  const named = words(department);
  if (mine.length === 0 || named.length === 0) return false;
  return mine.join(' ') === named.join(' ') || acronym(user.department ?? '') === named.join('') || named.every((w) => mine.includes(w));
}

/** "DL-Sales" is the Sales department's list. */
function isDepartmentList(groupName: string, user: DirectoryUser): boolean {
  const core = coreOfDisplayName(groupName);
  return core !== '' && inDepartment(user, core);
}

/** "Alex Wilber <alex.wilber@contoso.example> (Marketing)" */
function person(user: DirectoryUser): string {
  return user.department ? `${who(user)} (${user.department})` : who(user);
}

/** "SG-App-Zendesk (Zendesk)", or just the name when that is all there is to say. */
function groupLabel(resource: GroupResource): string {
  return resource.label.toLowerCase() === resource.name.toLowerCase() ? resource.name : `${resource.name} (${resource.label})`;
}

function isMember(groups: readonly DirectoryGroup[], resource: GroupResource): boolean {
  return groups.some((g) => g.id === resource.group?.id || g.displayName.toLowerCase() === resource.name.toLowerCase());
}

function membership(resource: GroupResource, subject: DirectoryUser, member: boolean): string {
  return `${person(subject)} is ${member ? 'already' : 'not'} a member of ${groupLabel(resource)}.`;
}

/** Administrative groups are never granted or changed by the helpdesk, whatever else is true. */
function administrativeRefusal(ctx: PlanningContext, resource: GroupResource, action: ResourceAction): Decision | null {
  if (!resource.group?.privileged && !resource.forbidden) return null;
  const rule = resource.forbidden ?? ctx.rules.forbidden.find((f) => f.administrative) ?? null;
  const to = rule?.escalateTo ? `; escalate to ${rule.escalateTo}` : '';
  return escalate(`${resource.name} is an administrative group${to}`, [
    `${resource.name} is an administrative group${resource.group?.privileged ? ' (role-assignable in Entra ID)' : ''}; the helpdesk never ${action === 'grant' ? 'adds anyone to it' : 'changes its members'}.`,
    ...(rule ? [cite(rule.line)] : []),
  ]);
}

/** Who may ask for this group for this person, and the runbook's words for it. */
function askers(resource: GroupResource, subject: DirectoryUser): { allowed: readonly Reporter[]; why: string[] } {
  const list = resource.list;
  if (!list) return { allowed: DEFAULT_ASKERS, why: [] };
  const own = isDepartmentList(resource.name, subject);
  return {
    allowed: own ? list.ownDepartment : list.otherLists,
    why: [
      `${resource.name} ${own ? 'is' : 'is not'} the list of ${subject.displayName}'s own department (${subject.department ?? 'none set'}).`,
      cite(list.ruleLine ?? list.line),
    ],
  };
}

/** The runbook's conditions on this group, or the escalation they lead to. */
function ruleRefusal(ctx: PlanningContext, resource: GroupResource, subject: DirectoryUser): Decision | null {
  if (!resource.rule && !resource.list) {
    return escalate(`no runbook covers ${groupLabel(resource)}`, [
      `${resource.name} exists in ${ctx.clientName}'s tenant, but no runbook says the helpdesk grants it.`,
      ...ctx.rules.catchAll.map(cite),
    ]);
  }
  const rule = resource.rule;
  if (rule?.alwaysEscalate) return escalate(`the runbook sends every ${resource.label} request to a technician`, [cite(rule.line)]);
  if (rule?.department && !inDepartment(subject, rule.department)) {
    return escalate(`${resource.label} is for the ${rule.department} department only`, [
      cite(rule.line),
      `${person(subject)} is not in ${rule.department}.`,
    ]);
  }
  return null;
}

/** Refusal when the requester is not someone the runbook lets ask for this person. */
async function authorityRefusal(ctx: PlanningContext, resource: GroupResource, subject: DirectoryUser, verb: string): Promise<{ refusal: Decision | null; onBehalf: string[] }> {
  const subjectManager = await ctx.managerOf(subject);
  const relations = relationsOf(ctx.requester, subject, subjectManager);
  const { allowed, why } = askers(resource, subject);
  const onBehalf = relations.has('self') ? [] : [`${describeRelations(relations, ctx.requester, subject)}.`];
  if (mayAsk(relations, allowed)) return { refusal: null, onBehalf: [...onBehalf, ...why] };
  const summary = relations.has('self')
    ? `${subject.displayName} may not ${verb} ${resource.name} on their own request`
    : `${ctx.requester.displayName} may not ask to ${verb} ${resource.name} for ${subject.displayName}`;
  return {
    refusal: escalate(summary, [
      ...(relations.has('self') ? [] : onBehalf),
      ...why,
      `Only ${describeAllowed(allowed, subject, subjectManager)} may ask for this.`,
    ]),
    onBehalf,
  };
}

async function grant(ctx: PlanningContext, resource: GroupResource, subject: DirectoryUser): Promise<Decision> {
  if (!resource.group) {
    return escalate(`the runbook names ${resource.name}, which does not exist in the tenant`, [
      ...(resource.rule ? [cite(resource.rule.line)] : []),
      `No group named ${resource.name} was found in ${ctx.clientName}'s tenant; a technician must check the runbook or the tenant.`,
    ]);
  }
  if (isMember(await ctx.groupsOf(subject), resource)) {
    const mine = sameUpn(ctx.requester, subject);
    return noAction(
      `${subject.displayName} already has ${resource.label}`,
      [membership(resource, subject, true)],
      `${mine ? 'You already have' : `${subject.displayName} already has`} ${resource.label}: ${mine ? 'your' : 'their'} account is a member of ${resource.name}, so nothing needed changing. If it still does not work, reply to this ticket and a technician will look into it.`,
    );
  }
  const refused = ruleRefusal(ctx, resource, subject);
  if (refused) return refused;
  if (subject.accountEnabled === false) {
    return escalate(`${subject.displayName}'s account is disabled`, [`${person(subject)} has a disabled account; access is not granted to a disabled account.`]);
  }
  const { refusal, onBehalf } = await authorityRefusal(ctx, resource, subject, 'join');
  return refusal ?? grantSteps(ctx, resource, subject, onBehalf);
}

async function grantSteps(ctx: PlanningContext, resource: GroupResource, subject: DirectoryUser, onBehalf: string[]): Promise<Decision> {
  const rule = resource.rule;
  const reasons = [membership(resource, subject, false), ...(rule ? [cite(rule.line)] : []), ...onBehalf];
  let managerApproval = false;
  if (rule?.managerApproval) {
    // The engine asks the requester's direct manager; without one the approval cannot happen.
    const approver = await ctx.managerOf(ctx.requester);
    if (!approver) {
      return escalate(`${resource.label} needs the requester's manager to approve, and ${ctx.requester.displayName} has no manager in the directory`, [
        cite(rule.line),
        `${person(ctx.requester)} has no manager set in ${ctx.clientName}'s directory, so nobody can give the approval the runbook asks for.`,
      ]);
    }
    managerApproval = true;
    reasons.push(`The runbook asks for the requester's manager to approve: ${who(approver)} will be asked.`);
  }
  const why = rule ? `the runbook grants ${resource.label} through ${resource.name}` : `the runbook lists ${resource.name}`;
  const reason = `${subject.displayName} asked for ${resource.label}; ${why}${managerApproval ? "; the requester's manager must approve" : ''}.`;
  return steps(`add ${subject.displayName} to ${groupLabel(resource)}`, reasons, [
    step(M365.addToGroup, { user: subject.userPrincipalName, group: resource.name }, reason, managerApproval),
  ]);
}

async function withdraw(ctx: PlanningContext, resource: GroupResource, subject: DirectoryUser): Promise<Decision> {
  if (!resource.group || !isMember(await ctx.groupsOf(subject), resource)) {
    const mine = sameUpn(ctx.requester, subject);
    return noAction(
      `${subject.displayName} is not in ${resource.name}`,
      [membership(resource, subject, false)],
      `${mine ? 'Your account is' : `${subject.displayName}'s account is`} not a member of ${resource.name}, so there was nothing to remove.`,
    );
  }
  const refused = ruleRefusal(ctx, resource, subject);
  if (refused) return refused;
  const { refusal, onBehalf } = await authorityRefusal(ctx, resource, subject, 'leave');
  if (refusal) return refusal;
  const reasons = [membership(resource, subject, true), ...(resource.rule ? [cite(resource.rule.line)] : []), ...onBehalf];
  return steps(`remove ${subject.displayName} from ${groupLabel(resource)}`, reasons, [
    step(M365.removeFromGroup, { user: subject.userPrincipalName, group: resource.name }, `Asked to remove ${subject.displayName} from ${groupLabel(resource)}.`),
  ]);
}

export async function decideGroupAsk(ctx: PlanningContext, ask: GroupAsk): Promise<Decision> {
  const refusal = administrativeRefusal(ctx, ask.resource, ask.action);
  if (refusal) return refusal;
  return ask.action === 'grant' ? grant(ctx, ask.resource, ask.subject) : withdraw(ctx, ask.resource, ask.subject);
}
