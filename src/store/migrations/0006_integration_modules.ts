import { type Kysely, sql } from 'kysely';

/**
 * Integrations as modules (issue 8):
 * - `client_links`: a client's record in each MSP-scoped integration (its PSA company, its tenant
 *   in a multi-tenant identity app), instead of one PSA company column on the client;
 * - `user_identities`: a user's identity in other systems (a chat user id), instead of a column per system;
 * - tool policies may name a client: a client's own policy for one tool of an integration
 *   overrides the integration's (NULLS NOT DISTINCT: one MSP-wide row and one row per client);
 * - a request records where its internal note lives (the ticket it came from, by default);
 * - outbox messages name the capability they go through (`ticket.note`, `approval.notice`,
 *   `identity.mail`) rather than a vendor's kind of message.
 * SQL that PostgreSQL 15 and 18 both accept. Frozen history: the literal 'slack' below only moves
 * data written by earlier versions.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE client_links (
      msp_id text NOT NULL,
      client_id uuid NOT NULL,
      integration_id uuid NOT NULL,
      external_id text NOT NULL CHECK (external_id <> ''),
      created_at timestamptz NOT NULL,
      PRIMARY KEY (client_id, integration_id),
      FOREIGN KEY (msp_id, client_id) REFERENCES clients (msp_id, id) ON DELETE CASCADE,
      FOREIGN KEY (msp_id, integration_id) REFERENCES integrations (msp_id, id) ON DELETE CASCADE
    );
    CREATE UNIQUE INDEX client_links_external_key ON client_links (integration_id, lower(external_id));

    INSERT INTO client_links (msp_id, client_id, integration_id, external_id, created_at)
    SELECT c.msp_id, c.id, i.id, c.psa_company_identifier, now()
    FROM clients c JOIN integrations i ON i.msp_id = c.msp_id AND i.client_id IS NULL
    WHERE c.psa_company_identifier IS NOT NULL AND c.psa_company_identifier <> '';
    ALTER TABLE clients DROP COLUMN psa_company_identifier;

    CREATE TABLE user_identities (
      msp_id text NOT NULL,
      user_id uuid NOT NULL,
      system text NOT NULL,
      external_id text NOT NULL CHECK (external_id <> ''),
      PRIMARY KEY (user_id, system),
      FOREIGN KEY (msp_id, user_id) REFERENCES users (msp_id, id) ON DELETE CASCADE
    );
    CREATE UNIQUE INDEX user_identities_external_key ON user_identities (msp_id, system, external_id);
    INSERT INTO user_identities (msp_id, user_id, system, external_id)
    SELECT msp_id, id, 'slack', slack_user_id FROM users WHERE slack_user_id IS NOT NULL AND slack_user_id <> '';
    ALTER TABLE users DROP COLUMN slack_user_id;

    ALTER TABLE tool_policies ADD COLUMN client_id uuid REFERENCES clients (id) ON DELETE CASCADE;
    ALTER TABLE tool_policies DROP CONSTRAINT tool_policies_pkey;
    ALTER TABLE tool_policies ADD CONSTRAINT tool_policies_scope_key UNIQUE NULLS NOT DISTINCT (integration_id, tool, client_id);

    ALTER TABLE requests ADD COLUMN note_integration_id uuid, ADD COLUMN note_ref text;
    UPDATE requests SET note_integration_id = source_integration_id, note_ref = external_ref;
    ALTER TABLE requests ADD CONSTRAINT requests_note_integration_same_msp FOREIGN KEY (msp_id, note_integration_id) REFERENCES integrations (msp_id, id);

    UPDATE outbox SET kind = CASE
      WHEN kind = 'mail' THEN 'identity.mail'
      WHEN kind = 'psa_note' AND payload->>'purpose' = 'approval_notification' THEN 'approval.notice'
      WHEN kind = 'psa_note' THEN 'ticket.note'
      ELSE kind END;
  `.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('deskhand migrations are forward-only');
}
