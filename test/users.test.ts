import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { silentLogger } from '../src/logger.ts';
import { DEMO_PASSWORD } from '../src/world/seed.ts';
import { createTestDatabase } from './support/db.ts';
import { tokenOf, WebSession } from './support/web-session.ts';

/**
 * The MSP's users as an admin manages them from the dashboard (issue 11), over real HTTP with the
 * session cookie: invitations by a one-time link, role changes, the last admin kept, deactivation,
 * and personal API tokens; another MSP's ids answer 404.
 */
let sb: Sandbox;

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger, worker: false });
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

async function signedIn(email: string, password = DEMO_PASSWORD): Promise<WebSession> {
  const session = new WebSession(sb.service.url);
  expect(await session.signIn(email, password)).toBe(200);
  return session;
}

const idOf = async (email: string) => (await sb.service.ctx.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow()).id;

type User = { id: string; email: string; role: string; status: string; inviteExpiresAt: string | null };

describe('invitations', () => {
  let link = '';
  let invitedId = '';

  it('an admin invites a user: a one-time link shown once, the user listed as invited', async () => {
    const ava = await signedIn('ava.chen@northwind-it.example');
    const created = await ava.call<{ user: User; link: string }>('POST', '/api/users/invites', { email: 'Nia.Stone@northwind-it.example', name: 'Nia Stone', role: 'msp_technician' });
    expect(created.status).toBe(200);
    expect(created.body.user).toMatchObject({ email: 'nia.stone@northwind-it.example', role: 'msp_technician', status: 'invited' });
    expect(created.body.link).toMatch(new RegExp(`^${sb.service.ctx.publicUrl}/invite#token=[\\w-]{40,}$`));
    link = created.body.link;
    invitedId = created.body.user.id;
    const list = await ava.call<{ users: User[] }>('GET', '/api/users');
    const nia = list.body.users.find((u) => u.id === invitedId)!;
    expect(nia.status).toBe('invited');
    expect(Date.parse(nia.inviteExpiresAt!) - sb.clock.now().getTime()).toBeGreaterThan(6.9 * 24 * 3600 * 1000);
    expect(list.body.users.find((u) => u.email === 'tom.rivera@northwind-it.example')?.status).toBe('active');
    // Only this MSP's users, and the token is stored hashed only.
    expect(list.body.users.some((u) => u.email.endsWith('tailspin-ms.example'))).toBe(false);
    const stored = await sb.service.ctx.db.selectFrom('user_invites').select('token_hash').where('user_id', '=', invitedId).execute();
    expect(stored.map((s) => s.token_hash)).not.toContain(tokenOf(link));
    expect(JSON.stringify(await sb.service.ctx.db.selectFrom('audit_log').select('data').execute())).not.toContain(tokenOf(link));
  });

  it('refuses an email already used, in this MSP or another', async () => {
    const ava = await signedIn('ava.chen@northwind-it.example');
    for (const email of ['tom.rivera@northwind-it.example', 'KIM.LEE@tailspin-ms.example']) {
      const taken = await ava.call<{ error: { code: string } }>('POST', '/api/users/invites', { email, name: 'Someone', role: 'msp_billing' });
      expect(taken.status, email).toBe(409);
    }
  });

  it('whoever holds the link sees who it is for, sets a password, is signed in, and the link is used up', async () => {
    const stranger = new WebSession(sb.service.url);
    const inspected = await stranger.call('POST', '/api/invites/inspect', { token: tokenOf(link) });
    expect(inspected.status).toBe(200);
    expect(inspected.body).toMatchObject({ email: 'nia.stone@northwind-it.example', name: 'Nia Stone', role: 'msp_technician', mspName: 'Northwind IT Services' });
    const weak = await stranger.call('POST', '/api/invites/accept', { token: tokenOf(link), password: 'short' });
    expect(weak.status).toBe(400);
    const accepted = await stranger.call<{ user: { email: string; role: string } }>('POST', '/api/invites/accept', { token: tokenOf(link), password: 'nia has a long password' });
    expect(accepted.status).toBe(200);
    expect(accepted.body.user).toMatchObject({ email: 'nia.stone@northwind-it.example', role: 'msp_technician' });
    expect((await stranger.call<{ user: { email: string } }>('GET', '/api/me')).body.user.email).toBe('nia.stone@northwind-it.example');
    expect((await stranger.call('POST', '/api/invites/inspect', { token: tokenOf(link) })).status).toBe(404);
    expect((await new WebSession(sb.service.url).call('POST', '/api/invites/accept', { token: tokenOf(link), password: 'another long password' })).status).toBe(404);
    expect(await new WebSession(sb.service.url).signIn('nia.stone@northwind-it.example', 'nia has a long password')).toBe(200);
    const ava = await signedIn('ava.chen@northwind-it.example');
    expect((await ava.call<{ users: User[] }>('GET', '/api/users')).body.users.find((u) => u.id === invitedId)?.status).toBe('active');
  });

  it('a wrong or expired link is refused', async () => {
    expect((await new WebSession(sb.service.url).call('POST', '/api/invites/inspect', { token: 'no-such-invitation-token' })).status).toBe(404);
    const ava = await signedIn('ava.chen@northwind-it.example');
    const created = await ava.call<{ link: string }>('POST', '/api/users/invites', { email: 'late@northwind-it.example', name: 'Late', role: 'msp_billing' });
    sb.clock.advance(7 * 24 * 3600 * 1000 + 1000);
    expect((await new WebSession(sb.service.url).call('POST', '/api/invites/accept', { token: tokenOf(created.body.link), password: 'too late a password' })).status).toBe(404);
    const list = await ava.call<{ users: User[] }>('GET', '/api/users');
    expect(list.body.users.find((u) => u.email === 'late@northwind-it.example')).toMatchObject({ status: 'invited', inviteExpiresAt: null });
    // Inviting again gives a new link.
    const again = await ava.call<{ link: string }>('POST', '/api/users/invites', { email: 'late@northwind-it.example', name: 'Late', role: 'msp_billing' });
    expect(again.status).toBe(200);
    expect((await new WebSession(sb.service.url).call('POST', '/api/invites/inspect', { token: tokenOf(again.body.link) })).status).toBe(200);
  });
});

describe('roles and deactivation', () => {
  it('an admin changes a role; the change is audited', async () => {
    const ava = await signedIn('ava.chen@northwind-it.example');
    const priya = await idOf('priya.nair@northwind-it.example');
    const changed = await ava.call<User>('PATCH', `/api/users/${priya}`, { role: 'msp_billing' });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ id: priya, role: 'msp_billing', status: 'active' });
    const audit = await sb.service.ctx.db.selectFrom('audit_log').select('data').where('event', '=', 'user.role_changed').execute();
    expect(audit.map((a) => a.data)).toContainEqual(expect.objectContaining({ userId: priya, from: 'msp_technician', to: 'msp_billing' }));
    expect((await ava.call('PATCH', `/api/users/${priya}`, { role: 'msp_technician' })).status).toBe(200);
  });

  it('the last active admin can be neither demoted nor deactivated', async () => {
    const ava = await signedIn('ava.chen@northwind-it.example');
    const avaId = await idOf('ava.chen@northwind-it.example');
    for (const body of [{ role: 'msp_technician' }, { status: 'deactivated' }]) {
      const refused = await ava.call<{ error: { message: string } }>('PATCH', `/api/users/${avaId}`, body);
      expect(refused.status).toBe(409);
      expect(refused.body.error.message).toMatch(/last active msp_admin/);
    }
    // With a second admin, the first may step down.
    const tom = await idOf('tom.rivera@northwind-it.example');
    expect((await ava.call('PATCH', `/api/users/${tom}`, { role: 'msp_admin' })).status).toBe(200);
    expect((await ava.call('PATCH', `/api/users/${avaId}`, { role: 'msp_technician' })).status).toBe(200);
    const tomSession = await signedIn('tom.rivera@northwind-it.example');
    expect((await tomSession.call('PATCH', `/api/users/${avaId}`, { role: 'msp_admin' })).status).toBe(200);
    expect((await tomSession.call('PATCH', `/api/users/${tom}`, { role: 'msp_technician' })).status).toBe(200);
  });

  it("deactivating a user ends their sessions and revokes their API tokens; reactivating revives neither", async () => {
    const ava = await signedIn('ava.chen@northwind-it.example');
    const ben = await signedIn('ben.okafor@northwind-it.example');
    const token = await ben.call<{ secret: string }>('POST', '/api/me/tokens', { name: 'reports' });
    expect(token.status).toBe(200);
    const script = new WebSession(sb.service.url, token.body.secret);
    expect((await script.call('GET', '/api/me')).status).toBe(200);
    const benId = await idOf('ben.okafor@northwind-it.example');
    const off = await ava.call<User>('PATCH', `/api/users/${benId}`, { status: 'deactivated' });
    expect(off.status).toBe(200);
    expect(off.body.status).toBe('deactivated');
    expect((await ben.call('GET', '/api/me')).status).toBe(401);
    expect((await script.call('GET', '/api/me')).status).toBe(401);
    expect(await new WebSession(sb.service.url).signIn('ben.okafor@northwind-it.example', DEMO_PASSWORD)).toBe(401);
    const audit = await sb.service.ctx.db.selectFrom('audit_log').select('data').where('event', '=', 'user.disabled').execute();
    expect(audit.map((a) => a.data)).toContainEqual(expect.objectContaining({ userId: benId, sessionsEnded: 1, tokensRevoked: 1 }));
    const on = await ava.call<User>('PATCH', `/api/users/${benId}`, { status: 'active' });
    expect(on.body.status).toBe('active');
    expect((await ben.call('GET', '/api/me')).status).toBe(401);
    expect((await script.call('GET', '/api/me')).status).toBe(401);
    expect(await new WebSession(sb.service.url).signIn('ben.okafor@northwind-it.example', DEMO_PASSWORD)).toBe(200);
  });

  it('only an admin manages users', async () => {
    const tom = await signedIn('tom.rivera@northwind-it.example');
    expect((await tom.call('GET', '/api/users')).status).toBe(403);
    expect((await tom.call('POST', '/api/users/invites', { email: 'x@northwind-it.example', name: 'X', role: 'msp_admin' })).status).toBe(403);
    expect((await tom.call('PATCH', `/api/users/${await idOf('tom.rivera@northwind-it.example')}`, { role: 'msp_admin' })).status).toBe(403);
    expect((await new WebSession(sb.service.url).call('GET', '/api/users')).status).toBe(401);
  });
});

describe('personal API tokens', () => {
  it('a user creates one (the secret shown once), lists it without the secret, uses it, and revokes it', async () => {
    const priya = await signedIn('priya.nair@northwind-it.example');
    const created = await priya.call<{ token: { id: string; name: string }; secret: string }>('POST', '/api/me/tokens', { name: 'laptop script' });
    expect(created.status).toBe(200);
    expect(created.body.secret).toMatch(/^dh_/);
    const list = await priya.call<{ tokens: { id: string; name: string }[] }>('GET', '/api/me/tokens');
    expect(list.body.tokens.map((t) => t.id)).toContain(created.body.token.id);
    expect(JSON.stringify(list.body)).not.toContain(created.body.secret);
    const script = new WebSession(sb.service.url, created.body.secret);
    expect((await script.call<{ user: { email: string } }>('GET', '/api/me')).body.user.email).toBe('priya.nair@northwind-it.example');
    // Only one's own: another user's token id answers 404, of this MSP or another.
    const ava = await signedIn('ava.chen@northwind-it.example');
    expect((await ava.call('DELETE', `/api/me/tokens/${created.body.token.id}`)).status).toBe(404);
    const kim = await signedIn('kim.lee@tailspin-ms.example');
    expect((await kim.call('DELETE', `/api/me/tokens/${created.body.token.id}`)).status).toBe(404);
    expect((await ava.call<{ tokens: unknown[] }>('GET', '/api/me/tokens')).body.tokens.map((t) => (t as { id: string }).id)).not.toContain(created.body.token.id);
    const revoked = await priya.call<{ id: string }>('DELETE', `/api/me/tokens/${created.body.token.id}`);
    expect(revoked.status).toBe(200);
    expect((await script.call('GET', '/api/me')).status).toBe(401);
    expect((await priya.call<{ tokens: { id: string }[] }>('GET', '/api/me/tokens')).body.tokens.map((t) => t.id)).not.toContain(created.body.token.id);
    expect((await priya.call('DELETE', `/api/me/tokens/${created.body.token.id}`)).status).toBe(404);
  });
});

describe('tenants', () => {
  it("another MSP's user ids answer 404 like ids that do not exist", async () => {
    const kim = await signedIn('kim.lee@tailspin-ms.example');
    const tom = await idOf('tom.rivera@northwind-it.example');
    expect((await kim.call('PATCH', `/api/users/${tom}`, { status: 'deactivated' })).status).toBe(404);
    expect((await kim.call('PATCH', `/api/users/${crypto.randomUUID()}`, { status: 'deactivated' })).status).toBe(404);
    expect(await new WebSession(sb.service.url).signIn('tom.rivera@northwind-it.example', DEMO_PASSWORD)).toBe(200);
  });
});
