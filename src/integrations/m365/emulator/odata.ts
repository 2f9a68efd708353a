/**
 * The slice of OData the Graph emulator understands: `$filter` with `eq`, `startsWith`, `and`, `or`
 * and parentheses, and directory `$search` with Graph's tokenized matching. Anything else is refused
 * the way Graph refuses it (400 Request_UnsupportedQuery), so a client that relies on more fails in
 * tests instead of passing against a lenient fake.
 */

export class ODataQueryError extends Error {
  override readonly name = 'ODataQueryError';
}

export type ODataRecord = Readonly<Record<string, unknown>>;
export type Predicate = (item: ODataRecord) => boolean;

// ---------------------------------------------------------------------------------------------
// $filter
// ---------------------------------------------------------------------------------------------

type FilterToken =
  | { kind: 'string'; value: string }
  | { kind: 'word'; value: string }
  | { kind: 'open' | 'close' | 'comma' };

function tokenizeFilter(text: string): FilterToken[] {
  const tokens: FilterToken[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '(' || ch === ')' || ch === ',') {
      tokens.push({ kind: ch === '(' ? 'open' : ch === ')' ? 'close' : 'comma' });
      i++;
    } else if (ch === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new ODataQueryError('Unterminated string literal in $filter.');
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i];
        i++;
      }
      tokens.push({ kind: 'string', value });
    } else {
      const start = i;
      while (i < text.length && !/[\s(),']/.test(text[i]!)) i++;
      tokens.push({ kind: 'word', value: text.slice(start, i) });
    }
  }
  return tokens;
}

/** Compiles a `$filter` expression over the given filterable properties. */
export function compileFilter(text: string, filterable: ReadonlySet<string>): Predicate {
  const tokens = tokenizeFilter(text);
  let pos = 0;
  const peek = (): FilterToken | undefined => tokens[pos];
  const isWord = (token: FilterToken | undefined, word: string): boolean =>
    token?.kind === 'word' && token.value.toLowerCase() === word;

  const property = (): string => {
    const token = tokens[pos++];
    if (token?.kind !== 'word' || !filterable.has(token.value)) {
      throw new ODataQueryError('Unsupported Query.');
    }
    return token.value;
  };

  const literal = (): string | boolean | null => {
    const token = tokens[pos++];
    if (token?.kind === 'string') return token.value;
    if (isWord(token, 'true')) return true;
    if (isWord(token, 'false')) return false;
    if (isWord(token, 'null')) return null;
    throw new ODataQueryError('Unsupported Query.');
  };

  const expect = (kind: 'open' | 'close' | 'comma'): void => {
    if (tokens[pos++]?.kind !== kind) throw new ODataQueryError(`Syntax error in $filter: expected '${kind}'.`);
  };

  const factor = (): Predicate => {
    const token = peek();
    if (token?.kind === 'open') {
      pos++;
      const inner = expression();
      expect('close');
      return inner;
    }
    if (isWord(token, 'startswith') && tokens[pos + 1]?.kind === 'open') {
      pos += 2;
      const name = property();
      expect('comma');
      const prefix = literal();
      expect('close');
      if (typeof prefix !== 'string') throw new ODataQueryError('Unsupported Query.');
      return (item) => {
        const value = item[name];
        return typeof value === 'string' && value.toLowerCase().startsWith(prefix.toLowerCase());
      };
    }
    const name = property();
    if (!isWord(tokens[pos++], 'eq')) throw new ODataQueryError('Unsupported Query.');
    const expected = literal();
    return (item) => equalsCaseInsensitive(item[name], expected);
  };

  const term = (): Predicate => {
    let left = factor();
    while (isWord(peek(), 'and')) {
      pos++;
      const a = left;
      const b = factor();
      left = (item) => a(item) && b(item);
    }
    return left;
  };

  const expression = (): Predicate => {
    let left = term();
    while (isWord(peek(), 'or')) {
      pos++;
      const a = left;
      const b = term();
      left = (item) => a(item) || b(item);
    }
    return left;
  };

  const predicate = expression();
  if (pos !== tokens.length) throw new ODataQueryError('Unsupported Query.');
  return predicate;
}

/** Directory string comparisons are case-insensitive in Entra. */
function equalsCaseInsensitive(actual: unknown, expected: string | boolean | null): boolean {
  if (expected === null) return actual === null || actual === undefined;
  if (typeof expected === 'string') return typeof actual === 'string' && actual.toLowerCase() === expected.toLowerCase();
  return actual === expected;
}

// ---------------------------------------------------------------------------------------------
// $search
// ---------------------------------------------------------------------------------------------

/**
 * Graph's directory search tokens (docs, "Using $search on directory object collections"): words
 * split at spaces, symbols, digit/letter changes and lower-to-upper case changes, compared in lower
 * case; words joined only by symbols also form one combined token (`hello-world` → `helloworld`).
 */
export function searchTokens(text: string): string[] {
  const tokens = new Set<string>();
  for (const word of text.split(/\s+/)) {
    const pieces = word.split(/[^\p{L}\p{N}]+/u).filter((p) => p.length > 0);
    for (const piece of pieces) {
      const split = piece
        .replace(/(\p{Ll})(\p{Lu})/gu, '$1 $2')
        .replace(/(\p{L})(\p{N})/gu, '$1 $2')
        .replace(/(\p{N})(\p{L})/gu, '$1 $2');
      for (const part of split.split(' ')) if (part) tokens.add(part.toLowerCase());
    }
    if (pieces.length > 1) tokens.add(pieces.join('').toLowerCase());
  }
  return [...tokens];
}

/** Every token of the query must start some token of the value, in any order. */
function tokenizedMatch(value: string, query: string): boolean {
  const valueTokens = searchTokens(value);
  const queryTokens = searchTokens(query);
  return queryTokens.length > 0 && queryTokens.every((q) => valueTokens.some((v) => v.startsWith(q)));
}

/** Only displayName and description are tokenized; other properties fall back to startsWith. */
const TOKENIZED = new Set(['displayName', 'description']);

type SearchToken = { kind: 'clause'; property: string; text: string } | { kind: 'and' | 'or' | 'open' | 'close' };

function tokenizeSearch(text: string): SearchToken[] {
  const tokens: SearchToken[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '(' || ch === ')') {
      tokens.push({ kind: ch === '(' ? 'open' : 'close' });
      i++;
    } else if (ch === '"') {
      let clause = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new ODataQueryError('Syntax error: unterminated clause in $search.');
        const c = text[i]!;
        if (c === '\\' && i + 1 < text.length) {
          clause += text[i + 1];
          i += 2;
          continue;
        }
        if (c === '"') {
          i++;
          break;
        }
        clause += c;
        i++;
      }
      const colon = clause.indexOf(':');
      if (colon <= 0) throw new ODataQueryError('Syntax error: a $search clause must be "property:text".');
      tokens.push({ kind: 'clause', property: clause.slice(0, colon), text: clause.slice(colon + 1) });
    } else {
      const start = i;
      while (i < text.length && !/[\s()"]/.test(text[i]!)) i++;
      const word = text.slice(start, i);
      // Graph requires the operators in upper case, outside the quotes.
      if (word === 'AND') tokens.push({ kind: 'and' });
      else if (word === 'OR') tokens.push({ kind: 'or' });
      else throw new ODataQueryError(`Syntax error: '${word}' is not valid in $search; quote each clause.`);
    }
  }
  return tokens;
}

/** Compiles a directory `$search` expression over the given searchable properties. */
export function compileSearch(text: string, searchable: ReadonlySet<string>): Predicate {
  const tokens = tokenizeSearch(text);
  let pos = 0;

  const factor = (): Predicate => {
    const token = tokens[pos++];
    if (token?.kind === 'open') {
      const inner = expression();
      if (tokens[pos++]?.kind !== 'close') throw new ODataQueryError('Syntax error: missing closing parenthesis in $search.');
      return inner;
    }
    if (token?.kind !== 'clause') throw new ODataQueryError('Syntax error in $search.');
    const { property, text: query } = token;
    if (!searchable.has(property)) throw new ODataQueryError(`Unsupported property '${property}' in $search.`);
    return (item) => {
      const value = item[property];
      if (typeof value !== 'string') return false;
      return TOKENIZED.has(property) ? tokenizedMatch(value, query) : value.toLowerCase().startsWith(query.toLowerCase());
    };
  };

  const term = (): Predicate => {
    let left = factor();
    while (tokens[pos]?.kind === 'and') {
      pos++;
      const a = left;
      const b = factor();
      left = (item) => a(item) && b(item);
    }
    return left;
  };

  const expression = (): Predicate => {
    let left = term();
    while (tokens[pos]?.kind === 'or') {
      pos++;
      const a = left;
      const b = term();
      left = (item) => a(item) || b(item);
    }
    return left;
  };

  const predicate = expression();
  if (pos !== tokens.length) throw new ODataQueryError('Syntax error in $search.');
  return predicate;
}

// ---------------------------------------------------------------------------------------------
// $select
// ---------------------------------------------------------------------------------------------

/**
 * Projects a resource onto `$select`, or onto the type's default properties without one. An unknown
 * property is an error, as in Graph ("Could not find a property named ...").
 */
export function project(
  resource: ODataRecord,
  select: string | null,
  type: { readonly name: string; readonly properties: ReadonlySet<string>; readonly defaults: readonly string[] },
): Record<string, unknown> {
  const names = select === null ? type.defaults : select.split(',').map((s) => s.trim()).filter(Boolean);
  const out: Record<string, unknown> = {};
  if (resource['@odata.type'] !== undefined) out['@odata.type'] = resource['@odata.type'];
  for (const name of names) {
    if (!type.properties.has(name)) {
      throw new ODataQueryError(`Could not find a property named '${name}' on type 'microsoft.graph.${type.name}'.`);
    }
    out[name] = resource[name] ?? null;
  }
  return out;
}
