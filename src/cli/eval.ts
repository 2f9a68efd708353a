import { readFileSync } from 'node:fs';
import { createLogger } from '../logger.ts';
import { runPlanning } from '../engine/diagnose.ts';
import { toolCatalog } from '../integrations/catalog.ts';
import { evalIdentity, evalKnowledge, startEvalEmulator } from '../integrations/emulators.ts';
import { readRunbooks } from '../integrations/knowledge.ts';
import { BuiltinPlanner } from '../planner/builtin.ts';
import { type CaseResult, parseCases, scoreCase, summarise } from '../planner/eval.ts';
import { loadDemoWorld } from '../world/fixture.ts';

/**
 * `deskhand eval FILE [--json]`: every case through the real diagnosis and planning (the read tools
 * against the identity provider's emulator over HTTP, the runbooks read from the documentation
 * platforms' emulators over HTTP, validation), never executing. Each
 * case starts from the world as the fixture describes it, with the catalog's default policies.
 * Exits 0 when every case ran, whatever the score.
 */
export async function evaluate(file: string, options: { json?: boolean }): Promise<void> {
  const logger = createLogger({ level: process.env['DESKHAND_LOG_LEVEL'] ?? 'warn', name: 'eval' });
  const cases = parseCases(readFileSync(file, 'utf8'));
  const world = loadDemoWorld();
  const emulator = await startEvalEmulator(world);
  const planner = new BuiltinPlanner();
  const results: CaseResult[] = [];
  try {
    for (const testCase of cases) {
      const client = world.clients.find((c) => c.id === testCase.client);
      if (!client) throw new Error(`case ${testCase.id}: no client ${testCase.client} in the demo world`);
      emulator.reset();
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
      results.push({ id: testCase.id, ...score, ms: performance.now() - started });
      const line = `${score.passed ? 'pass' : 'FAIL'} ${testCase.id} ${planning.proposed.outcome}${steps.length ? ` ${steps.map((s) => `${s.tool}(${Object.values(s.args).join(', ')})`).join('; ')}` : ''} — ${planning.proposed.summary}`;
      if (options.json) logger.info(line);
      else process.stdout.write(`${line}\n`);
    }
  } finally {
    await emulator.close();
  }
  const summary = summarise(planner.name, results);
  if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    const time = summary.timing ? `; ${summary.timing.meanMs} ms a case on average, ${summary.timing.maxMs} ms at most` : '';
    process.stdout.write(`\n${summary.passed}/${summary.total} passed (score ${summary.score}${time})\n`);
  }
}
