import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Waiting on progress instead of on the wall clock. A test that waits "at most 60 s" for a dozen
 * requests fails on a busy machine (CI shares its cores) although nothing is wrong: everything is
 * only slower. Here a wait fails when nothing it watches has moved for `stallMs`, however long the
 * whole wait takes, and the failure says what stood still, for how long, and why (`explain`).
 *
 * What moves is given as marks: a key (a request, a process) and a value that changes whenever it
 * moves (its state, its steps, its messages, its decisions; a process's output and CPU time). A wait
 * the system scheduled for itself (a retry's backoff, a lease running out) is not a stall either:
 * the stall is counted from the later of the last move and the latest wake-up due (`wakeAt`).
 */
export interface ProgressSnapshot {
  marks: Map<string, string>;
  /** Epoch ms of the latest moment something is due to happen by itself, if any. */
  wakeAt?: number | null;
}

export interface Quiet {
  key: string;
  /** How long this key has not moved (ms). */
  quietMs: number;
}

export interface ProgressWaitOptions {
  /** For the message: what the wait is for. */
  what: string;
  done: () => boolean | Promise<boolean>;
  snapshot: () => ProgressSnapshot | Promise<ProgressSnapshot>;
  /** Fail once nothing has moved for this long (default 45 s). */
  stallMs?: number;
  /** What stood still, for the failure message (keys that never moved first). */
  explain?: (quiet: Quiet[]) => string | Promise<string>;
  /** How often `done` is asked (default 200 ms). */
  intervalMs?: number;
  /** How often a snapshot is taken (default 1 s): snapshots may cost a few queries. */
  snapshotEveryMs?: number;
  /** A scheduled wake-up further away than this is only waited for this long (default 5 min). */
  maxScheduledWaitMs?: number;
}

export class StallError extends Error {
  constructor(
    message: string,
    readonly quiet: Quiet[],
  ) {
    super(message);
    this.name = 'StallError';
  }
}

export const DEFAULT_STALL_MS = Number(process.env['TEST_STALL_MS']) || 45_000;

export async function waitForProgress(options: ProgressWaitOptions): Promise<void> {
  const stallMs = options.stallMs ?? DEFAULT_STALL_MS;
  const intervalMs = options.intervalMs ?? 200;
  const snapshotEveryMs = options.snapshotEveryMs ?? 1_000;
  const maxScheduledWaitMs = options.maxScheduledWaitMs ?? 5 * 60_000;
  const started = Date.now();
  const movedAt = new Map<string, number>();
  let previous = new Map<string, string>();
  let lastMove = started;
  let wakeAt = 0;
  let lastSnapshot = 0;
  for (;;) {
    if (await options.done()) return;
    const now = Date.now();
    if (now - lastSnapshot >= snapshotEveryMs) {
      lastSnapshot = now;
      const snapshot = await options.snapshot();
      for (const [key, value] of snapshot.marks) {
        if (previous.get(key) !== value) {
          movedAt.set(key, now);
          lastMove = now;
        }
      }
      for (const key of previous.keys()) {
        if (!snapshot.marks.has(key)) {
          movedAt.delete(key);
          lastMove = now;
        }
      }
      previous = snapshot.marks;
      wakeAt = Math.min(snapshot.wakeAt ?? 0, now + maxScheduledWaitMs);
      const quietSince = Math.max(lastMove, wakeAt);
      if (now - quietSince > stallMs) {
        if (await options.done()) return;
        const quiet = [...previous.keys()].map((key) => ({ key, quietMs: now - (movedAt.get(key) ?? started) })).sort((a, b) => b.quietMs - a.quietMs);
        const why = options.explain ? await Promise.resolve(options.explain(quiet)).catch((error: Error) => `(could not explain: ${error.message})`) : '';
        throw new StallError(
          `no progress for ${seconds(now - lastMove)} s while waiting for ${options.what} (${seconds(now - started)} s in all; nothing was due to happen meanwhile)` +
            (why ? `\n${why}` : ''),
          quiet,
        );
      }
    }
    await sleep(intervalMs);
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

/** A process's `/proc/<pid>/stat` from field 3 on (fields[0] is field 3, the state), or null when it is gone. */
function statFields(pid: string | number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** utime + stime + cutime + cstime (fields 14 to 17): CPU time used, reaped children included. */
function ticksOf(fields: string[]): number {
  return Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
}

/** CPU time (clock ticks) a process has used so far; 0 when it is gone. */
export function cpuTicks(pid: number): number {
  const fields = statFields(pid);
  return fields ? ticksOf(fields) : 0;
}

/**
 * CPU time (clock ticks) used so far by the processes of a process group, the reaped children
 * included: a process group that computes is making progress even when it prints nothing.
 */
export function groupCpuTicks(pgid: number): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    // Field 5 is the process group.
    if (fields && Number(fields[2]) === pgid) ticks += ticksOf(fields);
  }
  return ticks;
}

export interface WatchedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Run a command to its end, however long a busy machine makes it take; fail (and kill its process
 * group) only when it stood still (no output, no CPU time in its group) for `stallMs`.
 */
export async function runWatched(command: string, args: string[], options: { what: string; cwd?: string; env?: NodeJS.ProcessEnv; stallMs?: number }): Promise<WatchedRun> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let closed = false;
  void exited.then(() => {
    closed = true;
  });
  try {
    await waitForProgress({
      what: options.what,
      done: () => closed,
      snapshot: () => ({ marks: new Map([['output', `${stdout.length} ${stderr.length}`], ['cpu', String(child.pid ? groupCpuTicks(child.pid) : 0)]]) }),
      explain: () => `its last output:\n${stderr.split('\n').slice(-20).join('\n')}`,
      ...(options.stallMs ? { stallMs: options.stallMs } : {}),
      intervalMs: 50,
      snapshotEveryMs: 500,
    });
  } catch (error) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {}
    throw error;
  }
  return { code: child.exitCode, signal: child.signalCode, stdout, stderr };
}
