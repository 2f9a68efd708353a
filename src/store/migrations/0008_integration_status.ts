import { type Kysely, sql } from 'kysely';

/**
 * Each integration's health as people read it (issue 10): `healthy`, `unhealthy` (its credentials or
 * configuration were refused, with the reason) or `unknown` (not called yet), from real traffic and
 * from its doctor. Beside the circuit breaker's columns of the same row (which count transient
 * failures): a refused credential is no transient failure, and a breaker closing says nothing about it.
 * `status_error` is a safe description (never a secret); `status_source` says what set the status.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE integration_health
      ADD COLUMN status text NOT NULL DEFAULT 'unknown' CHECK (status IN ('healthy', 'unhealthy', 'unknown')),
      ADD COLUMN status_at timestamptz,
      ADD COLUMN status_source text CHECK (status_source IN ('traffic', 'doctor')),
      ADD COLUMN status_error text,
      ADD COLUMN status_error_at timestamptz,
      ADD COLUMN last_success_at timestamptz;
  `.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('deskhand migrations are forward-only');
}
