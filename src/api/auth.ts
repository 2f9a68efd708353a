import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DeskhandError } from '../core/errors.ts';
import type { Db } from '../store/db.ts';
import type { UserRow } from '../store/schema.ts';
import { userForApiToken, userForSession } from '../store/users.ts';

export const SESSION_COOKIE = 'deskhand_session';

export interface AuthenticatedUser {
  id: string;
  mspId: string;
  email: string;
  name: string;
  role: UserRow['role'];
  via: 'session' | 'token';
}

declare module 'fastify' {
  interface FastifyRequest {
    user: AuthenticatedUser | null;
  }
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    const name = part.slice(0, index).trim();
    if (name) cookies[name] = decodeCookieValue(part.slice(index + 1).trim());
  }
  return cookies;
}

/** A value that is not valid percent-encoding is kept as sent (as the `cookie` package does): another site's cookie must not break ours. */
function decodeCookieValue(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

export function sessionCookie(token: string, options: { secure: boolean; maxAgeSeconds: number }): string {
  return [
    `${SESSION_COOKIE}=${encodeURIComponent(token)}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    `Max-Age=${options.maxAgeSeconds}`,
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}

function toUser(row: UserRow, via: AuthenticatedUser['via']): AuthenticatedUser {
  return { id: row.id, mspId: row.msp_id, email: row.email, name: row.name, role: row.role, via };
}

/** Resolve the caller from `Authorization: Bearer <token>` or the session cookie; never fails by itself. */
export function registerAuthentication(app: FastifyInstance, db: Db): void {
  app.decorateRequest('user', null);
  app.addHook('onRequest', async (request) => {
    request.user = null;
    const authorization = request.headers.authorization;
    if (authorization?.startsWith('Bearer ')) {
      const row = await userForApiToken(db, authorization.slice(7).trim(), new Date());
      if (!row) throw new DeskhandError('unauthorized', 'the API token is not valid (revoked, mistyped or its user disabled)');
      request.user = toUser(row, 'token');
      return;
    }
    const token = parseCookies(request.headers.cookie)[SESSION_COOKIE];
    if (token) {
      const row = await userForSession(db, token, new Date());
      if (row) request.user = toUser(row, 'session');
    }
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
