import { readFileSync } from 'node:fs';
import { createLogger } from '../logger.ts';
import { runPlanning } from '../engine/diagnose.ts';
import { toolCatalog } from '../integrations/catalog.ts';
import { evalIdentity, evalKnowledge, startEvalEmulator } from '../integrations/emulators.ts';
import { readRunbooks } from '../integrations/knowledge.ts';
import { DeskhandError } from '../core/errors.ts';
import { BuiltinPlanner } from '../planner/builtin.ts';
import { type CaseResult, compareRuns, type EvalSummary, parseCases, scoreCase, summarise } from '../planner/eval.ts';
import { LlmPlanner } from '../planner/llm/planner.ts';
import { llmSettingsFromEnv } from '../planner/llm/settings.ts';
import type { Planner } from '../planner/types.ts';
import { loadDemoWorld } from '../world/fixture.ts';

/**
 * `deskhand eval FILE [--json] [--planner builtin|llm] [--concurrency N]`: every case through the
 * real diagnosis and planning (the read tools against the identity provider's emulator over HTTP,
 * the runbooks read from the documentation platforms' emulators over HTTP, validation), never
 * executing. Each case starts from the world as the fixture describes it (planning never writes),
 * with the catalog's default policies. The LLM planner's model comes from `DESKHAND_LLM_*` (eval
 * runs with no MSP settings). Exits 0 when every case ran, whatever the score.
 */
export interface EvalOptions {
  json?: boolean;
  planner?: string;
  concurrency?: string;
}

export function plannerFor(name: string, env: NodeJS.ProcessEnv): Planner {
  if (name === 'builtin') return new BuiltinPlanner();
  if (name === 'llm') return new LlmPlanner(llmSettingsFromEnv(env), { env });
  throw new DeskhandError('bad_request', `--planner must be builtin or llm (not "${name}")`);
}

export async function evaluate(file: string, options: EvalOptions): Promise<void> {
  const logger = createLogger({ level: process.env['DESKHAND_LOG_LEVEL'] ?? 'warn', name: 'eval' });
  const cases = parseCases(readFileSync(file, 'utf8'));
  const concurrency = Number(options.concurrency ?? '1');
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 32) throw new DeskhandError('bad_request', '--concurrency must be a whole number from 1 to 32');
  const planner = plannerFor(options.planner ?? 'builtin', process.env);
  const world = loadDemoWorld();
  for (const testCase of cases) {
    if (!world.clients.some((c) => c.id === testCase.client)) throw new Error(`case ${testCase.id}: no client ${testCase.client} in the demo world`);
  }
  const emulator = await startEvalEmulator(world);
  const results: CaseResult[] = new Array(cases.length);
  const runOne = async (index: number): Promise<void> => {
    const testCase = cases[index]!;
    const client = world.clients.find((c) => c.id === testCase.client)!;
    // One at a time, each case starts from a fresh world; side by side, planning never writes.
    if (concurrency === 1) emulator.reset();
    const started = performance.now();
    const identity = evalIdentity(emulator, client.id);
    const planning = await runPlanning({
      planner,
      catalog: toolCatalog,
      identity,
      client: { slug: client.id, name: client.name, domain: client.domain },
      text: testCase.text,
      channel: testCase.channel,
      requesterEmail: testCase.requester,
      runbooks: (hooks) => readRunbooks(evalKnowledge(world, emulator, client.id), hooks),
    });
    const steps = planning.proposed.steps.map((s) => ({ tool: s.tool, args: s.args }));
    const score = scoreCase(testCase.expect, { outcome: planning.proposed.outcome, steps });
    results[index] = { id: testCase.id, ...score, ms: performance.now() - started, ...(planning.proposed.usage ? { usage: planning.proposed.usage } : {}) };
    const line = `${score.passed ? 'pass' : 'FAIL'} ${testCase.id} ${planning.proposed.outcome}${steps.length ? ` ${steps.map((s) => `${s.tool}(${Object.values(s.args).join(', ')})`).join('; ')}` : ''} — ${planning.proposed.summary}`;
    if (options.json) logger.info(line);
    else process.stdout.write(`${line}\n`);
  };
  try {
    if (concurrency > 1) emulator.reset();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < cases.length) await runOne(next++);
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, cases.length) }, worker));
  } finally {
    await emulator.close();
  }
  const summary = summarise(planner.name, results);
  if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    const time = summary.timing ? `; ${summary.timing.meanMs} ms a case on average, ${summary.timing.maxMs} ms at most` : '';
    const spent = summary.usage
      ? `; ${summary.usage.modelCalls} model calls, ${summary.usage.inputTokens} input and ${summary.usage.outputTokens} output tokens, ${summary.usage.costUsd === null ? 'cost unknown' : `$${summary.usage.costUsd.toFixed(4)}`}`
      : '';
    process.stdout.write(`\n${summary.passed}/${summary.total} passed (score ${summary.score}${time}${spent})\n`);
  }
}

/** The summary of a saved `deskhand eval --json` run: its last line. */
function readSummary(file: string): EvalSummary {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  try {
    return JSON.parse(lines[lines.length - 1] ?? '') as EvalSummary;
  } catch {
    throw new DeskhandError('bad_request', `${file} does not end with the JSON line of a deskhand eval --json run`);
  }
}

/** `deskhand eval-compare A B [--json]`: two saved runs side by side, case by case. */
export async function compare(fileA: string, fileB: string, options: { json?: boolean }): Promise<void> {
  const a = readSummary(fileA);
  const b = readSummary(fileB);
  const comparison = compareRuns(a, b);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(comparison)}\n`);
    return;
  }
  const byId = new Map(b.cases.map((c) => [c.id, c]));
  process.stdout.write(`case            ${a.planner.padEnd(10)} ${b.planner.padEnd(10)}\n`);
  for (const ca of a.cases) {
    const cb = byId.get(ca.id);
    if (!cb) continue;
    const mark = (passed: boolean, outcome: string) => `${passed ? 'pass' : 'FAIL'} ${outcome}`.padEnd(10);
    process.stdout.write(`${ca.id.padEnd(15)} ${mark(ca.passed, ca.outcome)} ${mark(cb.passed, cb.outcome)}${ca.passed !== cb.passed ? '  <' : ''}\n`);
  }
  process.stdout.write(
    `\n${a.planner}: ${comparison.a.passed}/${comparison.a.total}; ${b.planner}: ${comparison.b.passed}/${comparison.b.total}; both right ${comparison.both.length}, only ${a.planner} ${comparison.onlyA.length}, only ${b.planner} ${comparison.onlyB.length}, neither ${comparison.neither.length}${comparison.unmatched.length ? `; ${comparison.unmatched.length} cases in one run only` : ''}\n`,
  );
}
