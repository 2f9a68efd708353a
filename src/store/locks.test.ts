import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/support/db.ts';
import { appendAudit } from './audit.ts';
import { type Db, type DbHandle, openDb } from './db.ts';
import { lockRequest } from './requests.ts';

/**
 * Rows that other tables reference by foreign key (a request: its audit rows, approvals, outbox
 * messages and steps point at it) are locked FOR NO KEY UPDATE, never FOR UPDATE. Inserting a row
 * that references a request takes a KEY SHARE lock on it; FOR UPDATE would block that insert, and a
 * transaction holding the request (and next wanting the audit chain's head) against one holding the
 * head (and writing an audit row of that request) deadlocked under load (found by the bench).
 */
let handle: DbHandle;
let db: Db;
const at = new Date('2026-04-01T08:00:00.000Z');
const requestId = crypto.randomUUID();

beforeAll(async () => {
  handle = openDb({ url: await createTestDatabase(), maxConnections: 4 });
  db = handle.db;
  await db.insertInto('msps').values({ id: 'locks', name: 'MSP locks', default_operating_mode: 'execute', created_at: at }).execute();
  await db
    .insertInto('requests')
    .values({
      id: requestId,
      msp_id: 'locks',
      client_id: null,
      channel: 'psa',
      source_integration_id: null,
      external_ref: 'locks-1',
      requester_email: 'someone@example.com',
      subject: '',
      body: '',
      state: 'received',
      due_at: null,
      created_at: at,
      updated_at: at,
    })
    .execute();
});

afterAll(async () => {
  await handle?.close();
});

describe('locking a request', () => {
  it('does not block a transaction that writes an audit row of that request', async () => {
    let releaseHolder!: () => void;
    const holderReleased = new Promise<void>((resolve) => {
      releaseHolder = resolve;
    });
    let locked!: () => void;
    const holderLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = db.transaction().execute(async (tx) => {
      expect(await lockRequest(tx, requestId)).toBeDefined();
      locked();
      await holderReleased;
      await appendAudit(tx, { mspId: 'locks', requestId, actor: 'holder', event: 'test.holder', data: {}, at });
    });
    await holderLocked;
    const writer = db.transaction().execute(async (tx) => {
      await appendAudit(tx, { mspId: 'locks', requestId, actor: 'writer', event: 'test.writer', data: {}, at });
      return 'written';
    });
    // With FOR UPDATE the writer waits for the holder (and, once the holder wants the audit head the
    // writer holds, the two deadlock); with FOR NO KEY UPDATE it finishes while the holder still holds.
    const first = await Promise.race([writer, new Promise((resolve) => setTimeout(() => resolve('blocked'), 3_000))]);
    releaseHolder();
    await holder;
    await writer;
    expect(first).toBe('written');
    const events = await db.selectFrom('audit_log').select('event').where('request_id', '=', requestId).orderBy('seq').execute();
    expect(events.map((e) => e.event)).toEqual(['test.writer', 'test.holder']);
  });
});
