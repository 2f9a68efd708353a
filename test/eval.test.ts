import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runWatched } from './support/progress.ts';

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
