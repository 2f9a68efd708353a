import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessOf, type Caller, type RouteAccess, routeKey, TENANT_OBJECTS, type TenantObject } from '../../src/api/access.ts';
import { HOUR_MS } from '../../src/core/clock.ts';
import { startSandbox, type Sandbox } from '../../src/demo/sandbox.ts';
import { FINAL } from '../../src/demo/stories.ts';
import { silentLogger } from '../../src/logger.ts';
import { createUser } from '../../src/store/users.ts';
import { createWorkflow } from '../../src/store/workflows.ts';
import { DEMO_PASSWORD } from '../../src/world/seed.ts';
import { createTestDatabase } from '../support/db.ts';
import {
  type Answer,
  type Call,
  changedTables,
  type Credentials,
  databaseDigest,
  idLikeFields,
  type OpenApi,
  openApiDocument,
  openDualApprovalRequests,
  pathParams,
  type RegisteredRoute,
  registeredRoutes,
  send,
  settle,
  signIn,
} from '../support/security-surface.ts';

/**
 * Tenant isolation (issue 7, part 1), generated from the route table: every route that takes an
 * id of an MSP's client, request, approval, integration or user (as `src/api/access.ts` declares
 * its path, query and body fields) is sent another MSP's ids by a signed-in user of each role and an
 * API token. Each answers 404 (a webhook URL 401), byte for byte what an id that exists nowhere
 * gets, changes nothing in the database, and no answer to any signed-in route carries anything of
 * the other MSP. A path parameter, or an id-like query or body field in the OpenAPI document, that
 * the table does not declare fails the test.
 *
 * Two directions over the demo world: Woodgrove's users against Northwind (the MSP with requests and
 * approvals: one executed with a temporary password not yet shown, one waiting for both approvals),
 * and Northwind's users against Woodgrove's and Tailspin's clients, integrations and users.
 */
let sb: Sandbox;
let routes: RegisteredRoute[];
let openapi: OpenApi;

type Objects = Record<TenantObject, string[]>;
interface Tenant {
  name: string;
  attackers: Partial<Record<Caller, Credentials>>;
  /** Another MSP's objects, which the attackers must not reach. */
  victim: Objects;
  /** Strings that name the victim's objects and people: none may appear in an answer to an attacker. */
  markers: string[];
  /** The victim's client slugs (what `GET /api/requests?client=` takes). */
  victimSlugs: string[];
}
const directions: Tenant[] = [];
/** Step index of each request's temporary-password step, when it has one. */
const passwordStep = new Map<string, number>();
const NOWHERE = '00000000-0000-4000-8000-00000000dead';

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger, worker: { concurrency: 2, pollMs: 200, sweepMs: HOUR_MS, intakePollMs: 0 } });
  const db = sb.service.ctx.db;
  // Woodgrove has no billing user in the demo world: one is added as `deskhand user add` would.
  await createUser(db, { mspId: 'woodgrove', email: 'lena.ng@woodgrove-tp.example', name: 'Lena Ng', role: 'msp_billing', password: DEMO_PASSWORD, at: new Date() });

  // Northwind: one request executed (its temporary password, for Tom, not yet shown), one waiting for both approvals.
  const [executed, waiting] = await openDualApprovalRequests(sb, ['megan.bowen@contoso.example', 'alex.wilber@contoso.example']);
  const decided = await sb.api('POST', `/api/approvals/${executed!.technicianApprovalId}/decision`, { token: await sb.tokenFor('tom.rivera@northwind-it.example'), body: { decision: 'approve' } });
  expect(decided.status).toBe(200);
  const manager = await fetch(`${sb.service.url}${executed!.managerLinkPath}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=approve' });
  expect(manager.status).toBe(200);
  const final = await sb.waitForRequest(executed!.requestId, FINAL, 60_000);
  expect([final.state, final.outcome]).toEqual(['replied', 'executed']);
  await settle(sb);
  const step = await db.selectFrom('step_executions').select(['step_index', 'secret_encrypted']).where('request_id', '=', executed!.requestId).where('tool', '=', 'm365.reset_password').executeTakeFirstOrThrow();
  expect(step.secret_encrypted, 'the temporary password is still there to be stolen').not.toBeNull();
  passwordStep.set(executed!.requestId, step.step_index);
  expect(waiting).toBeDefined();

  const signInAll = async (emails: [Caller, string][], tokenOf: string) => {
    const attackers: Partial<Record<Caller, Credentials>> = {};
    for (const [caller, email] of emails) attackers[caller] = await signIn(sb.service.url, email);
    attackers.api_token = { kind: 'token', token: await sb.tokenFor(tokenOf), email: tokenOf };
    return attackers;
  };
  // Each MSP has a personal API token to be reached for (the attackers' own, made here first).
  for (const email of ['ava.chen@northwind-it.example', 'rosa.diaz@woodgrove-tp.example', 'kim.lee@tailspin-ms.example']) await sb.tokenFor(email);
  // A workflow of each MSP, MSP-wide and a client's (the demo world has none).
  for (const msp of ['northwind', 'woodgrove', 'tailspin']) {
    const client = await db.selectFrom('clients').select('id').where('msp_id', '=', msp).orderBy('slug').executeTakeFirstOrThrow();
    for (const clientId of [null, client.id]) {
      const workflow = { clientId, name: `Tenancy workflow ${msp} ${clientId ? 'client' : 'msp'}`, trigger: 'a new starter joins the company', instructions: '', status: 'active' as const, steps: [] };
      await createWorkflow(db, msp, workflow, { actor: 'test:tenants', at: new Date() });
    }
  }
  const northwind = await objectsOf(['northwind']);
  const others = await objectsOf(['woodgrove', 'tailspin']);
  directions.push({
    name: 'Woodgrove against Northwind',
    attackers: await signInAll(
      [
        ['msp_admin', 'rosa.diaz@woodgrove-tp.example'],
        ['msp_technician', 'jon.berg@woodgrove-tp.example'],
        ['msp_billing', 'lena.ng@woodgrove-tp.example'],
      ],
      'rosa.diaz@woodgrove-tp.example',
    ),
    ...northwind,
  });
  directions.push({
    name: 'Northwind against Woodgrove and Tailspin',
    attackers: await signInAll(
      [
        ['msp_admin', 'ava.chen@northwind-it.example'],
        ['msp_technician', 'tom.rivera@northwind-it.example'],
        ['msp_billing', 'ben.okafor@northwind-it.example'],
      ],
      'ava.chen@northwind-it.example',
    ),
    ...others,
  });
  routes = await registeredRoutes(sb.service.app!);
  openapi = await openApiDocument(sb.service.url);
}, 240_000);

afterAll(async () => {
  await sb?.close();
});

/** Every object of these MSPs, and the strings that would give them away. */
async function objectsOf(msps: string[]): Promise<Pick<Tenant, 'victim' | 'markers' | 'victimSlugs'>> {
  const db = sb.service.ctx.db;
  const clients = await db.selectFrom('clients').select(['id', 'slug', 'name']).where('msp_id', 'in', msps).execute();
  const requests = await db.selectFrom('requests').select(['id', 'requester_email']).where('msp_id', 'in', msps).execute();
  const approvals = await db.selectFrom('approvals').select(['id', 'approver_email']).where('msp_id', 'in', msps).execute();
  const integrations = await db.selectFrom('integrations').select(['id', 'name']).where('msp_id', 'in', msps).execute();
  const users = await db.selectFrom('users').select(['id', 'email']).where('msp_id', 'in', msps).execute();
  const workflows = await db.selectFrom('workflows').select(['id', 'name']).where('msp_id', 'in', msps).execute();
  const tokens = await db.selectFrom('api_tokens').innerJoin('users', 'users.id', 'api_tokens.user_id').select('api_tokens.id').where('users.msp_id', 'in', msps).execute();
  const victim: Objects = {
    client: clients.map((c) => c.id),
    request: requests.map((r) => r.id),
    approval: approvals.map((a) => a.id),
    integration: integrations.map((i) => i.id),
    user: users.map((u) => u.id),
    token: tokens.map((t) => t.id),
    workflow: workflows.map((w) => w.id),
  };
  const markers = [
    ...Object.values(victim).flat(),
    ...clients.map((c) => c.name),
    ...integrations.map((i) => i.name),
    ...users.map((u) => u.email),
    ...workflows.map((w) => w.name),
    ...requests.map((r) => r.requester_email).filter((e): e is string => !!e),
    ...approvals.map((a) => a.approver_email).filter((e): e is string => !!e),
    ...msps.map((m) => `"${m}"`),
  ];
  return { victim, markers: [...new Set(markers)], victimSlugs: clients.map((c) => c.slug) };
}

describe('the isolation table', () => {
  it('declares what every path parameter, and every id-like query and body field, names', () => {
    const undeclared: string[] = [];
    for (const route of routes) {
      const row = accessOf(route.method, route.url);
      if (!row) {
        undeclared.push(`${routeKey(route.method, route.url)}: no row in src/api/access.ts`);
        continue;
      }
      for (const param of pathParams(route.url)) if (!row.params?.[param]) undeclared.push(`${routeKey(route.method, route.url)} :${param}`);
      const fields = idLikeFields(openapi, route.method, route.url);
      for (const field of fields.query) if (!row.queryIds?.[field]) undeclared.push(`${routeKey(route.method, route.url)} ?${field}`);
      for (const field of fields.body) if (!row.bodyIds?.[field] && !row.externalIds?.includes(field)) undeclared.push(`${routeKey(route.method, route.url)} body.${field}`);
    }
    expect(undeclared, 'fields that may name an MSP\'s object: declare them in src/api/access.ts (params, queryIds, bodyIds)').toEqual([]);
  });

  it('has ids of every kind of object of the other MSP to send', () => {
    for (const kind of TENANT_OBJECTS) expect(directions[0]!.victim[kind].length, `Northwind's ${kind} ids`).toBeGreaterThan(0);
    expect(passwordStep.size).toBe(1);
  });
});

describe('tenant isolation', () => {
  it("answers another MSP's ids as ids that do not exist, for every route, role and token, changing nothing and showing nothing of theirs", async () => {
    const failures: string[] = [];
    let calls = 0;
    const covered = new Set<string>();
    for (const direction of directions) {
      await settle(sb);
      for (const route of routes) {
        const row = accessOf(route.method, route.url);
        if (!row) continue;
        // Nothing here may change the database: one digest before and after each route's calls.
        const before = await databaseDigest(sb.service.ctx.db);
        for (const [caller, credentials] of Object.entries(direction.attackers) as [Caller, Credentials][]) {
          for (const probe of probesOf(route, row, direction)) {
            const answer = await send(sb.service.url, credentials, probe.call);
            calls++;
            covered.add(routeKey(route.method, route.url));
            const where = `${direction.name}: ${probe.call.method} ${probe.what} as ${caller}`;
            const leaked = direction.markers.filter((m) => answer.text.includes(m) && !probe.sent.includes(m));
            if (leaked.length > 0) failures.push(`${where} answered with the other MSP's ${leaked.slice(0, 3).join(', ')}`);
            if (probe.kind !== 'id') {
              if (answer.status !== row.answers[caller]) failures.push(`${where}: ${answer.status}, expected ${row.answers[caller]} as the role matrix says`);
              continue;
            }
            const want = row.crossTenant ?? 404;
            if (answer.status !== want) failures.push(`${where}: ${answer.status}, expected ${want} (${answer.text.slice(0, 160)})`);
            const nowhere = await send(sb.service.url, credentials, probe.nowhere!);
            calls++;
            if (nowhere.status !== answer.status || nowhere.text !== answer.text) {
              failures.push(`${where} is told apart from an id that exists nowhere: ${short(answer)} vs ${short(nowhere)}`);
            }
          }
        }
        const changed = changedTables(before, await databaseDigest(sb.service.ctx.db));
        if (changed.length > 0) failures.push(`${direction.name}: the calls of ${routeKey(route.method, route.url)} changed ${changed.join(', ')}`);
      }
    }
    console.log(`tenant isolation: ${covered.size} of ${routes.length} registered routes called with another MSP's ids or checked for leaks, ${calls} calls`);
    expect(failures).toEqual([]);
  }, 300_000);
});

interface Probe {
  /** `id`: another MSP's id where the route looks one up (404); `filter`: a query that only narrows the caller's own list; `read`: a signed-in read with no id. */
  kind: 'id' | 'filter' | 'read';
  what: string;
  call: Call;
  /** The same call with the id replaced by one that exists nowhere. */
  nowhere?: Call;
  /** Values the probe itself sent (an answer may echo them). */
  sent: string[];
}

/**
 * The calls that put another MSP's ids where this route takes them. A route that takes none is
 * still read as a signed-in user, to see that nothing of the other MSP comes back.
 */
function probesOf(route: RegisteredRoute, row: RouteAccess, direction: Tenant): Probe[] {
  const probes: Probe[] = [];
  const tenantParams = Object.entries(row.params ?? {}).filter((entry): entry is [string, TenantObject] => (TENANT_OBJECTS as readonly string[]).includes(entry[1]));
  const body = row.example && 'json' in row.example ? { json: row.example.json } : row.example && 'form' in row.example ? { form: row.example.form } : {};
  for (const [name, kind] of tenantParams) {
    for (const id of direction.victim[kind]) {
      const path = (value: string) => pathWith(route.url, row, { [name]: value }, id);
      probes.push({ kind: 'id', what: path(id), call: { method: route.method, path: path(id), ...body }, nowhere: { method: route.method, path: path(NOWHERE), ...body }, sent: [id] });
    }
  }
  for (const [field, kind] of Object.entries(row.bodyIds ?? {})) {
    for (const id of direction.victim[kind]) {
      const json = (value: string) => ({ ...(row.example && 'json' in row.example ? row.example.json : {}), [field]: value });
      const path = pathWith(route.url, row, {}, null);
      probes.push({ kind: 'id', what: `${path} body.${field}`, call: { method: route.method, path, json: json(id) }, nowhere: { method: route.method, path, json: json(NOWHERE) }, sent: [id] });
    }
  }
  const needsUser = row.answers.signed_out === 401;
  if (tenantParams.length > 0 || Object.keys(row.bodyIds ?? {}).length > 0 || !needsUser || (route.method !== 'GET' && route.method !== 'HEAD')) return probes;
  const path = pathWith(route.url, row, {}, null);
  for (const [field, kind] of Object.entries(row.queryIds ?? {})) {
    // A filter may name the object by id or, for clients, by slug: both find nothing of the other MSP's.
    for (const value of [...direction.victim[kind], ...(kind === 'client' ? direction.victimSlugs : [])]) {
      probes.push({ kind: 'filter', what: `${path}?${field}=${value}`, call: { method: route.method, path: `${path}?${field}=${encodeURIComponent(value)}` }, sent: [value] });
    }
  }
  const whole = row.exampleQuery ? `${path}?${new URLSearchParams(row.exampleQuery)}` : path;
  probes.push({ kind: 'read', what: whole, call: { method: route.method, path: whole }, sent: [] });
  return probes;
}

/** The route's path with the given parameters, and well-formed values for the others. */
function pathWith(url: string, row: RouteAccess, values: Record<string, string>, requestId: string | null): string {
  let path = url;
  for (const [name, kind] of Object.entries(row.params ?? {})) {
    let value = values[name];
    if (value === undefined) {
      if (kind === 'step-index') value = String((requestId && passwordStep.get(requestId)) ?? 0);
      else if (kind === 'tool') value = 'm365.revoke_sessions';
      else if (kind === 'webhook-secret') value = 'not-this-integrations-secret';
      else value = NOWHERE;
    }
    path = path.replace(`:${name}`, encodeURIComponent(value));
  }
  return path;
}

function short(answer: Answer): string {
  return `${answer.status} ${answer.text.slice(0, 120)}`;
}
