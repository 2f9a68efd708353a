import type { DirectoryUser } from '../core/directory.ts';
import type { ProposedPlan } from '../core/plan.ts';
import { who } from './authority.ts';
import { PlanningContext } from './context.ts';
import { decideAccountAsk } from './decide-account.ts';
import { decideGroupAsk } from './decide-group.ts';
import { decideLicenseAsk } from './decide-license.ts';
import { combine, type Decision, escalate } from './decision.ts';
import { actionFor, cueWords, type IntentReading, readIntents, type ResourceAction } from './intent.ts';
import { findMentions, type Mention, type MentionReading } from './resources.ts';
import { cite } from './runbook-rules.ts';
import { findPeopleMentioned, type PeopleMentioned, speaksOfSelf, speaksOfSomeoneElse } from './subject.ts';
import { words } from './text.ts';
import type { Planner, PlannerInput } from './types.ts';
import { unknownObjects } from './unknown-asks.ts';

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

type Identified = { ok: true; user: DirectoryUser } | { ok: false; refusal: Decision };

function domainOf(address: string): string {
  return address.split('@')[1]?.trim().toLowerCase() ?? '';
}

/** Only a known, enabled employee of this client may ask for anything. */
async function identifyRequester(input: PlannerInput): Promise<Identified> {
  const address = input.requesterEmail.trim();
  const domain = domainOf(address);
  const clientDomain = input.client.domain.toLowerCase();
  if (domain !== clientDomain && !domain.endsWith(`.${clientDomain}`)) {
    return refuse('the requester is not an employee of the client', [
      `The request came from ${address || 'an unknown address'}, which is outside ${input.client.name}'s domain (${input.client.domain}); the agent acts only for the client's own employees.`,
    ]);
  }
  const user = await input.reader.getUser(address);
  if (!user) {
    return refuse('the requester is not in the directory', [`${address} was not found in ${input.client.name}'s Microsoft 365 tenant, so who is asking cannot be verified.`]);
  }
  if (user.accountEnabled === false) {
    return refuse(`${user.displayName}'s own account is disabled`, [
      `${who(user)} has a disabled account. A request from a disabled account is verified by a technician: the account may be compromised, or its return must be reported by HR or the manager.`,
    ]);
  }
  return { ok: true, user };
}

function refuse(summary: string, reasons: string[]): Identified {
  return { ok: false, refusal: escalate(summary, reasons) };
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
  decisions.push(...(await decideMentions(ctx, reading, found.mentions, subjects)));

  const nameWords = new Set(people.people.flatMap((p) => words(p.displayName)));
  const unknown = unknownObjects(text, found.mentions, new Set([...nameWords, ...resourceWords]));
  if (found.mentions.length > 0 && unknown.length > 0) decisions.push(unknownAsk(ctx, unknown));
  if (decisions.length === 0) decisions.push(unclearAsk(ctx, unknown));
  return decisions;
}

/** Requests no plan may come from, whatever else they say. */
function stopBeforeAsks(ctx: PlanningContext, reading: IntentReading, found: MentionReading, people: PeopleMentioned): Decision[] {
  const administrative = found.mentions.some((m) => m.resource.kind === 'group' && (m.resource.group?.privileged || m.resource.forbidden));
  if (reading.admin && !administrative) {
    const rule = ctx.rules.forbidden.find((f) => f.administrative);
    return [
      escalate(`administrative rights are never granted by the helpdesk${rule?.escalateTo ? `; escalate to ${rule.escalateTo}` : ''}`, [
        'The request asks for administrative rights or an administrative group.',
        ...(rule ? [cite(rule.line)] : []),
      ]),
    ];
  }
  if (people.unknown.length > 0) {
    return [escalate(`${people.unknown.join(', ')} could not be found in the directory`, [`The request is about ${people.unknown.join(', ')}, but no such person was found in ${ctx.clientName}'s tenant.`])];
  }
  if (people.ambiguous.length > 0) {
    return people.ambiguous.map((a) =>
      escalate(`"${a.name}" could be several people`, [`"${a.name}" matches ${a.candidates.map(who).join(' and ')}; a technician must confirm who is meant.`]),
    );
  }
  if (found.ambiguous.length > 0) {
    return found.ambiguous.map((a) =>
      escalate(`"${a.phrase}" could mean several things`, [`"${a.phrase}" matches ${a.resources.map((r) => (r.kind === 'group' ? r.name : r.partNumber)).join(' and ')} equally well.`]),
    );
  }
  if (reading.hardware) {
    const lines = ctx.rules.procedures.filter((p) => p.intent === 'hardware').map((p) => cite(p.line));
    return [escalate('hardware and printers are handled by a technician', ['The request is about a printer or other hardware, which the agent cannot fix remotely.', ...lines])];
  }
  return [];
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

function unknownAsk(ctx: PlanningContext, unknown: readonly string[]): Decision {
  const list = unknown.map((u) => `"${u}"`).join(', ');
  return escalate(`${list} is not something the runbooks cover`, [
    `The request also asks for ${list}, which no runbook of ${ctx.clientName} lists and no group or license in the tenant matches.`,
    ...ctx.rules.catchAll.map(cite),
  ]);
}

function unclearAsk(ctx: PlanningContext, unknown: readonly string[]): Decision {
  if (unknown.length > 0) {
    const list = unknown.map((u) => `"${u}"`).join(', ');
    return escalate(`${list} is not an application the runbooks cover`, [
      `The request asks for ${list}, which no runbook of ${ctx.clientName} lists and no group or license in the tenant matches.`,
      ...ctx.rules.catchAll.map(cite),
    ]);
  }
  return escalate('the request does not match anything the runbooks cover', [
    `The agent could not match the request to an application, group, license or account procedure in ${ctx.clientName}'s runbooks.`,
    ...ctx.rules.catchAll.map(cite),
  ]);
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
