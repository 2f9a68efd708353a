import { type Kysely, sql } from 'kysely';

/**
 * Appending to the audit chain in one round trip: the function locks (or creates) the MSP's head,
 * chains each row's hash in the database, and moves the head. Each row's hash is
 * sha256(previous hash | seq | canonical JSON of the row's content), the content's canonical JSON
 * being computed by the application (src/store/audit.ts) and recomputed there to verify.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION audit_append(
      p_msp text, p_request_ids uuid[], p_actors text[], p_events text[], p_data jsonb[], p_ats timestamptz[], p_bodies text[]
    ) RETURNS bigint LANGUAGE plpgsql AS $fn$
    DECLARE
      v_seq bigint;
      v_hash text;
      v_next text;
      i integer;
    BEGIN
      INSERT INTO audit_heads (msp_id, seq, hash) VALUES (p_msp, 0, repeat('0', 64))
      ON CONFLICT (msp_id) DO UPDATE SET msp_id = EXCLUDED.msp_id
      RETURNING seq, hash INTO v_seq, v_hash;
      FOR i IN 1 .. coalesce(array_length(p_bodies, 1), 0) LOOP
        v_seq := v_seq + 1;
        v_next := encode(sha256(convert_to(v_hash || '|' || v_seq::text || '|' || p_bodies[i], 'UTF8')), 'hex');
        INSERT INTO audit_log (msp_id, seq, request_id, actor, event, data, at, prev_hash, hash)
        VALUES (p_msp, v_seq, p_request_ids[i], p_actors[i], p_events[i], p_data[i], p_ats[i], v_hash, v_next);
        v_hash := v_next;
      END LOOP;
      UPDATE audit_heads SET seq = v_seq, hash = v_hash WHERE msp_id = p_msp;
      RETURN v_seq;
    END;
    $fn$;
  `.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('deskhand migrations are forward-only');
}
