import { type Kysely, sql } from 'kysely';

/** Circuit breakers: one row per integration that has failed, shared by every worker. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE integration_health (
      integration_id uuid PRIMARY KEY REFERENCES integrations(id) ON DELETE CASCADE,
      consecutive_failures integer NOT NULL DEFAULT 0,
      open_until timestamptz,
      last_error text,
      updated_at timestamptz NOT NULL
    );
  `.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('deskhand migrations are forward-only');
}
