import { sql } from 'kysely';
import { randomToken, sha256Base64url } from '../secrets.ts';
import type { Db, Tx } from './db.ts';

/**
 * The one-time tokens of the dashboard's links: the first run's setup link and users' invitation
 * links. Each is shown once (in the log, or to the admin who invited) and stored as its SHA-256 only;
 * it expires, and using it marks it used in the same transaction as what it does.
 */

export const SETUP_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;
export const INVITE_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** Whether this deskhand still needs its first MSP. */
export async function setupNeeded(db: Db | Tx): Promise<boolean> {
  return !(await db.selectFrom('msps').select('id').limit(1).executeTakeFirst());
}

/**
 * A new setup token when the database has no MSP (null otherwise). Each start issues a new one and
 * the older unused ones stop working: the link the latest start printed is the one that works.
 */
export async function issueSetupToken(db: Db, at: Date): Promise<{ token: string; expiresAt: Date } | null> {
  return db.transaction().execute(async (tx) => {
    // One issuer at a time, and never beside a setup being completed (it takes the same lock).
    await sql`select pg_advisory_xact_lock(4242011)`.execute(tx);
    if (!(await setupNeeded(tx))) return null;
    await tx.deleteFrom('setup_tokens').where('used_at', 'is', null).execute();
    const token = randomToken(32);
    const expiresAt = new Date(at.getTime() + SETUP_TOKEN_TTL_MS);
    await tx.insertInto('setup_tokens').values({ token_hash: sha256Base64url(token), created_at: at, expires_at: expiresAt, used_at: null }).execute();
    return { token, expiresAt };
  });
}

/**
 * Use a setup token up inside the caller's transaction: true when it was live (and is now used),
 * false when it is unknown, used or expired. Takes the issuer's lock, so two setups never both pass.
 */
export async function useSetupToken(tx: Tx, token: string, at: Date): Promise<boolean> {
  await sql`select pg_advisory_xact_lock(4242011)`.execute(tx);
  const used = await tx
    .updateTable('setup_tokens')
    .set({ used_at: at })
    .where('token_hash', '=', sha256Base64url(token))
    .where('used_at', 'is', null)
    .where('expires_at', '>', at)
    .executeTakeFirst();
  return Number(used.numUpdatedRows) === 1;
}

/** A new invitation link's token for a user (the user's earlier unused links stop working). */
export async function issueInvite(tx: Tx, input: { mspId: string; userId: string; createdBy: string | null; at: Date }): Promise<{ token: string; expiresAt: Date }> {
  await tx.deleteFrom('user_invites').where('user_id', '=', input.userId).where('used_at', 'is', null).execute();
  const token = randomToken(32);
  const expiresAt = new Date(input.at.getTime() + INVITE_TTL_MS);
  await tx
    .insertInto('user_invites')
    .values({ token_hash: sha256Base64url(token), msp_id: input.mspId, user_id: input.userId, created_by: input.createdBy, created_at: input.at, expires_at: expiresAt, used_at: null })
    .execute();
  return { token, expiresAt };
}

/** The live invitation a token names (unused, unexpired, its user not deactivated), or undefined. */
export async function liveInvite(db: Db | Tx, token: string, at: Date) {
  return db
    .selectFrom('user_invites')
    .innerJoin('users', 'users.id', 'user_invites.user_id')
    .innerJoin('msps', 'msps.id', 'user_invites.msp_id')
    .select(['user_invites.token_hash', 'user_invites.expires_at', 'users.id as user_id', 'users.email', 'users.name', 'users.role', 'users.msp_id', 'msps.name as msp_name'])
    .where('user_invites.token_hash', '=', sha256Base64url(token))
    .where('user_invites.used_at', 'is', null)
    .where('user_invites.expires_at', '>', at)
    .where('users.disabled', '=', false)
    .where('users.password_hash', 'is', null)
    .executeTakeFirst();
}

/** Use an invitation up inside the caller's transaction: true when it was live and is now used. */
export async function useInvite(tx: Tx, tokenHash: string, at: Date): Promise<boolean> {
  const used = await tx.updateTable('user_invites').set({ used_at: at }).where('token_hash', '=', tokenHash).where('used_at', 'is', null).where('expires_at', '>', at).executeTakeFirst();
  return Number(used.numUpdatedRows) === 1;
}
