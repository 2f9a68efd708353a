import { normalise, words } from './text.ts';

/**
 * A request split where one ask ends and another may begin: sentences, lines, semicolons, and
 * "and also" / "and please" / "also," joins. Asks in different clauses may be for different people
 * ("I need DocuSign, and please add Nestor to the Sales list"), so each clause finds its own.
 */
export interface Clause {
  /** Character offsets in the request's text. */
  start: number;
  end: number;
  text: string;
  /** Word offsets in `words(text)` of the whole request. */
  wordStart: number;
  wordEnd: number;
}

/**
 * Where clauses break: the end of a sentence (not "e.g." or a file name's dot), a line break, a
 * semicolon, and joins that start a new ask.
 */
const BREAK =
  /(?<=[.!?])\s+(?=\S)|\r?\n+|;\s*|,?\s+(?=(?:and|but) (?:also|please|pls|could|can|would|will|then)\b)|,\s*(?=also\b|plus\b|additionally\b|so\b)|\s+(?=also,)|,?\s+(?=and (?:[A-Z][\w'-]*\s){1,2}(?:needs|wants|requires|should|would|could|will|also|too|has|is)\b)/g;

export function splitClauses(text: string): Clause[] {
  const pieces: Array<{ start: number; end: number }> = [];
  let from = 0;
  for (const m of text.matchAll(BREAK)) {
    const at = m.index ?? 0;
    if (at > from) pieces.push({ start: from, end: at });
    from = at + m[0].length;
  }
  if (from < text.length) pieces.push({ start: from, end: text.length });
  const clauses: Clause[] = [];
  let word = 0;
  for (const piece of pieces) {
    const clauseText = text.slice(piece.start, piece.end);
    const count = words(clauseText).length;
    if (count === 0) continue;
    clauses.push({ ...piece, text: clauseText, wordStart: word, wordEnd: word + count });
    word += count;
  }
  // The clauses' words must be the request's words; when normalising across a break would differ, one clause.
  if (word !== words(text).length) return [{ start: 0, end: text.length, text, wordStart: 0, wordEnd: words(text).length }];
  return clauses;
}

/** "I need", "I want": the writer wants something, for themselves or, as a manager, for others ("I want these four on Power BI"). */
const WANTS = String.raw`\b(i|we) (also |still |really |urgently |just |now |will |would |d |ll |shall |am going to |m going to )*(need|want|require|like|request|have to have)\b`;

/** The writer is the one who gets it, or the one it happened to: "give me", "my password", "can I get", "I lost". */
const FIRST_PERSON_RECIPIENT = new RegExp(
  [
    String.raw`\b(i|we) (also |still |really |just |now )*(am missing|m missing|lost|forgot|can t|cannot|couldn t|got|clicked|opened|left|broke|dropped|replaced|changed|am locked|m locked|keep getting)\b`,
    String.raw`\b(can|could|may|might) i\b`,
    String.raw`\b(give|add|grant|get|set|put|assign|enable|sign|let|allow|unlock|reset|help) me\b`,
    String.raw`\b(for|to|onto|into) me\b`,
    String.raw`\bme (and|too|as well|also)\b`,
    String.raw`\band me\b`,
    String.raw`\bmyself\b`,
    String.raw`\bi m (back|leaving|locked|returning|unable|not able)\b`,
    String.raw`\bmy (own )?(account|access|password|phone|mobile|mfa|login|license|licence|laptop|computer|sessions?|authenticator|mailbox|email|credentials|sign ?in|pc|2fa)\b`,
  ].join('|'),
);
const FIRST_PERSON_ASK = new RegExp(`${WANTS}|${FIRST_PERSON_RECIPIENT.source}`);

export function asksForSelf(clauseText: string): boolean {
  return FIRST_PERSON_ASK.test(normalise(clauseText));
}

/**
 * "I want these four on Power BI Pro: Adele, Lynne...": the writer wants something for the people
 * the clause lists, not for themselves (no "me", "my", "can I" beside it).
 */
export function wantsForOthers(clauseText: string): boolean {
  const n = normalise(clauseText);
  return new RegExp(WANTS).test(n) && !FIRST_PERSON_RECIPIENT.test(n) && /\b(these|those|them|they|the following|both of them|all of them|each of them)\b/.test(n);
}

/** The clause points back at someone named before ("Please switch off his access"). */
export function pointsBack(clauseText: string): boolean {
  return /\b(his|her|him|he|she|they|them|their)\b/.test(normalise(clauseText));
}

/** The clause, or none, that holds a character offset. */
export function clauseAt(clauses: readonly Clause[], offset: number): number {
  return clauses.findIndex((c) => offset >= c.start && offset < c.end);
}

/** The clause that holds a word offset of the whole request. */
export function clauseOfWord(clauses: readonly Clause[], word: number): number {
  return clauses.findIndex((c) => word >= c.wordStart && word < c.wordEnd);
}
