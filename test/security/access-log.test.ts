import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/demo/sandbox.ts';
import { FINAL } from '../../src/demo/stories.ts';
import { createLogger } from '../../src/logger.ts';
import { issueApiToken } from '../../src/store/users.ts';
import { DEMO_PASSWORD } from '../../src/world/seed.ts';
import { createTestDatabase } from '../support/db.ts';

/**
 * The access log (issue 7, part 8): one line per HTTP request, at info level through the service's
 * logger, with the method, the route pattern, the status, the time taken, who called (user id, and
 * the token's id for an API token) and a request id that the answer echoes in `x-request-id`; never
 * the raw URL, its query string, the body, a token or a secret in a path.
 */
let sb: Sandbox;
const lines: string[] = [];
const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});

const AVA = 'ava.chen@northwind-it.example';
const MARKER = 'access-log-body-marker-7c1f';
const QUERY_MARKER = 'access-log-query-marker-93ad';

interface AccessLine {
  level: number;
  msg: string;
  requestId: string;
  method: string;
  route: string;
  status: number;
  durationMs: number;
  userId?: string;
  tokenId?: string;
}

function accessLines(): AccessLine[] {
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry['msg'] === 'request') as unknown as AccessLine[];
}

/** The access line of the answer with this request id (exactly one). */
async function lineOf(response: Response): Promise<AccessLine> {
  await response.arrayBuffer();
  const id = response.headers.get('x-request-id');
  expect(id, 'x-request-id').toMatch(/^[\w-]{8,}$/);
  // The line is written when the answer has gone out: give the logger a moment.
  for (let i = 0; i < 100; i++) {
    const found = accessLines().filter((line) => line.requestId === id);
    if (found.length > 0) {
      expect(found).toHaveLength(1);
      return found[0]!;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no access line for request ${id}`);
}

let webhookUrl = '';
let webhookSecret = '';

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: createLogger({ level: 'info', destination: capture }) });
  const row = await sb.service.ctx.db.selectFrom('integrations').selectAll().where('kind', '=', 'connectwise').where('msp_id', '=', 'northwind').executeTakeFirstOrThrow();
  webhookSecret = sb.service.ctx.integrations.secretsOf(row)['webhookSecret']!;
  webhookUrl = `${sb.service.url}/webhooks/connectwise/${row.id}/${webhookSecret}`;
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

describe('the access log', () => {
  it('writes one info line per request with method, route pattern, status, duration and a request id echoed in x-request-id', async () => {
    const health = await lineOf(await fetch(`${sb.service.url}/healthz?probe=${QUERY_MARKER}`));
    expect(health).toMatchObject({ level: 30, method: 'GET', route: '/healthz', status: 200 });
    expect(health.durationMs).toBeGreaterThanOrEqual(0);
    expect(health.durationMs).toBeLessThan(60_000);
    expect(health.userId).toBeUndefined();

    const missing = await lineOf(await fetch(`${sb.service.url}/no/such/${QUERY_MARKER}?q=${QUERY_MARKER}`));
    expect(missing).toMatchObject({ method: 'GET', route: '(no route)', status: 404 });
    // URLs Fastify cannot route are answered before any hook runs: they are logged all the same.
    const malformed = await lineOf(await fetch(`${sb.service.url}/approvals/manager/${QUERY_MARKER}%zz?q=${QUERY_MARKER}`));
    expect(malformed).toMatchObject({ method: 'GET', route: '(no route)', status: 400 });
    expect(malformed.durationMs).toBeGreaterThanOrEqual(0);
    const tooLong = await lineOf(await fetch(`${sb.service.url}/approvals/manager/${QUERY_MARKER}${'x'.repeat(300)}`));
    expect(tooLong).toMatchObject({ method: 'GET', route: '(no route)' });
    expect(tooLong.status).toBeGreaterThanOrEqual(400);

    const first = await fetch(`${sb.service.url}/healthz`);
    const second = await fetch(`${sb.service.url}/healthz`);
    expect(first.headers.get('x-request-id')).not.toBe(second.headers.get('x-request-id'));
    await lineOf(first);
    await lineOf(second);
    // A request id sent by the caller is not taken: the service's own id is in the log and the answer.
    const sent = await fetch(`${sb.service.url}/healthz`, { headers: { 'x-request-id': `forged ${QUERY_MARKER}` } });
    expect(sent.headers.get('x-request-id')).not.toContain(QUERY_MARKER);
    await lineOf(sent);
  });

  it('names the caller by ids: a session by its user, an API token by its user and token id, never the token', async () => {
    const ava = await sb.service.ctx.db.selectFrom('users').select('id').where('email', '=', AVA).executeTakeFirstOrThrow();
    const { token, id: tokenId } = await issueApiToken(sb.service.ctx.db, { email: AVA, name: 'access log', at: new Date() });
    const byToken = await lineOf(await fetch(`${sb.service.url}/api/requests?client=${QUERY_MARKER}`, { headers: { authorization: `Bearer ${token}` } }));
    expect(byToken).toMatchObject({ method: 'GET', route: '/api/requests', status: 200, userId: ava.id, tokenId });

    const signIn = await fetch(`${sb.service.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: AVA, password: DEMO_PASSWORD }) });
    const cookie = signIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const signInLine = await lineOf(signIn);
    expect(signInLine).toMatchObject({ method: 'POST', route: '/api/session', status: 200 });
    const bySession = await lineOf(await fetch(`${sb.service.url}/api/me`, { headers: { cookie } }));
    expect(bySession).toMatchObject({ method: 'GET', route: '/api/me', status: 200, userId: ava.id });
    expect(bySession.tokenId).toBeUndefined();

    const refused = await lineOf(await fetch(`${sb.service.url}/api/me`, { headers: { authorization: `Bearer ${token}x` } }));
    expect(refused).toMatchObject({ route: '/api/me', status: 401 });
    expect(refused.userId).toBeUndefined();

    const bodied = await lineOf(
      await fetch(`${sb.service.url}/api/msp`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ defaultOperatingMode: MARKER }) }),
    );
    expect(bodied).toMatchObject({ method: 'PATCH', route: '/api/msp', status: 400, userId: ava.id, tokenId });

    const text = lines.join('\n');
    for (const secret of [token, token.slice(3), DEMO_PASSWORD, cookie.split('=')[1]!.split(';')[0]!, MARKER, QUERY_MARKER]) expect(text).not.toContain(secret);
  });

  it('logs the ConnectWise webhook and a manager link by their route patterns, never the secret or link token in their paths', async () => {
    const ticket = await sb.openTicket('contoso', 'isaiah.langer@contoso.example', 'I forgot my password and cannot sign in.');
    const request = await sb.waitForRequest((await sb.requestForTicket(ticket)).id, ['awaiting_approval', ...FINAL]);
    expect(request.state).toBe('awaiting_approval');
    await sb.waitForDelivered(request.id);
    const webhookLines = accessLines().filter((line) => line.route === '/webhooks/connectwise/:integrationId/:secret');
    expect(webhookLines.length).toBeGreaterThan(0);
    expect(webhookLines.some((line) => line.method === 'POST' && line.status < 300)).toBe(true);
    const forged = await lineOf(await fetch(`${webhookUrl}?x=${QUERY_MARKER}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"Action":"${MARKER}"}` }));
    expect(forged).toMatchObject({ method: 'POST', route: '/webhooks/connectwise/:integrationId/:secret' });
    expect(forged.status).toBeGreaterThanOrEqual(400);

    const manager = await sb.service.ctx.db.selectFrom('approvals').select('id').where('request_id', '=', request.id).where('kind', '=', 'manager').executeTakeFirstOrThrow();
    const link = sb.emulators.graph
      .mail()
      .flatMap((m) => m.content.match(/https?:\/\/\S+\/approvals\/manager\/\S+/g) ?? [])
      .find((l) => l.includes(manager.id))!;
    const path = new URL(link).pathname;
    const linkToken = path.split('/').pop()!;
    const opened = await lineOf(await fetch(`${sb.service.url}${path}?utm=${QUERY_MARKER}`));
    expect(opened).toMatchObject({ method: 'GET', route: '/approvals/manager/:link', status: 200 });
    const decided = await lineOf(await fetch(`${sb.service.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `decision=deny&comment=${MARKER}` }));
    expect(decided).toMatchObject({ method: 'POST', route: '/approvals/manager/:link', status: 200 });

    const text = lines.join('\n');
    for (const secret of [webhookSecret, encodeURIComponent(webhookSecret), linkToken, ...linkToken.split('.').slice(1), MARKER, QUERY_MARKER]) expect(text).not.toContain(secret);
    // Every access line holds exactly the fields it should, nothing that could carry a URL or body.
    for (const line of accessLines()) {
      expect(Object.keys(line).sort()).toEqual(expect.arrayContaining(['durationMs', 'level', 'method', 'msg', 'requestId', 'route', 'status']));
      for (const key of Object.keys(line)) expect(['durationMs', 'level', 'method', 'msg', 'requestId', 'route', 'status', 'userId', 'tokenId', 'time', 'pid', 'hostname', 'name']).toContain(key);
      expect(line.route === '(no route)' || line.route.startsWith('/')).toBe(true);
      expect(line.route).not.toContain('?');
    }
  });
});
