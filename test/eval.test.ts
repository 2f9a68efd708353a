import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { runWatched } from './support/progress.ts';
import { startScriptedModel } from './support/scripted-model.ts';

/** A backstop only: a run fails sooner, with its output, when it stands still (see `runWatched`). */
const BACKSTOP_MS = 10 * 60_000;

function deskhandEval(file: string) {
  return runWatched(process.execPath, ['bin/deskhand.js', 'eval', file, '--json'], { what: `deskhand eval ${file} to finish` });
}

/** `deskhand eval` as a user runs it: the public cases through the Graph emulator, one JSON line at the end. */
describe('deskhand eval', () => {
  it('scores the built-in planner 15 of 15 on the public cases, with the time of each case', async () => {
    const { code, stdout, stderr } = await deskhandEval('eval/public.jsonl');
    expect(code, stderr).toBe(0);
    const lines = stdout.trim().split('\n');
    const summary = JSON.parse(lines[lines.length - 1]!) as {
      planner: string;
      total: number;
      passed: number;
      score: number;
      timing?: { meanMs: number };
      cases: { id: string; passed: boolean; outcome: string; ms?: number; steps: { tool: string; args: Record<string, string> }[] }[];
    };
    expect(summary.planner).toBe('builtin');
    expect(summary.total).toBe(15);
    expect(summary.cases.filter((c) => !c.passed).map((c) => c.id)).toEqual([]);
    expect(summary.passed).toBe(15);
    expect(summary.score).toBe(1);
    expect(summary.timing?.meanMs).toBeGreaterThan(0);
    expect(summary.cases.every((c) => typeof c.ms === 'number' && c.ms > 0)).toBe(true);
    const zendesk = summary.cases.find((c) => c.id === 'pub-01');
    expect(zendesk).toMatchObject({ outcome: 'plan', steps: [{ tool: 'm365.add_user_to_group', args: { user: 'alex.wilber@contoso.example', group: 'SG-App-Zendesk' } }] });
  }, BACKSTOP_MS);

  it('exits non-zero with a clear message when the file cannot be run', async () => {
    const { code, stderr } = await deskhandEval('eval/does-not-exist.jsonl');
    expect(code).toBe(1);
    expect(stderr).toContain('does-not-exist');
  }, BACKSTOP_MS);
});

/** The public cases measure the planner; no copy of their words may sit in the code, the tests or the demo. */
describe('the public cases are not in the code', () => {
  const ROOT = path.resolve(import.meta.dirname, '..');
  const filesUnder = (dir: string): string[] =>
    readdirSync(path.join(ROOT, dir)).flatMap((entry) => {
      const relative = path.join(dir, entry);
      if (statSync(path.join(ROOT, relative)).isDirectory()) return entry === 'node_modules' ? [] : filesUnder(relative);
      return /\.(ts|tsx|js|jsonl|json|md)$/.test(entry) ? [relative] : [];
    });

  it('finds none of the public texts, nor their wording without the final stop, in src, test, bench, web or the README', () => {
    const texts = readFileSync(path.join(ROOT, 'eval/public.jsonl'), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => (JSON.parse(line) as { text: string }).text.replace(/[.!?]+$/, '').toLowerCase());
    expect(texts).toHaveLength(15);
    const files = [...['src', 'test', 'bench', 'web/src'].flatMap(filesUnder), 'README.md'];
    const found: string[] = [];
    for (const file of files) {
      const content = readFileSync(path.join(ROOT, file), 'utf8').toLowerCase();
      for (const text of texts) if (content.includes(text)) found.push(`${file}: "${text}"`);
    }
    expect(found).toEqual([]);
  });
});

/** `deskhand eval --planner llm` against a scripted OpenAI-compatible server over HTTP, then two runs side by side. */
describe('deskhand eval --planner llm', () => {
  it('plans every case with the model named by DESKHAND_LLM_*, side by side, and reports tokens, cost and time per case', async () => {
    const model = await startScriptedModel(() => ({ toolCalls: [{ name: 'answer', args: { outcome: 'escalate', reason: 'A technician should look at this.' } }], usage: { prompt: 500, completion: 20 } }), {
      apiKey: 'sk-eval',
      model: 'scripted-1',
    });
    try {
      const env = { ...process.env, DESKHAND_LLM_PROVIDER: 'openai-compatible', DESKHAND_LLM_MODEL: 'scripted-1', DESKHAND_LLM_BASE_URL: model.url, DESKHAND_LLM_API_KEY: 'sk-eval' };
      const llm = await runWatched(process.execPath, ['bin/deskhand.js', 'eval', 'eval/public.jsonl', '--json', '--planner', 'llm', '--concurrency', '4'], { what: 'deskhand eval --planner llm', env });
      expect(llm.code, llm.stderr).toBe(0);
      const lines = llm.stdout.trim().split('\n');
      const summary = JSON.parse(lines[lines.length - 1]!) as {
        planner: string;
        total: number;
        passed: number;
        usage: { model: string; modelCalls: number; inputTokens: number; outputTokens: number; costUsd: number | null };
        cases: { id: string; passed: boolean; outcome: string; ms: number; usage?: { modelCalls: number } }[];
      };
      expect(summary.planner).toBe('llm');
      expect(summary.total).toBe(15);
      // Every case escalates: exactly the five escalation cases pass. The outsider (pub-13) is refused before any model call.
      expect(summary.passed).toBe(5);
      expect(summary.usage).toEqual({ model: 'openai-compatible:scripted-1', modelCalls: 14, inputTokens: 7000, outputTokens: 280, costUsd: 0 });
      expect(model.calls()).toBe(14);
      expect(summary.cases.find((c) => c.id === 'pub-13')?.usage).toBeUndefined();
      expect(summary.cases.every((c) => c.ms > 0)).toBe(true);

      const builtin = await deskhandEval('eval/public.jsonl');
      const dir = tmpdir();
      const a = `${dir}/deskhand-eval-builtin-${process.pid}.json`;
      const b = `${dir}/deskhand-eval-llm-${process.pid}.json`;
      writeFileSync(a, builtin.stdout);
      writeFileSync(b, llm.stdout);
      const compared = await runWatched(process.execPath, ['bin/deskhand.js', 'eval-compare', a, b, '--json'], { what: 'deskhand eval-compare' });
      expect(compared.code, compared.stderr).toBe(0);
      const comparison = JSON.parse(compared.stdout.trim().split('\n').pop()!) as { a: { planner: string; passed: number }; b: { planner: string; passed: number }; both: string[]; onlyA: string[]; onlyB: string[]; neither: string[] };
      expect(comparison.a).toMatchObject({ planner: 'builtin', passed: 15 });
      expect(comparison.b).toMatchObject({ planner: 'llm', passed: 5 });
      expect(comparison.both.sort()).toEqual(['pub-04', 'pub-05', 'pub-08', 'pub-12', 'pub-13']);
      expect(comparison.onlyA).toHaveLength(10);
      expect(comparison.onlyB).toEqual([]);
    } finally {
      await model.close();
    }
  }, BACKSTOP_MS);

  it('says which variables to set when no model is configured', async () => {
    const env = { ...process.env, DESKHAND_LLM_PROVIDER: '', DESKHAND_LLM_MODEL: '' };
    const run = await runWatched(process.execPath, ['bin/deskhand.js', 'eval', 'eval/public.jsonl', '--planner', 'llm'], { what: 'deskhand eval --planner llm without a model', env });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/DESKHAND_LLM_PROVIDER must be one of openai, anthropic, openai-compatible/);
  }, BACKSTOP_MS);
});
