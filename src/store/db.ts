import { Kysely, Migrator, PostgresDialect, type Migration, type MigrationProvider, sql, type Transaction } from 'kysely';
import { createHash } from 'node:crypto';
import pg from 'pg';
import * as initial from './migrations/0001_initial.ts';
import * as integrationHealth from './migrations/0002_integration_health.ts';
import * as integrationStatus from './migrations/0008_integration_status.ts';
import * as auditAppend from './migrations/0003_audit_append.ts';
import * as tenancyKeys from './migrations/0004_tenancy_keys.ts';
import * as signInLimits from './migrations/0005_sign_in_limits.ts';
import * as integrationModules from './migrations/0006_integration_modules.ts';
import * as ticketStatuses from './migrations/0007_ticket_statuses.ts';
import * as dashboard from './migrations/0009_dashboard.ts';
import * as liveEvents from './migrations/0010_live_events.ts';
import * as promptsWorkflows from './migrations/0011_prompts_workflows.ts';
import * as plannerJournal from './migrations/0012_planner_journal.ts';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
export type DbOrTx = Db | Tx;

// timestamptz comes back as Date (pg's default); bigint (int8) as string, which we keep for seq numbers.

/** Counts what the database driver sends, so benchmarks can report statements and transactions per request. */
export interface DbCounters {
  statements: number;
  transactions: number;
}

export interface OpenDbOptions {
  url: string;
  maxConnections?: number;
  applicationName?: string;
}

export interface DbHandle {
  db: Db;
  pool: pg.Pool;
  counters: DbCounters;
  url: string;
  close(): Promise<void>;
}

export function openDb(options: OpenDbOptions): DbHandle {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    application_name: options.applicationName ?? 'deskhand',
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its server (restart, kill) must not crash the process; the pool drops it.
  pool.on('error', () => {});
  pool.on('connect', (client) => prepareRepeatedStatements(client));
  const counters: DbCounters = { statements: 0, transactions: 0 };
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log(event) {
      if (event.level === 'query' || event.level === 'error') {
        counters.statements++;
        const text = event.query.sql.trimStart().slice(0, 6).toLowerCase();
        if (text === 'commit') counters.transactions++;
      }
    },
  });
  return {
    db,
    pool,
    counters,
    url: options.url,
    async close() {
      await db.destroy();
    },
  };
}

/**
 * Parameterised statements run as named prepared statements, so PostgreSQL parses and plans each
 * distinct text once per connection instead of on every call (the engine runs the same few dozen
 * statements for every request). Texts are named by their hash; unusually long or numerous texts
 * (multi-row inserts of varying size) stay unnamed, so a connection's statement cache stays bounded.
 */
const MAX_PREPARED_TEXT = 4_000;
const MAX_PREPARED_PER_CONNECTION = 300;

function prepareRepeatedStatements(client: pg.PoolClient): void {
  const original = client.query.bind(client) as (...args: unknown[]) => unknown;
  const named = new Set<string>();
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const [text, values] = args;
    if (typeof text === 'string' && Array.isArray(values) && values.length > 0 && text.length <= MAX_PREPARED_TEXT) {
      const name = `dh_${createHash('sha1').update(text).digest('base64url')}`;
      if (named.has(name) || named.size < MAX_PREPARED_PER_CONNECTION) {
        named.add(name);
        return original({ name, text, values }, ...args.slice(2));
      }
    }
    return original(...args);
  };
}

const migrations: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_integration_health': integrationHealth,
  '0003_audit_append': auditAppend,
  '0004_tenancy_keys': tenancyKeys,
  '0005_sign_in_limits': signInLimits,
  '0006_integration_modules': integrationModules,
  '0007_ticket_statuses': ticketStatuses,
  '0008_integration_status': integrationStatus,
  '0009_dashboard': dashboard,
  '0010_live_events': liveEvents,
  '0011_prompts_workflows': promptsWorkflows,
  '0012_planner_journal': plannerJournal,
};

class StaticMigrations implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations;
  }
}

/** Brings the schema up to date; safe when several processes start at once (Kysely takes a lock). */
export async function migrate(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new StaticMigrations() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export async function ping(db: Db): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}

/** JSON for a jsonb parameter (pg would turn a JS array into a PostgreSQL array literal). */
export function json(value: unknown): string {
  return JSON.stringify(value ?? null);
}
