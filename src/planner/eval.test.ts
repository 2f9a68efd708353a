import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCases, scoreCase, summarise } from './eval.ts';

const zendesk = { tool: 'm365.add_user_to_group', args: { user: 'alex.wilber@contoso.example', group: 'SG-App-Zendesk' } };
const reset = { tool: 'm365.reset_password', args: { user: 'joni.sherman@contoso.example' } };
const revoke = { tool: 'm365.revoke_sessions', args: { user: 'joni.sherman@contoso.example' } };

describe('parseCases', () => {
  it('reads the public cases', () => {
    const cases = parseCases(readFileSync(new URL('../../eval/public.jsonl', import.meta.url), 'utf8'));
    expect(cases).toHaveLength(15);
    expect(cases[0]).toMatchObject({ id: 'pub-01', client: 'contoso', expect: { outcome: 'plan', optional: [] } });
  });

  it('fills defaults, skips blank lines, and names the bad line', () => {
    const cases = parseCases('\n{"id":"a","client":"c","requester":"r","text":"t","expect":{"outcome":"escalate"}}\n\n');
    expect(cases[0]).toMatchObject({ channel: 'psa', expect: { steps: [], optional: [] } });
    expect(() => parseCases('{"id":"a"}')).toThrow(/line 1/);
    expect(() => parseCases('{"id":"a","client":"c","requester":"r","text":"t","expect":{"outcome":"maybe"}}')).toThrow(/line 1: expect.outcome/);
    expect(() => parseCases('not json')).toThrow(/line 1: not JSON/);
  });

  it('refuses a case id used twice', () => {
    const line = '{"id":"a","client":"c","requester":"r","text":"t","expect":{"outcome":"escalate"}}';
    expect(() => parseCases(`${line}\n${line}`)).toThrow(/line 2: case id a appears twice/);
  });
});

describe('scoreCase', () => {
  const planCase = { outcome: 'plan' as const, steps: [reset], optional: [revoke] };

  it('passes a plan with every expected step, case-insensitively', () => {
    const upper = { tool: 'm365.reset_password', args: { user: 'Joni.Sherman@Contoso.Example' } };
    expect(scoreCase(planCase, { outcome: 'plan', steps: [upper] }).passed).toBe(true);
  });

  it('allows optional steps and ignores order', () => {
    expect(scoreCase(planCase, { outcome: 'plan', steps: [revoke, reset] }).passed).toBe(true);
  });

  it('fails a plan missing an expected step or with a step outside steps and optional', () => {
    expect(scoreCase(planCase, { outcome: 'plan', steps: [revoke] }).passed).toBe(false);
    expect(scoreCase(planCase, { outcome: 'plan', steps: [reset, zendesk] }).passed).toBe(false);
  });

  it('matches only on the arguments the expectation gives', () => {
    const loose = { outcome: 'plan' as const, steps: [{ tool: 'm365.add_user_to_group', args: { group: 'sg-app-zendesk' } }], optional: [] };
    expect(scoreCase(loose, { outcome: 'plan', steps: [zendesk] }).passed).toBe(true);
    const wrongGroup = { ...zendesk, args: { ...zendesk.args, group: 'SG-App-Figma' } };
    expect(scoreCase(loose, { outcome: 'plan', steps: [wrongGroup] }).passed).toBe(false);
  });

  it('fails a plan case that did not end in a plan', () => {
    expect(scoreCase(planCase, { outcome: 'escalate', steps: [] }).passed).toBe(false);
  });

  it('passes no_action and escalate on the outcome alone, and only without write steps', () => {
    const escalate = { outcome: 'escalate' as const, steps: [], optional: [] };
    expect(scoreCase(escalate, { outcome: 'escalate', steps: [] })).toEqual({ passed: true, outcome: 'escalate', steps: [] });
    expect(scoreCase(escalate, { outcome: 'no_action', steps: [] }).passed).toBe(false);
    expect(scoreCase(escalate, { outcome: 'escalate', steps: [zendesk] }).passed).toBe(false);
    expect(scoreCase({ ...escalate, outcome: 'no_action' }, { outcome: 'no_action', steps: [] }).passed).toBe(true);
  });
});

describe('summarise', () => {
  it('prints the README shape with a three-decimal score', () => {
    const results = Array.from({ length: 15 }, (_, i) => ({ id: `pub-${i}`, passed: i !== 3, outcome: 'plan' as const, steps: [zendesk] }));
    const summary = summarise('builtin', results);
    expect(summary).toMatchObject({ planner: 'builtin', total: 15, passed: 14, score: 0.933 });
    expect(summary.cases[0]).toEqual({ id: 'pub-0', passed: true, outcome: 'plan', steps: [zendesk] });
    expect(summarise('builtin', [])).toMatchObject({ total: 0, passed: 0, score: 0 });
  });
});

describe('summarise with times', () => {
  it('reports each case\'s time and the mean, median and maximum', () => {
    const results = [10, 30, 20].map((ms, i) => ({ id: `c${i}`, passed: true, outcome: 'no_action' as const, steps: [], ms }));
    const summary = summarise('builtin', results);
    expect(summary.timing).toEqual({ totalMs: 60, meanMs: 20, p50Ms: 20, maxMs: 30 });
    expect(summary.cases.map((c) => c.ms)).toEqual([10, 30, 20]);
  });
});
