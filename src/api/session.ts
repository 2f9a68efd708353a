import type { FastifyInstance, FastifyReply } from 'fastify';
import { DeskhandError } from '../core/errors.ts';
import type { EngineContext } from '../engine/context.ts';
import { sha256Base64url } from '../secrets.ts';
import { appendAudit, inTransaction } from '../store/audit.ts';
import { clientNetwork, countSignInAttempt, recordSignInFailure, recordSignInSuccess, SIGN_IN_LIMITS } from '../store/sign-in-limits.ts';
import { createSession, deleteSession, findUserByEmail, SESSION_TTL_MS, verifyPassword } from '../store/users.ts';
import { CSRF_COOKIE, csrfSessionBinding, noStore, requireUser, SESSION_COOKIE, sessionCookieOptions } from './auth.ts';
import { CsrfToken, ErrorAnswer, Me, SignedIn, SignedOut, SignInBody } from './contract.ts';
import { zodResponse, zodSchema } from './schema.ts';

/** One answer for every refused sign-in (wrong email, wrong password, disabled, locked), so none tells which. */
const WRONG = 'wrong email or password';

export function registerSessionRoutes(app: FastifyInstance, ctx: EngineContext, options: { secureCookies: boolean }): void {
  const { db } = ctx;
  app.post(
    '/api/session',
    {
      schema: {
        tags: ['session'],
        operationId: 'signIn',
        summary: 'Sign in with email and password; sets the session cookie and returns the CSRF token (csrfToken) that cookie-authenticated changes send in x-csrf-token',
        body: zodSchema(SignInBody),
        response: { 200: zodResponse(SignedIn), 429: zodResponse(ErrorAnswer) },
      },
    },
    async (request, reply) => {
      const body = request.body as SignInBody;
      const at = ctx.clock.now();
      const verdict = await countSignInAttempt(db, { email: body.email, address: request.ip, at });
      if (verdict.refused === 'locked') {
        retryAfter(reply, verdict.retryAfterMs);
        throw new DeskhandError('unauthorized', WRONG);
      }
      if (verdict.refused) {
        retryAfter(reply, verdict.retryAfterMs);
        // Once per window, so that an operator can see who is knocking without a line per knock.
        if (verdict.first) ctx.logger.warn({ limit: verdict.refused, address: clientNetwork(request.ip), retryAfterSeconds: Math.ceil(verdict.retryAfterMs / 1000) }, 'sign-in attempts limited');
        const per = verdict.refused === 'address' ? 'from this address' : 'for this account';
        return reply.code(429).send({ error: { code: 'rate_limited', message: `too many sign-in attempts ${per}; try again after the time in Retry-After (seconds)` } });
      }
      const user = await findUserByEmail(db, body.email);
      // The password is hashed whether or not the user exists, has a password or is disabled: every
      // refusal takes the time of a real check.
      const passwordOk = await verifyPassword(body.password, user?.password_hash ?? null);
      if (!user || user.disabled || !passwordOk) {
        const failure = await recordSignInFailure(db, { email: body.email, at });
        if (failure.lockedNow && user) await auditLock(ctx, { user, address: request.ip, at, until: failure.lockedUntil! });
        if (failure.lockedUntil) retryAfter(reply, failure.lockedUntil.getTime() - at.getTime());
        throw new DeskhandError('unauthorized', WRONG);
      }
      await recordSignInSuccess(db, { email: body.email });
      const token = await createSession(db, user.id, new Date());
      reply.setCookie(SESSION_COOKIE, token, sessionCookieOptions({ secure: options.secureCookies, maxAgeSeconds: SESSION_TTL_MS / 1000 }));
      // A new CSRF secret with every session, bound to it.
      delete request.cookies[CSRF_COOKIE];
      const csrfToken = reply.generateCsrf({ userInfo: sha256Base64url(token) });
      noStore(reply);
      return { user: { id: user.id, email: user.email, name: user.name, role: user.role, mspId: user.msp_id }, csrfToken };
    },
  );

  app.get(
    '/api/session/csrf',
    {
      schema: {
        tags: ['session'],
        operationId: 'getCsrfToken',
        summary: 'The CSRF token of this session, for the x-csrf-token header of cookie-authenticated changes (null for an API token, which needs none)',
        response: { 200: zodResponse(CsrfToken) },
      },
    },
    async (request, reply) => {
      const user = requireUser(request);
      noStore(reply);
      const binding = user.via === 'session' ? csrfSessionBinding(request) : undefined;
      return { csrfToken: binding ? reply.generateCsrf({ userInfo: binding }) : null };
    },
  );

  app.delete('/api/session', { schema: { tags: ['session'], operationId: 'signOut', summary: 'Sign out', response: { 200: zodResponse(SignedOut) } } }, async (request, reply) => {
    const token = request.cookies[SESSION_COOKIE];
    if (token) await deleteSession(db, token);
    reply.setCookie(SESSION_COOKIE, '', sessionCookieOptions({ secure: options.secureCookies, maxAgeSeconds: 0 }));
    reply.clearCookie(CSRF_COOKIE, { path: '/' });
    return { signedOut: true as const };
  });

  app.get(
    '/api/me',
    {
      schema: {
        tags: ['session'],
        operationId: 'getMe',
        summary: 'Who is signed in, their MSP, and when the session ends (null for an API token)',
        response: { 200: zodResponse(Me) },
      },
    },
    async (request, reply) => {
      const user = requireUser(request);
      const msp = await db.selectFrom('msps').select(['id', 'name', 'default_operating_mode']).where('id', '=', user.mspId).executeTakeFirstOrThrow();
      const binding = user.via === 'session' ? csrfSessionBinding(request) : undefined;
      const session = binding ? await db.selectFrom('sessions').select('expires_at').where('id_hash', '=', binding).executeTakeFirst() : undefined;
      noStore(reply);
      return {
        user: { id: user.id, email: user.email, name: user.name, role: user.role },
        msp: { id: msp.id, name: msp.name, defaultOperatingMode: msp.default_operating_mode },
        sessionExpiresAt: session?.expires_at ?? null,
      };
    },
  );
}

function retryAfter(reply: FastifyReply, ms: number): void {
  reply.header('retry-after', String(Math.max(1, Math.ceil(ms / 1000))));
}

/** A lock is worth an audit row in the user's MSP (who, from where, until when) and a warning in the log. */
async function auditLock(ctx: EngineContext, input: { user: { id: string; msp_id: string; email: string }; address: string; at: Date; until: Date }): Promise<void> {
  const { user, at } = input;
  const data = { userId: user.id, email: user.email, failures: SIGN_IN_LIMITS.lockout.failures, address: clientNetwork(input.address), lockedUntil: input.until.toISOString() };
  await inTransaction(ctx.db, (tx) => appendAudit(tx, { mspId: user.msp_id, actor: 'sign-in', event: 'user.locked', data, at }));
  ctx.logger.warn({ userId: user.id, mspId: user.msp_id, address: data.address, lockedUntil: data.lockedUntil }, 'account locked after repeated failed sign-ins');
}
