import { z } from 'zod';
import type { PlanOutcome } from '../core/plan.ts';

/**
 * The pure part of `deskhand eval` (eval/README.md): reading case files, scoring one case's result,
 * and the summary printed as the command's last line. Running the cases (emulator, diagnosis,
 * planning) belongs to the command.
 */

const argsSchema = z.record(z.string(), z.string());

const expectedStepSchema = z.object({
  tool: z.string().min(1),
  args: argsSchema.default({}),
});

const evalCaseSchema = z.object({
  id: z.string().min(1),
  client: z.string().min(1),
  requester: z.string(),
  channel: z.enum(['psa', 'voice', 'slack', 'teams']).default('psa'),
  text: z.string(),
  expect: z.object({
    outcome: z.enum(['plan', 'no_action', 'escalate']),
    steps: z.array(expectedStepSchema).default([]),
    optional: z.array(expectedStepSchema).default([]),
  }),
});

export type EvalCase = z.infer<typeof evalCaseSchema>;
export type EvalExpectation = EvalCase['expect'];
export type ExpectedStep = z.infer<typeof expectedStepSchema>;

/** A write step as a case result reports it: the tool and its human-readable arguments. */
export interface EvalStep {
  tool: string;
  args: Record<string, string>;
}

export interface CaseScore {
  passed: boolean;
  outcome: PlanOutcome;
  steps: EvalStep[];
}

export interface CaseResult extends CaseScore {
  id: string;
  /** Wall time of the case (diagnosis reads, planning, validation), in milliseconds, when measured. */
  ms?: number;
}

/** Time per case, when the runner measured it. */
export interface EvalTiming {
  totalMs: number;
  meanMs: number;
  p50Ms: number;
  maxMs: number;
}

export interface EvalSummary {
  planner: string;
  total: number;
  passed: number;
  score: number;
  timing?: EvalTiming;
  cases: CaseResult[];
}

/** One case a line; blank lines are skipped. A bad line fails the whole file with its line number. */
export function parseCases(jsonl: string): EvalCase[] {
  const cases: EvalCase[] = [];
  const ids = new Set<string>();
  for (const [index, line] of jsonl.split(/\r?\n/).entries()) {
    if (line.trim() === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (error) {
      throw new Error(`line ${index + 1}: not JSON (${error instanceof Error ? error.message : String(error)})`);
    }
    const parsed = evalCaseSchema.safeParse(raw);
    if (!parsed.success) {
      throw new Error(`line ${index + 1}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    if (ids.has(parsed.data.id)) throw new Error(`line ${index + 1}: case id ${parsed.data.id} appears twice`);
    ids.add(parsed.data.id);
    cases.push(parsed.data);
  }
  return cases;
}

function same(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

/** A step matches when the tool is the same and every argument the expectation gives is equal. */
export function stepMatches(expected: ExpectedStep, actual: EvalStep): boolean {
  if (!same(expected.tool, actual.tool)) return false;
  return Object.entries(expected.args).every(([name, value]) => actual.args[name] !== undefined && same(value, actual.args[name]));
}

/**
 * Score one case (eval/README.md): a `plan` case passes when the plan's write steps contain every
 * expected step and nothing outside `steps` ∪ `optional`; `no_action` and `escalate` cases pass on
 * the outcome alone, and only when there are no write steps. `steps` must be the write steps only.
 */
export function scoreCase(expect: EvalExpectation, result: { outcome: PlanOutcome; steps: readonly EvalStep[] }): CaseScore {
  const steps = result.steps.map((s) => ({ tool: s.tool, args: { ...s.args } }));
  const passed =
    expect.outcome === 'plan'
      ? result.outcome === 'plan' &&
        expect.steps.every((e) => steps.some((a) => stepMatches(e, a))) &&
        steps.every((a) => [...expect.steps, ...expect.optional].some((e) => stepMatches(e, a)))
      : result.outcome === expect.outcome && steps.length === 0;
  return { passed, outcome: result.outcome, steps };
}

/** The JSON object `deskhand eval --json` prints; the score has three decimals. */
export function summarise(planner: string, results: readonly CaseResult[]): EvalSummary {
  const passed = results.filter((r) => r.passed).length;
  const total = results.length;
  const times = results.flatMap((r) => (r.ms === undefined ? [] : [r.ms])).sort((a, b) => a - b);
  const round = (ms: number): number => Math.round(ms * 10) / 10;
  const totalMs = times.reduce((sum, ms) => sum + ms, 0);
  return {
    planner,
    total,
    passed,
    score: total === 0 ? 0 : Math.round((passed / total) * 1000) / 1000,
    ...(times.length > 0
      ? { timing: { totalMs: round(totalMs), meanMs: round(totalMs / times.length), p50Ms: round(times[Math.floor((times.length - 1) / 2)] ?? 0), maxMs: round(times[times.length - 1] ?? 0) } }
      : {}),
    cases: results.map((r) => ({ id: r.id, passed: r.passed, outcome: r.outcome, steps: r.steps, ...(r.ms === undefined ? {} : { ms: round(r.ms) }) })),
  };
}
