import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DeskhandError } from '../core/errors.ts';
import type { EngineContext } from '../engine/context.ts';
import { sha256Base64url } from '../secrets.ts';
import { appendAudit, inTransaction } from '../store/audit.ts';
import { setupNeeded, useSetupToken } from '../store/one-time-links.ts';
import type { UserRow } from '../store/schema.ts';
import { createSession, hashPassword, SESSION_TTL_MS } from '../store/users.ts';
import { CSRF_COOKIE, noStore, SESSION_COOKIE, sessionCookieOptions } from './auth.ts';
import { SetupBody, SetupStatus, SignedIn } from './contract.ts';
import type { HomeInfo } from './home.ts';
import { zodResponse, zodSchema } from './schema.ts';

/**
 * The first run: whether this deskhand still needs its MSP (and the demo users when the demo world is
 * loaded), and the setup link's one-time token creating the MSP and its first admin, signed in.
 */
export function registerSetupRoutes(app: FastifyInstance, ctx: EngineContext, home: () => HomeInfo): void {
  app.get(
    '/api/setup',
    { schema: { tags: ['session'], operationId: 'getSetupStatus', security: [], summary: 'Whether this deskhand still needs its first MSP, and the demo users when the demo world is loaded', response: { 200: zodResponse(SetupStatus) } } },
    async (): Promise<SetupStatus> => {
      const info = home();
      return { needed: await setupNeeded(ctx.db), demo: info.demoPassword ? { password: info.demoPassword, users: info.demoUsers } : null };
    },
  );

  app.post(
    '/api/setup',
    {
      schema: {
        tags: ['session'],
        operationId: 'completeSetup',
        security: [],
        summary: "Create the MSP and its first msp_admin with the setup link's one-time token (printed in the service's log at start), and sign the admin in",
        body: zodSchema(SetupBody),
        response: { 200: zodResponse(SignedIn) },
      },
    },
    async (request, reply): Promise<SignedIn> => {
      const body = request.body as import('zod').output<typeof SetupBody>;
      const at = ctx.clock.now();
      // Hashed before the transaction: scrypt takes a while, and the token's lock should not wait on it.
      const passwordHash = await hashPassword(body.admin.password);
      const user = await inTransaction(ctx.db, async (tx) => {
        const live = await useSetupToken(tx, body.token, at);
        if (!(await setupNeeded(tx))) throw new DeskhandError('conflict', 'this deskhand is already set up: sign in, or ask an admin of your MSP for an invitation');
        if (!live) throw new DeskhandError('forbidden', 'the setup link is not valid: it was used, has expired (after 24 hours) or was mistyped; restart deskhand for a new one');
        const mspId = mspIdFor(body.mspName);
        await tx.insertInto('msps').values({ id: mspId, name: body.mspName, default_operating_mode: body.defaultOperatingMode, created_at: at }).execute();
        const admin = await tx
          .insertInto('users')
          .values({ id: crypto.randomUUID(), msp_id: mspId, email: body.admin.email.toLowerCase(), name: body.admin.name, role: 'msp_admin', password_hash: passwordHash, created_at: at })
          .returningAll()
          .executeTakeFirstOrThrow();
        await appendAudit(tx, [
          { mspId, actor: 'setup link', event: 'msp.created', data: { mspId, name: body.mspName, defaultOperatingMode: body.defaultOperatingMode }, at },
          { mspId, actor: 'setup link', event: 'user.created', data: { userId: admin.id, email: admin.email, role: admin.role }, at },
        ]);
        return admin;
      });
      ctx.logger.info({ mspId: user.msp_id, userId: user.id }, 'first MSP set up through the setup link');
      return signInAs(ctx, request, reply, user);
    },
  );
}

/**
 * Sign a user in as POST /api/session does: a new session (cookie) and a CSRF token bound to it
 * (the old CSRF secret dropped, so the token is made from a fresh one).
 */
export async function signInAs(ctx: EngineContext, request: FastifyRequest, reply: FastifyReply, user: UserRow): Promise<SignedIn> {
  const token = await createSession(ctx.db, user.id, new Date());
  reply.setCookie(SESSION_COOKIE, token, sessionCookieOptions({ secure: ctx.publicUrl.startsWith('https://'), maxAgeSeconds: SESSION_TTL_MS / 1000 }));
  delete request.cookies[CSRF_COOKIE];
  const csrfToken = reply.generateCsrf({ userInfo: sha256Base64url(token) });
  noStore(reply);
  return { user: { id: user.id, email: user.email, name: user.name, role: user.role, mspId: user.msp_id }, csrfToken };
}

/** An MSP's id (a text key, like the demo world's `northwind`): its name's words in lower case, joined by dashes. */
function mspIdFor(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return slug || crypto.randomUUID();
}
