import type { PlanningContext } from './context.ts';
import { type Decision, escalate } from './decision.ts';
import type { Mention } from './resources.ts';
import { cite } from './runbook-rules.ts';
import { casedWords, words } from './text.ts';
import { COMMON_WORDS } from './vocabulary.ts';

/**
 * Things asked for that neither the runbooks nor the tenant know ("access to Workday", "Zendesk
 * and Gong"). They are named in the escalation so the technician sees what was wanted.
 */

const REQUEST_VERBS = /^(need|needs|want|wants|get|install|request|use|access|join|have|into|onto|for|add|added|adding|give|grant|assign|order|set|put|subscribe)$/;
/** Nouns an asked-for name stands right before ("Zendsk access", "a Tablaeu licence"). */
const KIND_NOUNS = /^(access|license|licence|licenses|licences|seat|login|account)$/;
const MAX_OBJECT_WORDS = 3;

const CONJUNCTIONS: readonly (readonly string[])[] = [['and'], ['plus'], ['as', 'well', 'as'], ['along', 'with'], ['together', 'with']];

/** How many words of a conjunction start at `i` ("as well as" is three), 0 when none does. */
function conjunctionAt(ws: readonly string[], i: number): number {
  const found = CONJUNCTIONS.find((c) => c.every((w, k) => ws[i + k] === w));
  return found ? found.length : 0;
}

function overlaps(start: number, end: number, mentions: readonly Mention[]): boolean {
  return mentions.some((m) => start < m.end && m.start < end);
}

/** The uncommon words right after `from`: "the Gong app please" → "gong". */
function objectAfter(ws: readonly string[], from: number, skip: ReadonlySet<string>, pastNames = false): { start: number; end: number } | null {
  let i = from;
  // "add me to X", "put Christie on X": after a verb the person may come first, then what they get.
  while (i < ws.length && i < from + 4 && (COMMON_WORDS.has(ws[i] ?? '') || (pastNames && skip.has(ws[i] ?? '')))) i++;
  const start = i;
  while (i < ws.length && i < start + MAX_OBJECT_WORDS && !COMMON_WORDS.has(ws[i] ?? '') && !skip.has(ws[i] ?? '')) i++;
  return i > start ? { start, end: i } : null;
}

/** The uncommon words right before `to`, for "Gong and Zendesk". */
function objectBefore(ws: readonly string[], to: number, skip: ReadonlySet<string>): { start: number; end: number } | null {
  let i = to;
  while (i > 0 && i > to - MAX_OBJECT_WORDS && !COMMON_WORDS.has(ws[i - 1] ?? '') && !skip.has(ws[i - 1] ?? '')) i--;
  return i < to ? { start: i, end: to } : null;
}

/** Words of a request standing where an application, group or license goes, as written. */
export interface ObjectSpan {
  start: number;
  end: number;
  /** The words as the employee wrote them ("Workday"). */
  label: string;
}

/**
 * Objects of a request that match nothing. `skip` holds words understood otherwise (people's
 * names). With mentions, only their conjuncts are checked ("Zendesk and Gong"); without any, the
 * object of a request verb is ("Could you get me into Workday?").
 */
export function unknownObjectSpans(text: string, mentions: readonly Mention[], skip: ReadonlySet<string>): ObjectSpan[] {
  const ws = words(text);
  const cased = casedWords(text);
  // Product names are written with a capital; an all-lower-case message gets the benefit of the doubt.
  const named = (span: { start: number; end: number }): boolean =>
    text === text.toLowerCase() || cased.slice(span.start, span.end).some((w) => /^[A-Z0-9]/.test(w));
  const found = new Map<string, ObjectSpan>();
  const keep = (span: { start: number; end: number } | null): void => {
    if (span && named(span) && !overlaps(span.start, span.end, mentions)) {
      const label = cased.slice(span.start, span.end).join(' ');
      if (!found.has(label)) found.set(label, { ...span, label });
    }
  };
  if (mentions.length > 0) {
    for (const m of mentions) {
      const joined = conjunctionAt(ws, m.end);
      if (joined > 0) keep(objectAfter(ws, m.end + joined, skip));
      if (ws[m.start - 1] === 'and') keep(objectBefore(ws, m.start - 1, skip));
    }
    return [...found.values()];
  }
  ws.forEach((w, i) => {
    if (REQUEST_VERBS.test(w)) keep(objectAfter(ws, i + 1, skip, true));
    if (KIND_NOUNS.test(w)) keep(objectBefore(ws, i, skip));
  });
  return [...found.values()];
}

export function unknownObjects(text: string, mentions: readonly Mention[], skip: ReadonlySet<string>): string[] {
  return unknownObjectSpans(text, mentions, skip).map((s) => s.label);
}

/** An ask beside others that nothing matches ("Zendesk and Workday"). */
export function unknownAsk(ctx: PlanningContext, unknown: readonly string[]): Decision {
  const list = unknown.map((u) => `"${u}"`).join(', ');
  return escalate(`${list} is not something the runbooks cover`, [
    `The request also asks for ${list}, which no runbook of ${ctx.clientName} lists and no group or license in the tenant matches.`,
    ...ctx.rules.catchAll.map(cite),
  ]);
}

/** Nothing in the request could be matched; name what was asked for when it can be told. */
export function unclearAsk(ctx: PlanningContext, unknown: readonly string[]): Decision {
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

