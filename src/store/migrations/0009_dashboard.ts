import { type Kysely, sql } from 'kysely';

/**
 * What the dashboard's first run and invitations keep (issue 11): the one-time setup token that
 * creates the first MSP, and the invitation links an admin hands to a new user. Both are stored as
 * the SHA-256 of the token only (the token itself is shown once), expire, and are used up once.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE setup_tokens (
      token_hash text PRIMARY KEY,
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      used_at timestamptz
    );

    CREATE TABLE user_invites (
      token_hash text PRIMARY KEY,
      msp_id text NOT NULL REFERENCES msps(id),
      user_id uuid NOT NULL REFERENCES users(id),
      created_by uuid REFERENCES users(id),
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      used_at timestamptz
    );
    CREATE INDEX user_invites_user ON user_invites (user_id);
  `.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('deskhand migrations are forward-only');
}
