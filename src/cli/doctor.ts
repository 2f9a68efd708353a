import { readConfig } from '../config.ts';
import { runDoctor, formatDoctor } from '../integrations/doctor.ts';
import { IntegrationRegistry } from '../integrations/registry.ts';
import { createLogger } from '../logger.ts';
import { SecretBox } from '../secrets.ts';
import { migrate, openDb } from '../store/db.ts';
import { openStore } from './store.ts';

/**
 * `deskhand doctor [--json]`: connects to every enabled integration and reports, per tool (and per
 * client where an integration is checked in each client's tenant), whether the credentials,
 * permissions and roles it needs are there, with the fix for each missing one. Reads only. Exits 1
 * when anything is missing or could not be checked, so that scripts can act on it.
 */
export async function doctor(options: { json?: boolean }): Promise<void> {
  const config = readConfig();
  const logger = createLogger({ level: config.logLevel });
  const store = await openStore(config, logger);
  const handle = openDb({ url: store.url, maxConnections: 2, applicationName: 'deskhand doctor' });
  let ok = false;
  try {
    await migrate(handle.db);
    const registry = new IntegrationRegistry(handle.db, new SecretBox(store.secretKey));
    const output = await runDoctor({ db: handle.db, registry, logger });
    ok = output.ok;
    process.stdout.write(`${options.json ? JSON.stringify(output) : formatDoctor(output)}\n`);
  } finally {
    await handle.close();
    await store.close();
  }
  if (!ok) process.exitCode = 1;
}
