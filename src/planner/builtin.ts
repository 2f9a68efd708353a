import type { DirectoryUser } from '../core/directory.ts';
import type { ProposedPlan } from '../core/plan.ts';
import { PlanningContext } from './context.ts';
import { decideAccountAsk } from './decide-account.ts';
import { decideGroupAsk } from './decide-group.ts';
import { decideLicenseAsk } from './decide-license.ts';
import { combine, type Decision, escalate } from './decision.ts';
import { identifyRequester } from './requester.ts';
import { stopBeforeAsks } from './stops.ts';
import { actionFor, cueWords, type IntentReading, readIntents, type ResourceAction } from './intent.ts';
import { findMentions, type Mention } from './resources.ts';
import { findPeopleMentioned, type PeopleMentioned, speaksOfSelf, speaksOfSomeoneElse } from './subject.ts';
import { words } from './text.ts';
import { M365 } from './tool-names.ts';
import type { Planner, PlannerInput } from './types.ts';
import { unclearAsk, unknownAsk, unknownObjects } from './unknown-asks.ts';

/**
 * The built-in planner: deterministic, offline, grounded in the client's runbooks and tenant.
 *
 * It reads the request for what is asked (intent.ts, resources.ts) and for whom (subject.ts), then
 * decides each ask by the runbook rule that governs it (decide-*.ts). Anything it cannot ground in
 * a runbook line and the tenant goes to a technician with the reasons, never to a guess.
 */
export class BuiltinPlanner implements Planner {
  readonly name = 'builtin';

  async plan(input: PlannerInput): Promise<ProposedPlan> {
    const requester = await identifyRequester(input);
    if (!requester.ok) return combine([requester.refusal]);
    const ctx = await PlanningContext.load(input, requester.user);
    return requireOfferedTools(combine(await decide(ctx)), ctx);
  }
}

/** Every ask of the request, decided. */
async function decide(ctx: PlanningContext): Promise<Decision[]> {
  const text = ctx.text;
  const reading = readIntents(text);
  const found = findMentions(text, ctx.catalog);
  const ws = words(text);
  const resourceWords = new Set(found.mentions.flatMap((m) => ws.slice(m.start, m.end)));
  const people = await findPeopleMentioned(text, ctx.reader, ctx.requester, resourceWords);

  const stop = stopBeforeAsks(ctx, reading, found, people);
  if (stop.length > 0) return stop;

  const subjects = subjectsOf(ctx, people);
  const decisions: Decision[] = [];
  for (const intent of reading.account) {
    if ((intent === 'leaver' || intent === 'returner') && people.people.length === 0 && speaksOfSomeoneElse(text) && !speaksOfSelf(text)) {
      decisions.push(escalate(`it is not clear who the ${intent} is`, [`The request reads as a ${intent} report but names nobody the directory knows.`]));
      continue;
    }
    for (const subject of subjects) decisions.push(await decideAccountAsk(ctx, { intent, subject }));
  }
  decisions.push(...(await decideMentions(ctx, reading, found.mentions, subjects.map((s) => asAfterPlan(s, decisions)))));

  const nameWords = new Set(people.people.flatMap((p) => words(p.displayName)));
  const unknown = unknownObjects(text, found.mentions, new Set([...nameWords, ...resourceWords]));
  if (found.mentions.length > 0 && unknown.length > 0) decisions.push(unknownAsk(ctx, unknown));
  if (decisions.length === 0) decisions.push(unclearAsk(ctx, unknown));
  return decisions;
}

/** A returner enabled by this same plan may be given access in it too ("turn it back on and add him to Zendesk"). */
function asAfterPlan(subject: DirectoryUser, decisions: readonly Decision[]): DirectoryUser {
  const enabled = decisions.some(
    (d) => d.kind === 'steps' && d.steps.some((s) => s.tool === M365.enableAccount && s.args['user']?.toLowerCase() === subject.userPrincipalName.toLowerCase()),
  );
  return enabled ? { ...subject, accountEnabled: true } : subject;
}

/** The people the request is for; the requester when it names nobody else, or too ("me and Nestor"). */
function subjectsOf(ctx: PlanningContext, people: PeopleMentioned): DirectoryUser[] {
  if (people.people.length === 0) return [ctx.requester];
  const alsoMe = /\b(me and|and me|and myself|myself and|both of us|us both)\b/i.test(ctx.text);
  return alsoMe ? [ctx.requester, ...people.people] : people.people;
}

/**
 * Decisions for the groups and licenses the request names. A name inside an account story ("a
 * phishing mail that looked like DocuSign") is no request for it: alongside an account request
 * only a resource with its own request verb counts.
 */
async function decideMentions(ctx: PlanningContext, reading: IntentReading, mentions: readonly Mention[], subjects: readonly DirectoryUser[]): Promise<Decision[]> {
  const cues = cueWords(ctx.text);
  const decisions: Decision[] = [];
  for (const mention of mentions) {
    const said = actionFor(cues, mention.start, mention.end);
    const administrative = mention.resource.kind === 'group' && (mention.resource.group?.privileged || mention.resource.forbidden);
    const action: ResourceAction | null = said ?? (reading.account.length === 0 || administrative ? 'grant' : null);
    if (!action) continue;
    for (const subject of subjects) {
      const decision =
        mention.resource.kind === 'group'
          ? await decideGroupAsk(ctx, { action, resource: mention.resource, subject })
          : await decideLicenseAsk(ctx, { action, resource: mention.resource, subject });
      decisions.push(said === null && reading.fault ? faultNotAccess(decision, mention) : decision);
    }
  }
  return decisions;
}

/**
 * "Zendesk keeps crashing" is a fault for a technician, whether or not the person has access: the
 * note keeps what the agent found (member or not) so the technician starts from there.
 */
function faultNotAccess(decision: Decision, mention: Mention): Decision {
  const label = mention.resource.label;
  return escalate(`${label} is reported as not working`, [`The request reports a fault with ${label} rather than asking for access.`, ...decision.reasons]);
}

/** A plan may only use offered tools; a disabled one means a technician does the work. */
function requireOfferedTools(plan: ProposedPlan, ctx: PlanningContext): ProposedPlan {
  const missing = [...new Set(plan.steps.map((s) => s.tool).filter((tool) => !ctx.offers(tool)))];
  if (missing.length === 0) return plan;
  return {
    outcome: 'escalate',
    summary: `Escalate to a technician: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not available to the agent for ${ctx.clientName}.`,
    reasons: [
      ...plan.reasons,
      `The plan needs ${missing.join(', ')}, which the tool policies do not offer to the agent for ${ctx.clientName} (disabled).`,
      `What the agent would have done: ${plan.steps.map((s) => `${s.tool} ${Object.values(s.args).join(' ')}`).join('; ')}.`,
    ],
    steps: [],
  };
}
