import { who } from './authority.ts';
import type { PlanningContext } from './context.ts';
import { type Decision, escalate } from './decision.ts';
import type { IntentReading } from './intent.ts';
import type { MentionReading } from './resources.ts';
import { cite } from './runbook-rules.ts';
import type { PeopleMentioned } from './subject.ts';

/**
 * Requests no plan may come from, whatever else they ask: administrative rights, people who do not
 * exist yet or cannot be told apart, things that could mean two groups, hardware. Checked in this
 * order before any ask is decided; the first that applies is the whole answer.
 */
interface Reading {
  ctx: PlanningContext;
  intents: IntentReading;
  found: MentionReading;
  people: PeopleMentioned;
}

type Stop = (r: Reading) => Decision | Decision[] | null;

const administrativeRights: Stop = ({ ctx, intents, found }) => {
  // A named administrative group is refused by the group decision itself, with the group's name.
  const namesAdminGroup = found.mentions.some((m) => m.resource.kind === 'group' && (m.resource.group?.privileged || m.resource.forbidden));
  if (!intents.admin || namesAdminGroup) return null;
  const rule = ctx.rules.forbidden.find((f) => f.administrative);
  return escalate(`administrative rights are never granted by the helpdesk${rule?.escalateTo ? `; escalate to ${rule.escalateTo}` : ''}`, [
    'The request asks for administrative rights or an administrative group.',
    ...(rule ? [cite(rule.line)] : []),
  ]);
};

const newAccount: Stop = ({ intents }) =>
  intents.onboarding
    ? escalate('a new account is needed', [
        'The request is about someone who is joining; creating accounts and setting up new starters is done by a technician, not by the agent.',
      ])
    : null;

const unnamedPeople: Stop = ({ intents }) =>
  intents.manyPeople
    ? escalate('the request is for several people it does not name', ['The request asks for a team or everyone; a technician must confirm who exactly, one by one.'])
    : null;

const unknownPeople: Stop = ({ ctx, people }) => {
  if (people.unknown.length === 0) return null;
  const names = people.unknown.join(', ');
  return escalate(`${names} could not be found in the directory`, [`The request is about ${names}, but no such person was found in ${ctx.clientName}'s tenant.`]);
};

const ambiguousPeople: Stop = ({ people }) =>
  people.ambiguous.map((a) =>
    escalate(`"${a.name}" could be several people`, [`"${a.name}" matches ${a.candidates.map(who).join(' and ')}; a technician must confirm who is meant.`]),
  );

const ambiguousResources: Stop = ({ found }) =>
  found.ambiguous.map((a) => {
    const names = a.resources.map((r) => (r.kind === 'group' ? r.name : r.kind === 'sku' ? r.partNumber : r.label)).join(' and ');
    return escalate(`"${a.phrase}" could mean several things`, [`"${a.phrase}" matches ${names} equally well.`]);
  });

const hardware: Stop = ({ ctx, intents }) => {
  if (!intents.hardware) return null;
  const lines = ctx.rules.procedures.filter((p) => p.intent === 'hardware').map((p) => cite(p.line));
  return escalate('hardware and printers are handled by a technician', [
    'The request is about a printer or other hardware, which the agent cannot fix remotely.',
    ...lines,
  ]);
};

const STOPS: readonly Stop[] = [unnamedPeople, unknownPeople, ambiguousPeople, ambiguousResources];

export function stopBeforeAsks(ctx: PlanningContext, intents: IntentReading, found: MentionReading, people: PeopleMentioned): Decision[] {
  for (const stop of STOPS) {
    const result = stop({ ctx, intents, found, people });
    const decisions = result === null ? [] : Array.isArray(result) ? result : [result];
    if (decisions.length > 0) return decisions;
  }
  return [];
}
