import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive, processesIn, waitFor } from './support/processes.ts';

/**
 * Issue 6, defect 14: the emulators run in a process of their own so that `deskhand start` can be
 * restarted without losing their state. A start that reused the emulators a killed start had left
 * behind did not stop them on Ctrl-C. Now: the start that launched them, or that takes over the ones
 * a dead start launched, stops them when it stops; emulators someone started by hand
 * (`deskhand emulators`) are left running, and the log says so.
 */
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const bin = path.join(repoRoot, 'bin', 'deskhand.js');
// PostgreSQL runs as the `postgres` user when the tests run as root: the folder must be enterable by it.
const root = mkdtempSync(path.join(tmpdir(), 'deskhand-emulators-test-'));
chmodSync(root, 0o755);
const children: ChildProcess[] = [];
const emulatorPids: number[] = [];

interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  ended: () => boolean;
}

function run(dataDir: string, args: string[]): Proc {
  const env: NodeJS.ProcessEnv = { ...process.env, DESKHAND_DATA_DIR: dataDir, PORT: '0', DESKHAND_LOG_LEVEL: 'info' };
  delete env['DATABASE_URL'];
  delete env['DESKHAND_PUBLIC_URL'];
  const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  return { child, stdout: () => stdout, stderr: () => stderr, ended: () => child.exitCode !== null || child.signalCode !== null };
}

async function startDeskhand(dataDir: string): Promise<Proc> {
  const proc = run(dataDir, ['start']);
  await waitFor(
    '`deskhand start` to print its address',
    () => {
      if (proc.ended()) throw new Error(`deskhand start exited (${proc.child.exitCode ?? proc.child.signalCode}): ${proc.stderr()}`);
      return proc.stdout().includes('deskhand is running');
    },
    90_000,
  );
  return proc;
}

function emulatorsState(dataDir: string): { pid: number } | null {
  try {
    const state = JSON.parse(readFileSync(path.join(dataDir, 'emulators.json'), 'utf8')) as { pid: number };
    emulatorPids.push(state.pid);
    return state;
  } catch {
    return null;
  }
}

/** Ctrl-C, as a person stops `npm start`, and wait for the process to end. */
async function interrupt(proc: Proc): Promise<void> {
  proc.child.kill('SIGINT');
  await waitFor('deskhand start to stop', proc.ended, 20_000);
}

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of emulatorPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  for (const { pid } of processesIn(root)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  await waitFor('the data folders to be free', () => processesIn(root).length === 0, 10_000).catch(() => {});
  rmSync(root, { recursive: true, force: true });
}, 60_000);

describe('the emulators of deskhand start', () => {
  it('a start that took over the emulators of a killed start stops them on Ctrl-C', async () => {
    const dataDir = path.join(root, 'restarted');
    const first = await startDeskhand(dataDir);
    const emulators = emulatorsState(dataDir)!.pid;
    expect(isAlive(emulators)).toBe(true);
    // The service dies (kill -9, a crash): its emulators, in a process of their own, keep their state.
    first.child.kill('SIGKILL');
    await waitFor('the killed start to end', first.ended);
    expect(isAlive(emulators)).toBe(true);

    const second = await startDeskhand(dataDir);
    expect(emulatorsState(dataDir)?.pid).toBe(emulators);
    await interrupt(second);
    await waitFor('the emulators to stop with the start that took them over', () => !isAlive(emulators), 10_000).catch(() => {});
    expect(isAlive(emulators), second.stderr()).toBe(false);
    expect(existsSync(path.join(dataDir, 'emulators.json'))).toBe(false);
    await waitFor('the embedded PostgreSQL to stop', () => processesIn(dataDir).length === 0, 15_000).catch(() => {});
    expect(processesIn(dataDir)).toEqual([]);
  }, 180_000);

  it('emulators started by hand are left running on Ctrl-C, and the log says so', async () => {
    const dataDir = path.join(root, 'by-hand');
    mkdirSync(dataDir, { mode: 0o700 });
    const byHand = run(dataDir, ['emulators', '--state-file', path.join(dataDir, 'emulators.json')]);
    await waitFor('the emulators to write their state', () => {
      if (byHand.ended()) throw new Error(`deskhand emulators exited: ${byHand.stderr()}`);
      return emulatorsState(dataDir)?.pid === byHand.child.pid;
    }, 30_000);
    const start = await startDeskhand(dataDir);
    expect(emulatorsState(dataDir)?.pid).toBe(byHand.child.pid);
    await interrupt(start);
    expect(start.stderr()).toMatch(new RegExp(`leav\\w* the emulators \\(pid ${byHand.child.pid}\\) running`));
    expect(byHand.ended()).toBe(false);
    expect(isAlive(byHand.child.pid!)).toBe(true);
    byHand.child.kill('SIGTERM');
    await waitFor('the emulators to stop', byHand.ended, 10_000);
  }, 180_000);
});
