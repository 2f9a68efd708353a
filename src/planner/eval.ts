import { z } from 'zod';
import type { PlannerUsage, PlanOutcome } from '../core/plan.ts';

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
  /** A model-backed planner's calls, tokens and cost for the case. */
  usage?: PlannerUsage;
}

/** Model calls, tokens and cost over a run. `costUsd` is null when some case's cost is unknown. */
export interface EvalUsage {
  model: string;
  modelCalls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number | null;
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
  usage?: EvalUsage;
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
    ...(results.some((r) => r.usage) ? { usage: totalUsage(results) } : {}),
    cases: results.map((r) => ({
      id: r.id,
      passed: r.passed,
      outcome: r.outcome,
      steps: r.steps,
      ...(r.ms === undefined ? {} : { ms: round(r.ms) }),
      ...(r.usage ? { usage: r.usage } : {}),
    })),
  };
}

function totalUsage(results: readonly CaseResult[]): EvalUsage {
  const used = results.flatMap((r) => (r.usage ? [r.usage] : []));
  const unknown = used.some((u) => u.costUsd === null);
  return {
    model: [...new Set(used.map((u) => u.model))].join(', '),
    modelCalls: used.reduce((n, u) => n + u.modelCalls, 0),
    inputTokens: used.reduce((n, u) => n + u.inputTokens, 0),
    outputTokens: used.reduce((n, u) => n + u.outputTokens, 0),
    costUsd: unknown ? null : Math.round(used.reduce((n, u) => n + (u.costUsd ?? 0), 0) * 1e6) / 1e6,
  };
}

/** Two runs of the same cases side by side: which cases each planner got right. */
export interface EvalComparison {
  a: { planner: string; passed: number; total: number };
  b: { planner: string; passed: number; total: number };
  both: string[];
  onlyA: string[];
  onlyB: string[];
  neither: string[];
  /** Cases in one run and not the other (different files): compared on nothing. */
  unmatched: string[];
}

export function compareRuns(a: EvalSummary, b: EvalSummary): EvalComparison {
  const inB = new Map(b.cases.map((c) => [c.id, c]));
  const inA = new Set(a.cases.map((c) => c.id));
  const out: EvalComparison = {
    a: { planner: a.planner, passed: a.passed, total: a.total },
    b: { planner: b.planner, passed: b.passed, total: b.total },
    both: [],
    onlyA: [],
    onlyB: [],
    neither: [],
    unmatched: [...a.cases.filter((c) => !inB.has(c.id)).map((c) => c.id), ...b.cases.filter((c) => !inA.has(c.id)).map((c) => c.id)],
  };
  for (const ca of a.cases) {
    const cb = inB.get(ca.id);
    if (!cb) continue;
    if (ca.passed && cb.passed) out.both.push(ca.id);
    else if (ca.passed) out.onlyA.push(ca.id);
    else if (cb.passed) out.onlyB.push(ca.id);
    else out.neither.push(ca.id);
  }
  return out;
}
