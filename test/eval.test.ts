import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/** `deskhand eval` as a user runs it: the public cases through the Graph emulator, one JSON line at the end. */
describe('deskhand eval', () => {
  it('scores the built-in planner on the public cases (at least 14 of 15)', async () => {
    const { stdout } = await run(process.execPath, ['bin/deskhand.js', 'eval', 'eval/public.jsonl', '--json'], { timeout: 120_000 });
    const lines = stdout.trim().split('\n');
    const summary = JSON.parse(lines[lines.length - 1]!) as {
      planner: string;
      total: number;
      passed: number;
      score: number;
      cases: { id: string; passed: boolean; outcome: string; steps: { tool: string; args: Record<string, string> }[] }[];
    };
    expect(summary.planner).toBe('builtin');
    expect(summary.total).toBe(15);
    expect(summary.passed).toBeGreaterThanOrEqual(14);
    expect(summary.score).toBeCloseTo(summary.passed / 15, 3);
    const zendesk = summary.cases.find((c) => c.id === 'pub-01');
    expect(zendesk).toMatchObject({ outcome: 'plan', steps: [{ tool: 'm365.add_user_to_group', args: { user: 'alex.wilber@contoso.example', group: 'SG-App-Zendesk' } }] });
  });

  it('exits non-zero with a clear message when the file cannot be run', async () => {
    await expect(run(process.execPath, ['bin/deskhand.js', 'eval', 'eval/does-not-exist.jsonl', '--json'], { timeout: 60_000 })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('does-not-exist'),
    });
  });
});
