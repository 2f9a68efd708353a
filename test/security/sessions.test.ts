import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/server.ts';
import { startSandbox, type Sandbox } from '../../src/demo/sandbox.ts';
import { FINAL } from '../../src/demo/stories.ts';
import { silentLogger } from '../../src/logger.ts';
import { DEMO_PASSWORD } from '../../src/world/seed.ts';
import { createTestDatabase } from '../support/db.ts';

/**
 * Sessions and the web (issue 7, part 5), as a browser meets them over real HTTP: the cookies'
 * attributes, CSRF protection of every cookie-authenticated change (and none for API tokens), the
 * security headers of every page and API answer (the two HTML pages' CSP checked against their own
 * markup), and manager links that work once and for one approval only.
 */
let sb: Sandbox;
const AVA = 'ava.chen@northwind-it.example';
const TOM = 'tom.rivera@northwind-it.example';

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

interface Session {
  /** The Cookie header a browser would send: the session and CSRF cookies. */
  cookie: string;
  csrfToken: string;
  setCookies: string[];
}

async function signIn(email: string, base = sb.service.url): Promise<Session> {
  const response = await fetch(`${base}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: DEMO_PASSWORD }) });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { csrfToken?: unknown };
  const setCookies = response.headers.getSetCookie();
  return { cookie: setCookies.map((c) => c.split(';')[0]!).join('; '), csrfToken: String(body.csrfToken), setCookies };
}

async function mspMode(): Promise<'plan' | 'execute'> {
  const row = await sb.service.ctx.db.selectFrom('msps').select('default_operating_mode').where('id', '=', 'northwind').executeTakeFirstOrThrow();
  return row.default_operating_mode;
}

async function patchMsp(headers: Record<string, string>, mode: 'plan' | 'execute'): Promise<Response> {
  return fetch(`${sb.service.url}/api/msp`, { method: 'PATCH', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ defaultOperatingMode: mode }) });
}

describe('session cookies', () => {
  it('are HttpOnly, SameSite and scoped to the site, without Secure on plain http', async () => {
    const { setCookies } = await signIn(AVA);
    const session = setCookies.find((c) => c.startsWith('deskhand_session='));
    expect(session).toBeDefined();
    expect(session).toMatch(/; HttpOnly/i);
    expect(session).toMatch(/; SameSite=(Lax|Strict)/i);
    expect(session).toMatch(/; Path=\//i);
    expect(session).not.toMatch(/; Secure/i);
    for (const cookie of setCookies) expect(cookie, cookie).toMatch(/; HttpOnly/i);
  });

  it('are Secure when DESKHAND_PUBLIC_URL is https', async () => {
    const app = await buildApi({ ctx: { ...sb.service.ctx, publicUrl: 'https://desk.northwind-it.example' }, onWork: () => {}, home: () => ({ publicUrl: 'https://desk.northwind-it.example', database: 'test', emulators: [], demoPassword: null, demoUsers: [] }) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { setCookies } = await signIn(AVA, `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`);
      expect(setCookies.length).toBeGreaterThan(0);
      for (const cookie of setCookies) {
        expect(cookie, cookie).toMatch(/; Secure/i);
        expect(cookie, cookie).toMatch(/; HttpOnly/i);
      }
    } finally {
      await app.close();
    }
  });
});

describe('CSRF protection of cookie-authenticated changes', () => {
  it('returns a token with the sign-in and from GET /api/session/csrf', async () => {
    const ava = await signIn(AVA);
    expect(ava.csrfToken).toMatch(/^[\w-]{20,}$/);
    const again = await fetch(`${sb.service.url}/api/session/csrf`, { headers: { cookie: ava.cookie } });
    expect(again.status).toBe(200);
    const body = (await again.json()) as { csrfToken: string };
    expect(body.csrfToken).toMatch(/^[\w-]{20,}$/);
    expect(again.headers.get('cache-control')).toContain('no-store');
    expect((await fetch(`${sb.service.url}/api/session/csrf`)).status).toBe(401);
  });

  it('refuses a cookie-authenticated change without the token, or with a wrong one, and changes nothing', async () => {
    const ava = await signIn(AVA);
    const before = await mspMode();
    const other = before === 'plan' ? 'execute' : 'plan';
    const missing = await patchMsp({ cookie: ava.cookie }, other);
    expect(missing.status).toBe(403);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(/x-csrf-token/);
    expect((await patchMsp({ cookie: ava.cookie, 'x-csrf-token': `${ava.csrfToken}x` }, other)).status).toBe(403);
    expect((await patchMsp({ cookie: ava.cookie, 'x-csrf-token': 'not-a-token' }, other)).status).toBe(403);
    // A form field or another header name is not the contract: only x-csrf-token.
    expect((await patchMsp({ cookie: ava.cookie, 'csrf-token': ava.csrfToken }, other)).status).toBe(403);
    expect(await mspMode()).toBe(before);
  });

  it('binds a token to its session: another session\'s token (even the same user\'s) is refused', async () => {
    const first = await signIn(AVA);
    const second = await signIn(AVA);
    const before = await mspMode();
    const other = before === 'plan' ? 'execute' : 'plan';
    // The second session's cookies with the first one's token, and the first session cookie with the second's CSRF cookie and token.
    expect((await patchMsp({ cookie: second.cookie, 'x-csrf-token': first.csrfToken }, other)).status).toBe(403);
    const mixed = `${first.cookie.split('; ').find((c) => c.startsWith('deskhand_session='))}; ${second.cookie.split('; ').find((c) => !c.startsWith('deskhand_session='))}`;
    expect((await patchMsp({ cookie: mixed, 'x-csrf-token': second.csrfToken }, other)).status).toBe(403);
    expect(await mspMode()).toBe(before);
  });

  it('accepts a cookie-authenticated change with the token of its session', async () => {
    const ava = await signIn(AVA);
    const before = await mspMode();
    const other = before === 'plan' ? 'execute' : 'plan';
    const ok = await patchMsp({ cookie: ava.cookie, 'x-csrf-token': ava.csrfToken }, other);
    expect(ok.status).toBe(200);
    expect(await mspMode()).toBe(other);
    const fresh = (await (await fetch(`${sb.service.url}/api/session/csrf`, { headers: { cookie: ava.cookie } })).json()) as { csrfToken: string };
    expect((await patchMsp({ cookie: ava.cookie, 'x-csrf-token': fresh.csrfToken }, before)).status).toBe(200);
    expect(await mspMode()).toBe(before);
  });

  it('needs no token for a request with an API token, even with a cookie beside it', async () => {
    const token = await sb.tokenFor(AVA);
    const ava = await signIn(AVA);
    const before = await mspMode();
    const other = before === 'plan' ? 'execute' : 'plan';
    expect((await patchMsp({ authorization: `Bearer ${token}` }, other)).status).toBe(200);
    expect((await patchMsp({ authorization: `Bearer ${token}`, cookie: ava.cookie }, before)).status).toBe(200);
    expect(await mspMode()).toBe(before);
  });

  it('protects every kind of change: PUT, POST and DELETE (sign-out) too', async () => {
    const ava = await signIn(AVA);
    const integration = await sb.service.ctx.db.selectFrom('integrations').innerJoin('clients', 'clients.id', 'integrations.client_id').select('integrations.id').where('clients.slug', '=', 'contoso').where('integrations.kind', '=', 'm365').executeTakeFirstOrThrow();
    const policy = async () =>
      (await sb.service.ctx.db.selectFrom('tool_policies').select('policy').where('integration_id', '=', integration.id).where('tool', '=', 'm365.revoke_sessions').executeTakeFirst())?.policy ?? null;
    const policyBefore = await policy();
    const put = await fetch(`${sb.service.url}/api/integrations/${integration.id}/policies/m365.revoke_sessions`, {
      method: 'PUT',
      headers: { cookie: ava.cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ policy: policyBefore === 'disabled' ? 'auto' : 'disabled' }),
    });
    expect(put.status).toBe(403);
    expect(await policy()).toBe(policyBefore);

    const approval = await sb.service.ctx.db.selectFrom('approvals').select('id').executeTakeFirst();
    const post = await fetch(`${sb.service.url}/api/approvals/${approval?.id ?? '00000000-0000-0000-0000-000000000000'}/decision`, {
      method: 'POST',
      headers: { cookie: ava.cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'approve' }),
    });
    expect(post.status).toBe(403);

    const out = await fetch(`${sb.service.url}/api/session`, { method: 'DELETE', headers: { cookie: ava.cookie } });
    expect(out.status).toBe(403);
    expect((await fetch(`${sb.service.url}/api/me`, { headers: { cookie: ava.cookie } })).status).toBe(200);
    const signedOut = await fetch(`${sb.service.url}/api/session`, { method: 'DELETE', headers: { cookie: ava.cookie, 'x-csrf-token': ava.csrfToken } });
    expect(signedOut.status).toBe(200);
    expect((await fetch(`${sb.service.url}/api/me`, { headers: { cookie: ava.cookie } })).status).toBe(401);
  });
});

/** The directives of a Content-Security-Policy header. */
function directives(csp: string | null): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of (csp ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) out.set(name.toLowerCase(), values);
  }
  return out;
}

/**
 * What a browser would refuse on this HTML page under this CSP, for the things these pages use:
 * inline style elements and attributes, scripts, event handlers, forms, frames, images.
 */
function cspViolations(html: string, csp: string): string[] {
  const d = directives(csp);
  const fallback = d.get('default-src') ?? ['*'];
  const styleSrc = d.get('style-src') ?? fallback;
  const scriptSrc = d.get('script-src') ?? fallback;
  const violations: string[] = [];
  for (const [, style] of html.matchAll(/<style[^>]*>([\s\S]*?)<\/style>/g)) {
    const hash = `'sha256-${createHash('sha256').update(style!, 'utf8').digest('base64')}'`;
    if (!styleSrc.includes("'unsafe-inline'") && !styleSrc.includes(hash)) violations.push(`inline <style> (${hash}) not allowed by style-src ${styleSrc.join(' ')}`);
  }
  if (/\sstyle\s*=/i.test(html) && !(styleSrc.includes("'unsafe-inline'") || styleSrc.includes("'unsafe-hashes'"))) violations.push('a style attribute');
  const ownOrigin = (url: string | undefined) => url !== undefined && url.startsWith('/') && !url.startsWith('//');
  for (const [tag, attributes, body] of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
    const src = attributes!.match(/\ssrc="([^"]*)"/)?.[1];
    // A script of this origin's own files is allowed by 'self'; anything inline only by 'unsafe-inline'.
    if (src !== undefined ? !(ownOrigin(src) && scriptSrc.includes("'self'")) || body!.trim() !== '' : !scriptSrc.includes("'unsafe-inline'")) {
      violations.push(`a <script> element (${tag!.slice(0, 80)})`);
    }
  }
  if (/\son[a-z]+\s*=/i.test(html)) violations.push('an inline event handler');
  for (const [tag, attributes] of html.matchAll(/<link\b([^>]*)>/gi)) {
    const rel = attributes!.match(/\srel="([^"]*)"/)?.[1] ?? '';
    const href = attributes!.match(/\shref="([^"]*)"/)?.[1];
    const allowedBy = rel === 'stylesheet' ? styleSrc : rel === 'icon' ? (d.get('img-src') ?? fallback) : [];
    if (!(ownOrigin(href) && allowedBy.includes("'self'"))) violations.push(`an element loading a resource (${tag!.slice(0, 80)})`);
  }
  if (/<(img|iframe|object|embed)\b/i.test(html)) violations.push('an element loading a resource');
  if (/<form\b/i.test(html)) {
    const formAction = d.get('form-action');
    if (!formAction || !formAction.includes("'self'")) violations.push(`a form posting to its own page, but form-action is ${formAction?.join(' ') ?? 'unset'}`);
  }
  return violations;
}

function expectSecurityHeaders(response: Response, what: string): void {
  const csp = directives(response.headers.get('content-security-policy'));
  expect(csp.get('frame-ancestors'), `${what}: frame-ancestors`).toEqual(["'none'"]);
  expect(csp.get('default-src'), `${what}: default-src`).toEqual(["'none'"]);
  expect(csp.get('base-uri'), `${what}: base-uri`).toEqual(["'none'"]);
  expect(response.headers.get('x-content-type-options'), `${what}: nosniff`).toBe('nosniff');
  expect(response.headers.get('referrer-policy'), `${what}: referrer-policy`).toBe('no-referrer');
  expect(response.headers.get('x-frame-options'), `${what}: x-frame-options`).toBe('DENY');
  // HSTS only means something over https; on plain http it is left out.
  expect(response.headers.get('strict-transport-security'), `${what}: hsts`).toBeNull();
}

async function pendingManagerLinks(count: number): Promise<{ approvalId: string; path: string; requestId: string }[]> {
  const employees = ['isaiah.langer@contoso.example', 'debra.berger@contoso.example', 'lynne.robbins@contoso.example'].slice(0, count);
  const links: { approvalId: string; path: string; requestId: string }[] = [];
  for (const email of employees) {
    const ticket = await sb.openTicket('contoso', email, 'I forgot my password and cannot sign in.');
    const request = await sb.waitForRequest((await sb.requestForTicket(ticket)).id, ['awaiting_approval', ...FINAL]);
    expect(request.state, email).toBe('awaiting_approval');
    await sb.waitForDelivered(request.id);
    const manager = await sb.service.ctx.db.selectFrom('approvals').select('id').where('request_id', '=', request.id).where('kind', '=', 'manager').executeTakeFirstOrThrow();
    const link = sb.emulators.graph
      .mail()
      .flatMap((m) => m.content.match(/https?:\/\/\S+\/approvals\/manager\/\S+/g) ?? [])
      .find((l) => l.includes(manager.id));
    expect(link, `a manager mail for ${email}`).toBeDefined();
    links.push({ approvalId: manager.id, path: new URL(link!).pathname, requestId: request.id });
  }
  return links;
}

describe('security headers', () => {
  it('are on every page and API answer: success, refusal, validation error, unknown route, webhook', async () => {
    const token = await sb.tokenFor(AVA);
    const tom = await signIn(TOM);
    const answers: [string, Response][] = [
      ['GET /', await fetch(`${sb.service.url}/`)],
      ['GET /healthz', await fetch(`${sb.service.url}/healthz`)],
      ['GET /api/openapi.json', await fetch(`${sb.service.url}/api/openapi.json`)],
      ['GET /api/me signed out', await fetch(`${sb.service.url}/api/me`)],
      ['GET /api/me, bad token', await fetch(`${sb.service.url}/api/me`, { headers: { authorization: 'Bearer dh_nope' } })],
      ['GET /api/me by cookie', await fetch(`${sb.service.url}/api/me`, { headers: { cookie: tom.cookie } })],
      ['GET /api/requests by token', await fetch(`${sb.service.url}/api/requests`, { headers: { authorization: `Bearer ${token}` } })],
      ['PATCH /api/msp invalid', await fetch(`${sb.service.url}/api/msp`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"defaultOperatingMode":"sometimes"}' })],
      ['PATCH /api/msp without CSRF', await patchMsp({ cookie: tom.cookie }, 'plan')],
      ['GET unknown', await fetch(`${sb.service.url}/nowhere`)],
      ['POST /api/session wrong', await fetch(`${sb.service.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'nobody@example.com', password: 'wrong-password' }) })],
      ['GET manager link forged', await fetch(`${sb.service.url}/approvals/manager/00000000-0000-0000-0000-000000000000.x.y`)],
      ['POST webhook forged', await fetch(`${sb.service.url}/webhooks/connectwise/00000000-0000-0000-0000-000000000000/nope`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })],
    ];
    expect(answers.map(([what, r]) => `${what} ${r.status}`)).toContain('PATCH /api/msp invalid 400');
    for (const [what, response] of answers) expectSecurityHeaders(response, what);
  });

  it('are on answers Fastify gives before any hook runs (a URL it cannot route), the same as on every other answer', async () => {
    const reference = await fetch(`${sb.service.url}/nowhere`);
    const unroutable: [string, Response][] = [
      ['malformed percent-encoding', await fetch(`${sb.service.url}/api/requests/%zz`)],
      ['a path parameter too long', await fetch(`${sb.service.url}/webhooks/connectwise/${'x'.repeat(301)}/secret`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })],
    ];
    const securityHeaderNames = [...reference.headers.keys()].filter((name) => !['content-type', 'content-length', 'date', 'connection', 'keep-alive', 'x-request-id'].includes(name));
    expect(securityHeaderNames.length).toBeGreaterThan(5);
    for (const [what, response] of unroutable) {
      expect(response.status, what).toBeGreaterThanOrEqual(400);
      expect(response.status, what).toBeLessThan(500);
      expectSecurityHeaders(response, what);
      for (const name of securityHeaderNames) expect(response.headers.get(name), `${what}: ${name}`).toBe(reference.headers.get(name));
      expect(response.headers.get('x-request-id'), what).toMatch(/^[\w-]{8,}$/);
    }
  });

  it("let the dashboard and a manager link page render under their CSP (the dashboard's own files by 'self', the manager page's inline style by hash, nothing else)", async () => {
    const home = await fetch(`${sb.service.url}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toContain('text/html');
    const homeHtml = await home.text();
    expect(homeHtml).toMatch(/<script type="module"[^>]* src="\/assets\/[^"]+\.js"><\/script>/);
    expect(homeHtml).not.toContain('<style');
    expectSecurityHeaders(home, 'dashboard');
    expect(cspViolations(homeHtml, home.headers.get('content-security-policy')!)).toEqual([]);
    // The check can fail: an inline script, or a script of another origin, is refused under the same CSP.
    expect(cspViolations('<script>alert(1)</script>', home.headers.get('content-security-policy')!)).not.toEqual([]);
    expect(cspViolations('<script type="module" src="https://cdn.example/x.js"></script>', home.headers.get('content-security-policy')!)).not.toEqual([]);

    const [link] = await pendingManagerLinks(1);
    const page = await fetch(`${sb.service.url}${link!.path}`);
    expect(page.status).toBe(200);
    const pageHtml = await page.text();
    expect(pageHtml).toContain('<form method="post">');
    expectSecurityHeaders(page, 'manager page');
    expect(page.headers.get('cache-control')).toContain('no-store');
    expect(cspViolations(pageHtml, page.headers.get('content-security-policy')!)).toEqual([]);
    // The check can fail: the same markup under a CSP without the style's hash is refused.
    expect(cspViolations(pageHtml, "default-src 'none'; style-src 'self'")).not.toEqual([]);
    expect(cspViolations('<form method="post"></form>', "default-src 'none'")).not.toEqual([]);
  });
});

describe('manager links', () => {
  it('decide only their own approval, and only once', async () => {
    const [x, y] = await pendingManagerLinks(2);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const status = async (id: string) => (await sb.service.ctx.db.selectFrom('approvals').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
    const [, , xToken] = x!.path.split('/').slice(1);
    const [, xSecret] = xToken!.split('.');

    // X's secret and signature with Y's id: the signature does not cover Y.
    const swapped = `/approvals/manager/${y!.approvalId}.${xToken!.split('.').slice(1).join('.')}`;
    expect((await fetch(`${sb.service.url}${swapped}`)).status).toBe(404);
    expect((await fetch(`${sb.service.url}${swapped}`, { method: 'POST', headers: form, body: 'decision=approve' })).status).toBe(404);
    // Even signed with the service's own key, X's secret is not Y's: the stored hash binds the secret to its approval.
    const resigned = `${y!.approvalId}.${xSecret}`;
    const forged = `/approvals/manager/${resigned}.${sb.service.ctx.secrets.sign(resigned)}`;
    expect((await fetch(`${sb.service.url}${forged}`)).status).toBe(404);
    expect((await fetch(`${sb.service.url}${forged}`, { method: 'POST', headers: form, body: 'decision=approve' })).status).toBe(404);
    expect(await status(y!.approvalId)).toBe('pending');

    // X's link decides X, once.
    expect((await fetch(`${sb.service.url}${x!.path}`, { method: 'POST', headers: form, body: 'decision=approve' })).status).toBe(200);
    expect(await status(x!.approvalId)).toBe('approved');
    const replay = await fetch(`${sb.service.url}${x!.path}`, { method: 'POST', headers: form, body: 'decision=deny' });
    expect(replay.status).toBe(409);
    expect(await replay.text()).toMatch(/already/i);
    expect(await status(x!.approvalId)).toBe('approved');
    const reopened = await fetch(`${sb.service.url}${x!.path}`);
    expect(reopened.status).toBe(409);
    expect(await reopened.text()).not.toContain('<form');
    expect(await status(y!.approvalId)).toBe('pending');
    const audit = await sb.service.ctx.db.selectFrom('audit_log').select(['event', 'data']).where('request_id', '=', x!.requestId).where('event', '=', 'approval.decision_refused').execute();
    expect(audit.length).toBeGreaterThan(0);
  });
});
