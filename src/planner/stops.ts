import { who } from './authority.ts';
import type { PlanningContext } from './context.ts';
import { type Decision, escalate } from './decision.ts';
import type { IntentReading } from './intent.ts';
import type { MentionReading } from './resources.ts';
import type { PeopleMentioned } from './subject.ts';

/**
 * Requests no ask of which can be decided: people the agent cannot name one by one, people the
 * directory does not know or cannot tell apart, words that could mean two groups. Checked in this
 * order before any ask is decided; the first that applies is the whole answer. (Asks only a person
 * can handle beside others, such as hardware or administrative rights, are decided with the rest,
 * so that the note says what could have been done: see `alongside` in builtin.ts.)
 */
interface Reading {
  ctx: PlanningContext;
  intents: IntentReading;
  found: MentionReading;
  people: PeopleMentioned;
}

type Stop = (r: Reading) => Decision | Decision[] | null;

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

const STOPS: readonly Stop[] = [unnamedPeople, unknownPeople, ambiguousPeople, ambiguousResources];

export function stopBeforeAsks(ctx: PlanningContext, intents: IntentReading, found: MentionReading, people: PeopleMentioned): Decision[] {
  for (const stop of STOPS) {
    const result = stop({ ctx, intents, found, people });
    const decisions = result === null ? [] : Array.isArray(result) ? result : [result];
    if (decisions.length > 0) return decisions;
  }
  return [];
}
