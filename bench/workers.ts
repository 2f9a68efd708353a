import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Cleanup } from './support.ts';

/**
 * Separate `deskhand worker` processes (node bin/deskhand.js worker), as an MSP would run them beside
 * the API: same database, same secret key. Each is started, waited for ("worker running" in its
 * log, with a deadline), and stopped with SIGTERM, then SIGKILL if it lingers.
 */
const BIN = fileURLToPath(new URL('../bin/deskhand.js', import.meta.url));
const TAIL_LINES = 40;

export interface WorkerProcess {
  pid: number;
  /** The last lines it wrote on standard error (for failure reports). */
  tail(): string;
}

export interface WorkerGroup {
  processes: WorkerProcess[];
  pids(): number[];
  stop(): Promise<void>;
}

export async function startWorkers(input: { count: number; concurrency: number; env: Record<string, string>; cleanup: Cleanup; readyTimeoutMs?: number }): Promise<WorkerGroup> {
  const children: { child: ChildProcess; lines: string[] }[] = [];
  const stopAll = async () => {
    await Promise.all(children.map(({ child }) => stopChild(child)));
    for (const { child } of children) if (child.pid) input.cleanup.untrackChild(child.pid);
  };
  const unregister = input.cleanup.add(`${input.count} worker process(es)`, stopAll);
  try {
    const ready = [];
    for (let i = 0; i < input.count; i++) {
      const child = spawn(process.execPath, [BIN, 'worker', '--concurrency', String(input.concurrency)], {
        env: { ...process.env, DESKHAND_LOG_LEVEL: 'info', ...input.env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      if (!child.pid) throw new Error('a worker process could not be started');
      input.cleanup.trackChild(child.pid);
      const entry = { child, lines: [] as string[] };
      children.push(entry);
      ready.push(waitReady(entry, input.readyTimeoutMs ?? 60_000));
    }
    await Promise.all(ready);
  } catch (error) {
    await unregister();
    throw error;
  }
  return {
    processes: children.map(({ child, lines }) => ({ pid: child.pid!, tail: () => lines.join('\n') })),
    pids: () => children.filter(({ child }) => child.exitCode === null && child.signalCode === null).map(({ child }) => child.pid!),
    stop: unregister,
  };
}

function waitReady(entry: { child: ChildProcess; lines: string[] }, timeoutMs: number): Promise<void> {
  const { child, lines } = entry;
  return new Promise<void>((resolve, reject) => {
    let buffered = '';
    let ready = false;
    const timer = setTimeout(() => finish(new Error(`worker ${child.pid} did not report "worker running" within ${timeoutMs / 1000} s; its log:\n${lines.join('\n')}`)), timeoutMs);
    const finish = (error?: Error) => {
      if (ready) return;
      ready = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    };
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
        if (lines.length > TAIL_LINES) lines.shift();
        if (line.includes('worker running')) finish();
      }
    });
    child.once('exit', (code, signal) => finish(new Error(`worker ${child.pid} exited (${signal ?? `code ${code}`}) before it was running; its log:\n${lines.join('\n')}`)));
    child.once('error', (error) => finish(error));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
