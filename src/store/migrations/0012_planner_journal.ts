import { type Kysely, sql } from 'kysely';

/**
 * A model-backed planner's journal (issue 14): each model response and read of one request's
 * diagnosis, appended as it arrives, so that a worker killed mid-diagnosis resumes without paying
 * for the finished model calls again; and, on the plan, what the planner spent (calls, tokens,
 * cost) and what it was given (the prompts' tiers a model read, the workflows that matched), for the
 * request's story.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE planner_journal (
      request_id uuid NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
      kind text NOT NULL CHECK (kind IN ('model', 'read')),
      step integer NOT NULL CHECK (step >= 0),
      payload jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (request_id, kind, step)
    );
    ALTER TABLE plans ADD COLUMN usage jsonb, ADD COLUMN planner_context jsonb;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE planner_journal; ALTER TABLE plans DROP COLUMN usage, DROP COLUMN planner_context;`.execute(db);
}
