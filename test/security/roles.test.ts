import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessOf, CALLERS, type Caller, ROUTE_ACCESS, type RouteAccess, roleTableMarkdown, routeKey } from '../../src/api/access.ts';
import { HOUR_MS } from '../../src/core/clock.ts';
import { startSandbox, type Sandbox } from '../../src/demo/sandbox.ts';
import { FINAL } from '../../src/demo/stories.ts';
import { webhookSignature as autotaskSignature } from '../../src/integrations/autotask/webhook.ts';
import { silentLogger } from '../../src/logger.ts';
import { issueApiToken } from '../../src/store/users.ts';
import { createWorkflow } from '../../src/store/workflows.ts';
import { DEMO_PASSWORD } from '../../src/world/seed.ts';
import { createTestDatabase, databaseKind } from '../support/db.ts';
import { readmeRoleTable } from '../support/security-readme.ts';
import {
  type Call,
  changedTables,
  type Credentials,
  type DualApprovalRequest,
  databaseDigest,
  openDualApprovalRequests,
  pathParams,
  type RegisteredRoute,
  registeredRoutes,
  SignedCallbacks,
  send,
  settle,
  signIn,
} from '../support/security-surface.ts';

/**
 * The role matrix (issue 7, part 2): every route the running service registered × every kind of
 * caller gets the answer `src/api/access.ts` says, for a well-formed request about an object of the
 * caller's own MSP. A route registered without a row there fails here, so a route added later is
 * covered without anyone remembering to. A refused call, and every read, leaves the whole database
 * as it was.
 *
 * Callers are Northwind's demo users: Ava (msp_admin), Tom (msp_technician), Ben (msp_billing),
 * signed in by cookie, nobody, and Ava's personal API token; on routes that need a user, Tom's and
 * Ben's tokens too (a token acts with its user's role, so they are answered as Tom's and Ben's cookies).
 */
const AVA = 'ava.chen@northwind-it.example';
const TOM = 'tom.rivera@northwind-it.example';
const BEN = 'ben.okafor@northwind-it.example';
const PRIYA = 'priya.nair@northwind-it.example';

/**
 * Who may call what is decided in TypeScript, not in SQL: the matrix runs in one pass of CI (the
 * embedded PostgreSQL), or in both with DESKHAND_TEST_EVERY_DATABASE=1. The tenant isolation test,
 * which holds the queries' MSP filters to account, runs on both and fails on a route without a row too.
 */
const runsHere = databaseKind() === 'embedded' || process.env['DESKHAND_TEST_EVERY_DATABASE'] === '1';

type Who = Caller | 'technician_token' | 'billing_token';
const WHO_ORDER: Who[] = [...CALLERS, 'technician_token', 'billing_token'];

let sb: Sandbox;
let routes: RegisteredRoute[];
const callers = new Map<Who, Credentials>();
/** Five forgotten-password requests of Contoso, each waiting for a technician and a manager. */
let dual: DualApprovalRequest[];
let callbacks: SignedCallbacks;
const ids = { contoso: '', fabrikam: '', contosoM365: '', connectwise: '', connectwiseSecret: '', halopsa: '', halopsaSecret: '', autotask: '', autotaskSecret: '', workflow: '' };
/** Invitation links' tokens: one to inspect, and one for each caller that accepts one (used up). */
const invites = { inspect: '', accept: [] as string[] };

beforeAll(async () => {
  if (!runsHere) {
    console.log(`role matrix: not run on the ${databaseKind()} database (DESKHAND_TEST_EVERY_DATABASE=1 runs it); the tenant isolation test still fails on a route without a row`);
    return;
  }
  // No sweep or intake poll of its own: the database changes only when a test makes it.
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger, worker: { concurrency: 2, pollMs: 200, sweepMs: HOUR_MS, intakePollMs: 0 } });
  const db = sb.service.ctx.db;
  const contoso = await db.selectFrom('clients').select('id').where('slug', '=', 'contoso').executeTakeFirstOrThrow();
  const m365 = await db.selectFrom('integrations').select('id').where('client_id', '=', contoso.id).where('kind', '=', 'm365').executeTakeFirstOrThrow();
  const cw = await db.selectFrom('integrations').selectAll().where('msp_id', '=', 'northwind').where('kind', '=', 'connectwise').executeTakeFirstOrThrow();
  Object.assign(ids, { contoso: contoso.id, contosoM365: m365.id, connectwise: cw.id, connectwiseSecret: sb.service.ctx.integrations.secretsOf(cw)['webhookSecret'] });
  // A workflow of Contoso's for the workflow routes (the demo world has none).
  const workflow = { clientId: contoso.id, name: 'Role matrix workflow', trigger: 'a printer is out of toner', instructions: '', status: 'active' as const, steps: [] };
  ids.workflow = (await createWorkflow(db, 'northwind', workflow, { actor: 'test:roles', at: new Date() })).id;
  ids.fabrikam = (await db.selectFrom('clients').select('id').where('slug', '=', 'fabrikam').executeTakeFirstOrThrow()).id;
  const halo = await db.selectFrom('integrations').selectAll().where('msp_id', '=', 'tailspin').where('kind', '=', 'halopsa').executeTakeFirstOrThrow();
  Object.assign(ids, { halopsa: halo.id, halopsaSecret: sb.service.ctx.integrations.secretsOf(halo)['webhookSecret'] });
  const autotask = await db.selectFrom('integrations').selectAll().where('msp_id', '=', 'woodgrove').where('kind', '=', 'autotask').executeTakeFirstOrThrow();
  Object.assign(ids, { autotask: autotask.id, autotaskSecret: sb.service.ctx.integrations.secretsOf(autotask)['webhookSecret'] });
  callers.set('msp_admin', await signIn(sb.service.url, AVA));
  callers.set('msp_technician', await signIn(sb.service.url, TOM));
  callers.set('msp_billing', await signIn(sb.service.url, BEN));
  callers.set('signed_out', { kind: 'none' });
  callers.set('api_token', { kind: 'token', token: await sb.tokenFor(AVA), email: AVA });
  callers.set('technician_token', { kind: 'token', token: await sb.tokenFor(TOM), email: TOM });
  callers.set('billing_token', { kind: 'token', token: await sb.tokenFor(BEN), email: BEN });
  dual = await openDualApprovalRequests(sb, ['megan.bowen@contoso.example', 'alex.wilber@contoso.example', 'patti.fernandez@contoso.example', 'nestor.wilke@contoso.example', 'lidia.holloway@contoso.example']);
  callbacks = new SignedCallbacks(sb);
  for (let i = 0; i < 6; i++) {
    const invited = await sb.api<{ link: string }>('POST', '/api/users/invites', { token: await sb.tokenFor(AVA), body: { email: `invited.${i}@northwind-it.example`, name: `Invited ${i}`, role: 'msp_billing' } });
    expect(invited.status).toBe(200);
    const token = new URL(invited.body.link).hash.replace('#token=', '');
    if (i === 0) invites.inspect = token;
    else invites.accept.push(token);
  }
  routes = await registeredRoutes(sb.service.app!);
}, 240_000);

afterAll(async () => {
  callbacks?.close();
  await sb?.close();
});

describe('the access table', () => {
  it.runIf(runsHere)('has a row for every route the service registered, naming each path parameter, and no row for a route that does not exist', () => {
    const missing = routes.filter((r) => !accessOf(r.method, r.url)).map((r) => routeKey(r.method, r.url));
    expect(missing, 'routes registered without a row in src/api/access.ts: add one saying who may call them').toEqual([]);
    const stale = ROUTE_ACCESS.filter((row) => !routes.some((r) => r.method === row.method && r.url === row.url)).map((row) => routeKey(row.method, row.url));
    expect(stale, 'rows of src/api/access.ts for routes the service does not register').toEqual([]);
    const undeclared = routes.flatMap((r) => {
      const declared = Object.keys(accessOf(r.method, r.url)?.params ?? {});
      return pathParams(r.url)
        .filter((p) => !declared.includes(p))
        .map((p) => `${routeKey(r.method, r.url)} :${p}`);
    });
    expect(undeclared, 'path parameters the access table does not say what they name').toEqual([]);
  });

  it('is the table the README shows under "Who may do what"', () => {
    expect(readmeRoleTable(), 'README.md: regenerate the table with `npx tsx test/support/security-readme.ts`').toBe(roleTableMarkdown());
  });
});

describe.runIf(runsHere)('the role matrix', () => {
  it('notices a change: the digest of the database moves when an allowed write writes', async () => {
    await settle(sb);
    const before = await databaseDigest(sb.service.ctx.db);
    const answer = await send(sb.service.url, callers.get('msp_admin')!, { method: 'PATCH', path: '/api/msp', json: { defaultOperatingMode: 'execute' } });
    expect(answer.status).toBe(200);
    expect(changedTables(before, await databaseDigest(sb.service.ctx.db))).toContain('audit_log');
  });

  it('answers every route × caller as the table says; a refused call or a read changes nothing', async () => {
    const mismatches: string[] = [];
    const changes: string[] = [];
    let calls = 0;
    let checked = 0;
    const callAs = async (route: RegisteredRoute, row: RouteAccess, who: Who, allowedIndex: number) => {
      const want = expected(row, who);
      const answer = await send(sb.service.url, callers.get(who)!, await sampleCall(route, row, who, allowedIndex));
      calls++;
      if (answer.status !== want) mismatches.push(`${routeKey(route.method, route.url)} as ${who}: ${answer.status}, the table says ${want} (${answer.text.slice(0, 200)})`);
    };
    let dirty = true;
    // A route without a row fails the test above; here every route with one is called.
    const ordered = routes.filter((r) => accessOf(r.method, r.url)).sort((a, b) => phase(accessOf(a.method, a.url)!) - phase(accessOf(b.method, b.url)!));
    let currentPhase = 0;
    for (const route of ordered) {
      const row = accessOf(route.method, route.url)!;
      if (phase(row) === 3 && currentPhase < 3) await requestsExecuted(dual.slice(0, 4));
      currentPhase = phase(row);
      const whos = callersOf(row);
      const allowed = whos.filter((who) => expected(row, who) < 400);
      const isRead = route.method === 'GET' || route.method === 'HEAD';
      // Refused callers first, on objects the allowed callers will use up after them. Refused calls
      // and reads must leave the database as it was: one digest before them and one after.
      const unchanging = isRead ? whos : whos.filter((w) => !allowed.includes(w));
      const writing = isRead ? [] : allowed;
      if (dirty) await settle(sb);
      dirty = false;
      const before = await databaseDigest(sb.service.ctx.db);
      for (const who of unchanging) await callAs(route, row, who, allowed.indexOf(who));
      checked += unchanging.length;
      const changed = changedTables(before, await databaseDigest(sb.service.ctx.db));
      if (changed.length > 0) changes.push(`${routeKey(route.method, route.url)} as ${unchanging.join(', ')} changed ${changed.join(', ')}`);
      for (const who of writing) {
        await callAs(route, row, who, allowed.indexOf(who));
        dirty = true;
      }
    }
    console.log(`role matrix: ${routes.length} registered routes (${ROUTE_ACCESS.length} rows, HEAD held to GET), ${calls} calls, ${checked} refused calls and reads checked to change nothing`);
    expect(mismatches).toEqual([]);
    expect(changes).toEqual([]);
  }, 240_000);
});

/** Routes that need a user are also called with a technician's and a billing user's token. */
function callersOf(row: RouteAccess): Who[] {
  return WHO_ORDER.filter((who) => (who === 'technician_token' || who === 'billing_token' ? row.answers.signed_out === 401 : true));
}

function expected(row: RouteAccess, who: Who): number {
  if (who === 'technician_token') return row.answers.msp_technician;
  if (who === 'billing_token') return row.answers.msp_billing;
  return row.answers[who];
}

/** Routes that use something up run after the others, in the order each prepares the next. */
function phase(row: RouteAccess): number {
  return { none: 0, invite: 0, 'technician-approval': 1, 'manager-link': 2, 'temporary-password': 3, session: 4 }[row.usesUp ?? 'none'];
}

/**
 * Which of the five requests a call is about. The allowed callers of the decision route decide
 * requests 1–4 in turn (Ava, Tom, Ava's token, Tom's token), the manager links of 1–5 are used once
 * each, and the same allowed callers then see the temporary passwords of the requests they approved.
 * Refused callers go first, on request 5's approval and request 1's password.
 */
function slotOf(row: RouteAccess, allowedIndex: number): number {
  if (allowedIndex >= 0 && row.usesUp) return allowedIndex;
  return row.usesUp === 'temporary-password' ? 0 : 4;
}

async function sampleCall(route: RegisteredRoute, row: RouteAccess, who: Who, allowedIndex: number): Promise<Call> {
  const slot = slotOf(row, allowedIndex);
  const request = dual[slot]!;
  let path = route.url;
  for (const [name, kind] of Object.entries(row.params ?? {})) {
    let value: string;
    switch (kind) {
      case 'client':
        // A client's links are changed on Fabrikam: Contoso's requests need theirs.
        value = route.url.includes('/links/') ? ids.fabrikam : ids.contoso;
        break;
      case 'integration':
        // A PSA's routes (its webhooks, its ticket statuses, its companies) are called with the PSA's integration.
        value = route.url.startsWith('/webhooks/halopsa/')
          ? ids.halopsa
          : route.url.startsWith('/webhooks/autotask/')
            ? ids.autotask
            : route.url.startsWith('/webhooks/connectwise/') || /\/(ticket-statuses|companies|import-clients|boards)$/.test(route.url) || route.url.includes('/links/')
              ? ids.connectwise
              : ids.contosoM365;
        break;
      case 'request':
        value = request.requestId;
        break;
      case 'approval':
        value = request.technicianApprovalId;
        break;
      case 'user':
        value = (await sb.service.ctx.db.selectFrom('users').select('id').where('email', '=', TOM).executeTakeFirstOrThrow()).id;
        break;
      case 'token': {
        // The caller's own token, made for this call (revoking it uses it up); nobody's for a caller signed out.
        const credentials = callers.get(who)!;
        const db = sb.service.ctx.db;
        value =
          credentials.kind === 'none'
            ? (await db.selectFrom('api_tokens').select('id').where('revoked_at', 'is', null).executeTakeFirstOrThrow()).id
            : (await issueApiToken(db, { email: credentials.email, name: 'roles', at: new Date() })).id;
        break;
      }
      case 'step-index':
        value = String(await passwordStepIndex(request.requestId));
        break;
      case 'tool':
        value = 'm365.revoke_sessions';
        break;
      case 'manager-link':
        value = request.managerLinkPath.split('/').pop()!;
        break;
      case 'workflow':
        value = ids.workflow;
        break;
      case 'webhook-secret':
        value = ids.connectwiseSecret;
        break;
      default:
        throw new Error(`no sample for a parameter naming ${kind satisfies never}`);
    }
    path = path.replace(`:${name}`, encodeURIComponent(value));
  }
  const query = row.exampleQuery ? `?${new URLSearchParams(row.exampleQuery)}` : '';
  const call: Call = { method: route.method, path: path + query };
  if (route.method === 'HEAD' || route.method === 'GET') return call;
  if (row.url === '/api/session' && row.method === 'POST') {
    const credentials = callers.get(who)!;
    call.json = { email: credentials.kind === 'none' ? PRIYA : credentials.email, password: DEMO_PASSWORD };
  } else if (row.url.startsWith('/webhooks/connectwise/')) {
    call.raw = await callbacks.next(request.ticket);
  } else if (row.url.startsWith('/webhooks/halopsa/')) {
    // Halo's Basic authentication with the webhook secret; an event that starts nothing.
    const authorization = `Basic ${Buffer.from(`deskhand:${ids.halopsaSecret}`).toString('base64')}`;
    call.raw = { body: JSON.stringify({ event: 'Ticket Status Changed', object_id: 1 }), headers: { 'content-type': 'application/json', authorization } };
  } else if (row.url.startsWith('/webhooks/autotask/')) {
    // A signed note event: well formed, starts nothing (202).
    const body = JSON.stringify({ Action: 'Create', Guid: 'roles', EntityType: 'TicketNote', Id: 1, Fields: {}, EventTime: new Date().toISOString(), SequenceNumber: 1, PersonID: 1 });
    call.raw = { body, headers: { 'content-type': 'application/json', 'x-hook-signature': autotaskSignature(ids.autotaskSecret, body) } };
  } else if (row.url === '/api/invites/inspect') {
    call.json = { token: invites.inspect };
  } else if (row.url === '/api/invites/accept') {
    call.json = { token: invites.accept[slotOf(row, allowedIndex)], password: 'a long enough password' };
  } else if (row.example && 'json' in row.example) {
    call.json = row.example.json;
  } else if (row.example && 'form' in row.example) {
    call.form = row.example.form;
  }
  return call;
}

async function passwordStepIndex(requestId: string): Promise<number> {
  const step = await sb.service.ctx.db.selectFrom('step_executions').select('step_index').where('request_id', '=', requestId).where('tool', '=', 'm365.reset_password').executeTakeFirstOrThrow();
  return step.step_index;
}

/** The requests the decision route and the manager links approved have run their reset. */
async function requestsExecuted(requests: DualApprovalRequest[]): Promise<void> {
  for (const request of requests) {
    const final = await sb.waitForRequest(request.requestId, FINAL, 60_000);
    expect([final.state, final.outcome], `request ${request.requestId}: ${final.last_error}`).toEqual(['replied', 'executed']);
  }
}
