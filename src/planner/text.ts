/**
 * Text handling shared by the runbook parser and the request reader. Both sides are normalised the
 * same way, so that a phrase taken from a runbook ("Finance file share (the F: drive)") or a group
 * name ("SG-App-Zendesk") matches the employee's words ("the F drive", "sg-app-zendesk") exactly.
 */

import { LRUCache } from 'lru-cache';

/** "café" → "cafe", so that accents never split a word in two. */
function withoutAccents(text: string): string {
  return text.normalize('NFD').replace(/[\u0300-\u036f]/g, '');
}

/**
 * Remembered normalisations, bounded in count, in characters (a ticket's whole text is normalised
 * too, and tickets come from anyone) and in time.
 */
const NORMALISED_MAX_CHARS = 4_000_000;
const normalised = new LRUCache<string, string>({
  max: 20_000,
  maxSize: NORMALISED_MAX_CHARS,
  maxEntrySize: 64_000,
  sizeCalculation: (value, key) => key.length + value.length + 1,
  ttl: 60 * 60_000,
  updateAgeOnGet: true,
});

/**
 * Lower case, possessives dropped, every run of punctuation a single space. `@` is kept for
 * mailboxes. The planner normalises the same runbook lines and names for every request: remembered.
 */
export function normalise(text: string): string {
  let result = normalised.get(text);
  if (result === undefined) {
    result = normaliseNow(text);
    normalised.set(text, result);
  }
  return result;
}

/** What the memory of normalisations holds now, in characters, and its bound. */
export function normalisedCacheSize(): { entries: number; chars: number; maxChars: number } {
  return { entries: normalised.size, chars: normalised.calculatedSize, maxChars: NORMALISED_MAX_CHARS };
}

function normaliseNow(text: string): string {
  return withoutAccents(text)
    .toLowerCase()
    .replace(/[\u2018\u2019\u02bc]/g, "'")
    .replace(/'s\b/g, '')
    .replace(/[^a-z0-9@]+/g, ' ')
    .trim();
}

/** An e-mail address in a request or a reason, its domain captured (global: for `matchAll` and `replace`). */
export const EMAIL_ADDRESS = /[A-Za-z0-9._%+'-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)/g;

export function words(text: string): string[] {
  const n = normalise(text);
  return n === '' ? [] : n.split(' ');
}

/** `words` with the writer's capitals kept, index for index: "Workday" is a name, "workday" may not be. */
export function casedWords(text: string): string[] {
  const n = withoutAccents(text)
    .replace(/[\u2018\u2019\u02bc]/g, "'")
    .replace(/'s\b/gi, '')
    .replace(/[^A-Za-z0-9@]+/g, ' ')
    .trim();
  return n === '' ? [] : n.split(' ');
}

/** Every start index (in words) where `phrase` occurs in `haystack`. Both are word arrays. */
export function phraseOccurrences(haystack: readonly string[], phrase: readonly string[]): number[] {
  const found: number[] = [];
  if (phrase.length === 0) return found;
  for (let i = 0; i + phrase.length <= haystack.length; i++) {
    if (phrase.every((w, j) => haystack[i + j] === w)) found.push(i);
  }
  return found;
}

/**
 * Sentences of a runbook body: one per line, and lines that pack several rules into sentences
 * ("Zendesk: SG-App-Zendesk. VPN: SG-VPN-Users.") split at a full stop followed by a capital.
 */
export function splitSentences(body: string): string[] {
  return body
    .split(/\r?\n/)
    .flatMap((line) => line.split(/(?<=[.!?])\s+(?=[A-Z(])/))
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * Split at the first occurrence of a separator outside parentheses, so that
 * "Finance file share (the F: drive): SG-Finance-Share" splits after the closing parenthesis.
 */
export function splitOutsideParentheses(text: string, separators: readonly string[]): [string, string] | null {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth = Math.max(0, depth - 1);
    else if (depth === 0) {
      for (const sep of separators) {
        if (text.startsWith(sep, i)) return [text.slice(0, i).trim(), text.slice(i + sep.length).trim()];
      }
    }
  }
  return null;
}

/** Parenthesised parts of a phrase, and the phrase without them. */
export function parentheticals(text: string): { bare: string; inner: string[] } {
  const inner: string[] = [];
  const bare = text.replace(/\(([^()]*)\)/g, (_m, content: string) => {
    inner.push(content.trim());
    return ' ';
  });
  return { bare: bare.replace(/\s+/g, ' ').trim(), inner };
}

/** "A, B and C" → [A, B, C]. */
export function splitList(text: string): string[] {
  return text
    .split(/\s*,\s*|\s+and\s+|\s+or\s+|\s*;\s*|\s*&\s*/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** "Human Resources" → "hr": lets a runbook's "HR" match a department spelled out. */
export function acronym(text: string): string {
  return words(text)
    .map((w) => w[0] ?? '')
    .join('');
}

export function stripTrailingPunctuation(text: string): string {
  return text.replace(/[.,;:!?]+$/, '');
}

export function quote(text: string): string {
  return `"${text}"`;
}
