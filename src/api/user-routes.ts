import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { z } from 'zod';
import { DeskhandError } from '../core/errors.ts';
import type { EngineContext } from '../engine/context.ts';
import { randomToken, sha256Base64url } from '../secrets.ts';
import { appendAudit, inTransaction } from '../store/audit.ts';
import type { Db, Tx } from '../store/db.ts';
import { issueInvite, liveInvite, useInvite } from '../store/one-time-links.ts';
import type { UserRow } from '../store/schema.ts';
import { findUserByEmail, hashPassword } from '../store/users.ts';
import { requireAdmin, requireUser } from './auth.ts';
import {
  ApiToken,
  ApiTokenBody,
  ApiTokenCreated,
  ApiTokenList,
  InviteAcceptBody,
  InviteBody,
  InviteCreated,
  InviteInspectBody,
  InviteInspection,
  type MspDetail,
  MspDetail as MspDetailSchema,
  SignedIn,
  User,
  UserList,
  UserPatchBody,
} from './contract.ts';
import { zodResponse, zodSchema } from './schema.ts';
import { signInAs } from './setup-routes.ts';

/**
 * The MSP's users (msp_admin): the list, invitations by a one-time link, role changes and
 * deactivation; the invitation link's own two calls (anyone holding it); and each user's personal
 * API tokens (their own only).
 */
const idParams = zodSchema(z.object({ id: z.uuid() }));
const INVALID_INVITE = 'this invitation link is not valid: it was used, has expired (after 7 days) or was mistyped; ask an admin of your MSP for a new one';

export function registerUserRoutes(app: FastifyInstance, ctx: EngineContext): void {
  const { db } = ctx;

  app.get(
    '/api/msp',
    {
      schema: {
        tags: ['configuration'],
        operationId: 'getMsp',
        summary: "The caller's MSP: its name, default operating mode, and where approvals are announced (its integrations with tickets or approval notices)",
        response: { 200: zodResponse(MspDetailSchema) },
      },
    },
    async (request): Promise<MspDetail> => {
      const user = requireUser(request);
      const msp = await db.selectFrom('msps').select(['id', 'name', 'default_operating_mode']).where('id', '=', user.mspId).executeTakeFirstOrThrow();
      const integrations = await db
        .selectFrom('integrations')
        .select(['id', 'kind', 'name'])
        .where('msp_id', '=', user.mspId)
        .where('client_id', 'is', null)
        .where('enabled', '=', true)
        .orderBy('name')
        .execute();
      const approvalChannels = integrations.flatMap((row) => {
        const module = ctx.integrations.modules.find((m) => m.kind === row.kind);
        const how = module ? approvalChannelHow(module.provides) : null;
        return module && how ? [{ integrationId: row.id, integration: row.name, kind: row.kind, label: module.label, how }] : [];
      });
      return { id: msp.id, name: msp.name, defaultOperatingMode: msp.default_operating_mode, approvalChannels };
    },
  );

  app.get(
    '/api/users',
    { schema: { tags: ['users'], operationId: 'listUsers', summary: "The MSP's users: active, invited (no password yet) or deactivated", response: { 200: zodResponse(UserList) } } },
    async (request): Promise<UserList> => {
      const admin = requireAdmin(request);
      const rows = await usersOf(db, admin.mspId).orderBy('users.name').orderBy('users.email').execute();
      return { users: rows.map((row) => describeUser(row, ctx.clock.now())) };
    },
  );

  app.post(
    '/api/users/invites',
    {
      schema: {
        tags: ['users'],
        operationId: 'inviteUser',
        summary: 'Invite a user: a one-time link (7 days) where they set their password, shown once in this answer; inviting again someone who has not accepted yet replaces their link',
        body: zodSchema(InviteBody),
        response: { 200: zodResponse(InviteCreated) },
      },
    },
    async (request): Promise<InviteCreated> => {
      const admin = requireAdmin(request);
      const body = request.body as z.output<typeof InviteBody>;
      const at = ctx.clock.now();
      const email = body.email.toLowerCase();
      const { user, token, expiresAt } = await inTransaction(db, async (tx) => {
        // One invitation per email at a time (emails are unique across every MSP).
        await sql`select pg_advisory_xact_lock(4242012, hashtext(${email}))`.execute(tx);
        const existing = await findUserByEmail(tx as unknown as Db, email);
        let user: UserRow;
        if (existing) {
          // Someone of this MSP who never accepted: a new link (and the new name and role); anyone else is taken.
          if (existing.msp_id !== admin.mspId || existing.password_hash !== null || existing.disabled) {
            throw new DeskhandError('conflict', `a user with the email ${email} already exists`);
          }
          user = await tx.updateTable('users').set({ name: body.name, role: body.role }).where('id', '=', existing.id).returningAll().executeTakeFirstOrThrow();
        } else {
          user = await tx
            .insertInto('users')
            .values({ id: crypto.randomUUID(), msp_id: admin.mspId, email, name: body.name, role: body.role, password_hash: null, created_at: at })
            .returningAll()
            .executeTakeFirstOrThrow();
        }
        const invite = await issueInvite(tx, { mspId: admin.mspId, userId: user.id, createdBy: admin.id, at });
        await appendAudit(tx, {
          mspId: admin.mspId,
          actor: `user:${admin.email}`,
          event: existing ? 'user.invited_again' : 'user.invited',
          data: { userId: user.id, email, role: body.role, expiresAt: invite.expiresAt.toISOString() },
          at,
        });
        return { user, ...invite };
      });
      return {
        user: { ...describeUser({ ...user, invite_expires_at: expiresAt }, at) },
        link: `${ctx.publicUrl}/invite#token=${token}`,
      };
    },
  );

  app.patch(
    '/api/users/:id',
    {
      schema: {
        tags: ['users'],
        operationId: 'updateUser',
        summary:
          "Change a user's role, or deactivate (their sessions end and their API tokens are revoked; they can no longer sign in) or reactivate them; the last active msp_admin can be neither demoted nor deactivated",
        params: idParams,
        body: zodSchema(UserPatchBody),
        response: { 200: zodResponse(User) },
      },
    },
    async (request): Promise<User> => {
      const caller = requireUser(request);
      const { id } = request.params as { id: string };
      // Another MSP's user is answered as one that does not exist, whatever the caller's role.
      if (!(await db.selectFrom('users').select('id').where('id', '=', id).where('msp_id', '=', caller.mspId).executeTakeFirst())) throw new DeskhandError('not_found', 'no such user');
      const admin = requireAdmin(request);
      const body = request.body as z.output<typeof UserPatchBody>;
      const at = ctx.clock.now();
      const updated = await inTransaction(db, async (tx) => {
        // The MSP's admins are locked while one changes, so two admins demoting each other cannot both succeed.
        await tx.selectFrom('users').select('id').where('msp_id', '=', admin.mspId).where('role', '=', 'msp_admin').forUpdate().execute();
        const user = await tx.selectFrom('users').selectAll().where('id', '=', id).where('msp_id', '=', admin.mspId).forUpdate().executeTakeFirst();
        if (!user) throw new DeskhandError('not_found', 'no such user');
        const role = body.role ?? user.role;
        const disabled = body.status === undefined ? user.disabled : body.status === 'deactivated';
        const activeAdmin = (u: { role: string; disabled: boolean; password_hash: string | null }) => u.role === 'msp_admin' && !u.disabled && u.password_hash !== null;
        if (activeAdmin(user) && !activeAdmin({ role, disabled, password_hash: user.password_hash })) {
          const others = await tx
            .selectFrom('users')
            .select('id')
            .where('msp_id', '=', admin.mspId)
            .where('role', '=', 'msp_admin')
            .where('disabled', '=', false)
            .where('password_hash', 'is not', null)
            .where('id', '!=', user.id)
            .limit(1)
            .executeTakeFirst();
          if (!others) throw new DeskhandError('conflict', `${user.email} is the last active msp_admin of this MSP: make another user an admin first`);
        }
        const next = await tx.updateTable('users').set({ role, disabled }).where('id', '=', user.id).returningAll().executeTakeFirstOrThrow();
        let sessionsEnded = 0;
        let tokensRevoked = 0;
        if (disabled && !user.disabled) {
          // As `deskhand user disable`: every session ends and every API token is revoked, so that
          // reactivating revives neither; an open invitation stops working too.
          sessionsEnded = Number((await tx.deleteFrom('sessions').where('user_id', '=', user.id).executeTakeFirst()).numDeletedRows);
          tokensRevoked = Number((await tx.updateTable('api_tokens').set({ revoked_at: at }).where('user_id', '=', user.id).where('revoked_at', 'is', null).executeTakeFirst()).numUpdatedRows);
          await tx.deleteFrom('user_invites').where('user_id', '=', user.id).where('used_at', 'is', null).execute();
        }
        const events = [];
        if (role !== user.role) events.push({ event: 'user.role_changed', data: { userId: user.id, email: user.email, from: user.role, to: role } });
        if (disabled !== user.disabled) {
          events.push({ event: disabled ? 'user.disabled' : 'user.enabled', data: { userId: user.id, email: user.email, ...(disabled ? { sessionsEnded, tokensRevoked } : {}) } });
        }
        if (events.length > 0) await appendAudit(tx, events.map((e) => ({ mspId: admin.mspId, actor: `user:${admin.email}`, ...e, at })));
        return next;
      });
      const row = await usersOf(db, admin.mspId).where('users.id', '=', updated.id).executeTakeFirstOrThrow();
      return describeUser(row, at);
    },
  );

  app.post(
    '/api/invites/inspect',
    {
      schema: {
        tags: ['users'],
        operationId: 'inspectInvite',
        summary: 'Who an invitation link is for (anyone holding the link; it is not used up)',
        security: [],
        body: zodSchema(InviteInspectBody),
        response: { 200: zodResponse(InviteInspection) },
      },
    },
    async (request): Promise<InviteInspection> => {
      const { token } = request.body as z.output<typeof InviteInspectBody>;
      const invite = await liveInvite(db, token, ctx.clock.now());
      if (!invite) throw new DeskhandError('not_found', INVALID_INVITE);
      return { email: invite.email, name: invite.name, role: invite.role, mspName: invite.msp_name, expiresAt: invite.expires_at.toISOString() };
    },
  );

  app.post(
    '/api/invites/accept',
    {
      schema: {
        tags: ['users'],
        operationId: 'acceptInvite',
        summary: "Set the invited user's password with the invitation link (used up) and sign them in",
        security: [],
        body: zodSchema(InviteAcceptBody),
        response: { 200: zodResponse(SignedIn) },
      },
    },
    async (request, reply): Promise<SignedIn> => {
      const body = request.body as z.output<typeof InviteAcceptBody>;
      const at = ctx.clock.now();
      const passwordHash = await hashPassword(body.password);
      const user = await inTransaction(db, async (tx) => {
        const invite = await liveInvite(tx, body.token, at);
        if (!invite || !(await useInvite(tx, invite.token_hash, at))) throw new DeskhandError('not_found', INVALID_INVITE);
        const user = await tx
          .updateTable('users')
          .set({ password_hash: passwordHash })
          .where('id', '=', invite.user_id)
          .where('password_hash', 'is', null)
          .where('disabled', '=', false)
          .returningAll()
          .executeTakeFirst();
        if (!user) throw new DeskhandError('not_found', INVALID_INVITE);
        await appendAudit(tx, { mspId: user.msp_id, actor: `user:${user.email}`, event: 'user.invite_accepted', data: { userId: user.id, email: user.email }, at });
        return user;
      });
      return signInAs(ctx, request, reply, user);
    },
  );

  app.get(
    '/api/me/tokens',
    { schema: { tags: ['users'], operationId: 'listMyApiTokens', summary: "The caller's own personal API tokens that are not revoked (never the token itself)", response: { 200: zodResponse(ApiTokenList) } } },
    async (request): Promise<ApiTokenList> => {
      const user = requireUser(request);
      const rows = await db
        .selectFrom('api_tokens')
        .select(['id', 'name', 'created_at', 'last_used_at'])
        .where('user_id', '=', user.id)
        .where('revoked_at', 'is', null)
        .orderBy('created_at', 'desc')
        .execute();
      return { tokens: rows.map(describeToken) };
    },
  );

  app.post(
    '/api/me/tokens',
    {
      schema: {
        tags: ['users'],
        operationId: 'createMyApiToken',
        summary: 'A new personal API token of the caller, acting with their role (Authorization: Bearer <secret>); the secret is shown once, in this answer',
        body: zodSchema(ApiTokenBody),
        response: { 200: zodResponse(ApiTokenCreated) },
      },
    },
    async (request): Promise<ApiTokenCreated> => {
      const user = requireUser(request);
      const { name } = request.body as z.output<typeof ApiTokenBody>;
      const at = ctx.clock.now();
      const secret = `dh_${randomToken(30)}`;
      const id = crypto.randomUUID();
      await inTransaction(db, async (tx) => {
        // As `issueApiToken`: never a token for a user disabled meanwhile.
        const result = await sql`
          INSERT INTO api_tokens (id, user_id, name, token_hash, created_at)
          SELECT ${id}, id, ${name}, ${sha256Base64url(secret)}, ${at} FROM users
          WHERE id = ${user.id} AND disabled = false FOR SHARE`.execute(tx);
        if (Number(result.numAffectedRows ?? 0) !== 1) throw new DeskhandError('unauthorized', 'this user is disabled');
        await appendAudit(tx, { mspId: user.mspId, actor: `user:${user.email}`, event: 'api_token.created', data: { userId: user.id, tokenId: id, name }, at });
      });
      return { token: { id, name, createdAt: at.toISOString(), lastUsedAt: null }, secret };
    },
  );

  app.delete(
    '/api/me/tokens/:id',
    {
      schema: {
        tags: ['users'],
        operationId: 'revokeMyApiToken',
        summary: "Revoke one of the caller's own personal API tokens (it stops working at once); answers the token revoked",
        params: idParams,
        response: { 200: zodResponse(ApiToken) },
      },
    },
    async (request): Promise<ApiToken> => {
      const user = requireUser(request);
      const { id } = request.params as { id: string };
      const at = ctx.clock.now();
      return inTransaction(db, async (tx) => {
        const row = await tx
          .updateTable('api_tokens')
          .set({ revoked_at: at })
          .where('id', '=', id)
          .where('user_id', '=', user.id)
          .where('revoked_at', 'is', null)
          .returning(['id', 'name', 'created_at', 'last_used_at'])
          .executeTakeFirst();
        if (!row) throw new DeskhandError('not_found', 'no such API token of yours');
        await appendAudit(tx, { mspId: user.mspId, actor: `user:${user.email}`, event: 'api_token.revoked', data: { userId: user.id, tokenId: id, name: row.name }, at });
        return describeToken(row);
      });
    },
  );
}

/** What an integration does when a plan waits for a technician's approval, in a sentence (null: nothing). */
function approvalChannelHow(provides: readonly string[]): string | null {
  if (provides.includes('approvalNotice')) {
    return "An internal note on the request's ticket (technicians only) says a plan waits for approval, with the plan; the ticket moves to its board's waiting status when mapped";
  }
  if (provides.includes('ticket')) return "The plan goes on the request's ticket as an internal note; the ticket moves to its board's waiting status when mapped";
  return null;
}

function describeToken(row: { id: string; name: string; created_at: Date; last_used_at: Date | null }): ApiToken {
  return { id: row.id, name: row.name, createdAt: row.created_at.toISOString(), lastUsedAt: row.last_used_at?.toISOString() ?? null };
}

/** The MSP's users with the expiry of each one's open invitation (if any). */
function usersOf(db: Db | Tx, mspId: string) {
  return db
    .selectFrom('users')
    .select(['users.id', 'users.email', 'users.name', 'users.role', 'users.disabled', 'users.password_hash', 'users.created_at'])
    .select((eb) =>
      eb
        .selectFrom('user_invites')
        .select((inner) => inner.fn.max('user_invites.expires_at').as('expires'))
        .whereRef('user_invites.user_id', '=', 'users.id')
        .where('user_invites.used_at', 'is', null)
        .as('invite_expires_at'),
    )
    .where('users.msp_id', '=', mspId);
}

/**
 * A user as the dashboard shows them: deactivated (disabled), invited (no password yet; with the
 * link's expiry while it works, null once it has expired and they need a new one), or active.
 */
function describeUser(
  row: { id: string; email: string; name: string; role: UserRow['role']; disabled: boolean; password_hash: string | null; created_at: Date; invite_expires_at: Date | null },
  at: Date,
): User {
  const status = row.disabled ? 'deactivated' : row.password_hash === null ? 'invited' : 'active';
  const live = status === 'invited' && row.invite_expires_at && row.invite_expires_at > at ? row.invite_expires_at : null;
  return { id: row.id, email: row.email, name: row.name, role: row.role, status, createdAt: row.created_at.toISOString(), inviteExpiresAt: live?.toISOString() ?? null };
}
