import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive, processesIn, waitFor } from './support/processes.ts';

/**
 * Issue 6, defect 13: creating the embedded PostgreSQL hands its password to initdb in a file. That
 * file was written world-readable (0644) to `/tmp` and left there whenever the start died. Any such
 * file must be readable by nobody else (0600), and be gone once the start has ended, whichever way
 * it ended; what a killed start left is removed by the next start.
 *
 * Each start runs with `TMPDIR` pointed at a folder of the test's own, so that what the start writes
 * to "/tmp" is seen here, apart from whatever else runs on the machine.
 */
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const childScript = fileURLToPath(new URL('./support/embedded-child.ts', import.meta.url));
const isRoot = userInfo().uid === 0;
/** The user initdb runs as: `postgres` when we are root (PostgreSQL refuses root), else ourselves. */
const initdbUid = isRoot ? Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()) : userInfo().uid;
const root = mkdtempSync(path.join(tmpdir(), 'deskhand-password-test-'));
// PostgreSQL runs as the `postgres` user when the tests run as root: the folder must be enterable by it.
chmodSync(root, 0o755);
const children: ChildProcess[] = [];

interface Folders {
  dataDir: string;
  tmp: string;
}

function folders(name: string): Folders {
  const tmp = path.join(root, `${name}-tmp`);
  execFileSync('mkdir', ['-m', '755', tmp]);
  return { dataDir: path.join(root, name), tmp };
}

/** The helper that opens the folder's embedded PostgreSQL, commits a row and waits to be killed. */
function supervisor(where: Folders, value: string): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, where.dataDir, value], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: where.tmp, DESKHAND_LOG_LEVEL: 'silent' },
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  return { child, output: () => output };
}

function ended(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** The database password deskhand keeps for the folder (its own file, root's alone). */
function password(dataDir: string): string | null {
  try {
    return readFileSync(path.join(dataDir, 'pg-password'), 'utf8').trim() || null;
  } catch {
    return null;
  }
}

interface Seen {
  file: string;
  mode: number;
  uid: number;
}

/**
 * Every file, in the start's "/tmp" or in its data folder (not inside the database folder itself),
 * that holds the password: deskhand's own `pg-password` excepted.
 */
function passwordFiles(where: Folders): Seen[] {
  const secret = password(where.dataDir);
  const seen: Seen[] = [];
  for (const dir of [where.tmp, where.dataDir]) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const file = path.join(dir, name);
      if (file === path.join(where.dataDir, 'pg-password')) continue;
      try {
        const stat = lstatSync(file);
        if (!stat.isFile()) continue;
        // Before the password is known, any pg-password-* file is one (that is what the package names them).
        const holds = secret ? readFileSync(file, 'utf8').includes(secret) : name.startsWith('pg-password');
        if (holds) seen.push({ file, mode: stat.mode & 0o777, uid: stat.uid });
      } catch {
        // removed meanwhile
      }
    }
  }
  return seen;
}

/** Watch for password files until `done()`; returns every one seen (each sighting). */
async function watch(where: Folders, done: () => boolean): Promise<Seen[]> {
  const sightings: Seen[] = [];
  while (!done()) {
    sightings.push(...passwordFiles(where));
    await sleep(20);
  }
  sightings.push(...passwordFiles(where));
  return sightings;
}

/** Readable by nobody but its owner, and its owner is root or the user initdb runs as. */
function expectPrivate(sightings: Seen[]): void {
  const open = new Set(sightings.filter((s) => s.mode !== 0o600 || (s.uid !== initdbUid && s.uid !== 0)).map((s) => `${s.file} (mode ${s.mode.toString(8)}, uid ${s.uid})`));
  expect([...open], 'password files others could read').toEqual([]);
}

/** No process runs initdb on the folder any more (a SIGKILLed parent leaves initdb to finish). */
function initdbRunning(dataDir: string): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('initdb') && cmdline.includes(path.join(dataDir, 'pg'))) return true;
    } catch {}
  }
  return false;
}

async function answers(dataDir: string, port: number): Promise<boolean> {
  const client = new pg.Client({ connectionString: `postgres://postgres:${encodeURIComponent(password(dataDir) ?? '')}@127.0.0.1:${port}/deskhand` });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

afterAll(async () => {
  for (const child of children) if (!ended(child)) child.kill('SIGKILL');
  await waitFor('the test folders to be free of initdb', () => !readdirSync(root).some((name) => initdbRunning(path.join(root, name))), 20_000).catch(() => {});
  for (const { pid } of processesIn(root)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  await waitFor('the test folders to be free', () => processesIn(root).length === 0, 10_000).catch(() => {});
  rmSync(root, { recursive: true, force: true });
}, 60_000);

describe('the password handed to initdb', () => {
  it('is never in a file others can read while the database is created, and no file is left', async () => {
    const where = folders('created');
    const run = supervisor(where, 'first start');
    const sightings = await watch(where, () => ended(run.child) || run.output().includes('"supervising"'));
    expect(ended(run.child), run.output()).toBe(false);
    expectPrivate(sightings);
    expect(passwordFiles(where)).toEqual([]);
    // SIGTERM: the helper stops its server on the way out.
    run.child.kill('SIGTERM');
    await waitFor('the helper to end', () => ended(run.child));
  });

  it('a start killed while initdb runs leaves none others can read; the next start removes what it left', async () => {
    const where = folders('killed');
    const run = supervisor(where, 'never committed');
    // Kill the start the moment a password file exists: initdb is about to read it.
    await waitFor('a password file for initdb', () => {
      if (ended(run.child)) throw new Error(`the helper ended first: ${run.output()}`);
      return passwordFiles(where).length > 0;
    }, 60_000, 10);
    run.child.kill('SIGKILL');
    await waitFor('the helper to end', () => ended(run.child));
    const sightings = await watch(where, () => !initdbRunning(where.dataDir));
    expectPrivate(sightings);
    expectPrivate(passwordFiles(where));

    const next = supervisor(where, 'after the kill');
    await waitFor('the next start to commit', () => {
      if (ended(next.child)) throw new Error(`the next start ended: ${next.output()}`);
      return next.output().includes('"supervising"');
    }, 60_000);
    expect(passwordFiles(where)).toEqual([]);
    const printed = JSON.parse(next.output().trim().split('\n').pop()!) as { pid: number; port: number };
    expect(await answers(where.dataDir, printed.port)).toBe(true);
    next.child.kill('SIGTERM');
    await waitFor('the helper to end', () => !isAlive(printed.pid));
  });

  it('a start removes the world-readable copies of its password that earlier versions left in /tmp, and nothing else', async () => {
    const where = folders('upgraded');
    execFileSync('mkdir', ['-m', '700', where.dataDir]);
    // The data folder of an earlier version, and what its failed starts left in /tmp (0644).
    const known = 'the-password-an-earlier-version-used';
    writeFileSync(path.join(where.dataDir, 'pg-password'), `${known}\n`, { mode: 0o600 });
    writeFileSync(path.join(where.tmp, 'pg-password-1abc2def'), `${known}\n`, { mode: 0o644 });
    writeFileSync(path.join(where.tmp, 'pg-password-3ghi4jkl'), 'another program\'s password\n', { mode: 0o644 });
    const run = supervisor(where, 'after the upgrade');
    await waitFor('the start to commit', () => {
      if (ended(run.child)) throw new Error(`the start ended: ${run.output()}`);
      return run.output().includes('"supervising"');
    }, 60_000);
    expect(readdirSync(where.tmp).filter((name) => name.startsWith('pg-password'))).toEqual(['pg-password-3ghi4jkl']);
    run.child.kill('SIGTERM');
    await waitFor('the helper to end', () => ended(run.child));
  });

  it('a start whose initdb fails leaves no password file', async () => {
    const where = folders('failed');
    // An unknown locale makes initdb refuse to create the cluster, after it was handed the password.
    const child = spawn(process.execPath, ['--import', 'tsx', childScript, where.dataDir, 'never'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TMPDIR: where.tmp, DESKHAND_LOG_LEVEL: 'silent', LC_ALL: 'xx_NO.NOPE', LANG: 'xx_NO.NOPE' },
    });
    children.push(child);
    const sightings = await watch(where, () => ended(child));
    expect(child.exitCode).not.toBe(0);
    expect(existsSync(path.join(where.dataDir, 'pg', 'PG_VERSION'))).toBe(false);
    expectPrivate(sightings);
    expect(passwordFiles(where)).toEqual([]);
  });
});
