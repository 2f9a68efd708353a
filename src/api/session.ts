import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DeskhandError } from '../core/errors.ts';
import type { Db } from '../store/db.ts';
import { createSession, deleteSession, findUserByEmail, SESSION_TTL_MS, verifyPassword } from '../store/users.ts';
import { parseCookies, requireUser, SESSION_COOKIE, sessionCookie } from './auth.ts';
import { zodSchema } from './schema.ts';

const loginBody = z.object({ email: z.string().min(3).max(320), password: z.string().min(1).max(1024) });

export function registerSessionRoutes(app: FastifyInstance, db: Db, options: { secureCookies: boolean }): void {
  app.post(
    '/api/session',
    { schema: { tags: ['session'], summary: 'Sign in with email and password; sets the session cookie', body: zodSchema(loginBody) } },
    async (request, reply) => {
      const body = request.body as z.infer<typeof loginBody>;
      const user = await findUserByEmail(db, body.email);
      const ok = user && !user.disabled && (await verifyPassword(body.password, user.password_hash));
      if (!user || !ok) throw new DeskhandError('unauthorized', 'wrong email or password');
      const token = await createSession(db, user.id, new Date());
      reply.header('set-cookie', sessionCookie(token, { secure: options.secureCookies, maxAgeSeconds: SESSION_TTL_MS / 1000 }));
      return { user: { id: user.id, email: user.email, name: user.name, role: user.role, mspId: user.msp_id } };
    },
  );

  app.delete('/api/session', { schema: { tags: ['session'], summary: 'Sign out' } }, async (request, reply) => {
    const token = parseCookies(request.headers.cookie)[SESSION_COOKIE];
    if (token) await deleteSession(db, token);
    reply.header('set-cookie', sessionCookie('', { secure: options.secureCookies, maxAgeSeconds: 0 }));
    return { signedOut: true };
  });

  app.get('/api/me', { schema: { tags: ['session'], summary: 'Who is signed in' } }, async (request) => {
    const user = requireUser(request);
    const msp = await db.selectFrom('msps').select(['id', 'name', 'default_operating_mode']).where('id', '=', user.mspId).executeTakeFirstOrThrow();
    return { user: { id: user.id, email: user.email, name: user.name, role: user.role }, msp };
  });
}
