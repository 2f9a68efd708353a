import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { silentLogger } from '../src/logger.ts';
import { issueSetupToken } from '../src/store/one-time-links.ts';
import { createTestDatabase } from './support/db.ts';
import { tokenOf, WebSession } from './support/web-session.ts';

/**
 * The first run (issue 11): a deskhand started without the demo world (`seed: false`, as
 * `deskhand start --no-demo`) on an empty database, set up through its one-time setup link over
 * HTTP; and a demo start never seeding a database that has an MSP of its own.
 */
let sb: Sandbox;
let databaseUrl: string;

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  sb = await startSandbox({ databaseUrl, logger: silentLogger, seed: false, worker: false });
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

const mspCount = async () => Number((await sb.service.ctx.db.selectFrom('msps').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
const setupBody = (token: string) => ({
  token,
  mspName: 'Acme IT Services',
  defaultOperatingMode: 'plan',
  admin: { name: 'Dana Admin', email: 'Dana@Acme-IT.example', password: 'a long enough password' },
});

describe('first run', () => {
  it('says the MSP is still needed, offers no demo users, and prints a setup link with the token in its fragment', async () => {
    const status = await new WebSession(sb.service.url).call('GET', '/api/setup');
    expect(status).toEqual({ status: 200, body: { needed: true, demo: null } });
    expect(sb.setupLink).toMatch(new RegExp(`^${sb.service.ctx.publicUrl}/setup#token=[\\w-]{40,}$`));
    // Stored hashed only.
    const stored = await sb.service.ctx.db.selectFrom('setup_tokens').select('token_hash').execute();
    expect(stored).toHaveLength(1);
    expect(stored[0]!.token_hash).not.toBe(tokenOf(sb.setupLink!));
  });

  it('refuses a wrong token and a bad body, and changes nothing', async () => {
    const browser = new WebSession(sb.service.url);
    const wrong = await browser.call<{ error: { code: string; message: string } }>('POST', '/api/setup', setupBody('not-the-token-at-all-0123456789'));
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.message).toMatch(/setup link is not valid/);
    const short = await browser.call<{ error: { message: string } }>('POST', '/api/setup', { ...setupBody(tokenOf(sb.setupLink!)), admin: { ...setupBody('x').admin, password: 'short' } });
    expect(short.status).toBe(400);
    expect(short.body.error.message).toMatch(/admin\.password/);
    expect(await mspCount()).toBe(0);
    expect(browser.cookie).toBe('');
    // The right token is still good after those.
    expect((await sb.service.ctx.db.selectFrom('setup_tokens').select('used_at').executeTakeFirstOrThrow()).used_at).toBeNull();
  });

  it('refuses a token past its 24 hours; a new start issues a new one and the old stops working', async () => {
    const old = tokenOf(sb.setupLink!);
    sb.clock.advance(24 * 60 * 60 * 1000 + 1000);
    const expired = await new WebSession(sb.service.url).call('POST', '/api/setup', setupBody(old));
    expect(expired.status).toBe(403);
    expect(await mspCount()).toBe(0);
    // What a restart does (startService issues one while no MSP exists).
    const fresh = await issueSetupToken(sb.service.ctx.db, sb.clock.now());
    expect(fresh).not.toBeNull();
    sb.clock.advance(1000);
    freshToken = fresh!.token;
  });

  let freshToken = '';

  it('creates the MSP and its first admin with the right token and signs the admin in', async () => {
    const browser = new WebSession(sb.service.url);
    const done = await browser.call<{ user: Record<string, unknown>; csrfToken: string }>('POST', '/api/setup', setupBody(freshToken));
    expect(done.status).toBe(200);
    expect(done.body.user).toMatchObject({ email: 'dana@acme-it.example', name: 'Dana Admin', role: 'msp_admin', mspId: 'acme-it-services' });
    expect(done.body.csrfToken).toMatch(/^[\w-]{20,}$/);
    expect(browser.cookie).toMatch(/deskhand_session=/);
    const me = await browser.call<{ msp: { id: string; name: string } }>('GET', '/api/me');
    expect(me.status).toBe(200);
    expect(me.body.msp).toMatchObject({ id: 'acme-it-services', name: 'Acme IT Services' });
    // Signed in as POST /api/session signs in: a cookie-authenticated change goes through with its CSRF token.
    const invite = await browser.call('POST', '/api/users/invites', { email: 'tech@acme-it.example', name: 'Tech', role: 'msp_technician' });
    expect(invite.status).toBe(200);
    // The admin also signs in with the password afterwards.
    expect(await new WebSession(sb.service.url).signIn('dana@acme-it.example', 'a long enough password')).toBe(200);
    const audit = await sb.service.ctx.db.selectFrom('audit_log').select(['event', 'data']).where('msp_id', '=', 'acme-it-services').orderBy('seq').execute();
    expect(audit.map((row) => row.event).slice(0, 2)).toEqual(['msp.created', 'user.created']);
    expect(JSON.stringify(audit)).not.toContain('a long enough password');
    expect(JSON.stringify(audit)).not.toContain(freshToken);
  });

  it('cannot be used twice, and then says setup is no longer needed', async () => {
    const again = await new WebSession(sb.service.url).call<{ error: { code: string } }>('POST', '/api/setup', { ...setupBody(freshToken), mspName: 'Second MSP' });
    expect(again.status).toBe(409);
    expect(await mspCount()).toBe(1);
    expect((await new WebSession(sb.service.url).call('GET', '/api/setup')).body).toEqual({ needed: false, demo: null });
    // A new start issues no link any more.
    expect(await issueSetupToken(sb.service.ctx.db, sb.clock.now())).toBeNull();
  });

  it('a demo start on a database with an MSP of its own loads no demo world', async () => {
    const demo = await startSandbox({ databaseUrl, logger: silentLogger, worker: false, emulators: sb.emulators, secretKey: Buffer.alloc(32, 7) });
    try {
      expect(demo.setupLink).toBeNull();
      const msps = await demo.service.ctx.db.selectFrom('msps').select('id').execute();
      expect(msps.map((m) => m.id)).toEqual(['acme-it-services']);
      expect((await new WebSession(demo.service.url).call('GET', '/api/setup')).body).toEqual({ needed: false, demo: null });
    } finally {
      await demo.service.close();
    }
  });
});

describe('a demo start on an empty database', () => {
  it('loads the demo world and offers its users on the first-run answer', async () => {
    const demo = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger, worker: false, emulators: sb.emulators });
    try {
      expect(demo.setupLink).toBeNull();
      const status = await new WebSession(demo.service.url).call<{ needed: boolean; demo: { password: string; users: { email: string }[] } }>('GET', '/api/setup');
      expect(status.body.needed).toBe(false);
      expect(status.body.demo?.users.map((u) => u.email)).toContain('ava.chen@northwind-it.example');
    } finally {
      await demo.service.close();
    }
  });
});
