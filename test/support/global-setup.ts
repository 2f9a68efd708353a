import { mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { silentLogger } from '../../src/logger.ts';
import { migrate, openDb } from '../../src/store/db.ts';
import { type EmbeddedServer, openEmbeddedPostgres } from '../../src/store/embedded.ts';

/**
 * One database server for the whole run: the machine's PostgreSQL when DATABASE_URL is set,
 * otherwise an embedded PostgreSQL in a temporary folder. The schema is migrated once into a
 * template; each test file copies it (CREATE DATABASE ... TEMPLATE), which takes milliseconds.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgTemplate: string;
    pgKind: string;
  }
}

let embedded: EmbeddedServer | null = null;
let dataDir: string | null = null;
let adminUrl = '';
const template = `deskhand_tpl_${process.pid}`;

export async function setup(project: TestProject): Promise<void> {
  if (process.env['DATABASE_URL']) {
    adminUrl = process.env['DATABASE_URL'];
  } else {
    // The server runs as the postgres user when we are root: the folder must be enterable by it.
    dataDir = mkdtempSync(path.join(tmpdir(), 'deskhand-test-'));
    chmodSync(dataDir, 0o755);
    embedded = await openEmbeddedPostgres(dataDir, silentLogger);
    adminUrl = embedded.url;
  }
  await withAdmin(async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${template}`);
    await client.query(`CREATE DATABASE ${template}`);
  });
  const handle = openDb({ url: withDatabase(adminUrl, template), maxConnections: 1 });
  await migrate(handle.db);
  await handle.close();
  project.provide('pgAdminUrl', adminUrl);
  project.provide('pgTemplate', template);
  project.provide('pgKind', embedded ? 'embedded' : 'server');
}

export async function teardown(): Promise<void> {
  await withAdmin(async (client) => {
    const leftovers = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname = $2`, [`deskhand_t_${process.pid}_%`, template]);
    for (const row of leftovers.rows) await client.query(`DROP DATABASE IF EXISTS ${row.datname} WITH (FORCE)`);
  }).catch(() => {});
  await embedded?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}

async function withAdmin(work: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
