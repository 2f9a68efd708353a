import { type Kysely, sql } from 'kysely';

/**
 * Tenancy in the schema: a row that names both an MSP and something of a tenant (a client, an
 * integration, a request, a user) must name that thing of the same MSP, and an approval or step
 * must name its own request's plan. Composite foreign keys say so, so that a bug in a query cannot
 * mix tenants. Each replaces the single-column key it strengthens (MATCH SIMPLE: a NULL client,
 * integration, request or decider is still allowed, as before). SQL that PostgreSQL 15 and 18 both
 * accept. An existing database whose rows already mix tenants fails this migration, naming the
 * constraint: such rows are a bug to look at, not to carry forward.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE clients ADD CONSTRAINT clients_msp_id_id_key UNIQUE (msp_id, id);
    ALTER TABLE users ADD CONSTRAINT users_msp_id_id_key UNIQUE (msp_id, id);
    ALTER TABLE integrations ADD CONSTRAINT integrations_msp_id_id_key UNIQUE (msp_id, id);
    ALTER TABLE requests ADD CONSTRAINT requests_msp_id_id_key UNIQUE (msp_id, id);
    ALTER TABLE plans ADD CONSTRAINT plans_id_request_id_key UNIQUE (id, request_id);

    ALTER TABLE integrations
      DROP CONSTRAINT integrations_client_id_fkey,
      ADD CONSTRAINT integrations_client_same_msp FOREIGN KEY (msp_id, client_id) REFERENCES clients (msp_id, id);

    ALTER TABLE requests
      DROP CONSTRAINT requests_client_id_fkey,
      DROP CONSTRAINT requests_source_integration_id_fkey,
      ADD CONSTRAINT requests_client_same_msp FOREIGN KEY (msp_id, client_id) REFERENCES clients (msp_id, id),
      ADD CONSTRAINT requests_source_integration_same_msp FOREIGN KEY (msp_id, source_integration_id) REFERENCES integrations (msp_id, id);

    ALTER TABLE approvals
      DROP CONSTRAINT approvals_request_id_fkey,
      DROP CONSTRAINT approvals_plan_id_fkey,
      DROP CONSTRAINT approvals_decided_by_user_id_fkey,
      ADD CONSTRAINT approvals_request_same_msp FOREIGN KEY (msp_id, request_id) REFERENCES requests (msp_id, id),
      ADD CONSTRAINT approvals_plan_of_request FOREIGN KEY (plan_id, request_id) REFERENCES plans (id, request_id),
      ADD CONSTRAINT approvals_decider_same_msp FOREIGN KEY (msp_id, decided_by_user_id) REFERENCES users (msp_id, id);

    ALTER TABLE outbox
      DROP CONSTRAINT outbox_request_id_fkey,
      DROP CONSTRAINT outbox_integration_id_fkey,
      ADD CONSTRAINT outbox_request_same_msp FOREIGN KEY (msp_id, request_id) REFERENCES requests (msp_id, id),
      ADD CONSTRAINT outbox_integration_same_msp FOREIGN KEY (msp_id, integration_id) REFERENCES integrations (msp_id, id);

    ALTER TABLE step_executions
      DROP CONSTRAINT step_executions_plan_id_fkey,
      ADD CONSTRAINT step_executions_plan_of_request FOREIGN KEY (plan_id, request_id) REFERENCES plans (id, request_id);

    ALTER TABLE audit_log
      ADD CONSTRAINT audit_log_request_same_msp FOREIGN KEY (msp_id, request_id) REFERENCES requests (msp_id, id);
  `.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('deskhand migrations are forward-only');
}
