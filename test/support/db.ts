import pg from 'pg';
import { inject } from 'vitest';

/** A fresh database for one test file, copied from the migrated template. Dropped at the end of the run. */
export async function createTestDatabase(): Promise<string> {
  const adminUrl = inject('pgAdminUrl');
  const template = inject('pgTemplate');
  // Named after the run's template, so that a run's teardown drops its own copies and never another
  // run's (several runs may share the machine's PostgreSQL).
  const name = `${template.replace('deskhand_tpl_', 'deskhand_t_')}_${Math.random().toString(36).slice(2, 10)}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
        break;
      } catch (error) {
        // Two files copying the template at the same instant: PostgreSQL refuses one; try again.
        if (attempt >= 20 || !String((error as Error).message).includes('being accessed by other users')) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export function databaseKind(): string {
  return inject('pgKind');
}
