import path from 'node:path';

/** Configuration by environment (DESIGN.md's surface). Parsed once, at the edge. */
export interface Config {
  databaseUrl: string | undefined;
  dataDir: string;
  port: number;
  host: string;
  publicUrl: string;
  logLevel: string;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = parsePort(env['PORT'] ?? '8080');
  const host = env['HOST'] ?? '127.0.0.1';
  const dataDir = path.resolve(env['DESKHAND_DATA_DIR'] ?? '.deskhand');
  const publicUrl = (env['DESKHAND_PUBLIC_URL'] ?? `http://localhost:${port}`).replace(/\/+$/, '');
  return {
    databaseUrl: env['DATABASE_URL'] || undefined,
    dataDir,
    port,
    host,
    publicUrl,
    logLevel: env['DESKHAND_LOG_LEVEL'] ?? 'info',
  };
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got "${value}"`);
  return port;
}
