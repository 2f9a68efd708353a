import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../logger.ts';
import { openEmbeddedPostgres } from '../store/embedded.ts';

/**
 * A throwaway database for the demo and the evaluation: a fresh database on the server named by
 * DATABASE_URL, or an embedded PostgreSQL in a temporary folder. Never `./.deskhand`.
 */
export interface ScratchDatabase {
  url: string;
  label: string;
  dispose(): Promise<void>;
}

export async function scratchDatabase(purpose: string, logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<ScratchDatabase> {
  const serverUrl = env['DATABASE_URL'];
  if (serverUrl) {
    const name = `deskhand_${purpose}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    await adminQuery(serverUrl, `CREATE DATABASE ${name}`);
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      label: `a fresh database ${name} on the DATABASE_URL server`,
      dispose: () => adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
    };
  }
  // PostgreSQL runs as the postgres user when we are root: the folder must be enterable by it.
  const dir = mkdtempSync(path.join(tmpdir(), `deskhand-${purpose}-`));
  chmodSync(dir, 0o755);
  const server = await openEmbeddedPostgres(dir, logger);
  return {
    url: server.url,
    label: `embedded PostgreSQL in ${dir}`,
    async dispose() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function adminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
