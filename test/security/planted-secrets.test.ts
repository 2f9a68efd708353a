import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/demo/sandbox.ts';
import { FINAL, playStories, STORIES, type StoryResult } from '../../src/demo/stories.ts';
import { emulatorApiCredentials } from '../../src/integrations/connectwise/emulator/data.ts';
import { emulatorAppCredentials } from '../../src/integrations/m365/emulator/credentials.ts';
import { createLogger } from '../../src/logger.ts';
import { keyringFromEnvironment } from '../../src/secrets.ts';
import { connectIntegrations } from '../../src/service.ts';
import type { RequestRow } from '../../src/store/schema.ts';
import { setPassword } from '../../src/store/users.ts';
import { captureLines, emulatorPlaces, type RecordedResponse, recordResponses, responsePlace, tablePlaces } from '../support/planted-capture.ts';
import { findPlanted, formsOf, occurrences, type Place, type PlantedSecret } from '../support/planted-search.ts';
import { createTestDatabase, databaseKind } from '../support/db.ts';

/**
 * Planted secrets (issue 7, part 3). Known values are planted as every secret deskhand holds or
 * hands out, then every story of the product page and the error paths run with the real logger at
 * debug level, and everything the service wrote or answered is searched for every secret in every
 * form (as is, JSON, URL, form, HTML, hex, base64 and base64url at every byte alignment).
 *
 * Planted: the keys as an operator sets them (DESKHAND_SECRET_KEY and an earlier key in
 * DESKHAND_PREVIOUS_SECRET_KEY; the link-signing key derived from the current one is searched too),
 * the ConnectWise webhook secret, a user's password, and wrong values for a user's password, an API
 * token, a manager link, the Microsoft 365 client secret and the ConnectWise private key (each used on
 * an error path). The emulators accept only the credentials they derive from the fixture, so those
 * are the working credentials planted in the integrations (ConnectWise private key and client id,
 * each client's Microsoft 365 client secret), and the test checks they are there by decrypting them.
 * The ConnectWise public key is configuration, not a secret (like a user name), and is not searched.
 * Captured where they are legitimately handed out: the session token (Set-Cookie of a sign-in),
 * the CSRF token and its cookie's secret when sign-in returns them, API tokens, the manager links (from the mail in the Graph
 * emulator), the temporary passwords (from the one answer that reveals each), and the embedded
 * database's generated password.
 *
 * Where a secret may legitimately be, it is not searched or it is allowed:
 * - the webhook secret in the URL ConnectWise calls: its callback registrations are not searched,
 *   nor its deliveries' URLs (their bodies are);
 * - the session token in the Set-Cookie of the sign-in that issued it; the CSRF cookie's secret in
 *   a Set-Cookie; the CSRF token in the sign-in's answer and in GET /api/session/csrf;
 * - a manager link in the one mail that carries it to the manager;
 * - a temporary password exactly once: in the answer that reveals it to its technician.
 * No table column is exempt: encrypted columns (integrations.secrets_encrypted,
 * step_executions.secret_encrypted, an outbox mail's textBox) and hashes (users.password_hash,
 * sessions.id_hash, api_tokens.token_hash, approvals.link_token_hash) are searched like every other,
 * since a ciphertext or a hash cannot hold a planted value in any form checked here: a match there
 * would mean a column holds the plain value after all.
 *
 * The test does not depend on the database: it runs in the embedded pass of CI only (set
 * DESKHAND_TEST_EVERY_DATABASE=1 to run it on a server named by DATABASE_URL).
 */
const runsHere = databaseKind() === 'embedded' || process.env['DESKHAND_TEST_EVERY_DATABASE'] === '1';

const ADMIN = 'ava.chen@northwind-it.example';
const TECHNICIAN = 'tom.rivera@northwind-it.example';
const SECOND_TECHNICIAN = 'priya.nair@northwind-it.example';
const BILLING = 'ben.okafor@northwind-it.example';

// Planted values: each distinctive, each shaped like the real thing.
const SECRET_KEY = createHash('sha256').update('deskhand planted-secrets test: DESKHAND_SECRET_KEY').digest();
const PREVIOUS_KEY = createHash('sha256').update('deskhand planted-secrets test: DESKHAND_PREVIOUS_SECRET_KEY').digest();
const WEBHOOK_SECRET = 'Pl4ntedWebhookSecret-q7Zk2Vx9Lm4Rt8Nw';
const USER_PASSWORD = 'Planted-user-pa55word!#7Qz';
const WRONG_USER_PASSWORD = 'Wrong-planted-pa55word?9Km%';
const WRONG_API_TOKEN = 'dh_PlantedForgedApiToken_9f3Kq2Lx8Vb5Nw1Zr7Ty';
const WRONG_GRAPH_SECRET = 'Pl48Q~PlantedWrongClientSecret7Hq3Zx9Wv2Ks';
const WRONG_CW_PRIVATE_KEY = 'PlntWrngPrvK3y9Q';
const FORGED_LINK = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee.PlantedForgedLinkSecret4Kx9.PlantedForgedLinkSignature7Qm2';

// The emulators accept only the credentials they derive from the fixture: those are the working
// credentials planted in the integrations (and checked to be there).
const CW = emulatorApiCredentials('northwind');
const CONTOSO_APP = emulatorAppCredentials('contoso');
const FABRIKAM_APP = emulatorAppCredentials('fabrikam');

let sb: Sandbox;
let databaseUrl = '';
const log = captureLines();
const recorder = recordResponses((url) => !!sb && url.origin === new URL(sb.service.url).origin);
const extraResponses: { where: string; status: number | null; body: string }[] = [];
let stories: StoryResult[] = [];
const reached: Record<string, string> = {};
const captured = {
  sessionToken: '',
  csrfToken: '',
  csrfCookie: '',
  apiTokens: [] as string[],
  links: [] as string[],
  temporaryPasswords: [] as string[],
};
let signInResponse: RecordedResponse | undefined;
let revealResponses: RecordedResponse[] = [];
let cwIntegrationId = '';
const decryptedCredentials: Record<string, Record<string, string>> = {};

/** The cookies the service set (the session's, and its CSRF secret's once that exists), sent back as a browser would. */
const cookieJar = new Map<string, string>();

function keepCookies(headers: Headers): void {
  for (const line of headers.getSetCookie()) {
    const pair = line.split(';')[0]!;
    const at = pair.indexOf('=');
    const value = decodeURIComponent(pair.slice(at + 1));
    if (value) cookieJar.set(pair.slice(0, at).trim(), value);
    else cookieJar.delete(pair.slice(0, at).trim());
  }
}

/** A call to the API by an API token, by the signed-in session's cookies (with its CSRF token), or by nobody. */
async function api(method: string, path: string, options: { token?: string; session?: boolean; body?: unknown } = {}) {
  const cookies = [...cookieJar].map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join('; ');
  const response = await fetch(`${sb.service.url}${path}`, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.session && cookies ? { cookie: cookies } : {}),
      ...(options.session && captured.csrfToken ? { 'x-csrf-token': captured.csrfToken } : {}),
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
  });
  if (options.session) keepCookies(response.headers);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: response.status, headers: response.headers, body: body as Record<string, unknown> };
}

/**
 * Wait for a final state with every message delivered or given up, moving the clock on to the next
 * due retry or backoff whenever nothing is due now and no worker holds the request or its messages
 * (moving it under a held lease would hand the work to a second worker).
 */
async function settleAdvancing(requestId: string, limitMs = 25_000): Promise<RequestRow> {
  const { db } = sb.service.ctx;
  const started = Date.now();
  for (;;) {
    const row = await db.selectFrom('requests').selectAll().where('id', '=', requestId).executeTakeFirstOrThrow();
    const messages = await db.selectFrom('outbox').select(['next_attempt_at', 'lease_until']).where('request_id', '=', requestId).where('status', '=', 'pending').execute();
    const final = FINAL.includes(row.state);
    if (final && messages.length === 0) return row;
    if (Date.now() - started > limitMs) throw new Error(`request ${requestId} is still ${row.state} (${messages.length} messages pending; last error ${row.last_error})`);
    const now = sb.clock.now().getTime();
    const held = [row.lease_owner ? row.lease_until : null, ...messages.map((m) => m.lease_until)].some((until) => until && until.getTime() > now);
    const due = [final ? null : row.due_at, ...messages.map((m) => m.next_attempt_at)].filter((at): at is Date => at !== null).map((at) => at.getTime());
    if (!held && due.length > 0 && due.every((at) => at > now)) sb.clock.advance(Math.min(...due) - now + 1);
    sb.service.worker?.poke();
    await sleep(50);
  }
}

async function openRequest(client: string, requester: string, text: string): Promise<string> {
  const ticket = await sb.openTicket(client, requester, text);
  return (await sb.requestForTicket(ticket)).id;
}

async function setCredentials(integrationId: string, change: Record<string, string>): Promise<void> {
  const { ctx } = sb.service;
  const row = await ctx.db.selectFrom('integrations').selectAll().where('id', '=', integrationId).executeTakeFirstOrThrow();
  const secrets = { ...ctx.integrations.secretsOf(row), ...change };
  // A new updated_at, as any change of an integration writes: clients built from the old row are dropped.
  await ctx.db
    .updateTable('integrations')
    .set({ secrets_encrypted: ctx.secrets.encryptJson(secrets), updated_at: new Date(row.updated_at.getTime() + 1000) })
    .where('id', '=', integrationId)
    .execute();
  ctx.integrations.invalidate(integrationId);
}

async function m365Integration(clientSlug: string): Promise<string> {
  const row = await sb.service.ctx.db
    .selectFrom('integrations')
    .innerJoin('clients', 'clients.id', 'integrations.client_id')
    .select('integrations.id')
    .where('clients.slug', '=', clientSlug)
    .where('integrations.kind', '=', 'm365')
    .executeTakeFirstOrThrow();
  return row.id;
}

const webhookBase = () => `http://127.0.0.1:${new URL(sb.service.url).port}`;
const webhookUrl = () => `${webhookBase()}/webhooks/connectwise/${cwIntegrationId}/${WEBHOOK_SECRET}`;

beforeAll(async () => {
  if (!runsHere) return;
  databaseUrl = await createTestDatabase();
  // The keys as an operator sets them: DESKHAND_SECRET_KEY in base64, an earlier one in hex.
  const keys = keyringFromEnvironment({ DESKHAND_SECRET_KEY: SECRET_KEY.toString('base64'), DESKHAND_PREVIOUS_SECRET_KEY: PREVIOUS_KEY.toString('hex') })!;
  sb = await startSandbox({ databaseUrl, logger: createLogger({ level: 'debug', destination: log.destination }), secretKey: keys });
  const { ctx } = sb.service;

  // The webhook secret: planted in the integration, and registered with ConnectWise at its URL.
  const cw = await ctx.db.selectFrom('integrations').select('id').where('kind', '=', 'connectwise').where('msp_id', '=', 'northwind').executeTakeFirstOrThrow();
  cwIntegrationId = cw.id;
  await setCredentials(cwIntegrationId, { webhookSecret: WEBHOOK_SECRET });
  await connectIntegrations(ctx, webhookBase(), ctx.logger);
  for (const row of await ctx.db.selectFrom('integrations').selectAll().execute()) decryptedCredentials[`${row.kind} of ${row.msp_id}${row.client_id ? ` for ${row.name}` : ''}`] = ctx.integrations.secretsOf(row);

  // A user's password, a wrong one, and the session and CSRF tokens of a sign-in.
  await setPassword(ctx.db, TECHNICIAN, USER_PASSWORD);
  reached['wrong password'] = String((await api('POST', '/api/session', { body: { email: TECHNICIAN, password: WRONG_USER_PASSWORD } })).status);
  reached['unknown email'] = String((await api('POST', '/api/session', { body: { email: 'nobody@northwind-it.example', password: WRONG_USER_PASSWORD } })).status);
  const cut = (await fetch(`${sb.service.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"email":"${TECHNICIAN}","password":"${USER_PASSWORD}"` })).status;
  const typo = (await fetch(`${sb.service.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"email":"${TECHNICIAN}","password":${USER_PASSWORD}}` })).status;
  const typed = (await api('POST', '/api/session', { body: { email: TECHNICIAN, password: [USER_PASSWORD], extra: USER_PASSWORD } })).status;
  reached['sign-in, malformed bodies'] = `${cut},${typo},${typed}`;
  const signIn = await api('POST', '/api/session', { session: true, body: { email: TECHNICIAN, password: USER_PASSWORD } });
  signInResponse = recorder.responses.at(-1);
  captured.sessionToken = cookieJar.get('deskhand_session') ?? '';
  captured.csrfCookie = cookieJar.get('deskhand_csrf') ?? '';
  captured.csrfToken = typeof signIn.body['csrfToken'] === 'string' ? signIn.body['csrfToken'] : '';
  reached['wrong API token'] = String((await api('GET', '/api/me', { token: WRONG_API_TOKEN })).status);
  reached['forged manager link'] = String((await fetch(`${sb.service.url}/approvals/manager/${FORGED_LINK}`)).status);

  // Personal API tokens of every role.
  for (const email of [TECHNICIAN, SECOND_TECHNICIAN, ADMIN, BILLING]) captured.apiTokens.push(await sb.tokenFor(email));

  // Every story of the product page.
  stories = await playStories(sb, null, () => {});

  // Forged and broken webhooks.
  const forged = [
    await sb.emulators.connectwise.forgeCallback({ url: webhookUrl(), signature: 'invalid', action: 'added' }),
    await sb.emulators.connectwise.forgeCallback({ url: webhookUrl(), signature: 'none', action: 'added' }),
    await sb.emulators.connectwise.forgeCallback({ url: webhookUrl(), signature: 'valid', action: 'added', keyUrl: 'http://127.0.0.1:9/evil/key', signingKey: 'Pl4ntedForgedSigningKey0' }),
    await sb.emulators.connectwise.forgeCallback({ url: `${webhookUrl()}x`, signature: 'valid', action: 'added' }),
  ];
  for (const [index, result] of forged.entries()) extraResponses.push({ where: `forged callback ${index + 1}`, status: result.status, body: result.responseBody });
  reached['forged webhooks'] = forged.map((f) => f.status).join(',');
  reached['webhook URL, wrong method'] = String((await fetch(webhookUrl())).status);
  reached['manager link, wrong method'] = String((await fetch(`${sb.service.url}/approvals/manager/${FORGED_LINK}`, { method: 'PUT' })).status);
  reached['malformed webhook'] = String((await fetch(webhookUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"Action": ' })).status);

  // A failure the webhook does not expect (the database refuses the write): a 500 and an error logged with its stack.
  await sql`CREATE FUNCTION planted_refuse() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN RAISE EXCEPTION 'refused by the planted-secrets test'; END; $fn$`.execute(ctx.db);
  await sql`CREATE TRIGGER planted_refuse_request BEFORE INSERT ON requests FOR EACH ROW WHEN (NEW.subject = 'PLANTED-BREAK') EXECUTE FUNCTION planted_refuse()`.execute(ctx.db);
  const broken = await sb.openTicket('contoso', 'lee.gu@contoso.example', 'This ticket cannot be stored', 'PLANTED-BREAK');
  const unexpected = await sb.emulators.connectwise.forgeCallback({ url: webhookUrl(), signature: 'valid', ticketId: broken, action: 'added', companyId: 'northwind', memberId: 'portal' });
  extraResponses.push({ where: 'callback the database refuses', status: unexpected.status, body: unexpected.responseBody });
  reached['webhook, unexpected failure'] = String(unexpected.status);

  // Graph answers 500 three times, then recovers: retried later, then done.
  sb.emulators.graph.injectFault({ status: 500, count: 3, pathContains: '/users' });
  const recovered = await settleAdvancing(await openRequest('contoso', 'patti.fernandez@contoso.example', 'I stayed signed in on a shared computer, please sign me out everywhere.'));
  reached['Graph 500, recovered'] = `${recovered.state}/${recovered.outcome}`;

  // A step that fails: Graph refuses the write.
  sb.emulators.graph.injectFault({ status: 403, count: 10, pathContains: 'revokeSignInSessions' });
  const failedStep = await settleAdvancing(await openRequest('contoso', 'miriam.graham@contoso.example', 'I stayed signed in on a shared computer, please sign me out everywhere.'));
  reached['failed step'] = `${failedStep.state}/${failedStep.outcome}`;
  sb.emulators.graph.clearFaults();

  // Graph answers 500 until the agent gives up.
  sb.emulators.graph.injectFault({ status: 500, count: 10_000, pathContains: '/v1.0/' });
  const givenUp = await settleAdvancing(await openRequest('contoso', 'pradeep.gupta@contoso.example', 'I stayed signed in on a shared computer, please sign me out everywhere.'), 40_000);
  reached['Graph 500, given up'] = `${givenUp.state}/${givenUp.outcome}`;
  sb.emulators.graph.clearFaults();

  // Wrong credentials of an integration: the Microsoft 365 client secret.
  await setCredentials(await m365Integration('fabrikam'), { clientSecret: WRONG_GRAPH_SECRET });
  const wrongCredentials = await settleAdvancing(await openRequest('fabrikam', 'ada.lovelace@fabrikam.example', 'Joining the support rota, so I need a Zendesk login.'));
  reached['wrong Microsoft 365 credentials'] = `${wrongCredentials.state}/${wrongCredentials.outcome}`;

  // A password reset approved by cookie (with its CSRF token) and by the manager's link, whose
  // answer from Graph is lost (500 after the change): retried, reconciled, and its password revealed.
  const reset = await openRequest('contoso', 'debra.berger@contoso.example', "My password slipped my mind and I'm locked out today.");
  await sb.waitForRequest(reset, ['awaiting_approval', ...FINAL]);
  await sb.waitForDelivered(reset);
  const byCookie = { session: true };
  const pending = (await api('GET', '/api/approvals', byCookie)).body['approvals'] as { id: string; requestId: string; kind: string; planHash: string }[];
  const technician = pending.find((a) => a.requestId === reset && a.kind === 'technician')!;
  reached['reset approved by cookie'] = String((await api('POST', `/api/approvals/${technician.id}/decision`, { ...byCookie, body: { decision: 'approve', planHash: technician.planHash } })).status);
  const manager = await ctx.db.selectFrom('approvals').select('id').where('request_id', '=', reset).where('kind', '=', 'manager').executeTakeFirstOrThrow();
  const managerLink = sb.emulators.graph
    .mail()
    .flatMap((mail) => mail.content.match(/https?:\/\/\S+\/approvals\/manager\/\S+/g) ?? [])
    .find((link) => link.includes(manager.id))!;
  const debra = sb.emulators.graph.tenant('contoso').users.find((u) => u.userPrincipalName === 'debra.berger@contoso.example')!;
  sb.emulators.graph.injectFault({ status: 500, afterEffect: true, method: 'PATCH', pathContains: `/users/${debra.id}`, count: 1 });
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  reached['reset approved by link'] = String((await fetch(`${sb.service.url}${new URL(managerLink).pathname}`, { method: 'POST', headers: form, body: 'decision=approve' })).status);
  const resetDone = await settleAdvancing(reset);
  reached['reset, Graph answer lost'] = `${resetDone.state}/${resetDone.outcome}`;
  reached['reset, Graph answers'] = sb.emulators.graph
    .requests()
    .filter((r) => r.method === 'PATCH' && r.path.includes(debra.id))
    .map((r) => r.status)
    .join(',');
  const resetStep = await ctx.db.selectFrom('step_executions').select('step_index').where('request_id', '=', reset).where('tool', '=', 'm365.reset_password').executeTakeFirstOrThrow();
  reached['reset revealed by cookie'] = String((await api('POST', `/api/requests/${reset}/steps/${resetStep.step_index}/temporary-password`, byCookie)).status);
  sb.emulators.graph.clearFaults();

  // Every story, approval, integration and policy as every role and by the session cookie.
  const callers: { session?: boolean; token?: string }[] = [{ session: true }, ...captured.apiTokens.map((token) => ({ token }))];
  for (const caller of callers) {
    for (const path of ['/api/me', '/api/clients', '/api/integrations', '/api/requests?limit=500', '/api/approvals?status=all&limit=500', '/api/audit/verify']) await api('GET', path, caller);
    const requests = (await api('GET', '/api/requests?limit=500', caller)).body['requests'] as { id: string }[];
    for (const request of requests) await api('GET', `/api/requests/${request.id}`, caller);
    const approvals = (await api('GET', '/api/approvals?status=all&limit=500', caller)).body['approvals'] as { id: string }[];
    for (const approval of approvals) await api('GET', `/api/approvals/${approval.id}`, caller);
    const integrations = (await api('GET', '/api/integrations', caller)).body['integrations'] as { id: string }[];
    for (const integration of integrations) await api('GET', `/api/integrations/${integration.id}/policies`, caller);
  }
  for (const path of ['/', '/healthz', '/api/openapi.json']) await api('GET', path);

  // Wrong credentials of the PSA, last (nothing reaches ConnectWise after this): the callback's
  // registration is refused, and a ticket's request cannot read or note the ticket.
  await setCredentials(cwIntegrationId, { privateKey: WRONG_CW_PRIVATE_KEY });
  await connectIntegrations(ctx, webhookBase(), ctx.logger);
  const unreachable = await openRequest('contoso', 'henrietta.mueller@contoso.example', 'Can I have Zendesk, please?');
  const psaRefused = await settleAdvancing(unreachable, 15_000).catch(async () => ctx.db.selectFrom('requests').selectAll().where('id', '=', unreachable).executeTakeFirstOrThrow());
  reached['wrong ConnectWise credentials'] = `${psaRefused.state}/${psaRefused.outcome}`;

  // What was handed out: the links mailed to managers and the temporary password revealed once.
  captured.links = sb.emulators.graph.mail().flatMap((mail) => [...mail.content.matchAll(/\/approvals\/manager\/([^\s"'<>]+)/g)].map((m) => m[1]!));
  revealResponses = recorder.responses.filter((r) => r.method === 'POST' && r.route.endsWith('/temporary-password') && r.status === 200);
  captured.temporaryPasswords = revealResponses.map((r) => String((JSON.parse(r.body) as { temporaryPassword?: string }).temporaryPassword ?? ''));
  await sb.service.worker?.stop();
}, 120_000);

afterAll(async () => {
  recorder.restore();
  await sb?.close();
});

function plantedSecrets(): PlantedSecret[] {
  const linkSigningKey = createHash('sha256').update(SECRET_KEY).update('link-signing').digest();
  return [
    { name: 'the secret key (DESKHAND_SECRET_KEY)', value: SECRET_KEY },
    { name: 'the link-signing key derived from it', value: linkSigningKey },
    { name: 'the earlier key (DESKHAND_PREVIOUS_SECRET_KEY)', value: PREVIOUS_KEY },
    { name: 'the ConnectWise private key', value: CW.privateKey },
    { name: 'the ConnectWise client id', value: CW.clientId },
    { name: 'the ConnectWise webhook secret', value: WEBHOOK_SECRET },
    { name: 'a wrong ConnectWise private key', value: WRONG_CW_PRIVATE_KEY },
    { name: "Contoso's Microsoft 365 client secret", value: CONTOSO_APP.clientSecret },
    { name: "Fabrikam's Microsoft 365 client secret", value: FABRIKAM_APP.clientSecret },
    { name: 'a wrong Microsoft 365 client secret', value: WRONG_GRAPH_SECRET },
    { name: "a user's password", value: USER_PASSWORD },
    { name: 'a wrong password', value: WRONG_USER_PASSWORD },
    { name: 'a forged API token', value: WRONG_API_TOKEN },
    { name: 'a forged manager link', value: FORGED_LINK },
    { name: 'the session token', value: captured.sessionToken },
    ...(captured.csrfToken ? [{ name: 'the CSRF token', value: captured.csrfToken }] : []),
    ...(captured.csrfCookie ? [{ name: "the CSRF cookie's secret", value: captured.csrfCookie }] : []),
    ...captured.apiTokens.map((value, index) => ({ name: `API token ${index + 1}`, value })),
    ...captured.links.flatMap((link, index) => {
      const [, secret, signature] = link.split('.');
      return [
        { name: `manager link ${index + 1}`, value: link },
        { name: `manager link ${index + 1}'s secret`, value: secret ?? '' },
        { name: `manager link ${index + 1}'s signature`, value: signature ?? '' },
      ];
    }),
    ...captured.temporaryPasswords.map((value, index) => ({ name: `temporary password ${index + 1}`, value })),
    // The embedded server's generated password (the machine's PostgreSQL in CI trusts, with none).
    ...(databasePassword().length >= 12 ? [{ name: 'the database password', value: databasePassword() }] : []),
  ];
}

function databasePassword(): string {
  return decodeURIComponent(new URL(databaseUrl).password);
}

interface Searched {
  places: Place[];
  counts: Record<string, number>;
  tables: number;
}

let searched: Searched | undefined;

async function everything(): Promise<Searched> {
  if (searched) return searched;
  for (const response of recorder.responses) responsesByPlace.set(responsePlace(response).where, response);
  const responses = [
    ...recorder.responses.map(responsePlace),
    ...extraResponses.map((r): Place => ({ kind: 'response', where: `${r.where} → ${r.status}`, text: `${r.status}\n${r.body}` })),
  ];
  const logLines = log.lines.map((line, index): Place => ({ kind: 'log line', where: `log line ${index + 1}`, text: line }));
  const tables = await tablePlaces(sb.service.ctx.db);
  const places = [...logLines, ...responses, ...emulatorPlaces(sb.emulators), ...tables.places];
  const counts: Record<string, number> = {};
  for (const place of places) counts[place.kind] = (counts[place.kind] ?? 0) + 1;
  searched = { places, counts, tables: tables.tables };
  return searched;
}

const responsesByPlace = new Map<string, RecordedResponse>();

function setCookieHeaders(place: Place): string[] {
  return (responsesByPlace.get(place.where)?.headers ?? []).filter(([name]) => name === 'set-cookie').map(([, value]) => value);
}

/** Where a secret may legitimately be (see the comment at the top). */
function allowed(secret: string, place: Place): boolean {
  if (secret === 'the session token' && signInResponse) return place.where === responsePlace(signInResponse).where;
  if (secret === "the CSRF cookie's secret") return place.kind === 'response' && setCookieHeaders(place).some((line) => line.includes(encodeURIComponent(captured.csrfCookie)));
  if (secret === 'the CSRF token') return place.kind === 'response' && (place.where === (signInResponse && responsePlace(signInResponse).where) || place.where.includes('/api/session/csrf'));
  const password = /^temporary password (\d+)$/.exec(secret);
  if (password) return place.where === responsePlace(revealResponses[Number(password[1]) - 1]!).where;
  const link = /^manager link (\d+)/.exec(secret);
  if (link) return place.kind === 'mail' && place.text.includes(captured.links[Number(link[1]) - 1]!);
  return false;
}

describe.skipIf(!runsHere)('planted secrets', () => {
  it('plants every secret where deskhand keeps it and drives every story and error path', () => {
    expect(decryptedCredentials['connectwise of northwind']).toEqual({ privateKey: CW.privateKey, clientId: CW.clientId, webhookSecret: WEBHOOK_SECRET });
    const m365 = Object.entries(decryptedCredentials).filter(([name]) => name.startsWith('m365 of northwind'));
    expect(m365.map(([, secrets]) => secrets)).toEqual(expect.arrayContaining([{ clientSecret: CONTOSO_APP.clientSecret }, { clientSecret: FABRIKAM_APP.clientSecret }]));
    expect(m365).toHaveLength(2);
    expect(stories.map((s) => s.name)).toEqual(STORIES.map((s) => s.name));
    expect(stories.filter((s) => !s.ok).map((s) => `${s.name}: ${JSON.stringify(s.checks.filter((c) => !c.ok))} ${s.error ?? ''}`)).toEqual([]);
    expect(reached).toMatchObject({
      'wrong password': '401',
      'unknown email': '401',
      'wrong API token': '401',
      'forged manager link': '404',
      'forged webhooks': '401,401,401,401',
      'malformed webhook': '400',
      'webhook URL, wrong method': '404',
      'manager link, wrong method': '404',
      'sign-in, malformed bodies': '400,400,400',
      'webhook, unexpected failure': '500',
      'Graph 500, recovered': 'replied/executed',
      'failed step': 'failed/failed',
      'wrong Microsoft 365 credentials': 'escalated/escalated',
      'reset approved by cookie': '200',
      'reset approved by link': '200',
      'reset, Graph answer lost': 'replied/executed',
      'reset, Graph answers': '500',
      'reset revealed by cookie': '200',
    });
    expect(reached['Graph 500, given up']).toMatch(/^(failed|escalated)\//);
    expect(captured.sessionToken.length).toBeGreaterThanOrEqual(32);
    expect(captured.apiTokens).toHaveLength(4);
    expect(captured.links.length).toBeGreaterThanOrEqual(1);
    expect(captured.links.length).toBeGreaterThanOrEqual(2);
    expect(captured.temporaryPasswords).toHaveLength(2);
    for (const password of captured.temporaryPasswords) expect(password.length).toBeGreaterThanOrEqual(16);
  });

  it('finds no planted secret in any log line, answer, note, mail, emulator record or table row', async () => {
    const { places, counts, tables } = await everything();
    const secrets = plantedSecrets();
    const findings = findPlanted(secrets, places).filter((f) => !allowed(f.secret, f.place));
    console.log(
      `planted secrets: ${secrets.length} planted or captured (${secrets.reduce((n, s) => n + formsOf(s.value).length, 0)} forms searched: ${secrets.map((s) => s.name).join('; ')}); ` +
        `places searched: ${places.length} = ${Object.entries(counts)
          .map(([kind, n]) => `${n} ${kind}s`)
          .join(', ')} (rows of ${tables} tables); paths: ${JSON.stringify(reached)}`,
    );
    expect(findings.map((f) => `${f.secret} (${f.form}) in ${f.place.kind} ${f.place.where}: …${f.context}…`)).toEqual([]);
    // The error paths were logged (and so searched): refusals of Graph and ConnectWise, failed deliveries.
    const logged = log.lines.map((line) => String((JSON.parse(line) as { msg?: string }).msg));
    expect(logged).toEqual(expect.arrayContaining(['unhandled API error', 'request step failed', 'outbox delivery failed', 'could not finish connecting an integration']));
    expect(counts['response']).toBeGreaterThan(100);
    expect(counts['note']).toBeGreaterThan(10);
    expect(counts['mail']).toBeGreaterThanOrEqual(1);
    expect(counts['row']).toBeGreaterThan(100);
  });

  it('shows each temporary password exactly once: in the answer that reveals it to its technician', async () => {
    const { places } = await everything();
    expect(revealResponses).toHaveLength(2);
    revealResponses.forEach((reveal, index) => {
      const password = captured.temporaryPasswords[index]!;
      const holding = places.filter((place) => occurrences(password, place.text) > 0);
      expect(holding.map((p) => p.where)).toEqual([responsePlace(reveal).where]);
      expect(occurrences(password, holding[0]!.text)).toBe(1);
    });
  });

  it('shows the session token only in the Set-Cookie of the sign-in that issued it', async () => {
    const { places } = await everything();
    const holding = places.filter((place) => occurrences(captured.sessionToken, place.text) > 0);
    expect(holding.map((p) => p.where)).toEqual([responsePlace(signInResponse!).where]);
    expect(signInResponse!.headers.filter(([name, value]) => name === 'set-cookie' && value.includes(encodeURIComponent(captured.sessionToken)))).toHaveLength(1);
    expect(signInResponse!.body).not.toContain(captured.sessionToken);
  });
});

describe('the search for planted secrets', () => {
  const secret = 'Pl4nted/secret+value?&=#%!';
  const forms = (text: string) => findPlanted([{ name: 'it', value: secret }], [{ kind: 'log line', where: 'here', text }]).map((f) => f.form);

  it('finds a secret as is, JSON-escaped, URL-, form- and HTML-encoded and in hex', () => {
    expect(forms(`x ${secret} y`)).toContain('as is');
    expect(forms(JSON.stringify({ a: `"${secret}\\"` }))).toContain('as is');
    expect(forms(`https://x/?q=${encodeURIComponent(secret)}`)).toContain('URL-encoded');
    expect(forms(`q=${new URLSearchParams({ v: `a ${secret}` }).toString()}`)).toContain('form-encoded');
    expect(forms(`<b>${secret.replace('&', '&amp;')}</b>`)).toContain('HTML-escaped');
    expect(forms(Buffer.from(`pre ${secret} post`).toString('hex'))).toContain('hex');
    expect(forms(Buffer.from(secret).toString('hex').toUpperCase())).toContain('hex (upper-case)');
    expect(forms(JSON.stringify({ quoted: 'a"b', secret: `say "${secret}"` }))).not.toEqual([]);
  });

  it('finds a secret base64- or base64url-encoded inside a longer text, at every byte alignment', () => {
    for (const prefix of ['', 'a', 'ab', 'abc', 'user:']) {
      for (const suffix of ['', 'z', 'yz']) {
        const bytes = Buffer.from(`${prefix}${secret}${suffix}`);
        expect(forms(`Basic ${bytes.toString('base64')}`).some((f) => f.startsWith('base64 ')), `${prefix}|${suffix}`).toBe(true);
        expect(forms(bytes.toString('base64url')).some((f) => f.startsWith('base64')), `${prefix}|${suffix}`).toBe(true);
      }
    }
    const key = createHash('sha256').update('k').digest();
    const found = findPlanted([{ name: 'key', value: key }], [{ kind: 'row', where: 'r', text: `${key.toString('base64')} \\x${key.toString('hex')}` }]).map((f) => f.form);
    expect(found).toEqual(expect.arrayContaining(['hex', 'base64 (offset 0)']));
  });

  it('finds nothing where the secret is not, and counts occurrences once whatever their forms', () => {
    expect(forms(`${secret.slice(0, 10)} ${Buffer.from(secret.slice(1)).toString('hex').slice(2)} ${'x'.repeat(100)}`)).toEqual([]);
    expect(occurrences(secret, `{"password":"${secret}"} and again ${encodeURIComponent(secret)}`)).toBe(2);
    expect(occurrences(secret, 'nothing here')).toBe(0);
  });
});
