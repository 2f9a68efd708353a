import type { DirectoryUser } from '../core/directory.ts';
import type { ProposedPlan } from '../core/plan.ts';
import { sameUpn } from './authority.ts';
import { PlanningContext } from './context.ts';
import { decideAccountAsk } from './decide-account.ts';
import { decideGroupAsk } from './decide-group.ts';
import { decideLicenseAsk } from './decide-license.ts';
import { decideProductAsk } from './decide-product.ts';
import { combine, type Decision, escalate } from './decision.ts';
import { readAsk } from './reading.ts';
import { applyWorkflow } from './workflow-steps.ts';
import { identifyRequester } from './requester.ts';
import { stopBeforeAsks } from './stops.ts';
import { forAWhile, leaveOfAbsence, outsiderWords, outsideAddresses } from './circumstances.ts';
import { asksForSelf, clauseAt, clauseOfWord, pointsBack, wantsForOthers } from './clauses.ts';
import { type AccountIntent, actionFor, cueWords, type IntentReading, readIntents, type ResourceAction } from './intent.ts';
import { findMentions, findMisspelt, type Mention, type MentionReading } from './resources.ts';
import { cite } from './runbook-rules.ts';
import { findPeopleMentioned, type PeopleMentioned, type PersonRole, speaksOfSelf, speaksOfSomeoneElse } from './subject.ts';
import { words } from './text.ts';
import { M365 } from './tool-names.ts';
import type { Planner, PlannerInput } from './types.ts';
import { type ObjectSpan, unclearAsk, unknownAsk, unknownObjectSpans } from './unknown-asks.ts';

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
    const loaded = await PlanningContext.load(input, requester.user);
    const ask = await readAsk(loaded);
    if (ask.refusal) return combine([ask.refusal]);
    const plan = requireOfferedTools(combine(await decide(ask.ctx)), ask.ctx);
    return ask.notes.length > 0 ? { ...plan, reasons: [...ask.notes, ...plan.reasons] } : plan;
  }
}

/** Every ask of the request, decided. */
async function decide(ctx: PlanningContext): Promise<Decision[]> {
  const text = ctx.text;
  const reading = readIntents(text);
  const exact = findMentions(text, ctx.catalog);
  const ws = words(text);
  const resourceWords = new Set(exact.mentions.flatMap((m) => ws.slice(m.start, m.end)));
  const people = await findPeopleMentioned(text, ctx.reader, ctx.speaker, resourceWords);
  const nameWords = new Set(people.mentions.flatMap((m) => words(m.user.displayName)));
  const spans = unknownObjectSpans(text, exact.spans ?? exact.mentions, new Set([...nameWords, ...resourceWords]));
  const misspelt = findMisspelt(text, ctx.catalog, spans);
  const found: MentionReading = {
    mentions: dropRepeats(ctx, [...(exact.spans ?? exact.mentions), ...misspelt.mentions].sort((a, b) => a.start - b.start)),
    ambiguous: [...exact.ambiguous, ...misspelt.ambiguous],
  };
  const understood = (span: ObjectSpan): boolean => misspelt.ambiguous.some((a) => a.phrase === span.label);
  // Read again with the misspelt names understood: only what is still unmatched is unknown.
  const unknown = (misspelt.mentions.length > 0 ? unknownObjectSpans(text, [...(exact.spans ?? exact.mentions), ...misspelt.mentions], new Set([...nameWords, ...resourceWords])) : spans)
    .filter((span) => !understood(span))
    .map((span) => span.label);

  const stop = stopBeforeAsks(ctx, reading, found, people);
  if (stop.length > 0) return stop;
  const limits = circumstances(ctx, reading, found, people);
  if (limits.length > 0) return [...limits, ...(await decideAsks(ctx, reading, found, people)).filter((d) => d.kind !== 'escalate')];
  // A matching workflow with steps is the MSP's own recipe for this request (the client's own first).
  const recipe = ctx.input.workflows?.find((w) => w.steps.length > 0);
  if (recipe) return [await applyWorkflow(ctx, recipe, found.mentions, people)];

  const decisions = await decideAsks(ctx, reading, found, people);
  decisions.push(...alongside(ctx, reading, found));
  if (found.mentions.length > 0 && unknown.length > 0) decisions.push(unknownAsk(ctx, unknown));
  if (decisions.length === 0) decisions.push(unclearAsk(ctx, unknown));
  return decisions;
}

/** The verb that applies to a mention, looked for in the mention's own clause. */
function actionIn(ctx: PlanningContext): (mention: Mention) => ResourceAction | null {
  const cues = cueWords(ctx.text);
  const clauses = ctx.clauses;
  return (mention) => {
    const clause = clauses[clauseOfWord(clauses, mention.start)];
    return actionFor(cues, mention.start, mention.end, clause ? { start: clause.wordStart, end: clause.wordEnd } : undefined);
  };
}

/**
 * A resource named twice is asked for once. The mention with a verb that asks for it or away
 * decides ("our partners use DocuSign ... could you give me DocuSign?"); failing that, the first.
 */
function dropRepeats(ctx: PlanningContext, mentions: readonly Mention[]): Mention[] {
  const said = actionIn(ctx);
  const chosen = new Map<string, Mention>();
  for (const m of mentions) {
    const current = chosen.get(m.resource.key);
    if (!current || (said(current) === null && said(m) !== null)) chosen.set(m.resource.key, m);
  }
  return [...chosen.values()].sort((a, b) => a.start - b.start);
}

/** The asks of the request (account procedures, groups, licenses), each for the people its clause names. */
async function decideAsks(ctx: PlanningContext, reading: IntentReading, found: MentionReading, people: PeopleMentioned): Promise<Decision[]> {
  const text = ctx.text;
  const binding = bindSubjects(ctx, people, found.mentions);
  const decisions: Decision[] = [];
  for (const intent of reading.account) {
    if ((intent === 'leaver' || intent === 'returner') && people.people.length === 0 && speaksOfSomeoneElse(text) && !speaksOfSelf(text)) {
      decisions.push(escalate(`it is not clear who the ${intent} is`, [`The request reads as a ${intent} report but names nobody the directory knows.`]));
      continue;
    }
    for (const subject of binding.forIntent(intent)) decisions.push(await decideAccountAsk(ctx, { intent, subject }));
  }
  decisions.push(...(await decideMentions(ctx, reading, found.mentions, (m) => binding.forMention(m).map((s) => asAfterPlan(s, decisions)))));
  return countSeats(ctx, decisions);
}

/** A returner enabled by this same plan may be given access in it too ("turn it back on and add him to Zendesk"). */
function asAfterPlan(subject: DirectoryUser, decisions: readonly Decision[]): DirectoryUser {
  const enabled = decisions.some(
    (d) => d.kind === 'steps' && d.steps.some((s) => s.tool === M365.enableAccount && s.args['user']?.toLowerCase() === subject.userPrincipalName.toLowerCase()),
  );
  return enabled ? { ...subject, accountEnabled: true } : subject;
}

interface Binding {
  forIntent(intent: AccountIntent): DirectoryUser[];
  forMention(mention: Mention): DirectoryUser[];
}

function uniqueUsers(users: readonly DirectoryUser[]): DirectoryUser[] {
  const out: DirectoryUser[] = [];
  for (const u of users) if (!out.some((o) => sameUpn(o, u))) out.push(u);
  return out;
}

/**
 * Who each ask is for. Each clause names its own people: those the words make the subject ("add
 * Nestor", "Lee's access", "Nestor needs"), and the writer when the clause asks for themselves ("I
 * need", "give me", "me and Nestor"). A clause that names nobody points back at the person named
 * before ("his access") or falls back on the request as a whole: its named subjects, else the
 * writer. People only in the background ("Joni is off sick") are never a subject of their own.
 */
function bindSubjects(ctx: PlanningContext, people: PeopleMentioned, asked: readonly Mention[]): Binding {
  const text = ctx.text;
  const clauses = ctx.clauses;
  const inClause = (k: number, role?: PersonRole): DirectoryUser[] =>
    uniqueUsers(people.mentions.filter((m) => clauseAt(clauses, m.start) === k && (role === undefined || m.role === role)).map((m) => m.user));
  const subjectsAnywhere = uniqueUsers(people.mentions.filter((m) => m.role === 'subject').map((m) => m.user));
  const selfAnywhere = clauses.some((c) => asksForSelf(c.text));
  const fallback: DirectoryUser[] = (() => {
    if (subjectsAnywhere.length > 0) {
      return selfAnywhere && /\b(me and|and me|and myself|myself and|both of us|us both)\b/i.test(text) ? [ctx.speaker, ...subjectsAnywhere] : subjectsAnywhere;
    }
    if (selfAnywhere) return [ctx.speaker];
    // Nobody is the subject by the words, and the writer asks nothing for themselves: whoever is named.
    return people.people.length > 0 ? people.people : [ctx.speaker];
  })();
  /** The person a pronoun points back at: the nearest named before, someone in the foreground first. */
  const pointedAt = (k: number): DirectoryUser[] => {
    for (const foreground of [true, false]) {
      for (let back = k - 1; back >= 0; back--) {
        const there = people.mentions.filter((m) => clauseAt(clauses, m.start) === back && (m.role !== 'context') === foreground).map((m) => m.user);
        if (there.length > 0) return uniqueUsers(there);
      }
    }
    return [];
  };
  const perClause: DirectoryUser[][] = [];
  for (const [k, clause] of clauses.entries()) {
    const named = inClause(k, 'subject');
    const listed = wantsForOthers(clause.text) ? inClause(k, 'mentioned') : [];
    const self = asksForSelf(clause.text) && listed.length === 0;
    let subjects = uniqueUsers([...(self ? [ctx.speaker] : []), ...named, ...listed]);
    if (subjects.length === 0) subjects = inClause(k, 'mentioned');
    if (subjects.length === 0 && pointsBack(clause.text)) subjects = pointedAt(k);
    perClause.push(subjects.length > 0 ? subjects : fallback);
  }
  const clauseSubjects = (k: number): DirectoryUser[] => (k >= 0 ? (perClause[k] ?? fallback) : fallback);
  return {
    forIntent(intent) {
      const where = clauses.map((c, k) => (readIntents(c.text).account.includes(intent) ? k : -1)).filter((k) => k >= 0);
      return where.length === 0 ? fallback : uniqueUsers(where.flatMap(clauseSubjects));
    },
    forMention(mention) {
      const k = clauseOfWord(clauses, mention.start);
      const subjects = clauseSubjects(k);
      // "Add Henrietta to Adobe CC and put Alex on the VPN": each ask goes to the person named just before it.
      const named = people.mentions
        .filter((m) => m.role === 'subject' && clauseAt(clauses, m.start) === k)
        .map((m) => ({ user: m.user, word: words(text.slice(0, m.start)).length }));
      if (uniqueUsers(named.map((n) => n.user)).length < 2) return subjects;
      const clauseStart = clauses[k]?.wordStart ?? 0;
      const previous = Math.max(clauseStart, ...asked.filter((m) => m.end <= mention.start && clauseOfWord(clauses, m.start) === k).map((m) => m.end));
      const between = uniqueUsers(named.filter((n) => n.word >= previous && n.word < mention.start).map((n) => n.user));
      if (between.length === 0) return subjects;
      // "Nestor, Lidia and I need Project": the writer too, when the same words ask for them.
      const self = subjects.some((u) => sameUpn(u, ctx.speaker)) && asksForSelf(words(text).slice(previous, mention.start).join(' '));
      return self ? uniqueUsers([ctx.speaker, ...between]) : between;
    },
  };
}

/**
 * Several people asking for one license share its free seats: when more need a seat than are free,
 * none is assigned by the agent (DESIGN: the whole request escalates; buying is the account manager's).
 */
function countSeats(ctx: PlanningContext, decisions: readonly Decision[]): Decision[] {
  const bySku = new Map<string, Decision[]>();
  for (const d of decisions) {
    if (d.kind !== 'steps') continue;
    for (const s of d.steps) {
      if (s.tool !== M365.assignLicense) continue;
      const sku = s.args['sku'] ?? '';
      bySku.set(sku, [...(bySku.get(sku) ?? []), d]);
    }
  }
  let result = [...decisions];
  for (const [part, asking] of bySku) {
    const sku = ctx.skus.find((k) => k.skuPartNumber.toLowerCase() === part.toLowerCase());
    if (!sku || asking.length <= 1) continue;
    const free = Math.max(0, sku.total - sku.consumed);
    if (asking.length <= free) continue;
    const line = ctx.rules.licenses.noSeatLine;
    result = result.filter((d) => !asking.includes(d));
    result.push(
      escalate(`${asking.length} people need ${part} and only ${free} seat${free === 1 ? ' is' : 's are'} free`, [
        `${part}: ${sku.consumed} of ${sku.total} seats in use, ${free} free; the request needs ${asking.length}.`,
        ...(line ? [cite(line)] : ["Buying more seats is the account manager's decision."]),
        ...asking.map((d) => `Could be done once seats are bought: ${d.summary}.`),
      ]),
    );
  }
  return result;
}

/**
 * Limits on the whole request, whatever it asks: a change wanted only for a while, and people from
 * outside the client's tenant. Each escalates; the note still says what the agent would have done.
 */
function circumstances(ctx: PlanningContext, reading: IntentReading, found: MentionReading, people: PeopleMentioned): Decision[] {
  const text = ctx.text;
  const limits: Decision[] = [];
  const outside = outsideAddresses(text, ctx.input.client.domain);
  const clauses = ctx.clauses;
  const outsiderAt = clauses.findIndex((c) => outsiderWords(c.text) !== null);
  const knownSubjectThere = outsiderAt >= 0 && people.mentions.some((m) => m.role === 'subject' && clauseAt(clauses, m.start) === outsiderAt);
  if (outside.length > 0 || (outsiderAt >= 0 && !knownSubjectThere)) {
    const named = outside.length > 0 ? outside.join(', ') : `"${outsiderWords(clauses[outsiderAt]?.text ?? '')}"`;
    limits.push(
      escalate(`the request is for someone outside ${ctx.clientName}`, [
        `The request names ${named}, someone who is not an employee in ${ctx.clientName}'s directory.`,
        'Access for people outside the tenant (a guest account, a shared resource) is decided and set up by a technician, never by the agent.',
      ]),
    );
  }
  const asksChange = found.mentions.length > 0 || reading.account.some((i) => i === 'leaver' || i === 'returner');
  const temporary = forAWhile(text);
  const leave = reading.account.includes('leaver') ? leaveOfAbsence(text) : null;
  if (asksChange && (temporary || leave)) {
    limits.push(
      escalate('the change is wanted only for a while', [
        `The request asks for a change for a limited time ("${temporary ?? leave}").`,
        "The agent can make a change but cannot undo it on a date or on someone's return; a technician schedules both (and, for a leave of absence, agrees the account's state with HR).",
      ]),
    );
  }
  return limits;
}

/**
 * Asks beside the others that only a person can handle: hardware, administrative rights, new
 * accounts. The other asks are still decided, so the note says what could have been done.
 */
function alongside(ctx: PlanningContext, reading: IntentReading, found: MentionReading): Decision[] {
  const decisions: Decision[] = [];
  const namesAdminGroup = found.mentions.some((m) => m.resource.kind === 'group' && (m.resource.group?.privileged || m.resource.forbidden));
  if (reading.admin && !namesAdminGroup) {
    const rule = ctx.rules.forbidden.find((f) => f.administrative);
    decisions.push(
      escalate(`administrative rights are never granted by the helpdesk${rule?.escalateTo ? `; escalate to ${rule.escalateTo}` : ''}`, [
        'The request asks for administrative rights or an administrative group.',
        ...(rule ? [cite(rule.line)] : []),
      ]),
    );
  }
  if (reading.onboarding) {
    decisions.push(
      escalate('a new account is needed', ['The request is about someone who is joining; creating accounts and setting up new starters is done by a technician, not by the agent.']),
    );
  }
  if (reading.hardware || reading.deviceAsked || (reading.deviceRequest && found.mentions.length === 0)) {
    const lines = ctx.rules.procedures.filter((p) => p.intent === 'hardware').map((p) => cite(p.line));
    decisions.push(
      escalate('hardware and printers are handled by a technician', ['The request is about a printer or other hardware, which the agent cannot fix remotely.', ...lines]),
    );
  }
  return decisions;
}

/**
 * Decisions for the groups and licenses the request names. A name inside an account story ("a
 * phishing mail that looked like DocuSign") is no request for it: alongside an account request
 * only a resource with its own request verb counts.
 */
async function decideMentions(
  ctx: PlanningContext,
  reading: IntentReading,
  mentions: readonly Mention[],
  subjectsOf: (mention: Mention) => DirectoryUser[],
): Promise<Decision[]> {
  const actionOf = actionIn(ctx);
  const decisions: Decision[] = [];
  for (const mention of mentions) {
    const said = actionOf(mention);
    const administrative = mention.resource.kind === 'group' && (mention.resource.group?.privileged || mention.resource.forbidden);
    const action: ResourceAction | null = said ?? (reading.account.length === 0 || administrative ? 'grant' : null);
    if (!action) continue;
    for (const subject of subjectsOf(mention)) {
      const resource = mention.resource;
      const decided =
        resource.kind === 'group'
          ? await decideGroupAsk(ctx, { action, resource, subject })
          : resource.kind === 'sku'
            ? await decideLicenseAsk(ctx, { action, resource, subject })
            : await decideProductAsk(ctx, { action, resource, subject });
      const read = [
        ...(mention.typed ? [`"${mention.typed}" was read as ${resource.label} (a misspelling: the nearest name the tenant and the runbooks use).`] : []),
        ...(mention.suiteApp ? [`${mention.suiteApp} is part of ${resource.label}.`] : []),
      ];
      const decision = read.length > 0 ? { ...decided, reasons: [...read, ...decided.reasons] } : decided;
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
