import { type Kysely, sql } from 'kysely';

/**
 * Sign-in limits, shared by every process that serves the API: one row per client address and one
 * per account (email), each counting attempts in a fixed window; an account's row also counts
 * failures in a row and holds its lock. Keys are SHA-256 hashes: the table never holds what someone
 * typed into the email field (sometimes a password). A row past `forget_at` means nothing and is
 * deleted by the next sign-in.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE sign_in_limits (
      scope text NOT NULL CHECK (scope IN ('address', 'account')),
      key_hash text NOT NULL,
      window_started_at timestamptz NOT NULL,
      attempts integer NOT NULL,
      failures integer NOT NULL DEFAULT 0,
      last_failure_at timestamptz,
      locked_until timestamptz,
      forget_at timestamptz NOT NULL,
      PRIMARY KEY (scope, key_hash)
    );
    CREATE INDEX sign_in_limits_forget_at ON sign_in_limits (forget_at);
  `.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('deskhand migrations are forward-only');
}
