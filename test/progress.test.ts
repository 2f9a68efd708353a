import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAlive } from './support/processes.ts';
import { cpuTicks, runWatched, StallError, waitForProgress } from './support/progress.ts';

/**
 * The wait the chaos test's deadlines come from: it fails when nothing moved for the stall period,
 * never because the whole wait took long, and says what stood still.
 */
describe('waiting on progress', () => {
  it('a wait that keeps moving succeeds, however much longer than the stall period it takes in all', async () => {
    const started = Date.now();
    let step = 0;
    await waitForProgress({
      what: 'a slow but steady job',
      done: () => Date.now() - started > 1_500,
      snapshot: () => ({ marks: new Map([['job', String(step++)]]) }),
      stallMs: 400,
      intervalMs: 20,
      snapshotEveryMs: 100,
    });
    expect(Date.now() - started).toBeGreaterThan(1_500);
  });

  it('a wait where nothing moves fails after the stall period, and says what stood still, longest first', async () => {
    const started = Date.now();
    const failure = await waitForProgress({
      what: 'two requests',
      done: () => false,
      // `b` moves for 300 ms, `a` never: both stand still after that.
      snapshot: () => ({ marks: new Map([['a', 'stuck'], ['b', String(Math.min(Date.now() - started, 300))]]) }),
      stallMs: 500,
      intervalMs: 20,
      snapshotEveryMs: 50,
      explain: (quiet) => quiet.map((q) => `${q.key} quiet ${q.quietMs >= 500 ? 'long' : 'short'}`).join(', '),
    }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(StallError);
    const stall = failure as StallError;
    expect(stall.message).toMatch(/^no progress for \d+\.\d s while waiting for two requests/);
    expect(stall.message).toContain('a quiet long, b quiet long');
    expect(stall.quiet.map((q) => q.key)).toEqual(['a', 'b']);
    // It failed on the stall (about 300 ms of moves, then 500 ms still), not at some wall-clock deadline.
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('a wake-up the system scheduled (a retry, a backoff) is not a stall; standing still after it is', async () => {
    const started = Date.now();
    const wakeAt = started + 1_200;
    // Done just after the wake-up, although nothing moved for longer than the stall period.
    await waitForProgress({
      what: 'a retry after its backoff',
      done: () => Date.now() > wakeAt + 100,
      snapshot: () => ({ marks: new Map([['retry', 'waiting']]), wakeAt }),
      stallMs: 400,
      intervalMs: 20,
      snapshotEveryMs: 50,
    });
    const later = Date.now() + 300;
    await expect(
      waitForProgress({
        what: 'a retry that never comes',
        done: () => false,
        snapshot: () => ({ marks: new Map([['retry', 'waiting']]), wakeAt: later }),
        stallMs: 400,
        intervalMs: 20,
        snapshotEveryMs: 50,
      }),
    ).rejects.toThrow(/no progress .* waiting for a retry that never comes/);
    expect(Date.now()).toBeGreaterThanOrEqual(later + 400);
  });

  it('runs a command that prints and computes to its end, and stops one that stands still', async () => {
    const busy = await runWatched(process.execPath, ['-e', 'const end = Date.now() + 1200; let n = 0; while (Date.now() < end) n++; console.log("done", n > 0)'], { what: 'a busy command', stallMs: 600 });
    expect([busy.code, busy.stdout.trim()]).toEqual([0, 'done true']);
    const pidFile = path.join(mkdtempSync(path.join(tmpdir(), 'deskhand-progress-')), 'pid');
    const started = Date.now();
    const still = runWatched(process.execPath, ['-e', 'require("node:fs").writeFileSync(process.argv[1], String(process.pid)); setTimeout(() => {}, 60_000)', pidFile], {
      what: 'an idle command',
      stallMs: 600,
    });
    await expect(still).rejects.toThrow(/no progress .* waiting for an idle command/);
    expect(Date.now() - started).toBeLessThan(10_000);
    // It was killed with its process group.
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    await waitForProgress({ what: 'the idle command to be gone', done: () => !isAlive(pid), snapshot: () => ({ marks: new Map() }), stallMs: 5_000 });
    rmSync(path.dirname(pidFile), { recursive: true, force: true });
  });

  it('reads the CPU time a process has used', () => {
    const before = cpuTicks(process.pid);
    const until = Date.now() + 150;
    let spin = 0;
    while (Date.now() < until) spin++;
    expect(spin).toBeGreaterThan(0);
    expect(cpuTicks(process.pid)).toBeGreaterThan(before);
    expect(cpuTicks(2 ** 22 + 7)).toBe(0);
  });
});
