import { describe, expect, it } from 'vitest';
import {
  allOf,
  anyOf,
  ConditionSyntaxError,
  condition,
  conditionIn,
  conditionLiteral,
  matchesConditions,
  parseConditions,
} from './conditions.ts';

const ticket = {
  id: 50_010,
  summary: 'Printer "HP 4th floor" offline',
  closedFlag: false,
  company: { id: 7, identifier: 'contoso', name: 'Contoso Ltd' },
  board: { name: 'Help Desk' },
  _info: { lastUpdated: '2024-05-02T10:00:00Z' },
};

const matches = (expression: string): boolean => matchesConditions(ticket, parseConditions(expression));

describe('building conditions', () => {
  it('quotes strings and escapes quotes and backslashes so a value cannot change the query', () => {
    expect(conditionLiteral('say "hi" \\ bye')).toBe('"say \\"hi\\" \\\\ bye"');
    expect(condition('summary', '=', 'x" or id>0 or summary="')).toBe('summary="x\\" or id>0 or summary=\\""');
    // Parsed back, the hostile value is one string literal compared to one field.
    const tree = parseConditions(condition('summary', '=', 'x" or id>0 or summary="'));
    expect(tree).toEqual({ kind: 'compare', field: 'summary', op: '=', value: 'x" or id>0 or summary="' });
  });

  it('writes dates in brackets, booleans and numbers bare, and spaces word operators', () => {
    expect(conditionLiteral(new Date('2024-01-01T00:00:00.000Z'))).toBe('[2024-01-01T00:00:00Z]');
    expect(condition('closedFlag', '=', false)).toBe('closedFlag=false');
    expect(condition('id', '>=', 5)).toBe('id>=5');
    expect(condition('summary', 'contains', 'vpn')).toBe('summary contains "vpn"');
    expect(conditionIn('id', [1, 2])).toBe('id in (1, 2)');
  });

  it('joins parts with and/or, skipping empty optional parts', () => {
    expect(allOf('a=1', undefined, false, 'b=2')).toBe('(a=1) and (b=2)');
    expect(allOf('a=1', null)).toBe('a=1');
    expect(anyOf('a=1', 'b=2')).toBe('(a=1) or (b=2)');
  });

  it('refuses field names that are not field paths', () => {
    expect(() => condition('id=1 or id', '=', 1)).toThrow(TypeError);
  });
});

describe('evaluating conditions (emulator side)', () => {
  it('compares strings case-insensitively, like ConnectWise', () => {
    expect(matches('company/identifier="CONTOSO"')).toBe(true);
    expect(matches('company/identifier="fabrikam"')).toBe(false);
    expect(matches('board/name="Help Desk" and closedFlag=false')).toBe(true);
  });

  it('supports contains, like, in, not, or, and parentheses', () => {
    expect(matches('summary contains "4TH FLOOR"')).toBe(true);
    expect(matches('summary not contains "printer"')).toBe(false);
    expect(matches('summary like "Printer*offline"')).toBe(true);
    expect(matches('id in (1, 50010)')).toBe(true);
    expect(matches('not (id=50010)')).toBe(false);
    expect(matches('id=1 or (closedFlag=false and id>50000)')).toBe(true);
    expect(matches('_info/lastUpdated > [2024-05-01T00:00:00Z]')).toBe(true);
  });

  it('reads escaped quotes inside strings', () => {
    expect(matches(condition('summary', 'contains', '"HP 4th floor"'))).toBe(true);
  });

  it('reports syntax errors instead of guessing', () => {
    expect(() => parseConditions('summary = "open')).toThrow(ConditionSyntaxError);
    expect(() => parseConditions('id = ')).toThrow(ConditionSyntaxError);
    expect(() => parseConditions('(id=1')).toThrow(ConditionSyntaxError);
    expect(() => parseConditions('id=1 id=2')).toThrow(ConditionSyntaxError);
  });
});
