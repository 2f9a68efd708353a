import { type RawBuilder, sql } from 'kysely';
import type { SecretBox } from '../secrets.ts';
import { appendAudit, inTransaction } from './audit.ts';
import type { Db } from './db.ts';

/**
 * Every place the database keeps something encrypted with the SecretBox: what a key rotation
 * re-encrypts and what decides whether an earlier key is still needed. A new encrypted column
 * belongs here (test/security/key-rotation.test.ts looks for ciphertexts anywhere else).
 */
export interface EncryptedPlace {
  table: 'integrations' | 'step_executions' | 'outbox';
  column: string;
  /** The ciphertext is this key of a jsonb column. */
  jsonKey?: string;
  /** What it holds, in the words an operator reads. */
  what: string;
}

export const ENCRYPTED_PLACES: readonly EncryptedPlace[] = [
  { table: 'integrations', column: 'secrets_encrypted', what: 'integration credentials' },
  { table: 'step_executions', column: 'secret_encrypted', what: 'temporary passwords not yet shown' },
  { table: 'outbox', column: 'payload', jsonKey: 'textBox', what: 'mail bodies not yet sent' },
];

function boxOf(place: EncryptedPlace): RawBuilder<string | null> {
  return place.jsonKey ? sql<string | null>`${sql.ref(place.column)} ->> ${sql.lit(place.jsonKey)}` : sql<string | null>`${sql.ref(place.column)}`;
}

/**
 * Re-encrypt, in one transaction, up to `limit` ciphertexts of `place` that are not under the
 * current key, in id order after `after`. The rows are locked while they are rewritten, so a
 * concurrent change of the same row (the engine storing a new secret) is never overwritten with
 * an older one. Committing the batch is its progress: each ciphertext names its key, and a rerun
 * after a crash picks up exactly the rows still under an earlier key.
 */
export async function reencryptBatch(
  db: Db,
  place: EncryptedPlace,
  box: SecretBox,
  after: string | null,
  limit: number,
): Promise<{ rows: number; last: string | null }> {
  const current = box.keyring.current.id;
  return inTransaction(db, async (tx) => {
    const found = await sql<{ id: string; box: string }>`
      SELECT t.id::text AS id, ${boxOf(place)} AS box
      FROM ${sql.table(place.table)} AS t
      WHERE ${boxOf(place)} IS NOT NULL
        AND ${boxOf(place)} NOT LIKE ${`v2.${current}.%`}
        ${after ? sql`AND t.id > ${after}::uuid` : sql``}
      ORDER BY t.id
      LIMIT ${limit}
      FOR NO KEY UPDATE OF t`.execute(tx);
    for (const row of found.rows) {
      let again: string | null;
      try {
        again = box.reencrypt(row.box);
      } catch (error) {
        // Never the secret: which row, and why its key is missing.
        throw new Error(`${place.table} row ${row.id} (${place.what}) cannot be decrypted: ${(error as Error).message}`);
      }
      if (again === null) continue;
      if (place.jsonKey) {
        await sql`UPDATE ${sql.table(place.table)} SET ${sql.ref(place.column)} = jsonb_set(${sql.ref(place.column)}, ${sql.lit(`{${place.jsonKey}}`)}, to_jsonb(${again}::text)) WHERE id = ${row.id}::uuid`.execute(tx);
      } else {
        await sql`UPDATE ${sql.table(place.table)} SET ${sql.ref(place.column)} = ${again} WHERE id = ${row.id}::uuid`.execute(tx);
      }
    }
    return { rows: found.rows.length, last: found.rows.at(-1)?.id ?? null };
  });
}

/** How many stored ciphertexts are under each key (those written before key ids are attributed to the key that opens them). */
export async function ciphertextsByKey(db: Db, box: SecretBox): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const add = (id: string, n: number) => counts.set(id, (counts.get(id) ?? 0) + n);
  for (const place of ENCRYPTED_PLACES) {
    const grouped = await sql<{ version: string; key_id: string; n: string }>`
      SELECT split_part(${boxOf(place)}, '.', 1) AS version, split_part(${boxOf(place)}, '.', 2) AS key_id, count(*)::text AS n
      FROM ${sql.table(place.table)}
      WHERE ${boxOf(place)} IS NOT NULL
      GROUP BY 1, 2`.execute(db);
    for (const row of grouped.rows) if (row.version === 'v2') add(row.key_id, Number(row.n));
    if (grouped.rows.some((r) => r.version !== 'v2')) {
      const legacy = await sql<{ box: string }>`
        SELECT ${boxOf(place)} AS box FROM ${sql.table(place.table)}
        WHERE ${boxOf(place)} IS NOT NULL AND ${boxOf(place)} NOT LIKE 'v2.%'`.execute(db);
      for (const row of legacy.rows) {
        let id = 'unreadable';
        try {
          id = box.keyIdOf(row.box);
        } catch {}
        add(id, 1);
      }
    }
  }
  return counts;
}

/** Manager approvals still pending and unexpired at `now`: their links work until they expire. */
export async function pendingManagerApprovals(db: Db, now: Date): Promise<{ createdAt: Date; expiresAt: Date }[]> {
  const rows = await db
    .selectFrom('approvals')
    .select(['created_at', 'expires_at'])
    .where('kind', '=', 'manager')
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .execute();
  return rows.map((r) => ({ createdAt: r.created_at, expiresAt: r.expires_at }));
}

/**
 * Tell every MSP's audit log that the key protecting its stored credentials changed: the new key's
 * id (a fingerprint, not the key), nothing about other tenants.
 */
export async function auditRotation(db: Db, input: { keyId: string; actor: string; at: Date }): Promise<void> {
  const msps = await db.selectFrom('msps').select('id').orderBy('id').execute();
  if (msps.length === 0) return;
  await inTransaction(db, async (tx) => {
    await appendAudit(
      tx,
      msps.map((m) => ({ mspId: m.id, actor: input.actor, event: 'secrets.reencrypted', data: { keyId: input.keyId }, at: input.at })),
    );
  });
}
