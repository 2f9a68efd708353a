import type { DirectoryUser } from '../core/directory.ts';
import { describeAllowed, describeRelations, mayAsk, relationsOf, who } from './authority.ts';
import type { PlanningContext } from './context.ts';
import { type Decision, escalate, noAction, step, steps } from './decision.ts';
import type { AccountIntent } from './intent.ts';
import { cite, type ProcedureRule, type Reporter } from './runbook-rules.ts';
import { M365, type M365WriteTool } from './tool-names.ts';

/**
 * Requests about an account itself: a forgotten password, a lost phone, a suspected compromise, a
 * session left on a shared computer, a leaver, a returner. Each follows the client's runbook
 * procedure: the tools it names, the people it lets report it, the notes it asks for.
 */
export interface AccountAsk {
  intent: AccountIntent;
  subject: DirectoryUser;
}

const LABELS: Readonly<Record<AccountIntent, string>> = {
  password: 'forgotten password',
  mfa: 'lost or replaced phone (MFA)',
  compromise: 'suspected account compromise',
  shared_computer: 'still signed in on a shared computer',
  leaver: 'leaver',
  returner: 'returner',
};

const STEP_SUMMARY: Readonly<Partial<Record<M365WriteTool, string>>> = {
  [M365.resetPassword]: 'reset the password',
  [M365.revokeSessions]: 'revoke all sessions',
  [M365.resetMfa]: 'reset MFA',
  [M365.disableAccount]: 'disable the account',
  [M365.enableAccount]: 'enable the account',
};

/**
 * Who may report it when the runbook does not say. A password is reset for the account holder
 * only (a colleague asking is how account takeovers start); a lost phone or a compromise may also
 * be reported by the manager (the steps lock the account down, they hand nothing over); leavers
 * and returners come from HR or the manager, never from the person.
 */
const DEFAULT_REPORTERS: Readonly<Record<AccountIntent, readonly Reporter[]>> = {
  password: ['self'],
  mfa: ['self', 'manager'],
  compromise: ['self', 'manager'],
  shared_computer: ['self', 'manager'],
  leaver: ['hr', 'manager'],
  returner: ['hr', 'manager'],
};

const STEP_PURPOSE: Readonly<Record<M365WriteTool, string>> = {
  [M365.resetPassword]: 'Set a temporary password that must be changed at next sign-in; the approving technician hands it over by phone or in person',
  [M365.revokeSessions]: 'Sign the account out of every session and device',
  [M365.resetMfa]: 'Remove the registered authentication methods other than the password, so they can be registered again',
  [M365.disableAccount]: 'Block sign-in',
  [M365.enableAccount]: 'Allow sign-in again',
  [M365.addToGroup]: 'Add to group',
  [M365.removeFromGroup]: 'Remove from group',
  [M365.assignLicense]: 'Assign license',
  [M365.removeLicense]: 'Remove license',
};

/** "leaving at the end of the week", "last day is Friday": the leaver is not gone yet. */
const LATER = /\b(tomorrow|next (week|month)|end of (the )?(week|month)|(on|this|next) (monday|tuesday|wednesday|thursday|friday|saturday|sunday)|is (monday|tuesday|wednesday|thursday|friday))\b/i;

function procedureFor(ctx: PlanningContext, intent: AccountIntent): ProcedureRule | null {
  const candidates = ctx.rules.procedures.filter((p) => p.intent === intent);
  return candidates.find((p) => !p.escalate) ?? candidates[0] ?? null;
}

function procedureReasons(procedure: ProcedureRule): string[] {
  return [
    cite(procedure.line),
    ...procedure.notes.map((note) => `As the runbook asks, for the note: ${note}.`),
    ...procedure.related.map(cite),
  ];
}

/** Nothing to change: the account is already in the state the procedure would leave it in. */
function alreadyDone(ctx: PlanningContext, intent: AccountIntent, subject: DirectoryUser): Decision | null {
  const mine = ctx.requester.userPrincipalName === subject.userPrincipalName;
  if (intent === 'leaver' && subject.accountEnabled === false) {
    return noAction(`${subject.displayName}'s account is already disabled`, [`${who(subject)} already has sign-in blocked (account disabled).`], `${subject.displayName}'s account is already disabled, so sign-in is already blocked and nothing needed changing.`);
  }
  if (intent === 'returner' && subject.accountEnabled !== false) {
    return noAction(`${subject.displayName}'s account is already enabled`, [`${who(subject)} has an enabled account.`], `${mine ? 'Your account is' : `${subject.displayName}'s account is`} already enabled, so nothing needed changing. If signing in still fails, reply to this ticket and a technician will look into it.`);
  }
  return null;
}

async function toolsToRun(ctx: PlanningContext, procedure: ProcedureRule, subject: DirectoryUser): Promise<{ tools: M365WriteTool[]; notes: string[] }> {
  if (!procedure.tools.includes(M365.resetMfa)) return { tools: procedure.tools, notes: [] };
  const methods = await ctx.authMethodsOf(subject);
  const removable = methods.filter((m) => !/^password/i.test(m.type));
  if (removable.length > 0) {
    return { tools: procedure.tools, notes: [`Registered methods besides the password: ${removable.map((m) => m.type.replace(/AuthenticationMethod$/, '')).join(', ')}.`] };
  }
  return {
    tools: procedure.tools.filter((t) => t !== M365.resetMfa),
    notes: [`${who(subject)} has no authentication method besides the password, so there is nothing to remove; they can register at next sign-in.`],
  };
}

export async function decideAccountAsk(ctx: PlanningContext, ask: AccountAsk): Promise<Decision> {
  const { intent, subject } = ask;
  const label = LABELS[intent];
  const procedure = procedureFor(ctx, intent);
  if (!procedure) {
    return escalate(`no runbook of ${ctx.clientName} covers this (${label})`, [
      `The request reads as: ${label}, for ${who(subject)}; no runbook of ${ctx.clientName} says what the helpdesk does for it.`,
      ...ctx.rules.catchAll.map(cite),
    ]);
  }
  if (procedure.escalate) return escalate(`the runbook hands this to a technician (${label})`, procedureReasons(procedure));
  const done = alreadyDone(ctx, intent, subject);
  if (done) return done;
  if (subject.accountEnabled === false && intent !== 'returner') {
    return escalate(`${subject.displayName}'s account is disabled`, [
      `${who(subject)} has a disabled account; whether it comes back is for HR or their manager to report.`,
    ]);
  }
  const subjectManager = await ctx.managerOf(subject);
  const relations = relationsOf(ctx.requester, subject, subjectManager);
  // A leaver or returner is never the one who reports it.
  if (intent === 'leaver' || intent === 'returner') relations.delete('self');
  const allowed = procedure.reporters ?? DEFAULT_REPORTERS[intent];
  if (!mayAsk(relations, allowed)) {
    return escalate(`${ctx.requester.displayName} may not report this for ${subject.displayName} (${label})`, [
      `${describeRelations(relations, ctx.requester, subject)}.`,
      `Only ${describeAllowed(allowed, subject, subjectManager)} may report this${procedure.reporters ? ', as the runbook says' : ''}.`,
      cite(procedure.line),
    ]);
  }
  const { tools, notes } = await toolsToRun(ctx, procedure, subject);
  if (intent === 'leaver' && LATER.test(ctx.text)) {
    notes.push('The request mentions a later date: the runbook acts on the leaving day, so approve and run this plan on that day.');
  }
  if (tools.length === 0) {
    return noAction(`nothing to change for ${subject.displayName}`, notes, `${subject.displayName} has nothing registered that needs removing, so nothing needed changing; the next sign-in will ask to register again.`);
  }
  const reasons = [
    `Read as: ${label}, for ${who(subject)}${subject.department ? ` (${subject.department})` : ''}.`,
    ...(relations.has('self') ? [] : [`${describeRelations(relations, ctx.requester, subject)}.`]),
    ...procedureReasons(procedure),
    ...notes,
  ];
  const planned = tools.map((tool) => step(tool, { user: subject.userPrincipalName }, `${STEP_PURPOSE[tool]} (${label}; runbook "${procedure.line.runbook}")`));
  const summary = `${tools.map((t) => STEP_SUMMARY[t] ?? t).join(' and ')} for ${subject.displayName} (${label})`;
  const securityNote = procedure.notes.length > 0 ? `; ${procedure.notes.join('; ')}` : '';
  return steps(`${summary}${securityNote}`, reasons, planned);
}
