import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { isAlive, processesIn, waitFor } from './processes.ts';
import { groupCpuTicks, type ProgressSnapshot, waitForProgress } from './progress.ts';

export { isAlive, processesIn, waitFor };

/**
 * The processes of the chaos test: `node bin/deskhand.js ...` children, each leading a process
 * group of its own (so that a start and its embedded PostgreSQL can be killed together), with the
 * last lines of their output kept for diagnostics. Everything spawned here is remembered, and
 * `killAll` ends it, whatever state the test is in.
 */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const bin = path.join(repoRoot, 'bin', 'deskhand.js');

const KEPT_LINES = 400;

export interface Proc {
  /** e.g. `start#2`, `worker-a#3`: the role and which incarnation. */
  name: string;
  child: ChildProcess;
  pid: number;
  stdout: string[];
  stderr: string[];
  /** Lines written so far (the arrays keep only the last ones). */
  lines: { count: number };
  startedAt: number;
  /** Resolves when the process has exited (with its code or signal). */
  exited: Promise<string>;
  alive(): boolean;
}

function keepLines(into: string[], partial: { text: string }, chunk: Buffer, counter: { count: number }): void {
  partial.text += chunk.toString('utf8');
  const lines = partial.text.split('\n');
  partial.text = lines.pop() ?? '';
  counter.count += lines.length;
  into.push(...lines);
  if (into.length > KEPT_LINES) into.splice(0, into.length - KEPT_LINES);
}

export class Processes {
  readonly all: Proc[] = [];
  private readonly incarnations = new Map<string, number>();

  spawn(role: string, args: string[], env: NodeJS.ProcessEnv): Proc {
    const n = (this.incarnations.get(role) ?? 0) + 1;
    this.incarnations.set(role, n);
    const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: string[] = [];
    const stderr: string[] = [];
    const outPartial = { text: '' };
    const errPartial = { text: '' };
    const lines = { count: 0 };
    child.stdout?.on('data', (chunk: Buffer) => keepLines(stdout, outPartial, chunk, lines));
    child.stderr?.on('data', (chunk: Buffer) => keepLines(stderr, errPartial, chunk, lines));
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => resolve(signal ?? `exit ${code}`));
      child.once('error', (error) => resolve(`spawn error ${error.message}`));
    });
    const proc: Proc = {
      name: `${role}#${n}`,
      child,
      pid: child.pid ?? 0,
      stdout,
      stderr,
      lines,
      startedAt: Date.now(),
      exited,
      alive: () => child.exitCode === null && child.signalCode === null,
    };
    this.all.push(proc);
    return proc;
  }

  /** SIGKILL the process (or its whole group) and wait until it is gone. */
  async kill(proc: Proc, options: { group?: boolean; signal?: NodeJS.Signals } = {}): Promise<void> {
    const signal = options.signal ?? 'SIGKILL';
    try {
      process.kill(options.group ? -proc.pid : proc.pid, signal);
    } catch {}
    await Promise.race([proc.exited, sleep(15_000)]);
  }

  /** End every process group spawned here (and anything still running in `folders`). */
  async killAll(folders: string[] = []): Promise<void> {
    for (const proc of this.all) {
      try {
        process.kill(-proc.pid, 'SIGKILL');
      } catch {}
    }
    await Promise.race([Promise.all(this.all.map((p) => p.exited)), sleep(10_000)]);
    for (const folder of folders) {
      for (const { pid } of processesIn(folder)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    }
    await waitFor('the test folders to be free', () => folders.every((f) => processesIn(f).length === 0), 10_000).catch(() => {});
  }

  /** The last lines of every process's standard error (and of start's standard output). */
  tails(lines = 25): string {
    return this.all
      .map((p) => {
        const status = p.alive() ? 'running' : `ended (${p.child.signalCode ?? p.child.exitCode})`;
        const err = p.stderr.slice(-lines).map(shortenLogLine).join('\n    ');
        return `  ${p.name} pid ${p.pid} ${status}\n    ${err || '(no stderr)'}`;
      })
      .join('\n');
  }
}

/** A pino JSON line cut down to what a reader needs. */
function shortenLogLine(line: string): string {
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const { level, time, msg, pid: _pid, hostname: _host, name: _name, ...rest } = entry;
    const at = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '';
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest).slice(0, 300)}` : '';
    return `${at} ${level} ${msg}${extra}`;
  } catch {
    return line.slice(0, 400);
  }
}

/** Signs that processes are getting on: their output and the CPU time of their process groups. */
export function processActivity(procs: Proc[]): ProgressSnapshot {
  return { marks: new Map(procs.map((p) => [p.name, `${p.alive()} ${p.lines.count} ${groupCpuTicks(p.pid)}`])) };
}

/** Wait for a process to do something, failing only when it has shown no sign of life (output, CPU) for `stallMs`. */
export async function waitForProcess(proc: Proc, what: string, done: () => boolean, stallMs = 30_000): Promise<void> {
  await waitForProgress({
    what,
    done: () => {
      if (done()) return true;
      if (!proc.alive()) throw new Error(`${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode}) before ${what}:\n${proc.stderr.slice(-30).join('\n')}`);
      return false;
    },
    snapshot: () => processActivity([proc]),
    stallMs,
    intervalMs: 50,
    snapshotEveryMs: 500,
    explain: () => `${proc.name} pid ${proc.pid} printed ${proc.lines.count} lines; the last ones:\n    ${[...proc.stdout.slice(-5), ...proc.stderr.slice(-20)].map(shortenLogLine).join('\n    ')}`,
  });
}

/**
 * Start `deskhand start` and wait for the address it prints; answers on 127.0.0.1 (HOST's default).
 * However slow a busy machine makes the start, it fails only when the process stood still (no
 * output, no CPU in its process group, its embedded PostgreSQL included) for `stallMs`.
 */
export async function startDeskhand(procs: Processes, env: NodeJS.ProcessEnv, stallMs = 30_000): Promise<{ proc: Proc; base: string }> {
  const proc = procs.spawn('start', ['start'], env);
  let base = '';
  await waitForProcess(
    proc,
    `${proc.name} to print its address`,
    () => {
      const line = proc.stdout.find((l) => /deskhand is running: \S+/.test(l));
      if (!line) return false;
      base = `http://127.0.0.1:${new URL(/deskhand is running: (\S+)/.exec(line)![1]!).port}`;
      return true;
    },
    stallMs,
  );
  return { proc, base };
}

/** Start the emulators in a process of their own (never killed by the chaos) and read their addresses. */
export async function startEmulatorsProcess(
  procs: Processes,
  stateFile: string,
  env: NodeJS.ProcessEnv,
): Promise<{ proc: Proc; connectwise: string; halopsa: string; autotask: string; graph: string; graphControl: string }> {
  const proc = procs.spawn('emulators', ['emulators', '--state-file', stateFile], env);
  let state: { pid: number; connectwise: string; halopsa: string; autotask: string; graph: string; login: string } | null = null;
  await waitForProcess(proc, 'the emulators to write their state file', () => {
    try {
      state = JSON.parse(readFileSync(stateFile, 'utf8'));
    } catch {
      return false;
    }
    return state?.pid === proc.pid;
  });
  const s = state as unknown as { connectwise: string; halopsa: string; autotask: string; graph: string; login: string };
  return { proc, connectwise: s.connectwise, halopsa: s.halopsa, autotask: s.autotask, graph: s.graph, graphControl: s.login };
}

/** A small, seedable PRNG (mulberry32): the same seed gives the same chaos schedule. */
export function prng(seed: number): { next(): number; int(min: number, max: number): number; pick<T>(items: readonly T[]): T; chance(p: number): boolean } {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)]!,
    chance: (p) => next() < p,
  };
}

/** JSON over HTTP with a deadline; network failures come back as status 0. */
export async function http<T = unknown>(
  method: string,
  url: string,
  options: { body?: unknown; token?: string; form?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ status: number; body: T; text: string; error?: string }> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (options.token) headers['authorization'] = `Bearer ${options.token}`;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  } else if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  }
  try {
    const response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: response.status, body: parsed as T, text };
  } catch (error) {
    return { status: 0, body: undefined as T, text: '', error: (error as Error).message };
  }
}
