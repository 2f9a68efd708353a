import { promises as fs, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/support/db.ts';
import { DeskhandError } from '../core/errors.ts';
import { loadSecretKey, parseSecretKey, SecretBox, sha256Base64url } from '../secrets.ts';
import { type AuditEvent, appendAudit, auditHash, GENESIS_HASH, verifyAuditChain } from './audit.ts';
import { type Db, type DbHandle, openDb } from './db.ts';
import {
  createSession,
  createUser,
  hashPassword,
  issueApiToken,
  SESSION_TTL_MS,
  userForApiToken,
  userForSession,
  verifyPassword,
} from './users.ts';

let handle: DbHandle;
let db: Db;
const T0 = new Date('2026-04-01T08:00:00.000Z');

beforeAll(async () => {
  handle = openDb({ url: await createTestDatabase(), maxConnections: 12 });
  db = handle.db;
  await db
    .insertInto('msps')
    .values(['alpha', 'bravo', 'charlie', 'delta', 'users'].map((id) => ({ id, name: `MSP ${id}`, default_operating_mode: 'plan' as const, created_at: T0 })))
    .execute();
});

afterAll(async () => {
  await handle?.close();
});

function event(mspId: string, n: number): AuditEvent {
  return { mspId, actor: `worker-${n % 3}`, event: 'test.event', data: { n, nested: { list: [n, 'x'] } }, at: new Date(T0.getTime() + n) };
}

async function append(events: AuditEvent[]): Promise<void> {
  await db.transaction().execute((tx) => appendAudit(tx, events));
}

async function seqs(mspId: string): Promise<number[]> {
  const rows = await db.selectFrom('audit_log').select('seq').where('msp_id', '=', mspId).orderBy('seq').execute();
  return rows.map((r) => Number(r.seq));
}

describe('audit chain', () => {
  it('stays gap-free and verifiable for two MSPs appended to by many transactions at once', async () => {
    const work: Promise<void>[] = [];
    for (let i = 0; i < 60; i++) {
      if (i % 3 === 0) work.push(append([event('alpha', i), event('alpha', i + 1000)]));
      else if (i % 3 === 1) work.push(append([event('bravo', i)]));
      // Both MSPs in one transaction: heads are locked in a fixed order, so this cannot deadlock with the others.
      else work.push(append([event('bravo', i), event('alpha', i), event('bravo', i + 1000)]));
    }
    await Promise.all(work);
    const alphaRows = 20 * 2 + 20;
    const bravoRows = 20 + 20 * 2;
    expect(await seqs('alpha')).toEqual(Array.from({ length: alphaRows }, (_, i) => i + 1));
    expect(await seqs('bravo')).toEqual(Array.from({ length: bravoRows }, (_, i) => i + 1));
    expect(await verifyAuditChain(db, 'alpha')).toEqual({ mspId: 'alpha', ok: true, rows: alphaRows });
    expect(await verifyAuditChain(db, 'bravo')).toEqual({ mspId: 'bravo', ok: true, rows: bravoRows });
    const first = await db.selectFrom('audit_log').selectAll().where('msp_id', '=', 'alpha').where('seq', '=', '1').executeTakeFirstOrThrow();
    expect(first.prev_hash).toBe(GENESIS_HASH);
    const head = await db.selectFrom('audit_heads').selectAll().where('msp_id', '=', 'alpha').executeTakeFirstOrThrow();
    const last = await db
      .selectFrom('audit_log')
      .select('hash')
      .where('msp_id', '=', 'alpha')
      .where('seq', '=', String(alphaRows))
      .executeTakeFirstOrThrow();
    expect(Number(head.seq)).toBe(alphaRows);
    expect(head.hash).toBe(last.hash);
  });

  it('loses nothing when an appending transaction rolls back', async () => {
    const before = await seqs('alpha');
    await expect(
      db.transaction().execute(async (tx) => {
        await appendAudit(tx, event('alpha', 5000));
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await append([event('alpha', 5001)]);
    expect(await seqs('alpha')).toEqual([...before, before.length + 1]);
    expect((await verifyAuditChain(db, 'alpha')).ok).toBe(true);
  });

  it('refuses UPDATE and DELETE of audit rows (append-only trigger)', async () => {
    await append([event('charlie', 1), event('charlie', 2)]);
    await expect(sql`UPDATE audit_log SET actor = 'someone else' WHERE msp_id = 'charlie' AND seq = 1`.execute(db)).rejects.toThrow(
      /append-only/,
    );
    await expect(sql`DELETE FROM audit_log WHERE msp_id = 'charlie' AND seq = 2`.execute(db)).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM audit_log WHERE msp_id = 'charlie'`.execute(db)).rejects.toThrow(/append-only/);
    expect(await seqs('charlie')).toEqual([1, 2]);
    expect(await verifyAuditChain(db, 'charlie')).toMatchObject({ ok: true, rows: 2 });
  });

  /** Change rows as someone with the table owner's rights could: with the trigger switched off. */
  async function behindTheTrigger(statement: ReturnType<typeof sql>): Promise<void> {
    await db.connection().execute(async (conn) => {
      await sql`ALTER TABLE audit_log DISABLE TRIGGER USER`.execute(conn);
      try {
        await statement.execute(conn);
      } finally {
        await sql`ALTER TABLE audit_log ENABLE TRIGGER USER`.execute(conn);
      }
    });
    // The trigger is back: the next honest change is refused again.
    await expect(sql`UPDATE audit_log SET actor = actor WHERE false OR seq = 1`.execute(db)).rejects.toThrow(/append-only/);
  }

  it('reports a row altered behind the trigger as broken at that seq', async () => {
    await append([1, 2, 3, 4, 5].map((n) => event('delta', n)));
    expect((await verifyAuditChain(db, 'delta')).ok).toBe(true);
    await behindTheTrigger(sql`UPDATE audit_log SET data = '{"n": 999}'::jsonb WHERE msp_id = 'delta' AND seq = 3`);
    const result = await verifyAuditChain(db, 'delta');
    expect(result).toMatchObject({ mspId: 'delta', ok: false, brokenAt: 3, rows: 2 });
    expect(result.reason).toMatch(/does not match its hash/);
    // Other chains are not affected.
    expect((await verifyAuditChain(db, 'alpha')).ok).toBe(true);
  });

  it('reports a row altered and re-hashed behind the trigger as broken at the next seq', async () => {
    await append([1, 2, 3].map((n) => event('bravo', 9000 + n)));
    const rows = (await seqs('bravo')).length;
    const target = await db
      .selectFrom('audit_log')
      .selectAll()
      .where('msp_id', '=', 'bravo')
      .where('seq', '=', String(rows - 1))
      .executeTakeFirstOrThrow();
    // A careful forger recomputes the altered row's own hash; the next row still names the old one.
    const forged = auditHash(target.prev_hash, {
      mspId: 'bravo',
      seq: rows - 1,
      requestId: target.request_id,
      actor: 'mallory',
      event: target.event,
      data: target.data,
      at: target.at,
    });
    await behindTheTrigger(sql`UPDATE audit_log SET actor = 'mallory', hash = ${forged} WHERE msp_id = 'bravo' AND seq = ${rows - 1}`);
    const result = await verifyAuditChain(db, 'bravo');
    expect(result).toMatchObject({ ok: false, brokenAt: rows, rows: rows - 1 });
    expect(result.reason).toMatch(/previous hash/);
  });

  it('reports a row deleted behind the trigger as missing, and a deleted last row as a head mismatch', async () => {
    const rows = (await seqs('charlie')).length;
    await append([event('charlie', 10), event('charlie', 11), event('charlie', 12)]);
    await behindTheTrigger(sql`DELETE FROM audit_log WHERE msp_id = 'charlie' AND seq = ${rows + 3}`);
    const tail = await verifyAuditChain(db, 'charlie');
    expect(tail.ok).toBe(false);
    expect(tail.reason).toMatch(/chain head/);
    await behindTheTrigger(sql`DELETE FROM audit_log WHERE msp_id = 'charlie' AND seq = ${rows + 1}`);
    const middle = await verifyAuditChain(db, 'charlie');
    expect(middle).toMatchObject({ ok: false, brokenAt: rows + 1 });
    expect(middle.reason).toMatch(/missing/);
  });
});

describe('passwords', () => {
  it('verifies the right password and refuses a wrong one', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(stored.startsWith('scrypt$')).toBe(true);
    expect(stored).not.toContain('correct horse battery');
    expect(await verifyPassword('correct horse battery', stored)).toBe(true);
    expect(await verifyPassword('correct horse batterY', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('salts every hash, and refuses a missing or foreign stored value', async () => {
    const a = await hashPassword('same password');
    const b = await hashPassword('same password');
    expect(a).not.toBe(b);
    expect(await verifyPassword('same password', b)).toBe(true);
    expect(await verifyPassword('same password', null)).toBe(false);
    expect(await verifyPassword('same password', 'bcrypt$2b$10$abc')).toBe(false);
  });

  it('refuses a password shorter than 8 characters', async () => {
    await expect(hashPassword('short')).rejects.toBeInstanceOf(DeskhandError);
  });
});

describe('users, API tokens and sessions', () => {
  it('refuses a second user with the same email in another case', async () => {
    const user = await createUser(db, { mspId: 'users', email: 'Dana.Scully@Example.com', name: 'Dana', role: 'msp_technician', at: T0 });
    expect(user.email).toBe('dana.scully@example.com');
    const duplicate = createUser(db, { mspId: 'users', email: 'DANA.SCULLY@example.COM', name: 'Dana 2', role: 'msp_admin', at: T0 });
    await expect(duplicate).rejects.toMatchObject({ code: 'conflict' });
    const count = await db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where(sql<boolean>`lower(email) = 'dana.scully@example.com'`)
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1);
  });

  it('refuses a user of an MSP that does not exist', async () => {
    await expect(createUser(db, { mspId: 'nobody', email: 'x@nobody.example', name: 'X', role: 'msp_admin', at: T0 })).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('issues an API token that identifies its user and is stored only as a hash', async () => {
    const user = await createUser(db, { mspId: 'users', email: 'fox@example.com', name: 'Fox', role: 'msp_admin', at: T0 });
    const { token, id } = await issueApiToken(db, { email: 'FOX@example.com', name: 'ci', at: T0 });
    expect(token).toMatch(/^dh_[A-Za-z0-9_-]{40}$/);
    const found = await userForApiToken(db, token, new Date(T0.getTime() + 1000));
    expect(found?.id).toBe(user.id);
    expect(await userForApiToken(db, `${token}x`, T0)).toBeUndefined();
    expect(await userForApiToken(db, token.slice(0, -1), T0)).toBeUndefined();

    const everything = await sql<{ row: string }>`SELECT row_to_json(t)::text AS row FROM api_tokens t`.execute(db);
    expect(everything.rows.length).toBeGreaterThan(0);
    for (const { row } of everything.rows) {
      expect(row).not.toContain(token);
      expect(row).not.toContain(token.slice(3));
    }
    const stored = await db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(stored.token_hash).toBe(sha256Base64url(token));
    expect(stored.last_used_at?.getTime()).toBe(T0.getTime() + 1000);
  });

  it('refuses a revoked token and the token of a disabled user', async () => {
    await createUser(db, { mspId: 'users', email: 'skinner@example.com', name: 'Skinner', role: 'msp_admin', at: T0 });
    const revoked = await issueApiToken(db, { email: 'skinner@example.com', name: 'old', at: T0 });
    const live = await issueApiToken(db, { email: 'skinner@example.com', name: 'new', at: T0 });
    await db.updateTable('api_tokens').set({ revoked_at: T0 }).where('id', '=', revoked.id).execute();
    expect(await userForApiToken(db, revoked.token, T0)).toBeUndefined();
    expect(await userForApiToken(db, live.token, T0)).toBeDefined();
    await db.updateTable('users').set({ disabled: true }).where('email', '=', 'skinner@example.com').execute();
    expect(await userForApiToken(db, live.token, T0)).toBeUndefined();
  });

  it('keeps a session for its lifetime and ends it exactly at expiry', async () => {
    const user = await createUser(db, { mspId: 'users', email: 'mulder@example.com', name: 'Mulder', role: 'msp_technician', at: T0 });
    const token = await createSession(db, user.id, T0);
    expect((await userForSession(db, token, T0))?.id).toBe(user.id);
    expect((await userForSession(db, token, new Date(T0.getTime() + SESSION_TTL_MS - 1)))?.id).toBe(user.id);
    expect(await userForSession(db, token, new Date(T0.getTime() + SESSION_TTL_MS))).toBeUndefined();
    expect(await userForSession(db, `${token}x`, T0)).toBeUndefined();
    const stored = await db.selectFrom('sessions').selectAll().where('user_id', '=', user.id).execute();
    expect(stored.map((s) => s.id_hash)).toEqual([sha256Base64url(token)]);
  });
});

describe('SecretBox', () => {
  const key = Buffer.alloc(32, 7);
  const box = new SecretBox(key);

  it('decrypts what it encrypted', () => {
    for (const plain of ['', 'client secret', 'ünïcødé ✓ and a long one '.repeat(50)]) {
      expect(box.decrypt(box.encrypt(plain))).toBe(plain);
    }
    expect(box.decryptJson(box.encryptJson({ clientSecret: 's3cr3t' }))).toEqual({ clientSecret: 's3cr3t' });
  });

  it('gives a different ciphertext every time, none containing the plain text', () => {
    const a = box.encrypt('the same secret');
    const b = box.encrypt('the same secret');
    expect(a).not.toBe(b);
    expect(a).not.toContain('the same secret');
    expect(a.startsWith('v2.')).toBe(true);
  });

  it('refuses a tampered ciphertext, a tampered tag, another key and a foreign string', () => {
    const boxed = box.encrypt('client secret');
    const [version, iv, tag, body] = boxed.split('.') as [string, string, string, string];
    const flip = (part: string) => {
      const bytes = Buffer.from(part, 'base64url');
      bytes[0] = (bytes[0] ?? 0) ^ 1;
      return bytes.toString('base64url');
    };
    expect(() => box.decrypt([version, iv, tag, flip(body)].join('.'))).toThrow();
    expect(() => box.decrypt([version, iv, flip(tag), body].join('.'))).toThrow();
    expect(() => box.decrypt([version, flip(iv), tag, body].join('.'))).toThrow();
    expect(() => new SecretBox(Buffer.alloc(32, 8)).decrypt(boxed)).toThrow();
    expect(() => box.decrypt('plain text')).toThrow(/not a deskhand secret box/);
    expect(() => box.decrypt(`v2.${iv}.${tag}.${body}`)).toThrow(/not a deskhand secret box/);
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => new SecretBox(Buffer.alloc(16))).toThrow(/32 bytes/);
  });

  it('signs links and verifies only the same message and signature', () => {
    const signature = box.sign('approval:123');
    expect(box.verify('approval:123', signature)).toBe(true);
    expect(box.verify('approval:124', signature)).toBe(false);
    expect(box.verify('approval:123', `${signature.slice(0, -1)}A`)).toBe(signature.endsWith('A'));
    expect(new SecretBox(Buffer.alloc(32, 8)).verify('approval:123', signature)).toBe(false);
  });
});

describe('parseSecretKey', () => {
  const bytes = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7));

  it('accepts 64 hex characters, in either case, with surrounding whitespace', () => {
    expect(parseSecretKey(bytes.toString('hex'))).toEqual(bytes);
    expect(parseSecretKey(` ${bytes.toString('hex').toUpperCase()}\n`)).toEqual(bytes);
  });

  it('accepts base64 of 32 bytes', () => {
    expect(parseSecretKey(bytes.toString('base64'))).toEqual(bytes);
    expect(parseSecretKey(`${bytes.toString('base64')}\n`)).toEqual(bytes);
  });

  it('refuses anything else with a message that says what is expected', () => {
    for (const wrong of ['', 'secret', bytes.toString('hex').slice(2), Buffer.alloc(16).toString('base64'), Buffer.alloc(33).toString('base64')]) {
      expect(() => parseSecretKey(wrong)).toThrow(/DESKHAND_SECRET_KEY must be 32 bytes.*64 hex characters or base64/);
    }
  });
});

describe('loadSecretKey', () => {
  const dirs: string[] = [];
  const freshDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'deskhand-key-'));
    dirs.push(dir);
    return path.join(dir, 'data');
  };
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('creates <dir>/secret.key with mode 0600 once, then reuses it', async () => {
    const dir = freshDir();
    const first = await loadSecretKey({}, dir);
    expect(first).toHaveLength(32);
    const file = path.join(dir, 'secret.key');
    const stat = statSync(file);
    expect(stat.mode & 0o777).toBe(0o600);
    const content = await fs.readFile(file, 'utf8');
    expect(parseSecretKey(content)).toEqual(first);

    const second = await loadSecretKey({}, dir);
    expect(second).toEqual(first);
    expect(await fs.readFile(file, 'utf8')).toBe(content);
    expect(statSync(file).ino).toBe(stat.ino);
    expect(statSync(file).mtimeMs).toBe(stat.mtimeMs);
  });

  it('gives each data folder its own key', async () => {
    expect(await loadSecretKey({}, freshDir())).not.toEqual(await loadSecretKey({}, freshDir()));
  });

  it('agrees on one key when several callers create it at once, and leaves no temporary file', async () => {
    // A reader must never see a half-written key file: repeat, since one round rarely hits the window.
    for (let round = 0; round < 100; round++) {
      const dir = freshDir();
      const keys = await Promise.all(Array.from({ length: 8 }, () => loadSecretKey({}, dir)));
      for (const k of keys) expect(k).toEqual(keys[0]);
      expect(parseSecretKey(await fs.readFile(path.join(dir, 'secret.key'), 'utf8'))).toEqual(keys[0]);
      expect(await fs.readdir(dir)).toEqual(['secret.key']);
    }
  });

  it('prefers DESKHAND_SECRET_KEY and then writes no file', async () => {
    const dir = freshDir();
    const key = Buffer.alloc(32, 3);
    expect(await loadSecretKey({ DESKHAND_SECRET_KEY: key.toString('hex') }, dir)).toEqual(key);
    await expect(fs.stat(path.join(dir, 'secret.key'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(loadSecretKey({ DESKHAND_SECRET_KEY: 'too short' }, dir)).rejects.toThrow(/32 bytes/);
  });

  it('refuses a damaged key file instead of replacing it', async () => {
    const dir = freshDir();
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'secret.key'), 'not a key\n', { mode: 0o600 });
    await expect(loadSecretKey({}, dir)).rejects.toThrow(/secret\.key is not a valid key.*32 bytes/);
    expect(await fs.readFile(path.join(dir, 'secret.key'), 'utf8')).toBe('not a key\n');
  });
});
