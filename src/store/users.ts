import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { DeskhandError } from '../core/errors.ts';
import { randomToken, sha256Base64url } from '../secrets.ts';
import { appendAudit, inTransaction } from './audit.ts';
import type { Db } from './db.ts';
import type { UserRow } from './schema.ts';

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

/** scrypt with N=2^15, r=8, p=1 (OWASP's minimum), stored as `scrypt$N$r$p$salt$hash`. */
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** The salt of the hash work done for a sign-in that has no hash to check (an unknown email). */
const DUMMY_SALT = randomBytes(16);

export async function hashPassword(password: string): Promise<string> {
  if (password.length < 8) throw new DeskhandError('bad_request', 'a password needs at least 8 characters');
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/**
 * True when the password matches the stored hash. A missing or unreadable hash costs the same
 * scrypt work as a real one before answering false, so that a caller cannot tell by the time taken
 * whether an account (or its password) exists.
 */
export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = (stored ?? '').split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) {
    await scrypt(password, DUMMY_SALT, 32, SCRYPT);
    return false;
  }
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
    .executeTakeFirst();
}

export async function createUser(
  db: Db,
  input: { mspId: string; email: string; name: string; role: UserRow['role']; password?: string; at: Date },
): Promise<UserRow> {
  const msp = await db.selectFrom('msps').select('id').where('id', '=', input.mspId).executeTakeFirst();
  if (!msp) throw new DeskhandError('not_found', `no MSP with id ${input.mspId}`);
  if (await findUserByEmail(db, input.email)) throw new DeskhandError('conflict', `a user with the email ${input.email} already exists`);
  return db
    .insertInto('users')
    .values({
      id: crypto.randomUUID(),
      msp_id: input.mspId,
      email: input.email.toLowerCase(),
      name: input.name,
      role: input.role,
      password_hash: input.password ? await hashPassword(input.password) : null,
      created_at: input.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function setPassword(db: Db, email: string, password: string): Promise<void> {
  const user = await findUserByEmail(db, email);
  if (!user) throw new DeskhandError('not_found', `no user with the email ${email}`);
  await db.updateTable('users').set({ password_hash: await hashPassword(password) }).where('id', '=', user.id).execute();
  // A new password ends every session of the old one.
  await db.deleteFrom('sessions').where('user_id', '=', user.id).execute();
}

/**
 * Disable or enable a user. Disabling ends every session and revokes every API token in the same
 * transaction, so enabling the user again revives neither: they sign in afresh and get new tokens.
 */
export async function setUserDisabled(
  db: Db,
  input: { email: string; disabled: boolean; actor: string; at: Date },
): Promise<{ user: UserRow; sessionsEnded: number; tokensRevoked: number }> {
  return inTransaction(db, async (tx) => {
    const user = await tx
      .updateTable('users')
      .set({ disabled: input.disabled })
      .where((eb) => eb(eb.fn('lower', ['email']), '=', input.email.toLowerCase()))
      .returningAll()
      .executeTakeFirst();
    if (!user) throw new DeskhandError('not_found', `no user with the email ${input.email}`);
    let sessionsEnded = 0;
    let tokensRevoked = 0;
    if (input.disabled) {
      const sessions = await tx.deleteFrom('sessions').where('user_id', '=', user.id).executeTakeFirst();
      const tokens = await tx.updateTable('api_tokens').set({ revoked_at: input.at }).where('user_id', '=', user.id).where('revoked_at', 'is', null).executeTakeFirst();
      sessionsEnded = Number(sessions.numDeletedRows);
      tokensRevoked = Number(tokens.numUpdatedRows);
    }
    await appendAudit(tx, {
      mspId: user.msp_id,
      actor: input.actor,
      event: input.disabled ? 'user.disabled' : 'user.enabled',
      data: { userId: user.id, email: user.email, sessionsEnded, tokensRevoked },
      at: input.at,
    });
    return { user, sessionsEnded, tokensRevoked };
  });
}

/** A personal API token: shown once, stored as its SHA-256. */
export async function issueApiToken(db: Db, input: { email: string; name: string; at: Date }): Promise<{ token: string; id: string }> {
  const user = await findUserByEmail(db, input.email);
  if (!user) throw new DeskhandError('not_found', `no user with the email ${input.email}`);
  const token = `dh_${randomToken(30)}`;
  const id = crypto.randomUUID();
  // As for sessions: never a token for a disabled user, even one disabled while this runs.
  const result = await sql`
    INSERT INTO api_tokens (id, user_id, name, token_hash, created_at)
    SELECT ${id}, id, ${input.name}, ${sha256Base64url(token)}, ${input.at} FROM users
    WHERE id = ${user.id} AND disabled = false FOR SHARE`.execute(db);
  if (Number(result.numAffectedRows ?? 0) !== 1) throw new DeskhandError('conflict', `${user.email} is disabled: enable the user first (deskhand user enable)`);
  return { token, id };
}

/**
 * The user behind a personal API token, with the token's id (for the access log, never the token);
 * one statement, which also notes (at most once a minute) when it was used.
 */
export async function userForApiToken(db: Db, token: string, at: Date): Promise<(UserRow & { token_id: string }) | undefined> {
  const result = await sql<UserRow & { token_id: string }>`
    WITH found AS (
      SELECT users.*, api_tokens.id AS token_id, api_tokens.last_used_at AS token_used_at
      FROM api_tokens JOIN users ON users.id = api_tokens.user_id
      WHERE api_tokens.token_hash = ${sha256Base64url(token)} AND api_tokens.revoked_at IS NULL AND users.disabled = false
    ), touched AS (
      UPDATE api_tokens SET last_used_at = ${at}
      WHERE id = (SELECT token_id FROM found) AND (last_used_at IS NULL OR last_used_at < ${new Date(at.getTime() - 60_000)})
    )
    SELECT id, msp_id, email, name, role, password_hash, disabled, created_at, token_id FROM found`.execute(db);
  return result.rows[0];
}

/**
 * A new session; refused when the user is disabled. The user's row is share-locked while the session
 * is written, so a sign-in racing `setUserDisabled` either ends before it (and its session is ended
 * with the others) or sees the user disabled: no session outlives a disable to revive on enable.
 */
export async function createSession(db: Db, userId: string, at: Date): Promise<string> {
  const token = randomToken(32);
  const result = await sql`
    INSERT INTO sessions (id_hash, user_id, created_at, expires_at)
    SELECT ${sha256Base64url(token)}, id, ${at}, ${new Date(at.getTime() + SESSION_TTL_MS)} FROM users
    WHERE id = ${userId} AND disabled = false FOR SHARE`.execute(db);
  if (Number(result.numAffectedRows ?? 0) !== 1) throw new DeskhandError('unauthorized', 'this user is disabled');
  return token;
}

export async function userForSession(db: Db, token: string, at: Date): Promise<UserRow | undefined> {
  return db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .selectAll('users')
    .where('sessions.id_hash', '=', sha256Base64url(token))
    .where('sessions.expires_at', '>', at)
    .where('users.disabled', '=', false)
    .executeTakeFirst();
}

export async function deleteSession(db: Db, token: string): Promise<void> {
  await db.deleteFrom('sessions').where('id_hash', '=', sha256Base64url(token)).execute();
}
