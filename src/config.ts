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

/**
 * Which reverse proxies the API believes about the client's address (X-Forwarded-For), for the
 * sign-in limits per address and the access log: none unless DESKHAND_TRUST_PROXY names them, as
 * addresses, CIDR ranges or proxy-addr's names (`loopback`, `linklocal`, `uniquelocal`), comma
 * separated. Trusting every hop would let anyone choose their address.
 */
export function trustedProxies(env: NodeJS.ProcessEnv = process.env): false | string[] {
  const value = env['DESKHAND_TRUST_PROXY']?.trim();
  if (!value) return false;
  const entries = value.split(',').map((entry) => entry.trim()).filter(Boolean);
  for (const entry of entries) {
    if (!/^(loopback|linklocal|uniquelocal|[0-9a-fA-F:.]+(\/\d{1,3})?)$/.test(entry)) {
      throw new Error(`DESKHAND_TRUST_PROXY: "${entry}" is not an address, a CIDR range or one of loopback, linklocal, uniquelocal`);
    }
  }
  return entries;
}
