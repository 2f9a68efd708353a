import { type Kysely, sql } from 'kysely';

/**
 * Prompts and workflows (issue 14). The MSP's and each client's own planner prompt: text an admin
 * edits, combined after deskhand's base prompt (base → MSP → client); bounded so that a prompt can
 * never crowd the request out of a model's context. Workflows: a trigger sentence and instructions,
 * MSP-wide or for one client (of the same MSP, held by the foreign key), `active`, `draft` or
 * `archived` (never deleted: a request's story names the workflows it was given), with an optional
 * list of steps (`[{tool, args}]`) checked against the tool catalog when written.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE msps
      ADD COLUMN planner_prompt text CHECK (char_length(planner_prompt) <= 8000),
      ADD COLUMN planner_prompt_updated_at timestamptz,
      ADD COLUMN planner_prompt_updated_by text;
    ALTER TABLE clients
      ADD COLUMN planner_prompt text CHECK (char_length(planner_prompt) <= 8000),
      ADD COLUMN planner_prompt_updated_at timestamptz,
      ADD COLUMN planner_prompt_updated_by text;

    CREATE TABLE workflows (
      id uuid PRIMARY KEY,
      msp_id text NOT NULL REFERENCES msps(id),
      client_id uuid,
      name text NOT NULL CHECK (name <> '' AND char_length(name) <= 200),
      trigger text NOT NULL CHECK (trigger <> '' AND char_length(trigger) <= 1000),
      instructions text NOT NULL CHECK (char_length(instructions) <= 8000),
      status text NOT NULL CHECK (status IN ('active', 'draft', 'archived')),
      steps jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(steps) = 'array'),
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      updated_by text NOT NULL,
      FOREIGN KEY (msp_id, client_id) REFERENCES clients (msp_id, id)
    );
    CREATE INDEX workflows_msp_status ON workflows (msp_id, status);
  `.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('deskhand migrations are forward-only');
}
