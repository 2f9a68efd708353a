import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { loadSecretKeys, type SecretKeys } from '../secrets.ts';
import { openEmbeddedPostgres, prepareDataFolder } from '../store/embedded.ts';

/**
 * The database a command uses: `DATABASE_URL` when set, otherwise the embedded PostgreSQL in the
 * data folder (started here, or shared with the service that already supervises it).
 */
export interface OpenedStore {
  url: string;
  label: string;
  /** The keyring: from the environment, or the data folder's key file (read again when a rotation changes it). */
  secretKey: SecretKeys;
  close(): Promise<void>;
}

export async function openStore(config: Config, logger: Logger): Promise<OpenedStore> {
  // First, before anything is written: as root, a data folder the embedded server cannot reach stops here.
  await prepareDataFolder(config.dataDir, { embedded: !config.databaseUrl });
  const secretKey = await loadSecretKeys(process.env, config.dataDir);
  if (config.databaseUrl) {
    return { url: config.databaseUrl, label: `PostgreSQL at ${redactUrl(config.databaseUrl)}`, secretKey, close: async () => {} };
  }
  const server = await openEmbeddedPostgres(config.dataDir, logger);
  return {
    url: server.url,
    label: `embedded PostgreSQL in ${config.dataDir}/pg (127.0.0.1:${server.port})`,
    secretKey,
    close: () => server.stop(),
  };
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the configured database';
  }
}
