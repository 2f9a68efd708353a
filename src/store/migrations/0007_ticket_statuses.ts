import { type Kysely, sql } from 'kysely';

/**
 * Ticket statuses per board (issue 9): for a PSA integration, the status each of its boards takes in
 * each phase of a request (`waiting` while an approval is pending, `in_progress` while the plan runs,
 * `resolved` once the employee has the reply). A board or phase without a row changes nothing.
 * Names, not ids: a PSA's status ids differ per board and per site, and are resolved when used.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE ticket_statuses (
      msp_id text NOT NULL,
      integration_id uuid NOT NULL,
      board text NOT NULL CHECK (board <> ''),
      phase text NOT NULL CHECK (phase IN ('waiting', 'in_progress', 'resolved')),
      status text NOT NULL CHECK (status <> ''),
      updated_at timestamptz NOT NULL,
      updated_by text NOT NULL,
      PRIMARY KEY (integration_id, board, phase),
      FOREIGN KEY (msp_id, integration_id) REFERENCES integrations (msp_id, id) ON DELETE CASCADE
    );
  `.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('deskhand migrations are forward-only');
}
