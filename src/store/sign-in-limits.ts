import { isIPv6 } from 'node:net';
import { sql } from 'kysely';
import { sha256Base64url } from '../secrets.ts';
import type { Db } from './db.ts';

/**
 * How many sign-in attempts are allowed, and how long an account stays locked. Counted in
 * PostgreSQL (table `sign_in_limits`, migration 0005), so every process serving the API shares them.
 */
export const SIGN_IN_LIMITS = {
  /** Every attempt from one client address (an IPv6 client by its /64), whatever the email. */
  address: { attempts: 30, windowMs: 5 * 60_000 },
  /** Every attempt for one email, whatever the address. */
  account: { attempts: 10, windowMs: 60_000 },
  /** Failures in a row (each within `failureMemoryMs` of the one before) lock the account for `lockMs`. */
  lockout: { failures: 10, lockMs: 15 * 60_000, failureMemoryMs: 15 * 60_000 },
} as const;

const { address: ADDRESS, account: ACCOUNT, lockout: LOCKOUT } = SIGN_IN_LIMITS;
/** How long an account's row matters after its last use: its window, its failures and its lock. */
const ACCOUNT_MEMORY_MS = Math.max(ACCOUNT.windowMs, LOCKOUT.failureMemoryMs, LOCKOUT.lockMs);

export type SignInVerdict =
  | { refused: null }
  /** Too many attempts from this address or for this account: 429 (`first`: the window's first refusal). */
  | { refused: 'address' | 'account'; retryAfterMs: number; first: boolean }
  /** The account is locked: answered as a wrong password, with Retry-After. */
  | { refused: 'locked'; retryAfterMs: number };

/**
 * An email and an address as the table keys them. Emails are compared as the users table does
 * (lower case); an IPv6 client is counted by its /64, which one client usually holds whole.
 */
function accountKey(email: string): string {
  return sha256Base64url(`account:${email.trim().toLowerCase()}`);
}

function addressKey(address: string): string {
  return sha256Base64url(`address:${clientNetwork(address)}`);
}

export function clientNetwork(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * Count one attempt for its address and its account (one statement, atomic across processes),
 * forget rows nobody needs any more, and say whether the attempt may go on to the password check.
 */
export async function countSignInAttempt(db: Db, input: { email: string; address: string; at: Date }): Promise<SignInVerdict> {
  const { at } = input;
  await db.deleteFrom('sign_in_limits').where('forget_at', '<', at).execute();
  // A row's window is over when it started a whole window ago (each scope has its own length).
  const windowOver = sql`l.window_started_at <= CASE l.scope WHEN 'address' THEN ${new Date(at.getTime() - ADDRESS.windowMs)}::timestamptz ELSE ${new Date(at.getTime() - ACCOUNT.windowMs)}::timestamptz END`;
  const rows = await sql<{ scope: 'address' | 'account'; attempts: number; window_started_at: Date; locked_until: Date | null }>`
    INSERT INTO sign_in_limits AS l (scope, key_hash, window_started_at, attempts, forget_at)
    VALUES ('address', ${addressKey(input.address)}, ${at}, 1, ${new Date(at.getTime() + ADDRESS.windowMs)}),
           ('account', ${accountKey(input.email)}, ${at}, 1, ${new Date(at.getTime() + ACCOUNT_MEMORY_MS)})
    ON CONFLICT (scope, key_hash) DO UPDATE SET
      attempts = CASE WHEN ${windowOver} THEN 1 ELSE l.attempts + 1 END,
      window_started_at = CASE WHEN ${windowOver} THEN EXCLUDED.window_started_at ELSE l.window_started_at END,
      forget_at = GREATEST(l.forget_at, EXCLUDED.forget_at)
    RETURNING scope, attempts, window_started_at, locked_until`.execute(db);
  const address = rows.rows.find((row) => row.scope === 'address')!;
  const account = rows.rows.find((row) => row.scope === 'account')!;
  const windowLeft = (row: { window_started_at: Date }, windowMs: number) => row.window_started_at.getTime() + windowMs - at.getTime();
  if (address.attempts > ADDRESS.attempts) return { refused: 'address', retryAfterMs: windowLeft(address, ADDRESS.windowMs), first: address.attempts === ADDRESS.attempts + 1 };
  if (account.locked_until && account.locked_until > at) return { refused: 'locked', retryAfterMs: account.locked_until.getTime() - at.getTime() };
  if (account.attempts > ACCOUNT.attempts) return { refused: 'account', retryAfterMs: windowLeft(account, ACCOUNT.windowMs), first: account.attempts === ACCOUNT.attempts + 1 };
  return { refused: null };
}

/**
 * Count a failed attempt against its account; the failure that makes `LOCKOUT.failures` in a row
 * locks it (and starts the count again), and only that one answers `lockedNow` (once per lock, even
 * when several processes record failures at the same moment).
 */
export async function recordSignInFailure(db: Db, input: { email: string; at: Date }): Promise<{ lockedNow: boolean; lockedUntil: Date | null }> {
  const { at } = input;
  const inRow = sql`CASE WHEN last_failure_at IS NULL OR last_failure_at <= ${new Date(at.getTime() - LOCKOUT.failureMemoryMs)} THEN 1 ELSE failures + 1 END`;
  const lockUntil = new Date(at.getTime() + LOCKOUT.lockMs);
  const result = await sql<{ locked_now: boolean; locked_until: Date | null }>`
    UPDATE sign_in_limits SET
      failures = CASE WHEN ${inRow} >= ${LOCKOUT.failures}::integer THEN 0 ELSE ${inRow} END,
      locked_until = CASE WHEN ${inRow} >= ${LOCKOUT.failures}::integer THEN ${lockUntil} ELSE locked_until END,
      last_failure_at = ${at},
      forget_at = GREATEST(forget_at, ${new Date(at.getTime() + ACCOUNT_MEMORY_MS)})
    WHERE scope = 'account' AND key_hash = ${accountKey(input.email)}
    RETURNING failures = 0 AS locked_now, locked_until`.execute(db);
  const row = result.rows[0];
  return { lockedNow: row?.locked_now ?? false, lockedUntil: row?.locked_until && row.locked_until > at ? row.locked_until : null };
}

/** A successful sign-in forgets the account's failures. */
export async function recordSignInSuccess(db: Db, input: { email: string }): Promise<void> {
  await db
    .updateTable('sign_in_limits')
    .set({ failures: 0, last_failure_at: null })
    .where('scope', '=', 'account')
    .where('key_hash', '=', accountKey(input.email))
    .execute();
}
