import { type Kysely, sql } from 'kysely';

/**
 * The whole first schema, in SQL that PostgreSQL 15 and 18 both accept. Times that drive behaviour
 * (due, expiry, leases) are always written from the application's clock, never `now()`, so that
 * tests and the demo can move time forward.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE msps (
      id text PRIMARY KEY,
      name text NOT NULL,
      default_operating_mode text NOT NULL DEFAULT 'plan' CHECK (default_operating_mode IN ('plan', 'execute')),
      created_at timestamptz NOT NULL
    );

    CREATE TABLE users (
      id uuid PRIMARY KEY,
      msp_id text NOT NULL REFERENCES msps(id),
      email text NOT NULL,
      name text NOT NULL,
      role text NOT NULL CHECK (role IN ('msp_admin', 'msp_technician', 'msp_billing')),
      password_hash text,
      slack_user_id text,
      disabled boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL
    );
    CREATE UNIQUE INDEX users_email_key ON users (lower(email));

    CREATE TABLE api_tokens (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES users(id),
      name text NOT NULL,
      token_hash text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL,
      last_used_at timestamptz,
      revoked_at timestamptz
    );

    CREATE TABLE sessions (
      id_hash text PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES users(id),
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL
    );

    CREATE TABLE clients (
      id uuid PRIMARY KEY,
      msp_id text NOT NULL REFERENCES msps(id),
      slug text NOT NULL,
      name text NOT NULL,
      domain text NOT NULL,
      operating_mode text NOT NULL DEFAULT 'inherit' CHECK (operating_mode IN ('plan', 'execute', 'inherit')),
      sender_mailbox text,
      psa_company_identifier text,
      created_at timestamptz NOT NULL,
      UNIQUE (msp_id, slug)
    );

    CREATE TABLE integrations (
      id uuid PRIMARY KEY,
      msp_id text NOT NULL REFERENCES msps(id),
      client_id uuid REFERENCES clients(id),
      kind text NOT NULL,
      name text NOT NULL,
      config jsonb NOT NULL DEFAULT '{}'::jsonb,
      secrets_encrypted text,
      enabled boolean NOT NULL DEFAULT true,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    );
    CREATE INDEX integrations_msp_idx ON integrations (msp_id, kind);
    CREATE INDEX integrations_client_idx ON integrations (client_id, kind);

    CREATE TABLE tool_policies (
      integration_id uuid NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
      tool text NOT NULL,
      policy text NOT NULL CHECK (policy IN ('auto', 'approval_needed', 'disabled')),
      require_manager_approval boolean NOT NULL DEFAULT false,
      updated_at timestamptz NOT NULL,
      updated_by text,
      PRIMARY KEY (integration_id, tool)
    );

    CREATE TABLE runbooks (
      id uuid PRIMARY KEY,
      client_id uuid NOT NULL REFERENCES clients(id),
      title text NOT NULL,
      body text NOT NULL,
      source text NOT NULL DEFAULT 'fixture'
    );
    CREATE INDEX runbooks_client_idx ON runbooks (client_id);

    CREATE TABLE requests (
      id uuid PRIMARY KEY,
      msp_id text NOT NULL REFERENCES msps(id),
      client_id uuid REFERENCES clients(id),
      channel text NOT NULL,
      source_integration_id uuid REFERENCES integrations(id),
      external_ref text NOT NULL,
      requester_email text NOT NULL,
      subject text NOT NULL DEFAULT '',
      body text NOT NULL DEFAULT '',
      state text NOT NULL,
      outcome text,
      operating_mode text,
      due_at timestamptz,
      lease_owner text,
      lease_until timestamptz,
      attempts integer NOT NULL DEFAULT 0,
      last_error text,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      UNIQUE (source_integration_id, external_ref)
    );
    CREATE INDEX requests_due_idx ON requests (due_at) WHERE due_at IS NOT NULL;
    CREATE INDEX requests_msp_idx ON requests (msp_id, created_at DESC);

    CREATE TABLE diagnoses (
      request_id uuid PRIMARY KEY REFERENCES requests(id),
      requester jsonb,
      manager jsonb,
      reads jsonb NOT NULL,
      created_at timestamptz NOT NULL
    );

    CREATE TABLE plans (
      id uuid PRIMARY KEY,
      request_id uuid NOT NULL UNIQUE REFERENCES requests(id),
      planner text NOT NULL,
      outcome text NOT NULL CHECK (outcome IN ('plan', 'no_action', 'escalate')),
      summary text NOT NULL,
      reasons jsonb NOT NULL,
      reply_to_employee text,
      steps jsonb NOT NULL,
      step_policies jsonb NOT NULL,
      canonical text NOT NULL,
      hash text NOT NULL,
      operating_mode text NOT NULL,
      needs_technician boolean NOT NULL,
      needs_manager boolean NOT NULL,
      rejected_problems jsonb,
      created_at timestamptz NOT NULL
    );

    CREATE TABLE approvals (
      id uuid PRIMARY KEY,
      msp_id text NOT NULL REFERENCES msps(id),
      request_id uuid NOT NULL REFERENCES requests(id),
      plan_id uuid NOT NULL REFERENCES plans(id),
      plan_hash text NOT NULL,
      kind text NOT NULL CHECK (kind IN ('technician', 'manager')),
      status text NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'cancelled')),
      approver_email text,
      approver_name text,
      link_token_hash text,
      decided_by_user_id uuid REFERENCES users(id),
      decided_by text,
      decided_at timestamptz,
      comment text,
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      UNIQUE (request_id, kind)
    );
    CREATE INDEX approvals_pending_expiry_idx ON approvals (expires_at) WHERE status = 'pending';
    CREATE INDEX approvals_msp_status_idx ON approvals (msp_id, status, created_at DESC);

    CREATE TABLE step_executions (
      id uuid PRIMARY KEY,
      request_id uuid NOT NULL REFERENCES requests(id),
      plan_id uuid NOT NULL REFERENCES plans(id),
      step_index integer NOT NULL,
      tool text NOT NULL,
      idempotency_key text NOT NULL UNIQUE,
      status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
      attempts integer NOT NULL DEFAULT 0,
      summary text,
      result jsonb,
      error text,
      secret_encrypted text,
      secret_for_user_id uuid REFERENCES users(id),
      secret_revealed_at timestamptz,
      started_at timestamptz NOT NULL,
      finished_at timestamptz,
      UNIQUE (plan_id, step_index)
    );

    CREATE TABLE outbox (
      id uuid PRIMARY KEY,
      msp_id text NOT NULL REFERENCES msps(id),
      request_id uuid REFERENCES requests(id),
      integration_id uuid REFERENCES integrations(id),
      kind text NOT NULL,
      idempotency_key text NOT NULL UNIQUE,
      payload jsonb NOT NULL,
      on_delivered jsonb,
      status text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL,
      lease_until timestamptz,
      last_error text,
      result jsonb,
      created_at timestamptz NOT NULL,
      delivered_at timestamptz
    );
    CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE status = 'pending';
    CREATE INDEX outbox_request_idx ON outbox (request_id);

    CREATE TABLE audit_heads (
      msp_id text PRIMARY KEY REFERENCES msps(id),
      seq bigint NOT NULL,
      hash text NOT NULL
    );

    CREATE TABLE audit_log (
      msp_id text NOT NULL REFERENCES msps(id),
      seq bigint NOT NULL,
      request_id uuid,
      actor text NOT NULL,
      event text NOT NULL,
      data jsonb NOT NULL,
      at timestamptz NOT NULL,
      prev_hash text NOT NULL,
      hash text NOT NULL,
      PRIMARY KEY (msp_id, seq)
    );
    CREATE INDEX audit_request_idx ON audit_log (request_id, seq) WHERE request_id IS NOT NULL;

    -- Append-only: the audit log can be added to, never changed.
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      RAISE EXCEPTION 'audit_log is append-only';
    END;
    $fn$;
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

    CREATE TABLE settings (
      key text PRIMARY KEY,
      value jsonb NOT NULL
    );
  `.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('deskhand migrations are forward-only');
}
