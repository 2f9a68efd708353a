import type { DirectoryUser } from '../core/directory.ts';
import type { DiagnosisReader } from './types.ts';
import { COMMON_WORDS } from './vocabulary.ts';

/**
 * Who a request is for. People are named in many ways ("Lee Gu's last day", "add Nestor to ...",
 * "nestor.wilke@contoso.example"); each candidate word is looked up with `findUsers` and kept only
 * when it is exactly a given name, surname or UPN part of the person found, so that "me" never
 * turns into Megan. Names that only point at someone else ("my manager Megan approved") do not
 * make that person the subject.
 */

export interface PeopleMentioned {
  /** The people the request is about, other than the requester, in order of mention. */
  people: DirectoryUser[];
  /** Names in a person's place ("add John to ...") that the directory does not know. */
  unknown: string[];
  /** Names that fit several people equally well. */
  ambiguous: Array<{ name: string; candidates: DirectoryUser[] }>;
}

interface Token {
  text: string;
  index: number;
  /** Written with an apostrophe-s ("Lee Gu's"). */
  possessive: boolean;
}

const EMAIL = /[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;
const TOKEN = /[A-Za-z][A-Za-z-]*(?:['\u2019]s\b)?/g;

/** Words that, just before a name, say it is not the subject ("approved by Megan", "same as Lidia"). */
const NOT_SUBJECT_BEFORE = new Set(['manager', 'boss', 'supervisor', 'by', 'from', 'cc', 'per', 'thanks', 'thank', 'regards', 'cheers', 'like', 'as', 'with', 'ask', 'asked', 'via', 'love', 'best']);
/** Words that, just after a name, say it is not the subject ("Megan approved", "Megan said"). */
const NOT_SUBJECT_AFTER = new Set(['approved', 'approves', 'said', 'says', 'agreed', 'okayed', 'signed', 'asked', 'suggested', 'told']);

function tokensOf(text: string): Token[] {
  const withoutEmails = text.replace(EMAIL, ' ');
  return [...withoutEmails.matchAll(TOKEN)].map((m, index) => {
    const raw = m[0];
    const possessive = /['\u2019]s$/.test(raw);
    return { text: possessive ? raw.slice(0, -2) : raw, index, possessive };
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
  for (const address of new Set([...text.matchAll(EMAIL)].map((m) => m[0].toLowerCase()))) {
    const user = await reader.getUser(address);
    if (user) found.push(user);
  }
  return found;
}

function sameUser(a: DirectoryUser, b: DirectoryUser): boolean {
  return a.userPrincipalName.toLowerCase() === b.userPrincipalName.toLowerCase();
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
    else if (inPersonSlot(tokens, i) && /^[A-Z]/.test(token.text)) unknown.push(fullName(tokens, i, skip));
  }

  // "Alex Wilber": a user named by two neighbouring words is the one meant by either of them.
  const support = new Map<string, number>();
  for (const users of byToken.values()) for (const u of users) support.set(u.id, (support.get(u.id) ?? 0) + 1);

  const people: DirectoryUser[] = await usersByEmail(text, reader);
  const ambiguous: PeopleMentioned['ambiguous'] = [];
  const runs = nameRuns(byToken);
  for (const [i, users] of byToken) {
    const run = runs.get(i);
    if (run && pointsElsewhere(tokens, run)) continue;
    const best = Math.max(...users.map((u) => support.get(u.id) ?? 0));
    const chosen = users.filter((u) => (support.get(u.id) ?? 0) === best);
    if (chosen.some((u) => sameUser(u, requester))) continue;
    if (chosen.length > 1) ambiguous.push({ name: tokens[i]?.text ?? '', candidates: chosen });
    else if (chosen[0] && !people.some((p) => sameUser(p, chosen[0]!))) people.push(chosen[0]);
  }
  return {
    people: people.filter((p) => !sameUser(p, requester)),
    unknown: [...new Set(unknown)],
    ambiguous: ambiguous.filter((a) => !a.candidates.some((c) => people.some((p) => sameUser(p, c)))),
  };
}

/** The request speaks of a third person ("his access", "her last day") without naming them. */
export function speaksOfSomeoneElse(text: string): boolean {
  return /\b(his|her|hers|him|he|she|he's|she's)\b/i.test(text);
}

/** The request speaks in the first person ("my last day", "I'm back"). */
export function speaksOfSelf(text: string): boolean {
  return /\b(i|me|my|mine|myself|i'm|i've|i'll)\b/i.test(text);
}
