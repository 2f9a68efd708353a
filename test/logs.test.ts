import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { FINAL } from '../src/demo/stories.ts';
import { createLogger } from '../src/logger.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * Secrets in URLs never reach a log line, at any level, on any path: the ConnectWise webhook URL
 * carries its secret and a manager link carries a token. The service runs with the production
 * logger at `trace` level, writing into memory; requests to those routes are driven valid, invalid
 * and failing (the database refuses a write), and no captured line holds a secret.
 */
let sb: Sandbox;
let webhookSecret = '';
let webhookUrl = '';
const lines: string[] = [];

const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: createLogger({ level: 'trace', destination: capture }) });
  const row = await sb.service.ctx.db.selectFrom('integrations').selectAll().where('kind', '=', 'connectwise').where('msp_id', '=', 'northwind').executeTakeFirstOrThrow();
  webhookSecret = sb.service.ctx.integrations.secretsOf(row)['webhookSecret']!;
  expect(webhookSecret.length).toBeGreaterThan(16);
  webhookUrl = `${sb.service.url}/webhooks/connectwise/${row.id}/${webhookSecret}`;
  // Failures on demand: the database refuses these writes, so the routes meet an error they do not expect
  // (SQLSTATE P0001: not one of the data classes that intake records as a refused ticket).
  await sql`CREATE FUNCTION logs_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN RAISE EXCEPTION 'refused by the logs test'; END; $fn$`.execute(sb.service.ctx.db);
  await sql`CREATE TRIGGER logs_test_refuse_request BEFORE INSERT ON requests FOR EACH ROW WHEN (NEW.subject = 'LOGS-TEST-BREAK') EXECUTE FUNCTION logs_test_refuse()`.execute(sb.service.ctx.db);
  await sql`CREATE TRIGGER logs_test_refuse_decision BEFORE UPDATE ON approvals FOR EACH ROW WHEN (NEW.comment = 'LOGS-TEST-BREAK') EXECUTE FUNCTION logs_test_refuse()`.execute(sb.service.ctx.db);
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

function unhandled(): Record<string, unknown>[] {
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry['msg'] === 'unhandled API error');
}

describe('secrets in URLs', () => {
  it('never logs the ConnectWise webhook secret: valid, invalid and failing callbacks', async () => {
    const ticket = await sb.openTicket('contoso', 'alex.wilber@contoso.example', 'Can I have Zendesk, please?');
    await sb.waitForRequest((await sb.requestForTicket(ticket)).id, ['awaiting_approval', ...FINAL]);
    expect((await sb.emulators.connectwise.forgeCallback({ url: webhookUrl, signature: 'invalid', action: 'added' })).status).toBe(401);
    expect((await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"Action": ' })).status).toBe(400);
    expect((await fetch(`${webhookUrl}x`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
    expect((await fetch(`${webhookUrl}%00`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(400);
    const before = unhandled().length;
    const broken = await sb.openTicket('contoso', 'alex.wilber@contoso.example', 'This ticket cannot be stored', 'LOGS-TEST-BREAK');
    const failed = await sb.emulators.connectwise.forgeCallback({ url: webhookUrl, signature: 'valid', ticketId: broken, action: 'added', companyId: 'northwind', memberId: 'portal' });
    expect(failed.status).toBe(500);
    expect(unhandled().length).toBeGreaterThan(before);
    const text = lines.join('\n');
    expect(text).not.toContain(webhookSecret);
    expect(text).not.toContain(encodeURIComponent(webhookSecret));
  });

  it('never logs a manager link token: opened, decided, forged and failing', async () => {
    const ticket = await sb.openTicket('contoso', 'debra.berger@contoso.example', 'I forgot my password and cannot sign in.');
    const request = await sb.waitForRequest((await sb.requestForTicket(ticket)).id, ['awaiting_approval', ...FINAL]);
    expect(request.state).toBe('awaiting_approval');
    await sb.waitForDelivered(request.id);
    const manager = await sb.service.ctx.db.selectFrom('approvals').select('id').where('request_id', '=', request.id).where('kind', '=', 'manager').executeTakeFirstOrThrow();
    const link = sb.emulators.graph
      .mail()
      .flatMap((m) => m.content.match(/https?:\/\/\S+\/approvals\/manager\/\S+/g) ?? [])
      .find((l) => l.includes(manager.id))!;
    const path = new URL(link).pathname;
    const token = path.split('/').pop()!;
    const [, secret, signature] = token.split('.');
    expect(secret!.length).toBeGreaterThan(16);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expect((await fetch(`${sb.service.url}${path}`)).status).toBe(200);
    expect((await fetch(`${sb.service.url}${path}x`)).status).toBe(404);
    expect((await fetch(`${sb.service.url}${path}`, { method: 'POST', headers: form, body: 'decision=perhaps' })).status).toBe(400);
    const before = unhandled().length;
    const failed = await fetch(`${sb.service.url}${path}`, { method: 'POST', headers: form, body: 'decision=approve&comment=LOGS-TEST-BREAK' });
    expect(failed.status).toBe(500);
    expect(unhandled().length).toBeGreaterThan(before);
    expect((await fetch(`${sb.service.url}${path}`, { method: 'POST', headers: form, body: 'decision=deny' })).status).toBe(200);
    await sb.waitForRequest(request.id, FINAL);
    const text = lines.join('\n');
    for (const part of [token, secret!, signature!]) expect(text).not.toContain(part);
  });

  it('logs what a failure needs: the route, the method and the parameters that are not secret', () => {
    const routes = unhandled().map((entry) => entry['request']);
    expect(routes).toContainEqual({ method: 'POST', route: '/webhooks/connectwise/:integrationId/:secret', params: { integrationId: expect.stringMatching(/^[0-9a-f-]{36}$/), secret: '[redacted]' } });
    expect(routes).toContainEqual({ method: 'POST', route: '/approvals/manager/:link', params: { link: '[redacted]' } });
    expect(unhandled().every((entry) => JSON.stringify(entry).includes('refused by the logs test'))).toBe(true);
  });
});

describe('the logger', () => {
  it('redacts URLs, links, cookies, credentials and secrets wherever a caller puts them (a second line of defence)', async () => {
    const out: string[] = [];
    const logger = createLogger({
      level: 'trace',
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          out.push(chunk.toString('utf8'));
          done();
        },
      }),
    });
    const secret = 'S3CRET-value-that-must-not-show';
    logger.debug({ url: `http://127.0.0.1/webhooks/connectwise/x/${secret}` }, 'a url');
    logger.info({ req: { method: 'POST', url: `/approvals/manager/${secret}`, headers: { cookie: `deskhand_session=${secret}`, authorization: `Bearer ${secret}` } } }, 'a request');
    logger.warn({ request: { url: `/x/${secret}` }, link: `http://x/approvals/manager/${secret}` }, 'a request and a link');
    logger.error({ integration: { webhookSecret: secret, clientSecret: secret, privateKey: secret, password: secret, token: secret } }, 'credentials');
    logger.trace({ webhookSecret: secret, apiToken: secret, temporaryPassword: secret, cookie: secret }, 'more credentials');
    logger.flush();
    await new Promise((resolve) => setImmediate(resolve));
    const text = out.join('');
    expect(text.match(/\n/g)?.length).toBe(5);
    expect(text).not.toContain(secret);
  });
});
