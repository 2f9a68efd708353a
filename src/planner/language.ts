import { de } from './lexicon/de.ts';
import { es } from './lexicon/es.ts';
import { fr } from './lexicon/fr.ts';
import { nl } from './lexicon/nl.ts';
import { COMMON_WORDS } from './vocabulary.ts';

/**
 * The built-in planner reads English. Employees of MSP clients also write German, French, Spanish
 * and Dutch; this module tells which language a request is in and renders it in the English the
 * planner's patterns (intent.ts, resources.ts, subject.ts) expect. It is a phrase book, not a
 * translator: the phrases employees use for service-desk requests, longest first, and the function
 * words around them, so that what stays untranslated is mostly names, which must come through as
 * written (the planner finds people and products by their capitals and exact spelling).
 */

export type Language = 'en' | 'de' | 'fr' | 'es' | 'nl';

export interface LanguageReading {
  language: Language;
  /** the text rendered in English for the planner's patterns */
  english: string;
}

/**
 * A lexicon as written in `lexicon/*.ts`: marker words for detection and one entry a line,
 * `source phrase = english words @flags`. `head ... particle = english` is a split verb ("nimm ...
 * raus = remove"): the head says the English when the particle follows in the same clause, and the
 * particle says nothing. Flags:
 * - `@aux`: a finite auxiliary or modal (de, nl): a clause's `@verb` moves right after it;
 * - `@verb`: a participle, infinitive or particle that German and Dutch put at the clause's end;
 * - `@have`: that verb's English needs "have" ("ik ben vergeten" is "I have forgotten");
 * - `@fuse`: that verb replaces the auxiliary ("ik heb ... nodig" is "I need ...");
 * - `@neg`: a negation that moves with the verb; `+word` is said after the verb ("nicht mehr": "not ... anymore");
 * - `@refl`: on a verb, it drops the reflexive pronoun; on a pronoun, it is one ("mich anmelden" is "sign in");
 * - `@negated:english`: a finite verb's English when a negation ends its clause ("funktioniert die App nicht");
 * - `@perfect:english`: a verb's participle after "have" when it is written like its infinitive ("bekommen");
 * - `@polite:english`: the English when capitalised in mid-sentence ("Sie" is "you"; `_` for a space);
 * - `@name`: also a given name: a capitalised one is a person in mid-sentence, or before a verb ("Ben heeft").
 *
 * A capitalised word the lexicon does not know stays as written: German capitalises every noun, so
 * the phrase books cover the nouns of service-desk requests, and department or team names (which may
 * be the names of the client's groups: "Einkauf", "Vertrieb") are deliberately left out.
 */
export interface LexiconSource {
  /** Function words of the language, one point each in detection. */
  markers: string;
  /** Words of IT requests typical of the language, a point and a half each. */
  cues: string;
  /** Lower-case words inside people's names ("de Vries", "von Weber"): left as written between names. */
  nameParticles: string;
  entries: string;
}

/** What English a request's own words give: without evidence against it, a request is English. */
const ENGLISH_MARKERS = `i me my mine you your he him his she her we our they them their it its the a an this that these
those to for of from with without on at by about into onto and or but not no please pls thanks thank hi hello dear
need needs want would like could can can't cannot don't doesn't isn't won't is are was were be been have has had do does
did get got give add remove access password printer phone account locked forgot new lost stolen last day leaving left
back from leave license licence group list distribution shared mailbox drive folder admin rights today tomorrow
yesterday again still also too just when what why how who which there here some any all every will shall should
morning afternoon regards cheers working work broken anymore since until colleague manager boss team`;

const ENGLISH_WORDS: ReadonlySet<string> = new Set(ENGLISH_MARKERS.split(/\s+/).map(bareForm));

const LEXICONS: Readonly<Record<Exclude<Language, 'en'>, LexiconSource>> = { de, fr, es, nl };

/** A point for each function word, a point and a half for each typical request word. */
const MARKER_WEIGHT = 1;
const CUE_WEIGHT = 1.5;
/**
 * Any other word of a phrase book ("Bildschirm", "flackert") is weaker evidence: three quarters. Not
 * words English has too ("computer", "mail"), and not words that are also given names.
 */
const WORD_WEIGHT = 0.75;
/** Another language must have this much evidence, and this many times more than any rival. */
const MIN_EVIDENCE = 2;
const MARGIN = 1.5;
/** With no evidence for any other language at all, one typical request word suffices ("Jonas braucht Miro"). */
const MIN_EVIDENCE_ALONE = CUE_WEIGHT;

// ---------------------------------------------------------------------------------------------
// Tokens

interface Token {
  /** As written. */
  text: string;
  /** Lower case, accents kept: "él" is not "el". */
  exact: string;
  /** Lower case, accents dropped, ß as ss: how most people type on an English keyboard. */
  bare: string;
  /** What is between the previous token and this one. */
  gapBefore: string;
  /** Never translated: addresses, names with capitals inside, group names, numbers. */
  fixed: boolean;
  /** First word of a sentence (its capital says nothing about being a name). */
  sentenceStart: boolean;
  /** A sentence or a semicolon ends before it: no phrase runs across. */
  stop: boolean;
  /** Punctuation before it: a clause may start here. */
  pause: boolean;
}

/** Words, hyphenated or not; "contoso.example" is one word. */
const WORD = String.raw`[\p{L}\p{M}\p{N}]+(?:[-_][\p{L}\p{M}\p{N}]+|\.(?=[\p{Ll}\p{N}])[\p{L}\p{M}\p{N}]+)*`;
const WORDS = new RegExp(WORD, 'gu');
/** Addresses and links first, so their dots and hyphens stay theirs; only tried when the text has any. */
const WORDS_AND_ADDRESSES = new RegExp(String.raw`[\p{L}\p{N}._%+'-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+|https?:\/\/\S+|${WORD}`, 'gu');

/** Lower case, accents dropped, ß as ss: how the lexicons and the detection compare words. */
function bareForm(text: string): string {
  const lower = text.toLowerCase();
  return /^[a-z0-9'-]*$/.test(lower) ? lower : lower.replace(/ß/g, 'ss').normalize('NFD').replace(/\p{M}/gu, '');
}

/**
 * Group names ("SG-App-Zendesk", "DL-Sales"), product names with capitals inside ("SharePoint",
 * "iPhone"), acronyms, numbers and addresses are names whatever language they are written in.
 */
function isFixed(text: string): boolean {
  // One pass over the characters, part by hyphenated part: this runs for every word of every request.
  let letters = 0;
  let capitals = 0;
  let previousLower = false;
  for (let k = 0; k <= text.length; k++) {
    const code = k < text.length ? text.charCodeAt(k) : 45;
    if (code === 45) {
      if (letters >= 2 && capitals === letters) return true;
      letters = 0;
      capitals = 0;
      previousLower = false;
      continue;
    }
    const kind = letterKind(code, text[k] ?? '');
    if (kind === 'fixing') return true;
    if (kind === 'other') continue;
    letters++;
    if (kind === 'upper') {
      capitals++;
      if (previousLower) return true;
    }
    previousLower = kind === 'lower';
  }
  return false;
}

/** Digits, "@", ".", "_", "/" and ":" make a token a name or an address. */
function letterKind(code: number, c: string): 'upper' | 'lower' | 'fixing' | 'other' {
  if (code >= 97 && code <= 122) return 'lower';
  if (code >= 65 && code <= 90) return 'upper';
  if ((code >= 48 && code <= 58) || code === 64 || code === 46 || code === 95 || code === 47) return 'fixing';
  if (code < 128) return 'other';
  const lower = c.toLowerCase();
  if (lower === c.toUpperCase()) return /\p{N}/u.test(c) ? 'fixing' : 'other';
  return c === lower ? 'lower' : 'upper';
}

function tokenise(text: string): { tokens: Token[]; tail: string } {
  const tokens: Token[] = [];
  let last = 0;
  for (const m of text.matchAll(/@|:\/\//.test(text) ? WORDS_AND_ADDRESSES : WORDS)) {
    const gapBefore = text.slice(last, m.index);
    const word = m[0];
    const plain = gapBefore === ' ';
    tokens.push({
      text: word,
      exact: /^[\x00-\x7f]*$/.test(word) ? word.toLowerCase() : word.toLowerCase().normalize('NFC'),
      bare: bareForm(word),
      gapBefore,
      fixed: isFixed(word),
      sentenceStart: tokens.length === 0 || (!plain && /[.!?\n]/.test(gapBefore)),
      stop: !plain && /[.!?;\n]/.test(gapBefore),
      pause: !plain && /[.,;:!?()\n]/.test(gapBefore),
    });
    last = m.index + word.length;
  }
  return { tokens, tail: text.slice(last) };
}

// ---------------------------------------------------------------------------------------------
// Lexicons, compiled once

interface Entry {
  english: string;
  aux: boolean;
  verb: boolean;
  have: boolean;
  fuse: boolean;
  neg: boolean;
  refl: boolean;
  name: boolean;
  /** The English when written with a capital in mid-sentence: German "Sie" is "you", "sie" is "they". */
  polite: string | null;
  /** The English of this finite verb when a negation ends its clause ("funktioniert ... nicht": "doesn't work"). */
  negated: string | null;
  /** The participle when the auxiliary is "have" and German writes it like the infinitive ("habe ... bekommen": "got"). */
  perfect: string | null;
  /** Said after the verb ("anymore"). */
  after: string;
  /** Words of the source phrase. */
  length: number;
}

interface Lexicon {
  markers: ReadonlyMap<string, number>;
  /** Phrases by their words joined with spaces, accents kept. */
  exact: ReadonlyMap<string, Entry>;
  /** The same by their bare words; an accented spelling never takes the place of an unaccented one. */
  bare: ReadonlyMap<string, Entry>;
  /** For each first word (bare), the phrase lengths that start with it, longest first. */
  lengths: ReadonlyMap<string, readonly number[]>;
  /** Split verbs by their first part ("nimm ... raus"): the particle that ends the clause, and the English. */
  split: ReadonlyMap<string, ReadonlyArray<{ particle: string; english: string }>>;
  /** Lower-case words inside people's names ("de Vries", "von Weber"). */
  particles: ReadonlySet<string>;
}

function parseEntry(line: string): { source: string; entry: Entry } | null {
  const at = line.indexOf('=');
  if (at < 0) return null;
  const source = line.slice(0, at).trim();
  const right = line
    .slice(at + 1)
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  const flags = new Set(right.filter((w) => w.startsWith('@')));
  const polite = right.find((w) => w.startsWith('@polite:'));
  const negated = right.find((w) => w.startsWith('@negated:'));
  const perfect = right.find((w) => w.startsWith('@perfect:'));
  const after = right.filter((w) => w.startsWith('+')).map((w) => w.slice(1));
  const english = right.filter((w) => !w.startsWith('@') && !w.startsWith('+')).join(' ');
  const words = tokenise(source).tokens;
  if (source === '' || words.length === 0) return null;
  return {
    source,
    entry: {
      english: englishCase(english),
      aux: flags.has('@aux'),
      verb: flags.has('@verb'),
      have: flags.has('@have'),
      fuse: flags.has('@fuse'),
      neg: flags.has('@neg'),
      refl: flags.has('@refl'),
      name: flags.has('@name'),
      polite: polite ? polite.slice('@polite:'.length).replace(/_/g, ' ') : null,
      negated: negated ? englishCase(negated.slice('@negated:'.length).replace(/_/g, ' ')) : null,
      perfect: perfect ? englishCase(perfect.slice('@perfect:'.length).replace(/_/g, ' ')) : null,
      after: after.join(' '),
      length: words.length,
    },
  };
}

function compile(source: LexiconSource): Lexicon {
  const markers = new Map<string, number>();
  for (const w of source.cues.split(/\s+/)) if (w !== '') markers.set(bareForm(w), CUE_WEIGHT);
  for (const w of source.markers.split(/\s+/)) if (w !== '' && !markers.has(bareForm(w))) markers.set(bareForm(w), MARKER_WEIGHT);
  const exact = new Map<string, Entry>();
  const bare = new Map<string, Entry>();
  const lengths = new Map<string, Set<number>>();
  const split = new Map<string, Array<{ particle: string; english: string }>>();
  for (const line of source.entries.split('\n')) {
    const parsed = parseEntry(line);
    if (!parsed) continue;
    const parts = parsed.source.split(/\s*\.\.\.\s*/);
    if (parts.length === 2) {
      const head = bareForm(parts[0] ?? '');
      split.set(head, [...(split.get(head) ?? []), { particle: bareForm(parts[1] ?? ''), english: parsed.entry.english }]);
      continue;
    }
    const ws = tokenise(parsed.source).tokens;
    const exactKey = ws.map((t) => t.exact).join(' ');
    const bareKey = ws.map((t) => t.bare).join(' ');
    exact.set(exactKey, parsed.entry);
    if (exactKey === bareKey || !bare.has(bareKey)) bare.set(bareKey, parsed.entry);
    const first = ws[0]?.bare ?? '';
    lengths.set(first, (lengths.get(first) ?? new Set()).add(ws.length));
    if (ws.length === 1 && first.length > 2 && !parsed.entry.name && first !== bareForm(parsed.entry.english) && !COMMON_WORDS.has(first) && !ENGLISH_WORDS.has(first) && !markers.has(first)) {
      markers.set(first, WORD_WEIGHT);
    }
  }
  return {
    markers,
    exact,
    bare,
    split,
    particles: new Set(source.nameParticles.split(/\s+/).filter((w) => w !== '')),
    lengths: new Map([...lengths].map(([k, v]) => [k, [...v].sort((a, b) => b - a)])),
  };
}

const COMPILED: ReadonlyMap<Exclude<Language, 'en'>, Lexicon> = new Map(
  (Object.keys(LEXICONS) as Exclude<Language, 'en'>[]).map((l) => [l, compile(LEXICONS[l])]),
);
/** English words that are also words of another language ("is", "in", "me") are evidence for neither. */
const ENGLISH: ReadonlySet<string> = new Set([...ENGLISH_WORDS].filter((w) => ![...COMPILED.values()].some((l) => l.markers.has(w))));
const SHARED: ReadonlySet<string> = new Set([...ENGLISH_WORDS].filter((w) => !ENGLISH.has(w)));

/** How many entries each lexicon holds, for the report and the tests. */
export function lexiconSizes(): Record<Exclude<Language, 'en'>, number> {
  const size = (l: Exclude<Language, 'en'>): number => COMPILED.get(l)?.exact.size ?? 0;
  return { de: size('de'), fr: size('fr'), es: size('es'), nl: size('nl') };
}

// ---------------------------------------------------------------------------------------------
// Detection

/**
 * The language most of the request's words are in. Only words that belong to a language count
 * (names and products belong to none); English is the default unless another language has
 * enough evidence and clearly more than English and every other language. `confidence` is the
 * chosen language's share of all the evidence found (0 when nothing in the text belongs to any).
 */
export function detectLanguage(text: string): { language: Language; confidence: number } {
  return detectIn(text, tokenise(text).tokens);
}

/** "¿" and "¡" are Spanish and nothing else: each is a request word's worth of evidence. */
const SPANISH_MARKS = /[¿¡]/g;

/** Every marker word with the languages it is evidence for. */
const EVIDENCE: ReadonlyMap<string, ReadonlyArray<readonly [Language, number]>> = (() => {
  const evidence = new Map<string, Array<readonly [Language, number]>>();
  for (const w of ENGLISH) evidence.set(w, [['en', 1]]);
  for (const [language, lexicon] of COMPILED) {
    for (const [w, weight] of lexicon.markers) {
      if (!SHARED.has(w)) evidence.set(w, [...(evidence.get(w) ?? []), [language, weight]]);
    }
  }
  return evidence;
})();

function detectIn(text: string, tokens: readonly Token[]): { language: Language; confidence: number } {
  const scores = new Map<Language, number>([['en', 0]]);
  const marks = text.match(SPANISH_MARKS)?.length ?? 0;
  if (marks > 0) scores.set('es', marks * CUE_WEIGHT);
  for (const t of tokens) {
    if (t.fixed) continue;
    // "can't" is tokenised as "can" and "t": English contractions are English evidence.
    const found = t.bare === 't' && /['\u2019]$/.test(t.gapBefore) ? ([['en', 1]] as const) : EVIDENCE.get(t.bare);
    for (const [language, weight] of found ?? []) scores.set(language, (scores.get(language) ?? 0) + weight);
  }
  const total = [...scores.values()].reduce((a, b) => a + b, 0);
  const ranked = [...scores].sort((a, b) => b[1] - a[1]);
  const [best, second] = ranked;
  const english = scores.get('en') ?? 0;
  const alone = best !== undefined && best[1] === total;
  const enough = best !== undefined && best[1] >= (alone ? MIN_EVIDENCE_ALONE : MIN_EVIDENCE);
  if (best && best[0] !== 'en' && enough && best[1] >= MARGIN * (second?.[1] ?? 0) && best[1] >= MARGIN * english) {
    return { language: best[0], confidence: round(best[1] / total) };
  }
  return { language: 'en', confidence: total === 0 ? 0 : round(english / total) };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

// ---------------------------------------------------------------------------------------------
// Rendering

interface Unit {
  /** Tokens [start, end) this unit stands for. */
  start: number;
  end: number;
  /** The English, or null to keep the tokens as written. */
  english: string | null;
  entry: Entry | null;
}

function entryAt(lexicon: Lexicon, tokens: readonly Token[], i: number): Entry | null {
  const first = tokens[i];
  if (!first || first.fixed) return null;
  const lengths = lexicon.lengths.get(first.bare);
  if (!lengths) return null;
  // The longest span a phrase could cover: no fixed word inside, no sentence ending inside.
  let reach = 1;
  while (reach < (lengths[0] ?? 1) && i + reach < tokens.length) {
    const t = tokens[i + reach]!;
    if (t.fixed || t.stop) break;
    reach++;
  }
  for (const n of lengths) {
    if (n > reach) continue;
    let exactKey = first.exact;
    let bareKey = first.bare;
    for (let k = 1; k < n; k++) {
      exactKey += ` ${tokens[i + k]!.exact}`;
      bareKey += ` ${tokens[i + k]!.bare}`;
    }
    const entry = lexicon.exact.get(exactKey) ?? lexicon.bare.get(bareKey);
    if (!entry) continue;
    // "Ben" in the middle of a sentence is a person; "ben" is "am"; "Ben heeft ..." is Ben again.
    if (entry.name && n === 1 && /^\p{Lu}/u.test(first.text) && (!first.sentenceStart || startsWithVerb(lexicon, tokens[i + 1]))) continue;
    return entry;
  }
  return null;
}

/** The word is a finite verb of the language ("heeft", "ist"): what follows a subject. */
function startsWithVerb(lexicon: Lexicon, token: Token | undefined): boolean {
  return !!token && !token.stop && (lexicon.bare.get(token.bare)?.aux ?? false);
}

/**
 * "Zendesk-Zugang" → "Zendesk access": a compound whose last part is a word of the language keeps
 * its first parts as written. Group names never get here (they are fixed).
 */
function compoundUnit(lexicon: Lexicon, token: Token): string | null {
  if (!token.text.includes('-')) return null;
  const parts = token.text.split('-');
  const last = bareForm(parts[parts.length - 1] ?? '');
  const entry = lexicon.bare.get(last);
  if (!entry || entry.english === '' || entry.aux || entry.verb || entry.neg) return null;
  return `${parts.slice(0, -1).join(' ')} ${entry.english}`;
}

/**
 * A particle right after a word left as written (a name) and before a capitalised word is part of
 * the name. The word before must be unknown to the lexicon: in "Arbeitstag von Nestor" it is not.
 */
function inName(particles: ReadonlySet<string>, tokens: readonly Token[], i: number, previous: Unit | undefined): boolean {
  if (!previous || previous.english !== null || !particles.has(tokens[i]?.text ?? '') || tokens[i]?.pause) return false;
  const before = tokens[previous.end - 1];
  if (!before || !/^\p{Lu}/u.test(before.text) || before.sentenceStart) return false;
  let k = i;
  while (particles.has(tokens[k]?.text ?? '') && !tokens[k]?.pause) k++;
  const next = tokens[k];
  return !!next && k > i && !next.pause && /^\p{Lu}/u.test(next.text);
}

/**
 * The particle of a split verb whose first part is at `i` ("nehmt mich aus DL-Sales raus"): its
 * last place in the same clause, or -1.
 */
function particleOf(lexicon: Lexicon, tokens: readonly Token[], i: number): { at: number; english: string } | null {
  const forms = lexicon.split.get(tokens[i]?.bare ?? '');
  if (!forms) return null;
  let found: { at: number; english: string } | null = null;
  for (let k = i + 1; k < tokens.length && !tokens[k]!.pause; k++) {
    const form = forms.find((f) => f.particle === tokens[k]!.bare);
    if (form) found = { at: k, english: form.english };
  }
  return found;
}

function unitsOf(lexicon: Lexicon, tokens: readonly Token[]): Unit[] {
  const units: Unit[] = [];
  const particles = new Set<number>();
  let i = 0;
  while (i < tokens.length) {
    if (inName(lexicon.particles, tokens, i, units[units.length - 1])) {
      units.push({ start: i, end: i + 1, english: null, entry: null });
      i++;
      continue;
    }
    if (particles.has(i)) {
      units.push({ start: i, end: i + 1, english: '', entry: null });
      i++;
      continue;
    }
    const particle = particleOf(lexicon, tokens, i);
    if (particle) {
      particles.add(particle.at);
      units.push({ start: i, end: i + 1, english: particle.english, entry: null });
      i++;
      continue;
    }
    const entry = entryAt(lexicon, tokens, i);
    if (entry) {
      const first = tokens[i]!;
      const polite = entry.polite !== null && entry.length === 1 && /^\p{Lu}/u.test(first.text) && !first.sentenceStart;
      units.push({ start: i, end: i + entry.length, english: polite ? entry.polite : entry.english, entry });
      i += entry.length;
      continue;
    }
    const t = tokens[i]!;
    const compound = t.fixed ? null : compoundUnit(lexicon, t);
    units.push({ start: i, end: i + 1, english: compound, entry: null });
    i++;
  }
  return units;
}

/** Conjunctions that start a new clause in German and Dutch, where the verb goes back to the end. */
const CLAUSE_WORDS = new Set(['und', 'oder', 'aber', 'weil', 'dass', 'wenn', 'ob', 'en', 'of', 'maar', 'omdat', 'dat', 'als', 'want']);

function startsClause(tokens: readonly Token[], unit: Unit): boolean {
  const t = tokens[unit.start];
  return !t || t.pause || CLAUSE_WORDS.has(t.bare);
}

/** Clauses as ranges of units. */
function clauses(tokens: readonly Token[], units: readonly Unit[]): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let from = 0;
  for (let k = 1; k <= units.length; k++) {
    const u = units[k];
    if (!u || startsClause(tokens, u)) {
      ranges.push([from, k]);
      from = k;
    }
  }
  return ranges;
}

/** "has" for "is", "have" for "am": what a participle that needs "have" makes of its auxiliary. */
function haveFor(aux: string): string {
  const words = aux.split(' ');
  const last = words.pop() ?? '';
  const have = /^(is|has)$/.test(last) ? 'has' : /^(was|were|had)$/.test(last) ? 'had' : 'have';
  return [...words, have].join(' ');
}

const NEED = /^(I )?needs?$/;

/**
 * A negation at the clause's end, where German and Dutch put it, negates the finite verb before it:
 * "Ich brauche Tableau nicht mehr" takes the need back in the words withdraw cues are read by ("no
 * longer need", "don't need"); "jetzt funktioniert die App nicht mehr" is "doesn't work ... anymore".
 */
function clauseEndNegation(clause: readonly Unit[]): Unit[] {
  const last = clause[clause.length - 1];
  if (!last?.entry?.neg) return [...clause];
  const v = clause.findIndex((u) => u.entry?.negated);
  if (v >= 0 && v < clause.length - 1) {
    const verb = clause[v]!;
    return [...clause.slice(0, v), { ...verb, english: verb.entry?.negated ?? null }, ...clause.slice(v + 1, -1), { ...last, english: last.entry?.after ?? '' }];
  }
  const n = clause.findIndex((u) => NEED.test(u.english ?? ''));
  if (n < 0 || n === clause.length - 1) return [...clause];
  const need = clause[n]!;
  const english = (need.english ?? '').replace(/needs?$/, (w) => `${last.entry?.after ? 'no longer' : "don't"} ${w === 'needs' && !last.entry?.after ? 'need' : w}`);
  return [...clause.slice(0, n), { ...need, english }, ...clause.slice(n + 1, -1)];
}

/**
 * German and Dutch put participles, infinitives and some particles at the clause's end ("Ich habe
 * mein Passwort vergessen", "ik kan niet meer inloggen"); English puts them after the auxiliary,
 * which is where the planner's patterns look ("forgotten my password", "can not log in").
 */
function verbsForward(tokens: readonly Token[], units: Unit[]): Unit[] {
  const out: Unit[] = [];
  for (const [from, to] of clauses(tokens, units)) {
    const clause = units.slice(from, to);
    const a = clause.findIndex((u) => u.entry?.aux);
    let v = -1;
    for (let k = clause.length - 1; k > a && a >= 0; k--) {
      if (clause[k]?.entry?.verb) {
        v = k;
        break;
      }
    }
    if (a < 0 || v < 0) {
      out.push(...clauseEndNegation(clause));
      continue;
    }
    const aux = clause[a]!;
    const verb = clause[v]!;
    const between = clause.slice(a + 1, v);
    const negs = between.filter((u) => u.entry?.neg);
    let rest = between.filter((u) => !u.entry?.neg);
    if (verb.entry?.refl) {
      const pronoun = rest.findIndex((u) => u.entry?.refl);
      if (pronoun >= 0) rest = rest.filter((_, k) => k !== pronoun);
    }
    let auxEnglish = aux.english ?? '';
    let verbEnglish = verb.english ?? '';
    if (verb.entry?.have) auxEnglish = haveFor(auxEnglish);
    if (verb.entry?.perfect && /\b(have|has|had)$/.test(auxEnglish)) verbEnglish = verb.entry.perfect;
    let after = negs.map((n) => n.entry?.after ?? '').filter((w) => w !== '');
    let said = negs;
    if (verb.entry?.fuse) {
      // "ik heb het niet meer nodig": the need is taken back, in the words withdraw cues are read by.
      const third = /^(is|has|was)$/.test(auxEnglish.split(' ').pop() ?? '');
      auxEnglish = auxEnglish.split(' ').slice(0, -1).join(' ');
      if (negs.length > 0) {
        verbEnglish = `${after.length > 0 ? 'no longer' : third ? "doesn't" : "don't"} ${after.length > 0 && third ? `${verbEnglish}s` : verbEnglish}`;
        said = [];
        after = [];
      } else if (third) {
        verbEnglish = `${verbEnglish}s`;
      }
    }
    // "kann ich nicht": "I can not", the order the patterns read ("can t|cannot|can not").
    const inverted = /^(\w+) (I|he|she|we|you|they)$/.exec(auxEnglish);
    if (inverted && said.length > 0) auxEnglish = `${inverted[2]} ${inverted[1]}`;
    const movedVerb: Unit = { ...verb, english: [verbEnglish, ...after].filter((w) => w !== '').join(' ') };
    // Without a negation, the verb goes before its object: "I have over the weekend forgotten my password".
    const object = said.length === 0 && !verb.entry?.fuse ? objectStart(rest) : -1;
    const moved: Unit[] =
      object > 0
        ? [{ ...aux, english: englishCase(auxEnglish) }, ...rest.slice(0, object), movedVerb, ...rest.slice(object)]
        : [{ ...aux, english: englishCase(auxEnglish) }, ...said, movedVerb, ...rest];
    out.push(...clause.slice(0, a), ...moved, ...clause.slice(v + 1));
  }
  return out;
}

const DETERMINER = /^(a|an|the|my|his|her|our|your|their|me|him|us|them)\b/;
const PREPOSITION = /\b(on|in|at|to|from|about|over|with|for|of|by|after|before|since|until|into|under|without|during)$/;

/**
 * Where the verb's object starts among the words between auxiliary and verb: the first article,
 * possessive or object pronoun that is not part of a prepositional phrase ("über das Wochenende"
 * is not the object). At 0 or nowhere, the verb follows the auxiliary.
 */
function objectStart(between: readonly Unit[]): number {
  return between.findIndex((u, k) => DETERMINER.test(u.english ?? '') && !PREPOSITION.test(between[k - 1]?.english ?? ''));
}

/** Lower case English, except "I". */
function englishCase(text: string): string {
  return text.toLowerCase().replace(/\bi\b/g, 'I');
}

/**
 * The units written out: untouched words exactly as written, each with the space or punctuation
 * that came before it (inside a clause, where verbs move, that is a space).
 */
function join(tokens: readonly Token[], units: readonly Unit[], tail: string): string {
  let out = '';
  let previousTranslated = false;
  units.forEach((u, k) => {
    const first = tokens[u.start]!;
    let gap = k > 0 && first.gapBefore === '' ? ' ' : first.gapBefore;
    // Elision: "l'imprimante" is "the printer", not "the'printer".
    if (/^['\u2019]$/.test(gap) && (previousTranslated || u.english !== null)) gap = ' ';
    const words =
      u.english ??
      tokens
        .slice(u.start, u.end)
        .map((t, j) => (j === 0 ? t.text : t.gapBefore + t.text))
        .join('');
    out += words === '' && !/[^\s'\u2019]/.test(gap) ? '' : `${gap}${words}`;
    previousTranslated = u.english !== null;
  });
  return tidy(out + tail);
}

/** Dropped words leave doubled spaces and spaces before punctuation behind. */
function tidy(text: string): string {
  return text
    .replace(/[ \t]{2,}/g, ' ')
    .replace(/[ \t]+([,.;:!?])/g, '$1')
    .replace(/^[ \t]+/, '')
    .replace(/\bI I\b/g, 'I')
    .replace(/([¿¡])[ \t]+/g, '$1');
}

/** The request in English for the planner's patterns; English requests come back unchanged. */
export function readLanguage(text: string): LanguageReading {
  const { tokens, tail } = tokenise(text);
  const { language } = detectIn(text, tokens);
  if (language === 'en') return { language, english: text };
  const lexicon = COMPILED.get(language)!;
  const units = unitsOf(lexicon, tokens);
  const ordered = language === 'de' || language === 'nl' ? verbsForward(tokens, units) : units;
  return { language, english: join(tokens, ordered, tail) };
}
