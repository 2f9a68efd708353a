/**
 * Misspelt names ("Zendsk", "Salesforse", "Tablaeu"): a word standing where an application, group
 * or license goes that matches nothing exactly is compared with the names the tenant and the
 * runbooks use. It is read as one of them only when that name is near enough for its length and
 * clearly nearer than any other; two names about as near are reported, so the request escalates
 * instead of guessing.
 */

/**
 * Optimal string alignment distance (Levenshtein plus the swap of two neighbouring letters, the
 * commonest typing slip), computed only as far as `max`: anything further comes back as `max + 1`.
 */
export function editDistance(a: string, b: string, max: number): number {
  if (a === b) return 0;
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const width = b.length + 1;
  let before = new Array<number>(width).fill(0);
  let previous = Array.from({ length: width }, (_, j) => j);
  let current = new Array<number>(width).fill(0);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, (before[j - 2] ?? 0) + 1);
      current[j] = value;
      if (value < rowMin) rowMin = value;
    }
    if (rowMin > max) return max + 1;
    [before, previous, current] = [previous, current, before];
  }
  const distance = previous[b.length] ?? max + 1;
  return distance > max ? max + 1 : distance;
}

/**
 * How many slips a name of this length may carry and still be recognised: none below five letters
 * ("Jira" and "Java" are different things), one up to seven, two from eight. The shorter of the two
 * spellings decides, so a long word is never read as a short name.
 */
export function allowedEdits(typed: string, name: string): number {
  const length = Math.min(typed.length, name.length);
  if (length < 3) return 0;
  // Short names take one slip only when it cannot be a different short word: two letters swapped
  // ("VNP"), or one letter dropped from a name of five ("Slak").
  if (length < 5) return isSwap(typed, name) || (name.length >= 5 && typed.length === name.length - 1) ? 1 : 0;
  return length < 8 ? 1 : 2;
}

/** The same letters with two neighbours swapped. */
function isSwap(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  const diff = [...a].flatMap((c, i) => (c === b[i] ? [] : [i]));
  return diff.length === 2 && diff[1] === (diff[0] ?? -2) + 1 && a[diff[0]!] === b[diff[1]!] && a[diff[1]!] === b[diff[0]!];
}

export interface FuzzyCandidate<T> {
  /** The name as compared: normalised, without spaces ("powerbipro"). */
  key: string;
  value: T;
  /** Candidates that are the same thing (two names of one application) share an identity. */
  identity: string;
}

export type FuzzyResult<T> =
  | { kind: 'match'; value: T; key: string; distance: number }
  | { kind: 'ambiguous'; values: T[]; keys: string[]; distance: number }
  | { kind: 'none' };

/**
 * The candidate nearest to `typed`, within its allowance, when no other thing (another identity)
 * is within `margin` of it. The first letter must agree: people rarely misspell the start of a
 * name, and most unrelated words differ there.
 */
export function nearest<T>(typed: string, candidates: readonly FuzzyCandidate<T>[], margin = 1): FuzzyResult<T> {
  const scored: Array<{ candidate: FuzzyCandidate<T>; distance: number }> = [];
  for (const candidate of candidates) {
    if (candidate.key[0] !== typed[0]) continue;
    const allowed = allowedEdits(typed, candidate.key);
    if (allowed === 0) continue;
    const distance = editDistance(typed, candidate.key, allowed);
    if (distance <= allowed) scored.push({ candidate, distance });
  }
  if (scored.length === 0) return { kind: 'none' };
  scored.sort((a, b) => a.distance - b.distance);
  const best = scored[0]!;
  const close = scored.filter((s) => s.distance - best.distance < margin);
  const identities = new Set(close.map((s) => s.candidate.identity));
  if (identities.size === 1) return { kind: 'match', value: best.candidate.value, key: best.candidate.key, distance: best.distance };
  const byIdentity = new Map<string, { candidate: FuzzyCandidate<T>; distance: number }>();
  for (const s of close) if (!byIdentity.has(s.candidate.identity)) byIdentity.set(s.candidate.identity, s);
  const rivals = [...byIdentity.values()];
  return { kind: 'ambiguous', values: rivals.map((r) => r.candidate.value), keys: rivals.map((r) => r.candidate.key), distance: best.distance };
}
