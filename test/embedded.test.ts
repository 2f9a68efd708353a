import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/logger.ts';
import { type EmbeddedServer, openEmbeddedPostgres } from '../src/store/embedded.ts';
import { isAlive, processesIn, waitFor } from './support/processes.ts';

/**
 * The embedded PostgreSQL supervisor in folders of its own (STACK.md's start-up recovery): first
 * start, sharing a server, recovering after the supervising process was killed, re-creating a
 * half-created folder. Every folder lives under `root`, and no process may be left running in it.
 */
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const childScript = fileURLToPath(new URL('./support/embedded-child.ts', import.meta.url));
// PostgreSQL runs as the `postgres` user when the tests run as root: every folder must be enterable by it.
const root = mkdtempSync(path.join(tmpdir(), 'deskhand-embedded-test-'));
chmodSync(root, 0o755);

const servers: EmbeddedServer[] = [];
const children: ChildProcess[] = [];

function folder(name: string): string {
  return path.join(root, name);
}

async function open(dataDir: string): Promise<EmbeddedServer> {
  const server = await openEmbeddedPostgres(dataDir, silentLogger);
  servers.push(server);
  return server;
}

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    await query(url, 'select 1');
    return true;
  } catch {
    return false;
  }
}

function postmasterPid(dataDir: string): number {
  return Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
}

function readLock(dataDir: string): { pid: number; port: number } {
  return JSON.parse(readFileSync(path.join(dataDir, 'supervisor.lock'), 'utf8')) as { pid: number; port: number };
}

/**
 * Run the helper that supervises the folder's server, commits `value` and waits. Resolves once the
 * row is committed, with what the helper printed.
 */
async function startSupervisorChild(
  dataDir: string,
  value: string,
  options: { detached: boolean },
): Promise<{ child: ChildProcess; pid: number; port: number; supervising: boolean }> {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, dataDir, value], {
    cwd: repoRoot,
    detached: options.detached,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DESKHAND_LOG_LEVEL: 'silent' },
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
  await waitFor(
    'the supervising child to commit its row',
    () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the child exited (${child.exitCode ?? child.signalCode}) before committing: ${stderr}`);
      }
      return stdout.includes('\n');
    },
    60_000,
  );
  const printed = JSON.parse(stdout.trim().split('\n')[0]!) as { pid: number; port: number; supervising: boolean };
  return { child, ...printed };
}

async function exited(child: ChildProcess): Promise<void> {
  await waitFor('the child to exit', () => child.exitCode !== null || child.signalCode !== null);
}

/** A stop that cannot hang the run (the package's stop waits forever for a server that already died). */
async function stopWithin(server: EmbeddedServer, ms: number): Promise<void> {
  await Promise.race([server.stop(), sleep(ms)]).catch(() => {});
}

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  for (const server of servers.reverse()) await stopWithin(server, 10_000);
  // Whatever a failed test left behind: stop it, so that no server outlives the run.
  for (const { pid } of processesIn(root)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  await waitFor('the test folders to be free', () => processesIn(root).length === 0, 10_000).catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

describe('embedded PostgreSQL supervisor', () => {
  const dataDir = folder('first');
  let first: EmbeddedServer;

  it('creates the folder on first start, takes the lock and answers queries', async () => {
    expect(existsSync(dataDir)).toBe(false);
    first = await open(dataDir);
    expect(first.supervising).toBe(true);
    expect(statSync(dataDir).isDirectory()).toBe(true);
    expect(existsSync(path.join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
    expect(readLock(dataDir)).toMatchObject({ pid: process.pid, port: first.port });
    expect(first.url).toContain(`127.0.0.1:${first.port}/deskhand`);
    const [row] = await query<{ answer: number; db: string }>(first.url, 'select 41 + 1 as answer, current_database() as db');
    expect(row).toEqual({ answer: 42, db: 'deskhand' });
    // The folder's postmaster is the one answering.
    expect(processesIn(path.join(dataDir, 'pg')).map((p) => p.pid)).toContain(postmasterPid(dataDir));
  });

  it('shares the running server with a second open in the same process', async () => {
    const second = await open(dataDir);
    expect(second).toMatchObject({ supervising: false, port: first.port });
    await query(second.url, 'CREATE TABLE shared_here (n int)');
    await query(first.url, 'INSERT INTO shared_here VALUES (1)');
    // The second handle does not own the server: stopping it leaves the server running.
    await second.stop();
    expect(await answers(first.url)).toBe(true);
    expect(readLock(dataDir)).toMatchObject({ pid: process.pid, port: first.port });
  });

  it('shares the running server with another process, which does not take over', async () => {
    const other = await startSupervisorChild(dataDir, 'from another process', { detached: false });
    expect(other).toMatchObject({ supervising: false, port: first.port });
    other.child.kill('SIGKILL');
    await exited(other.child);
    const rows = await query<{ value: string }>(first.url, 'SELECT value FROM crash_rows');
    expect(rows).toEqual([{ value: 'from another process' }]);
    expect(readLock(dataDir).pid).toBe(process.pid);
  });

  it('stops its server and releases the lock', async () => {
    const pid = postmasterPid(dataDir);
    await first.stop();
    expect(existsSync(path.join(dataDir, 'supervisor.lock'))).toBe(false);
    expect(await answers(first.url)).toBe(false);
    await waitFor('the stopped server to leave its folder', () => processesIn(dataDir).length === 0);
    expect(isAlive(pid)).toBe(false);
  });

  it('reopens the stopped folder with its data', async () => {
    const again = await open(dataDir);
    expect(again.supervising).toBe(true);
    expect(await query(again.url, 'SELECT n FROM shared_here')).toEqual([{ n: 1 }]);
    await again.stop();
  });
});

describe('start-up recovery after the supervising process died', () => {
  const dataDir = folder('crash');

  it('stops the orphaned server of a SIGKILLed supervisor and starts again, keeping committed rows', async () => {
    const crashed = await startSupervisorChild(dataDir, 'committed before SIGKILL', { detached: false });
    expect(crashed.supervising).toBe(true);
    const orphan = postmasterPid(dataDir);
    crashed.child.kill('SIGKILL');
    await exited(crashed.child);
    // The scenario STACK.md describes: the node process is gone, its server is not.
    expect(isAlive(crashed.pid)).toBe(false);
    expect(isAlive(orphan)).toBe(true);
    expect(readLock(dataDir).pid).toBe(crashed.pid);

    const recovered = await open(dataDir);
    expect(recovered.supervising).toBe(true);
    expect(isAlive(orphan)).toBe(false);
    expect(postmasterPid(dataDir)).not.toBe(orphan);
    expect(readLock(dataDir)).toMatchObject({ pid: process.pid, port: recovered.port });
    const rows = await query<{ value: string }>(recovered.url, 'SELECT value FROM crash_rows ORDER BY value');
    expect(rows).toEqual([{ value: 'committed before SIGKILL' }]);
    await recovered.stop();
    await waitFor('the recovered server to stop', () => processesIn(dataDir).length === 0);
  });

  it('recovers the same way after the whole process group was SIGKILLed', async () => {
    const crashed = await startSupervisorChild(dataDir, 'committed before the group was killed', { detached: true });
    expect(crashed.supervising).toBe(true);
    const postmaster = postmasterPid(dataDir);
    process.kill(-crashed.child.pid!, 'SIGKILL');
    await exited(crashed.child);
    await waitFor('the killed group to be gone', () => !isAlive(postmaster));
    // Nothing cleaned up after it: the pid file and the lock name dead processes.
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(true);
    expect(readLock(dataDir).pid).toBe(crashed.pid);

    const recovered = await open(dataDir);
    expect(recovered.supervising).toBe(true);
    const rows = await query<{ value: string }>(recovered.url, 'SELECT value FROM crash_rows ORDER BY value');
    expect(rows.map((r) => r.value)).toEqual(['committed before SIGKILL', 'committed before the group was killed']);
    await recovered.stop();
    await waitFor('the recovered server to stop', () => processesIn(dataDir).length === 0);
  });
});

describe('a half-created data folder', () => {
  it('is created again on start, and the key file beside it is untouched', async () => {
    const dataDir = folder('half');
    mkdirSync(path.join(dataDir, 'pg'), { recursive: true, mode: 0o755 });
    // What an interrupted initdb leaves: some files, no PG_VERSION.
    await fs.writeFile(path.join(dataDir, 'pg', 'postgresql.conf'), '# half written\n');
    mkdirSync(path.join(dataDir, 'pg', 'base'));
    const keyFile = path.join(dataDir, 'secret.key');
    const key = `${Buffer.alloc(32, 9).toString('base64')}\n`;
    await fs.writeFile(keyFile, key, { mode: 0o600 });
    const before = statSync(keyFile);

    const server = await open(dataDir);
    expect(server.supervising).toBe(true);
    expect(existsSync(path.join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
    expect(readFileSync(path.join(dataDir, 'pg', 'postgresql.conf'), 'utf8')).not.toBe('# half written\n');
    expect(await query(server.url, 'select 1 as one')).toEqual([{ one: 1 }]);
    const after = statSync(keyFile);
    expect(readFileSync(keyFile, 'utf8')).toBe(key);
    expect({ ino: after.ino, mtimeMs: after.mtimeMs, mode: after.mode & 0o777 }).toEqual({
      ino: before.ino,
      mtimeMs: before.mtimeMs,
      mode: 0o600,
    });
    await server.stop();
  });
});

describe('after every test', () => {
  it('leaves no process running in the test folders', async () => {
    for (const server of servers) await stopWithin(server, 10_000);
    await waitFor('every server of the test folders to stop', () => processesIn(root).length === 0, 10_000).catch(() => {});
    expect(processesIn(root)).toEqual([]);
  });
});
