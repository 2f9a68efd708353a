import { type RawBuilder, sql } from 'kysely';
import { canonicalJson, sha256Hex } from '../core/canonical.ts';
import { type Db, type DbOrTx, json, type Tx } from './db.ts';

/**
 * The append-only audit log. Rows are hash-chained per MSP: each row's hash covers the previous
 * row's hash and this row's content, so a changed or removed row breaks the chain. One chain per MSP
 * keeps tenants from serialising each other; within an MSP the head row is locked for the append.
 */
export interface AuditEvent {
  mspId: string;
  requestId?: string | null;
  actor: string;
  event: string;
  data?: Record<string, unknown>;
  at: Date;
}

export const GENESIS_HASH = '0'.repeat(64);

/** The row's content as hashed: canonical JSON of everything but its place in the chain. */
export function auditBody(row: { mspId: string; requestId: string | null; actor: string; event: string; data: unknown; at: Date }): string {
  return canonicalJson({ mspId: row.mspId, requestId: row.requestId, actor: row.actor, event: row.event, data: row.data, at: row.at.toISOString() });
}

/** sha256(previous hash | seq | body): what `audit_append` computes in the database (migration 0003). */
export function auditHash(prevHash: string, row: { mspId: string; seq: number; requestId: string | null; actor: string; event: string; data: unknown; at: Date }): string {
  return sha256Hex(`${prevHash}|${row.seq}|${auditBody(row)}`);
}

/**
 * Append events (in order) inside the caller's transaction: one round trip per MSP. The database
 * function locks (or creates) the chain's head row, so appends of one MSP queue behind each other
 * while other MSPs do not wait, and chains the hashes of the new rows.
 */
export async function appendAudit(tx: Tx, events: AuditEvent | AuditEvent[]): Promise<void> {
  const list = Array.isArray(events) ? events : [events];
  const buffer = buffers.get(tx);
  if (buffer) {
    // Inside `inTransaction`: written together just before commit, one round trip per MSP.
    buffer.push(...list);
    return;
  }
  await writeAudit(tx, list);
}

const buffers = new WeakMap<Tx, AuditEvent[]>();

/**
 * A transaction whose audit events are gathered and appended once, just before it commits, in the
 * order they were recorded. Everything the engine and the API change goes through here.
 */
export async function inTransaction<T>(db: Db, work: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(async (tx) => {
        const buffer: AuditEvent[] = [];
        buffers.set(tx, buffer);
        const result = await work(tx);
        buffers.delete(tx);
        if (buffer.length > 0) await writeAudit(tx, buffer);
        return result;
      });
    } catch (error) {
      // PostgreSQL rolled the whole transaction back as a deadlock or serialisation victim: nothing of
      // it happened, so running it again is safe (the work only reads and writes this database).
      if (attempt >= TRANSACTION_ATTEMPTS || !isRetriableRollback(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 20));
    }
  }
}

const TRANSACTION_ATTEMPTS = 3;

function isRetriableRollback(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/**
 * One change and its audit events in a single statement (and so a single implicit transaction):
 * `WITH change AS (<query> RETURNING 1) SELECT audit_append(...) FROM change`. The events are
 * appended only when the change touched a row. For the hottest small changes (a step's intent and
 * result), where BEGIN, the change, the append and COMMIT were four round trips.
 */
export async function changeWithAudit(db: DbOrTx, change: RawBuilder<unknown>, mspId: string, events: AuditEvent[]): Promise<boolean> {
  const rows = events.map((event) => ({ ...event, requestId: event.requestId ?? null, data: event.data ?? {} }));
  const result = await sql<{ seq: string }>`WITH change AS (${change}) SELECT ${appendCall(mspId, rows)} AS seq FROM change LIMIT 1`.execute(db);
  return result.rows.length > 0;
}

type AuditRow = Omit<AuditEvent, 'requestId' | 'data'> & { requestId: string | null; data: Record<string, unknown> };

function appendCall(mspId: string, rows: AuditRow[]): RawBuilder<unknown> {
  return sql`audit_append(
      ${mspId},
      ${rows.map((r) => r.requestId)}::uuid[],
      ${rows.map((r) => r.actor)}::text[],
      ${rows.map((r) => r.event)}::text[],
      ${rows.map((r) => json(r.data))}::jsonb[],
      ${rows.map((r) => r.at)}::timestamptz[],
      ${rows.map((r) => auditBody(r))}::text[]
    )`;
}

async function writeAudit(tx: Tx, list: AuditEvent[]): Promise<void> {
  const byMsp = new Map<string, AuditEvent[]>();
  for (const event of list) {
    const group = byMsp.get(event.mspId);
    if (group) group.push(event);
    else byMsp.set(event.mspId, [event]);
  }
  // A fixed order of locking keeps two transactions touching the same MSPs from deadlocking.
  for (const [mspId, mspEvents] of [...byMsp.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const rows = mspEvents.map((event) => ({ ...event, requestId: event.requestId ?? null, data: event.data ?? {} }));
    await sql`SELECT ${appendCall(mspId, rows)}`.execute(tx);
  }
}

export interface ChainVerification {
  mspId: string;
  ok: boolean;
  rows: number;
  brokenAt?: number;
  reason?: string;
}

/** Walk one MSP's chain from the start and recompute every hash. */
/**
 * Recomputes an MSP's chain. The rows and the head are read in one snapshot (repeatable read), so a
 * row appended while the chain is being read (a worker still delivering a message) is not taken for
 * a removed one.
 */
export async function verifyAuditChain(db: DbOrTx, mspId: string): Promise<ChainVerification> {
  if (db.isTransaction) return verifyChainIn(db, mspId);
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute((tx) => verifyChainIn(tx, mspId));
}

async function verifyChainIn(db: DbOrTx, mspId: string): Promise<ChainVerification> {
  let prev = GENESIS_HASH;
  let expectedSeq = 1;
  let rows = 0;
  const pageSize = 5000;
  for (;;) {
    const page = await db
      .selectFrom('audit_log')
      .selectAll()
      .where('msp_id', '=', mspId)
      .where('seq', '>=', String(expectedSeq) as never)
      .orderBy('seq')
      .limit(pageSize)
      .execute();
    for (const row of page) {
      const seq = Number(row.seq);
      if (seq !== expectedSeq) return { mspId, ok: false, rows, brokenAt: expectedSeq, reason: `row ${expectedSeq} is missing` };
      if (row.prev_hash !== prev) return { mspId, ok: false, rows, brokenAt: seq, reason: 'previous hash does not match' };
      const hash = auditHash(prev, { mspId, seq, requestId: row.request_id, actor: row.actor, event: row.event, data: row.data, at: row.at });
      if (hash !== row.hash) return { mspId, ok: false, rows, brokenAt: seq, reason: 'row content does not match its hash' };
      prev = hash;
      expectedSeq++;
      rows++;
    }
    if (page.length < pageSize) break;
  }
  const head = await db.selectFrom('audit_heads').select(['seq', 'hash']).where('msp_id', '=', mspId).executeTakeFirst();
  if (head && (Number(head.seq) !== rows || head.hash !== prev)) {
    return { mspId, ok: false, rows, reason: 'the chain head does not match the last row (rows removed at the end?)' };
  }
  return { mspId, ok: true, rows };
}
