import { type Kysely, sql } from 'kysely';

/**
 * Live updates (issue 12): the rows the dashboard shows tell the API process when they change, with
 * `pg_notify('deskhand_events', json)`, which PostgreSQL delivers at commit to the one LISTEN
 * connection of each API process (src/api/events.ts), so no page polls the database.
 *
 * Kept cheap because they run inside the engine's own statements (the bench holds the engine to its
 * baseline): one notification per changed row, only when a column the dashboard shows changed (the
 * WHEN clause is checked before the function is even called), and payloads of ids and states only,
 * never a subject, body, comment or error, so that every role may receive them.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION deskhand_live_request() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM pg_notify('deskhand_events', json_build_object(
        'type', 'request', 'mspId', NEW.msp_id, 'id', NEW.id, 'state', NEW.state, 'outcome', NEW.outcome, 'clientId', NEW.client_id)::text);
      RETURN NULL;
    END;
    $fn$;
    CREATE TRIGGER requests_live_insert AFTER INSERT ON requests
      FOR EACH ROW EXECUTE FUNCTION deskhand_live_request();
    CREATE TRIGGER requests_live_update AFTER UPDATE OF state, outcome, client_id ON requests
      FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.outcome IS DISTINCT FROM NEW.outcome OR OLD.client_id IS DISTINCT FROM NEW.client_id)
      EXECUTE FUNCTION deskhand_live_request();

    CREATE FUNCTION deskhand_live_approval() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM pg_notify('deskhand_events', json_build_object(
        'type', 'approval', 'mspId', NEW.msp_id, 'id', NEW.id, 'requestId', NEW.request_id, 'status', NEW.status)::text);
      RETURN NULL;
    END;
    $fn$;
    CREATE TRIGGER approvals_live_insert AFTER INSERT ON approvals
      FOR EACH ROW EXECUTE FUNCTION deskhand_live_approval();
    CREATE TRIGGER approvals_live_update AFTER UPDATE OF status ON approvals
      FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
      EXECUTE FUNCTION deskhand_live_approval();

    -- A step names its request only: the MSP is the request's (one lookup by primary key).
    CREATE FUNCTION deskhand_live_step() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM pg_notify('deskhand_events', json_build_object(
        'type', 'step', 'mspId', (SELECT msp_id FROM requests WHERE id = NEW.request_id), 'requestId', NEW.request_id,
        'id', NEW.id, 'stepIndex', NEW.step_index, 'status', NEW.status)::text);
      RETURN NULL;
    END;
    $fn$;
    CREATE TRIGGER step_executions_live_insert AFTER INSERT ON step_executions
      FOR EACH ROW EXECUTE FUNCTION deskhand_live_step();
    CREATE TRIGGER step_executions_live_update AFTER UPDATE OF status ON step_executions
      FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
      EXECUTE FUNCTION deskhand_live_step();

    CREATE FUNCTION deskhand_live_audit() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM pg_notify('deskhand_events', json_build_object(
        'type', 'audit', 'mspId', NEW.msp_id, 'seq', NEW.seq, 'requestId', NEW.request_id)::text);
      RETURN NULL;
    END;
    $fn$;
    CREATE TRIGGER audit_log_live_insert AFTER INSERT ON audit_log
      FOR EACH ROW EXECUTE FUNCTION deskhand_live_audit();
  `.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('deskhand migrations are forward-only');
}
