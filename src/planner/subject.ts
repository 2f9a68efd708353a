import type { DirectoryUser } from '../core/directory.ts';
import { sameUpn } from './authority.ts';
import { EMAIL_ADDRESS } from './text.ts';
import type { DiagnosisReader } from './types.ts';
import { COMMON_WORDS } from './vocabulary.ts';

/**
 * Who a request is for. People are named in many ways ("Lee Gu's last day", "add Nestor to ...",
 * "nestor.wilke@contoso.example"); each candidate word is looked up with `findUsers` and kept only
 * when it is exactly a given name, surname or UPN part of the person found, so that "me" never
 * turns into Megan. Names that only point at someone else ("my manager Megan approved") do not
 * make that person the subject.
 */

/**
 * How a person stands in the request: `subject` when the words put them where the one who gets
 * something goes ("add Nestor", "Lee's access", "Nestor needs"); `context` when they are only
 * there as background ("Joni is off sick", "covering for Lidia", "approved by Megan");
 * `mentioned` when the words do not say.
 */
export type PersonRole = 'subject' | 'mentioned' | 'context';

/** One place the request names a person: character offsets in the request's text. */
export interface PersonMention {
  user: DirectoryUser;
  role: PersonRole;
  start: number;
  end: number;
}

export interface PeopleMentioned {
  /** The people the request is about, other than the requester, in order of mention (not those only in the background). */
  people: DirectoryUser[];
  /** Every place a known person other than the requester is named, with the role the words give them there. */
  mentions: PersonMention[];
  /** Names in a person's place ("add John to ...") that the directory does not know. */
  unknown: string[];
  /** Names that fit several people equally well. */
  ambiguous: Array<{ name: string; candidates: DirectoryUser[] }>;
}

interface Token {
  text: string;
  index: number;
  /** Character offset in the request's text. */
  at: number;
  /** Written with an apostrophe-s ("Lee Gu's"). */
  possessive: boolean;
}

const TOKEN = /[A-Za-z][A-Za-z-]*(?:['\u2019]s\b)?/g;

/** Words that, just before a name, say it is not the subject ("approved by Megan", "same as Lidia"). */
const NOT_SUBJECT_BEFORE = new Set(['manager', 'boss', 'supervisor', 'by', 'from', 'cc', 'per', 'thanks', 'thank', 'regards', 'cheers', 'like', 'as', 'with', 'ask', 'asked', 'via', 'love', 'best']);
/** Words that, just after a name, say it is not the subject ("Megan approved", "Megan said"). */
const NOT_SUBJECT_AFTER = new Set(['approved', 'approves', 'said', 'says', 'agreed', 'okayed', 'signed', 'asked', 'suggested', 'told']);

function tokensOf(text: string): Token[] {
  // Addresses are blanked to spaces of the same length, so offsets stay those of the text.
  const withoutEmails = text.replace(EMAIL_ADDRESS, (m) => ' '.repeat(m.length));
  return [...withoutEmails.matchAll(TOKEN)].map((m, index) => {
    const raw = m[0];
    const possessive = /['\u2019]s$/.test(raw);
    return { text: possessive ? raw.slice(0, -2) : raw, index, at: m.index ?? 0, possessive };
  });
}

function isNameLike(token: Token, allLowerCase: boolean, skip: ReadonlySet<string>): boolean {
  const lower = token.text.toLowerCase();
  if (lower.length < 2 || COMMON_WORDS.has(lower) || lower.split('-').every((part) => skip.has(part))) return false;
  return allLowerCase || /^[A-Z]/.test(token.text);
}

/** The token is exactly a name of the user, not just the start of one. */
function namesUser(token: string, user: DirectoryUser): boolean {
  const t = token.toLowerCase();
  const local = user.userPrincipalName.split('@')[0]?.toLowerCase() ?? '';
  const parts = [user.givenName, user.surname, ...user.displayName.split(/\s+/), local, ...local.split(/[._-]/)];
  return parts.some((p) => typeof p === 'string' && p.toLowerCase() === t);
}

/** A name written over several words ("Megan Bowen") is one mention, from `first` to `last`. */
interface NameRun {
  first: number;
  last: number;
}

/** "my manager is Megan Bowen", "approved by Megan", "Megan approved": the name is not the subject. */
function pointsElsewhere(tokens: readonly Token[], run: NameRun): boolean {
  const before = [tokens[run.first - 1], tokens[run.first - 2]].map((t) => t?.text.toLowerCase() ?? '');
  const after = tokens[run.last + 1]?.text.toLowerCase() ?? '';
  return before.some((w) => NOT_SUBJECT_BEFORE.has(w)) || NOT_SUBJECT_AFTER.has(after);
}

/** Words right before a name that put the person where the one who gets something goes. */
const SLOT_BEFORE = new Set(['add', 'adding', 'give', 'giving', 'grant', 'remove', 'disable', 'offboard', 'enable', 'reactivate', 'unlock', 'assign', 'reset', 'block', 'suspend', 'onboard', 'let', 'allow', 'for', 'get', 'put', 'move', 'include', 'help', 'behalf']);
/** Words right after a name that make the person the one the ask is for ("Nestor needs", "Lee is leaving"). */
const SLOT_AFTER = new Set(['needs', 'need', 'needed', 'wants', 'want', 'requires', 'require', 'should', 'will', 'would', 'can', 'could', 'cannot', 'must', 'lost', 'loses', 'forgot', 'forgets', 'left', 'leaves', 'leaving', 'starts', 'finishes', 'quit', 'quits', 'resigned', 'returns', 'returned', 'joins', 'also', 'too', 'lacks']);
/** After "is", "has", "was": what makes the person the subject ("is leaving", "has lost"). */
const SLOT_AFTER_STATE = /^(leaving|left|back|returning|starting|joining|locked|unable|also|going|getting|moving|finishing|retiring|lost|forgotten|moved|changed)$/;
/** After a possessive: the person's own things ("Lee's access", "Joni's password"). */
const POSSESSED = /^(access|account|accounts|password|phone|mobile|mfa|login|logins|license|licence|licenses|licences|laptop|sessions?|authenticator|mailbox|email|credentials|last|final|sign|leaving|return|employment|contract|user|profile|permissions?)$/;
/** Words right before a name that make the person background ("covering for Joni", "while Lidia"). */
const CONTEXT_BEFORE = /^(covering|cover|covers|replacing|replace|replaces|instead|place|while|during|from|absence|whilst|until)$/;
/** What follows a name when the person is away ("Joni is off sick", "Lidia's on holiday"). */
const AWAY = /^(?:(?:is|s|was|has been|will be|are|have been|currently|still|now|being) )*(?:on (?:holiday|holidays|vacation|leave|pto|maternity|paternity|parental|sick|sabbatical|annual|a trip|a course|business|break)|off (?:sick|work|today|this|until|for)|out (?:of (?:the )?office|sick|today|this|until|for)|away|absent|ill|sick|ooo|unavailable|travelling|traveling)\b/;

/** Words before a name that is being addressed ("Hi Megan, ..."). */
const GREETING = /^(hi|hello|hey|dear|thanks|thank|morning|ok|okay|hallo|bonjour|hola|hoi)$/;

/** "Megan, could you ...": the person is spoken to, at the start of a line or after a greeting. */
function addressed(text: string, tokens: readonly Token[], run: NameRun, named: ReadonlySet<number>): boolean {
  const first = tokens[run.first];
  const last = tokens[run.last];
  if (!first || !last) return false;
  // "Pradeep, Lee and I": a list of people, not someone spoken to.
  if (text[last.at + last.text.length] !== ',' || named.has(run.last + 1)) return false;
  const before = text.slice(0, first.at);
  return /(^|\n)\s*$/.test(before) || GREETING.test(tokens[run.first - 1]?.text.toLowerCase() ?? '');
}

/** Whether the words around a run make the person the subject, background, or say neither. */
function roleOf(text: string, tokens: readonly Token[], run: NameRun, named: ReadonlySet<number>): PersonRole {
  if (addressed(text, tokens, run, named)) return 'context';
  const lower = (i: number): string => tokens[i]?.text.toLowerCase() ?? '';
  const before = lower(run.first - 1);
  const before2 = lower(run.first - 2);
  const last = tokens[run.last];
  const after = lower(run.last + 1);
  const following = tokens.slice(run.last + 1, run.last + 6).map((t) => t.text.toLowerCase()).join(' ');
  const awayAfter = AWAY.test(last?.possessive ? `s ${following}` : following);
  if (CONTEXT_BEFORE.test(before) || (SLOT_BEFORE.has(before) && CONTEXT_BEFORE.test(before2)) || (before === 'over' && before2 === 'take')) return 'context';
  if (SLOT_BEFORE.has(before) && before !== 'from') return 'subject';
  if (awayAfter) return 'context';
  if (last?.possessive) return POSSESSED.test(after) ? 'subject' : 'mentioned';
  if (SLOT_AFTER.has(after)) return 'subject';
  if (/^(is|has|was|s|d|got)$/.test(after) && SLOT_AFTER_STATE.test(lower(run.last + 2))) return 'subject';
  return 'mentioned';
}

/**
 * Names joined by "and" or a comma share the role of a named subject beside them ("Alex, Nestor and
 * Lidia need Project"; "me and Nestor").
 */
function spreadRoles(tokens: readonly Token[], runs: NameRun[], roles: Map<NameRun, PersonRole>): void {
  const joiner = (a: NameRun, b: NameRun): boolean => {
    const between = tokens.slice(a.last + 1, b.first).map((t) => t.text.toLowerCase());
    return between.length <= 1 && between.every((w) => w === 'and' || w === 'or');
  };
  const lower = (i: number): string => tokens[i]?.text.toLowerCase() ?? '';
  for (const run of runs) {
    if (roles.get(run) !== 'mentioned') continue;
    // "me and Nestor", "for me, Megan, Patti", "Nestor and me", "Lee and I"
    const meBefore = /^(me|myself)$/.test(lower(run.first - 1)) || (lower(run.first - 1) === 'and' && /^(me|myself)$/.test(lower(run.first - 2)));
    const meAfter = lower(run.last + 1) === 'and' && /^(me|i|myself)$/.test(lower(run.last + 2));
    if (meBefore || meAfter) roles.set(run, 'subject');
  }
  for (let pass = 0; pass < runs.length; pass++) {
    for (let k = 0; k + 1 < runs.length; k++) {
      const a = runs[k]!;
      const b = runs[k + 1]!;
      if (!joiner(a, b)) continue;
      if (roles.get(a) === 'subject' && roles.get(b) === 'mentioned') roles.set(b, 'subject');
      if (roles.get(b) === 'subject' && roles.get(a) === 'mentioned') roles.set(a, 'subject');
    }
  }
}

/** Neighbouring words that name the same person form one run. */
function nameRuns(byToken: ReadonlyMap<number, DirectoryUser[]>): Map<number, NameRun> {
  const runOf = new Map<number, NameRun>();
  let current: NameRun | null = null;
  for (const i of [...byToken.keys()].sort((a, b) => a - b)) {
    const previous = current ? byToken.get(current.last) : undefined;
    const shared = previous?.some((p) => byToken.get(i)?.some((u) => u.id === p.id));
    if (current && current.last === i - 1 && shared) current.last = i;
    else current = { first: i, last: i };
    runOf.set(i, current);
  }
  return runOf;
}

/** A word standing where a person goes: "add X to", "X's last day", "X is leaving", "disable X". */
function inPersonSlot(tokens: readonly Token[], i: number): boolean {
  const t = tokens[i];
  if (!t) return false;
  const prev = tokens[i - 1]?.text.toLowerCase() ?? '';
  const next = tokens[i + 1]?.text.toLowerCase() ?? '';
  if (t.possessive) return true;
  if (/^(add|give|grant|remove|disable|offboard|enable|reactivate|unlock)$/.test(prev)) return true;
  return /^(is|has|needs|will|was)$/.test(next) && /^(leaving|left|back|returning|starting|joining)$/.test(tokens[i + 2]?.text.toLowerCase() ?? '');
}

/** "John Smith's last day": the slot is at "Smith", the name includes "John". */
function fullName(tokens: readonly Token[], i: number, skip: ReadonlySet<string>): string {
  const prev = tokens[i - 1];
  const joins = prev && /^[A-Z]/.test(prev.text) && !prev.possessive && isNameLike(prev, false, skip);
  return joins ? `${prev.text} ${tokens[i]?.text ?? ''}` : (tokens[i]?.text ?? '');
}

async function usersNamed(token: string, reader: DiagnosisReader): Promise<DirectoryUser[]> {
  const found = await reader.findUsers(token);
  return found.filter((u) => namesUser(token, u));
}

async function usersByEmail(text: string, reader: DiagnosisReader): Promise<DirectoryUser[]> {
  const found: DirectoryUser[] = [];
  for (const address of new Set([...text.matchAll(EMAIL_ADDRESS)].map((m) => m[0].toLowerCase()))) {
    const user = await reader.getUser(address);
    if (user) found.push(user);
  }
  return found;
}

/**
 * The people a request names. `skip` holds words already understood as something else (the
 * applications and groups the request names), so they are not looked up as people.
 */
export async function findPeopleMentioned(
  text: string,
  reader: DiagnosisReader,
  requester: DirectoryUser,
  skip: ReadonlySet<string>,
): Promise<PeopleMentioned> {
  const tokens = tokensOf(text);
  const allLowerCase = text === text.toLowerCase();
  const byToken = new Map<number, DirectoryUser[]>();
  const lookedUp = new Map<string, DirectoryUser[]>();
  const unknown: string[] = [];
  for (const [i, token] of tokens.entries()) {
    if (!isNameLike(token, allLowerCase, skip)) continue;
    const key = token.text.toLowerCase();
    if (!lookedUp.has(key)) lookedUp.set(key, await usersNamed(token.text, reader));
    const users = lookedUp.get(key) ?? [];
    if (users.length > 0) byToken.set(i, users);
    // "Isaiah Langer (Accounting) is leaving": a word in parentheses is a remark, not a name.
    else if (inPersonSlot(tokens, i) && /^[A-Z]/.test(token.text) && text[token.at - 1] !== '(') unknown.push(fullName(tokens, i, skip));
  }

  // "Alex Wilber": a user named by two neighbouring words is the one meant by either of them.
  const support = new Map<string, number>();
  for (const users of byToken.values()) for (const u of users) support.set(u.id, (support.get(u.id) ?? 0) + 1);

  const people: DirectoryUser[] = await usersByEmail(text, reader);
  const mentions: PersonMention[] = emailMentions(text, people);
  const ambiguous: PeopleMentioned['ambiguous'] = [];
  const runs = nameRuns(byToken);
  const distinctRuns = [...new Set(runs.values())].sort((a, b) => a.first - b.first);
  const roles = new Map<NameRun, PersonRole>(distinctRuns.map((run) => [run, pointsElsewhere(tokens, run) ? 'context' : roleOf(text, tokens, run, new Set(byToken.keys()))]));
  spreadRoles(tokens, distinctRuns, roles);
  const context = new Set<string>();
  for (const [i, users] of byToken) {
    const run = runs.get(i);
    const role = (run && roles.get(run)) ?? 'mentioned';
    const best = Math.max(...users.map((u) => support.get(u.id) ?? 0));
    const chosen = users.filter((u) => (support.get(u.id) ?? 0) === best);
    if (chosen.some((u) => sameUpn(u, requester))) continue;
    if (chosen.length === 1 && chosen[0]) {
      const token = tokens[i];
      if (token) mentions.push({ user: chosen[0], role, start: token.at, end: token.at + token.text.length });
    }
    if (role === 'context') {
      for (const u of chosen) context.add(u.userPrincipalName.toLowerCase());
      continue;
    }
    if (chosen.length > 1) ambiguous.push({ name: tokens[i]?.text ?? '', candidates: chosen });
    else if (chosen[0] && !people.some((p) => sameUpn(p, chosen[0]!))) people.push(chosen[0]);
  }
  const named = (u: DirectoryUser): boolean => mentions.some((m) => sameUpn(m.user, u) && m.role !== 'context');
  return {
    // Someone only in the background is no subject, unless named as one elsewhere in the request.
    people: people.filter((p) => !sameUpn(p, requester) && (!context.has(p.userPrincipalName.toLowerCase()) || named(p))),
    mentions: mentions.filter((m) => !sameUpn(m.user, requester)).sort((a, b) => a.start - b.start),
    unknown: [...new Set(unknown)],
    ambiguous: ambiguous.filter((a) => !a.candidates.some((c) => people.some((p) => sameUpn(p, c)))),
  };
}

/** Addresses of known people, as mentions (an address names someone deliberately). */
function emailMentions(text: string, people: readonly DirectoryUser[]): PersonMention[] {
  const found: PersonMention[] = [];
  for (const m of text.matchAll(EMAIL_ADDRESS)) {
    const user = people.find((p) => p.userPrincipalName.toLowerCase() === m[0].toLowerCase() || p.mail?.toLowerCase() === m[0].toLowerCase());
    if (user) found.push({ user, role: 'mentioned', start: m.index ?? 0, end: (m.index ?? 0) + m[0].length });
  }
  return found;
}

/** The request speaks of a third person ("his access", "her last day") without naming them. */
export function speaksOfSomeoneElse(text: string): boolean {
  return /\b(his|her|hers|him|he|she|he's|she's)\b/i.test(text);
}

/** The request speaks in the first person ("my last day", "I'm back"). */
export function speaksOfSelf(text: string): boolean {
  return /\b(i|me|my|mine|myself|i'm|i've|i'll)\b/i.test(text);
}
