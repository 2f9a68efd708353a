import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DeskhandError } from '../core/errors.ts';
import type { Db } from '../store/db.ts';
import type { UserRow } from '../store/schema.ts';
import { sha256Base64url } from '../secrets.ts';
import { userForApiToken, userForSession } from '../store/users.ts';

export const SESSION_COOKIE = 'deskhand_session';
/** The cookie holding the CSRF secret (@fastify/csrf-protection); the token made from it is sent back in `x-csrf-token`. */
export const CSRF_COOKIE = 'deskhand_csrf';
export const CSRF_HEADER = 'x-csrf-token';

export interface AuthenticatedUser {
  id: string;
  mspId: string;
  email: string;
  name: string;
  role: UserRow['role'];
  via: 'session' | 'token';
  /** The personal API token's id (never the token), when signed in by one. */
  tokenId?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    user: AuthenticatedUser | null;
  }
}

/**
 * The session cookie: HttpOnly (no script reads it), SameSite=Lax (no cross-site POST carries it;
 * a link from an email still opens the dashboard signed in), Secure when the service is reached
 * over https (DESKHAND_PUBLIC_URL).
 */
export function sessionCookieOptions(options: { secure: boolean; maxAgeSeconds: number }): CookieSerializeOptions {
  return { path: '/', httpOnly: true, sameSite: 'lax', secure: options.secure, maxAge: options.maxAgeSeconds };
}

/** What binds a CSRF token to its session: the session token's hash (the row id, which never leaves the service). */
export function csrfSessionBinding(request: FastifyRequest): string | undefined {
  const token = request.cookies[SESSION_COOKIE];
  return token ? sha256Base64url(token) : undefined;
}

function toUser(row: UserRow, via: AuthenticatedUser['via'], tokenId?: string): AuthenticatedUser {
  return { id: row.id, mspId: row.msp_id, email: row.email, name: row.name, role: row.role, via, ...(tokenId ? { tokenId } : {}) };
}

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A change under /api/ made by the session cookie (not an API token) must carry the CSRF token of
 * its session. Signing in is the one exception: it is where the token comes from (and a cross-site
 * form cannot send its JSON body without a CORS preflight that is never granted).
 */
function needsCsrfToken(request: FastifyRequest): boolean {
  if (request.user?.via !== 'session' || !CHANGES.has(request.method)) return false;
  // The route as matched (an unknown path by its URL): what a handler will act on.
  const route = request.routeOptions.url ?? request.url;
  if (!route.startsWith('/api/')) return false;
  return !(request.method === 'POST' && TOKEN_IS_THE_PROOF.has(route));
}

/**
 * Calls whose body carries what proves them (a password, the setup link's or an invitation's
 * one-time token), not the session cookie: a stale cookie of someone else in the same browser must
 * not stand in their way, and a cross-site form cannot send their JSON without a preflight.
 */
const TOKEN_IS_THE_PROOF = new Set(['/api/session', '/api/setup', '/api/invites/inspect', '/api/invites/accept']);

/**
 * Resolve the caller from `Authorization: Bearer <token>` or the session cookie (never fails by
 * itself, except for a bad API token), then hold cookie-authenticated changes to their CSRF token.
 * Needs @fastify/cookie and @fastify/csrf-protection registered first.
 */
export function registerAuthentication(app: FastifyInstance, db: Db): void {
  app.decorateRequest('user', null);
  app.addHook('onRequest', async (request) => {
    request.user = null;
    const authorization = request.headers.authorization;
    if (authorization?.startsWith('Bearer ')) {
      const row = await userForApiToken(db, authorization.slice(7).trim(), new Date());
      if (!row) throw new DeskhandError('unauthorized', 'the API token is not valid (revoked, mistyped or its user disabled)');
      request.user = toUser(row, 'token', row.token_id);
      return;
    }
    const token = request.cookies[SESSION_COOKIE];
    if (token) {
      const row = await userForSession(db, token, new Date());
      if (row) request.user = toUser(row, 'session');
    }
  });
  // Before the body is read: a change without its token goes no further.
  app.addHook('onRequest', (request, reply, done) => {
    if (needsCsrfToken(request)) app.csrfProtection(request, reply, done);
    else done();
  });
  // Cookie-authenticated writes must be JSON: a cross-site form cannot send that without a preflight.
  app.addHook('preHandler', async (request) => {
    if (request.user?.via === 'session' && !['GET', 'HEAD', 'OPTIONS'].includes(request.method) && request.url.startsWith('/api/')) {
      const type = request.headers['content-type'] ?? '';
      if (request.body !== undefined && !type.includes('application/json')) {
        throw new DeskhandError('bad_request', 'requests signed in by cookie must send application/json');
      }
    }
  });
}

export function requireUser(request: FastifyRequest): AuthenticatedUser {
  if (!request.user) throw new DeskhandError('unauthorized', 'sign in first (POST /api/session) or send Authorization: Bearer <API token>');
  return request.user;
}

export function requireAdmin(request: FastifyRequest): AuthenticatedUser {
  const user = requireUser(request);
  if (user.role !== 'msp_admin') throw new DeskhandError('forbidden', 'only an msp_admin may change configuration');
  return user;
}

export function noStore(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store');
}
