/**
 * ConnectWise's `conditions` query language, both ways: the client builds expressions from values
 * (quoting and escaping them, so that a ticket summary or a company identifier can never change the
 * meaning of a query), and the emulator parses and evaluates the same subset.
 *
 * Syntax (ConnectWise developer docs): `board/name="Help Desk" and closedFlag=false`, strings in
 * double quotes, dates in brackets `[2024-01-01T00:00:00Z]`, operators `= != < <= > >= like contains
 * in not and or`, parentheses for grouping. How ConnectWise escapes a double quote inside a string is
 * not documented; a backslash is what its query parser accepts in practice and what we send.
 */

export type ConditionScalar = string | number | boolean | null | Date;
export type ComparisonOperator = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'like' | 'contains' | 'not like' | 'not contains';

const FIELD_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/;

/** One literal in ConnectWise syntax. */
export function conditionLiteral(value: ConditionScalar): string {
  if (value === null) return 'null';
  if (value instanceof Date) return `[${value.toISOString().replace(/\.\d{3}Z$/, 'Z')}]`;
  if (typeof value === 'string') return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('a condition value must be a finite number');
    return String(value);
  }
  return value ? 'true' : 'false';
}

/** `field op value`, e.g. `condition('company/identifier', '=', 'contoso')` → `company/identifier="contoso"`. */
export function condition(field: string, op: ComparisonOperator, value: ConditionScalar): string {
  assertField(field);
  const spaced = /^[=!<>]/.test(op) ? op : ` ${op} `;
  return `${field}${spaced}${conditionLiteral(value)}`;
}

/** `field in (a, b, c)`. */
export function conditionIn(field: string, values: readonly ConditionScalar[]): string {
  assertField(field);
  if (values.length === 0) throw new TypeError('an `in` condition needs at least one value');
  return `${field} in (${values.map(conditionLiteral).join(', ')})`;
}

/** Joins conditions with `and`; empty parts are skipped so optional filters compose. */
export function allOf(...parts: readonly (string | undefined | null | false)[]): string {
  return join(parts, 'and');
}

export function anyOf(...parts: readonly (string | undefined | null | false)[]): string {
  return join(parts, 'or');
}

function join(parts: readonly (string | undefined | null | false)[], word: 'and' | 'or'): string {
  const kept = parts.filter((p): p is string => typeof p === 'string' && p.trim() !== '');
  if (kept.length === 1) return kept[0]!;
  return kept.map((p) => `(${p})`).join(` ${word} `);
}

function assertField(field: string): void {
  // Field names come from our code, never from input; refusing odd ones keeps a typo from becoming
  // a different query.
  if (!FIELD_PATTERN.test(field)) throw new TypeError(`not a ConnectWise field path: ${JSON.stringify(field)}`);
}

// ---------------------------------------------------------------------------------------------
// Parsing and evaluation (the emulator's side).

export type ConditionLiteral = string | number | boolean | null | { date: string };

export type ConditionNode =
  | { kind: 'and' | 'or'; left: ConditionNode; right: ConditionNode }
  | { kind: 'not'; node: ConditionNode }
  | { kind: 'compare'; field: string; op: ComparisonOperator; value: ConditionLiteral }
  | { kind: 'in'; field: string; values: ConditionLiteral[]; negated: boolean };

export class ConditionSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConditionSyntaxError';
  }
}

type Token =
  | { t: 'lparen' | 'rparen' | 'comma' }
  | { t: 'word'; v: string }
  | { t: 'op'; v: string }
  | { t: 'string'; v: string }
  | { t: 'number'; v: number }
  | { t: 'date'; v: string };

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const ch = input[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '(' || ch === ')' || ch === ',') {
      tokens.push({ t: ch === '(' ? 'lparen' : ch === ')' ? 'rparen' : 'comma' });
      i++;
    } else if (ch === '"') {
      const [value, next] = readString(input, i);
      tokens.push({ t: 'string', v: value });
      i = next;
    } else if (ch === '[') {
      const end = input.indexOf(']', i);
      if (end < 0) throw new ConditionSyntaxError('a date opened with [ is not closed');
      tokens.push({ t: 'date', v: input.slice(i + 1, end) });
      i = end + 1;
    } else if (/[=!<>]/.test(ch)) {
      const two = input.slice(i, i + 2);
      const op = ['!=', '<=', '>=', '<>'].includes(two) ? two : ch;
      if (op === '!') throw new ConditionSyntaxError(`unexpected "!" at ${i}`);
      tokens.push({ t: 'op', v: op === '<>' ? '!=' : op });
      i += op.length;
    } else if (/^-?\d/.test(input.slice(i))) {
      const match = /^-?\d+(\.\d+)?/.exec(input.slice(i))!;
      tokens.push({ t: 'number', v: Number(match[0]) });
      i += match[0].length;
    } else if (/[A-Za-z_]/.test(ch)) {
      const match = /^[A-Za-z_][A-Za-z0-9_/.]*/.exec(input.slice(i))!;
      tokens.push({ t: 'word', v: match[0] });
      i += match[0].length;
    } else {
      throw new ConditionSyntaxError(`unexpected character ${JSON.stringify(ch)} at ${i}`);
    }
  }
  return tokens;
}

function readString(input: string, start: number): [string, number] {
  let out = '';
  for (let i = start + 1; i < input.length; i++) {
    const ch = input[i]!;
    if (ch === '\\' && i + 1 < input.length) {
      out += input[i + 1];
      i++;
    } else if (ch === '"') {
      return [out, i + 1];
    } else {
      out += ch;
    }
  }
  throw new ConditionSyntaxError('a string opened with " is not closed');
}

/** Parses a `conditions` expression; throws ConditionSyntaxError with a readable reason. */
export function parseConditions(input: string): ConditionNode {
  const tokens = tokenize(input);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const isWord = (token: Token | undefined, word: string): boolean =>
    token?.t === 'word' && token.v.toLowerCase() === word;

  const parseOr = (): ConditionNode => {
    let left = parseAnd();
    while (isWord(peek(), 'or')) {
      pos++;
      left = { kind: 'or', left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): ConditionNode => {
    let left = parseUnary();
    while (isWord(peek(), 'and')) {
      pos++;
      left = { kind: 'and', left, right: parseUnary() };
    }
    return left;
  };
  const parseUnary = (): ConditionNode => {
    const token = peek();
    if (isWord(token, 'not')) {
      pos++;
      return { kind: 'not', node: parseUnary() };
    }
    if (token?.t === 'lparen') {
      pos++;
      const inner = parseOr();
      if (peek()?.t !== 'rparen') throw new ConditionSyntaxError('a ( is not closed');
      pos++;
      return inner;
    }
    return parseComparison();
  };
  const parseComparison = (): ConditionNode => {
    const fieldToken = tokens[pos++];
    if (fieldToken?.t !== 'word' || !FIELD_PATTERN.test(fieldToken.v)) {
      throw new ConditionSyntaxError(`expected a field name at token ${pos}`);
    }
    const field = fieldToken.v;
    let negated = false;
    if (isWord(peek(), 'not')) {
      negated = true;
      pos++;
    }
    const opToken = tokens[pos++];
    if (opToken?.t === 'word' && opToken.v.toLowerCase() === 'in') {
      return { kind: 'in', field, values: parseList(), negated };
    }
    const op = comparisonOperator(opToken, negated);
    return { kind: 'compare', field, op, value: parseLiteral(tokens[pos++]) };
  };
  const parseList = (): ConditionLiteral[] => {
    if (tokens[pos++]?.t !== 'lparen') throw new ConditionSyntaxError('expected ( after in');
    const values: ConditionLiteral[] = [parseLiteral(tokens[pos++])];
    while (peek()?.t === 'comma') {
      pos++;
      values.push(parseLiteral(tokens[pos++]));
    }
    if (tokens[pos++]?.t !== 'rparen') throw new ConditionSyntaxError('expected ) to close the in list');
    return values;
  };

  const tree = parseOr();
  if (pos !== tokens.length) throw new ConditionSyntaxError(`unexpected input after token ${pos}`);
  return tree;
}

function comparisonOperator(token: Token | undefined, negated: boolean): ComparisonOperator {
  if (token?.t === 'op' && !negated) return token.v as ComparisonOperator;
  if (token?.t === 'word') {
    const word = token.v.toLowerCase();
    if (word === 'like' || word === 'contains') return negated ? `not ${word}` : word;
  }
  throw new ConditionSyntaxError('expected an operator (= != < <= > >= like contains in)');
}

function parseLiteral(token: Token | undefined): ConditionLiteral {
  if (token?.t === 'string' || token?.t === 'number') return token.v;
  if (token?.t === 'date') return { date: token.v };
  if (token?.t === 'word') {
    const word = token.v.toLowerCase();
    if (word === 'true') return true;
    if (word === 'false') return false;
    if (word === 'null') return null;
  }
  throw new ConditionSyntaxError('expected a value: "string", number, true, false, null or [date]');
}

/** Does a record (in its JSON read form) satisfy the expression? Strings compare case-insensitively, like ConnectWise's SQL. */
export function matchesConditions(record: unknown, node: ConditionNode): boolean {
  switch (node.kind) {
    case 'and':
      return matchesConditions(record, node.left) && matchesConditions(record, node.right);
    case 'or':
      return matchesConditions(record, node.left) || matchesConditions(record, node.right);
    case 'not':
      return !matchesConditions(record, node.node);
    case 'in': {
      const actual = valueAt(record, node.field);
      const found = node.values.some((v) => equalValues(actual, v));
      return node.negated ? !found : found;
    }
    case 'compare':
      return compare(valueAt(record, node.field), node.op, node.value);
  }
}

/** The value at a ConnectWise field path (`company/identifier`), matching names case-insensitively. */
export function valueAt(record: unknown, path: string): unknown {
  let current: unknown = record;
  for (const part of path.split('/')) {
    if (current === null || typeof current !== 'object') return undefined;
    const entry = Object.entries(current as Record<string, unknown>).find(([k]) => k.toLowerCase() === part.toLowerCase());
    current = entry?.[1];
  }
  return current;
}

function literalValue(value: ConditionLiteral): string | number | boolean | null {
  return value !== null && typeof value === 'object' ? value.date : value;
}

function equalValues(actual: unknown, expected: ConditionLiteral): boolean {
  const want = literalValue(expected);
  if (want === null) return actual === null || actual === undefined;
  if (typeof want === 'string' && typeof actual === 'string') return actual.toLowerCase() === want.toLowerCase();
  if (typeof want === 'number' && typeof actual === 'string') return Number(actual) === want;
  return actual === want;
}

function compare(actual: unknown, op: ComparisonOperator, expected: ConditionLiteral): boolean {
  const want = literalValue(expected);
  switch (op) {
    case '=':
      return equalValues(actual, expected);
    case '!=':
      return !equalValues(actual, expected);
    case 'contains':
    case 'not contains': {
      const hit = typeof actual === 'string' && actual.toLowerCase().includes(String(want).toLowerCase());
      return op === 'contains' ? hit : !hit;
    }
    case 'like':
    case 'not like': {
      const hit = typeof actual === 'string' && likePattern(String(want)).test(actual);
      return op === 'like' ? hit : !hit;
    }
    default:
      return ordered(actual, op, want);
  }
}

function ordered(actual: unknown, op: '<' | '<=' | '>' | '>=', want: string | number | boolean | null): boolean {
  if (actual === null || actual === undefined || want === null) return false;
  const a = typeof want === 'number' ? Number(actual) : String(actual);
  const b = typeof want === 'number' ? want : String(want);
  if (op === '<') return a < b;
  if (op === '<=') return a <= b;
  if (op === '>') return a > b;
  return a >= b;
}

/** `like` uses `*` (and SQL's `%`) as the wildcard. */
function likePattern(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/[*%]/g, '.*');
  return new RegExp(`^${escaped}$`, 'is');
}
