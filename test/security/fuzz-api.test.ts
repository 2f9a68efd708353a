import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseDigest, type Digest, digestChanges, FuzzTally, fuzzBudget, isClearError, quiescentDigest, type RawRequest, type RawResponse, send } from '../support/fuzz-kit.ts';
import { contentType, hostileBodyFor, hostileQuery, hostileSegment, hostileText, type JsonSchema } from '../support/fuzz-inputs.ts';
import { ADMIN, type FuzzWorld, lastError, startFuzzWorld } from '../support/fuzz-world.ts';

/**
 * Hostile input for every API route (issue 7, part 4), generated from the OpenAPI document so that
 * a route added later is fuzzed without anyone remembering to: every route with a body, query or
 * path parameters gets random, truncated, oversized and type-confused input, with ids that exist,
 * ids of another MSP and ids that never existed, as every role, signed out and with broken
 * credentials. Properties, checked after every case: never a 5xx; a refusal is a clear error
 * (`{"error": {"code", "message"}}`); a state-changing route never answers 2xx to such input; and
 * the database (every table's rows, the audit log and the outbox included) is exactly as before.
 * Bodies are invalid by construction (see test/support/fuzz-inputs.ts), and credentials in the
 * last property are broken by construction, so none of this may change anything.
 *
 * The fuzz does not depend on the database: CI's embedded pass runs the full budget, the pass on
 * the machine's PostgreSQL a smoke budget. FUZZ_SEED replays a run, FUZZ_RUNS raises the budget.
 */

const budget = fuzzBudget('fuzz-api');
const tally = new FuzzTally('fuzz-api');
let world: FuzzWorld;
let baseline: Digest;

interface Operation {
  method: string;
  path: string;
  pathParams: string[];
  queryParams: string[];
  body: JsonSchema | null;
}

let operations: Operation[] = [];

/**
 * Routes fuzzed elsewhere: sign-in, the webhook and the manager's link page in fuzz-intake.test.ts
 * (the page answers its refusals as HTML pages, for the manager's browser, not the API's error shape).
 */
const ELSEWHERE = new Set([
  'POST /api/session',
  'POST /webhooks/connectwise/{integrationId}/{secret}',
  'GET /approvals/manager/{link}',
  'POST /approvals/manager/{link}',
  // A stream that stays open while the caller listens (its one parameter, once, is checked in test/live-events.test.ts).
  'GET /api/events',
]);

/**
 * POST routes that only read (they run a check now and answer its report): a well-formed call to one
 * of the MSP's own ids is answered 2xx whatever else comes with it, as a GET would; like every route,
 * they must still answer clearly, never 5xx, and change nothing.
 */
const READ_ONLY_ACTIONS = new Set(['POST /api/integrations/{id}/test']);

beforeAll(async () => {
  world = await startFuzzWorld();
  const doc = JSON.parse((await send(world.sb.service.url, { method: 'GET', path: '/api/openapi.json' })).text) as {
    paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }>>;
  };
  operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      pathParams: (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
      queryParams: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
      body: op.requestBody?.content?.['application/json']?.schema ?? null,
    })),
  );
  baseline = await quiescentDigest(world.sb.service.ctx.db);
}, 180_000);

afterAll(async () => {
  tally.print();
  for (const line of explored) console.log(`[fuzz] explored failure: ${line}`);
  await world?.sb.close();
});

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function withParams(): Operation[] {
  return operations.filter((o) => (o.pathParams.length > 0 || o.queryParams.length > 0 || o.body !== null) && !ELSEWHERE.has(`${o.method} ${o.path}`));
}

/** A value for a path parameter: a real id of this MSP or another, one that never existed, or hostile text. */
function segmentFor(name: string): fc.Arbitrary<string> {
  const real =
    name === 'index'
      ? fc.constantFrom('0', '1', '2', '3')
      : name === 'tool'
        ? fc.constantFrom(...world.own.tools)
        : fc.constantFrom(
            world.requestId,
            world.technicianApprovalId,
            world.managerApprovalId,
            ...world.own.clientIds,
            ...world.own.integrationIds,
            ...world.foreign.clientIds,
            ...world.foreign.integrationIds,
          );
  return fc.oneof({ arbitrary: real, weight: 4 }, { arbitrary: fc.uuid(), weight: 1 }, { arbitrary: hostileSegment, weight: 3 });
}

interface Credential {
  label: string;
  headers: Record<string, string>;
}

function bearer(label: string, token: string): Credential {
  return { label, headers: { authorization: `Bearer ${token}` } };
}

/** Who sends it: mostly the admin (who reaches deepest), every other role, nobody, and broken tokens. */
function credential(): fc.Arbitrary<Credential> {
  return fc.oneof(
    { arbitrary: fc.constant(bearer('admin', world.tokens.admin)), weight: 5 },
    { arbitrary: fc.constant(bearer('technician', world.tokens.technician)), weight: 2 },
    { arbitrary: fc.constant(bearer('billing', world.tokens.billing)), weight: 1 },
    { arbitrary: fc.constant(bearer('other MSP admin', world.tokens.foreignAdmin)), weight: 1 },
    { arbitrary: fc.constant({ label: 'signed out', headers: {} }), weight: 1 },
    { arbitrary: brokenCredential(), weight: 1 },
  );
}

/**
 * Credentials that cannot be valid: a real token with a character changed, cut short or lengthened,
 * another scheme, or hostile text. Never only whitespace added (that is still the token).
 */
function brokenCredential(): fc.Arbitrary<Credential> {
  const token = world.tokens.admin;
  const changed = fc.tuple(fc.nat({ max: token.length - 1 }), fc.constantFrom('A', 'z', '0', '_', '-', '%', 'é')).map(([at, c]) => {
    const replacement = token[at] === c ? (c === 'A' ? 'B' : 'A') : c;
    return `${token.slice(0, at)}${replacement}${token.slice(at + 1)}`;
  });
  const shortened = fc.integer({ min: 0, max: token.length - 1 }).map((n) => token.slice(0, n));
  const lengthened = fc.constantFrom('x', 'A', '.', '%00').map((c) => `${token}${c}`);
  const value = fc.oneof(changed, shortened, lengthened, hostileText.map((t) => t.replace(/[^\x21-\x7e]/g, '')));
  return fc.oneof(
    value.map((v) => ({ label: 'broken token', headers: { authorization: `Bearer ${v}` } })),
    fc.constantFrom('Bearer', 'Bearer ', `Basic ${Buffer.from(`${ADMIN}:deskhand-demo`).toString('base64')}`, `bearer ${world.tokens.admin}`, `Token ${world.tokens.admin}`, `${world.tokens.admin}`).map((v) => ({
      label: 'broken token',
      headers: { authorization: v },
    })),
    value.map((v) => ({ label: 'broken cookie', headers: { cookie: `deskhand_session=${encodeURIComponent(v)}` } })),
    fc.constantFrom('deskhand_session=', 'deskhand_session=%', 'deskhand_session=%zz; deskhand_session=x', '=; ;;', 'a=b=c; deskhand_session="quoted"').map((v) => ({ label: 'broken cookie', headers: { cookie: v } })),
  );
}

function requestFor(operation: Operation, who: fc.Arbitrary<Credential>): fc.Arbitrary<{ request: RawRequest; who: string; kind: string }> {
  const segments = fc.tuple(...operation.pathParams.map((name) => segmentFor(name)));
  const query = operation.queryParams.length > 0 ? fc.oneof(hostileQuery(operation.queryParams), fc.constant('')) : fc.oneof({ arbitrary: fc.constant(''), weight: 4 }, { arbitrary: hostileQuery([]), weight: 1 });
  const body = operation.body
    ? fc.tuple(hostileBodyFor(operation.body), contentType)
    : MUTATING.has(operation.method)
      ? fc.oneof(fc.constant(null), fc.tuple(fc.constantFrom({ kind: 'unexpected-body', body: '{"decision":"approve"}' }, { kind: 'unexpected-body', body: '[' }, { kind: 'unexpected-body', body: 'x'.repeat(2_000_000) }), contentType))
      : fc.constant(null);
  // A request with nothing hostile in it (the admin, this MSP's real ids, no query, no body) is a
  // genuine action (unlinking a client really unlinks it): not fuzz input, so never generated.
  const own = new Set([...world.own.clientIds, ...world.own.integrationIds, world.requestId, world.technicianApprovalId, world.managerApprovalId, ...world.own.tools, '0', '1', '2', '3']);
  const genuine = ([values, q, b, credentials]: readonly [readonly string[], string, unknown, Credential]): boolean =>
    b === null && q === '' && values.every((v) => own.has(v)) && (credentials.label === 'admin' || credentials.label === 'cookie + CSRF');
  return fc.tuple(segments, query, body, who).filter((parts) => !genuine(parts)).map(([values, q, b, credentials]) => {
    let path = operation.path;
    operation.pathParams.forEach((name, i) => {
      path = path.replace(`{${name}}`, values[i]!);
    });
    const headers: Record<string, string> = { ...credentials.headers };
    if (b && b[1] !== undefined) headers['content-type'] = b[1];
    return {
      request: { method: operation.method, path: `${path}${q}`, headers, ...(b ? { body: b[0].body } : {}) },
      who: credentials.label,
      kind: b ? b[0].kind : 'no body',
    };
  });
}

function describeCase(request: RawRequest, who: string, kind: string, response?: RawResponse): string {
  const body = request.body === undefined ? '' : ` body(${kind}, ${Buffer.byteLength(request.body)} bytes): ${String(request.body).slice(0, 300)}`;
  return `${request.method} ${request.path.slice(0, 300)} as ${who} [${JSON.stringify(request.headers ?? {}).slice(0, 200)}]${body}${response ? ` -> ${response.status} ${response.text.slice(0, 300)}` : ''}`;
}

/** FUZZ_EXPLORE=1 lists every failing case instead of stopping at the first (for finding many defects in one run). */
const explored: string[] = [];

async function check(property: string, operation: Operation, request: RawRequest, who: string, kind: string): Promise<void> {
  if (process.env['FUZZ_EXPLORE'] !== '1') return checkCase(property, operation, request, who, kind);
  try {
    await checkCase(property, operation, request, who, kind);
  } catch (error) {
    explored.push(String((error as Error).message).split('\n')[0]!.slice(0, 600));
    baseline = await databaseDigest(world.sb.service.ctx.db);
  }
}

/** The properties every case must keep. */
async function checkCase(property: string, operation: Operation, request: RawRequest, who: string, kind: string): Promise<void> {
  const response = await send(world.sb.service.url, request);
  tally.record(property, response.status);
  const what = describeCase(request, who, kind, response);
  expect(response.status, `a 5xx for ${what}\nservice log: ${lastError(world)}`).toBeLessThan(500);
  expect(response.status, `no answer status for ${what}`).toBeGreaterThanOrEqual(200);
  // 431: Node's HTTP parser refuses headers (the URL included) over 16 KiB before any route runs; its answer is plain but clear.
  if (response.status >= 400 && response.status !== 431) expect(isClearError(response), `not a clear error for ${what}`).toBe(true);
  if (MUTATING.has(operation.method) && !READ_ONLY_ACTIONS.has(`${operation.method} ${operation.path}`)) {
    expect(response.status, `hostile input accepted by ${what}`).toBeGreaterThanOrEqual(400);
  }
  const changes = digestChanges(baseline, await databaseDigest(world.sb.service.ctx.db));
  expect(changes, `state changed by ${what}`).toEqual([]);
}

describe('every API route with a body, query or path parameters, fuzzed', () => {
  it('answers a URL it cannot route (a malformed percent-encoding, a parameter over 300 characters) with the API error shape, without repeating the URL', async () => {
    // Found by the fuzz below: Fastify's own 400/414 answered {"error":"Bad Request","message":"'<the path>' is not a valid url component"},
    // repeating the path: a webhook secret or a manager link token sent with one bad character came back in the answer.
    const secret = world.webhook.secret;
    const cases: RawRequest[] = [
      { method: 'GET', path: '/api/requests/%zz', headers: { authorization: `Bearer ${world.tokens.admin}` } },
      { method: 'POST', path: `/api/requests/${world.requestId}/steps/%ED%A0%80/temporary-password`, headers: { authorization: `Bearer ${world.tokens.admin}` } },
      { method: 'POST', path: `/webhooks/connectwise/${world.own.connectWiseIntegrationId}/${secret}%E0%A4%A`, headers: { 'content-type': 'application/json' }, body: '{}' },
      { method: 'POST', path: `${world.managerLink}%zz`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=x' },
      { method: 'GET', path: `/api/approvals/${'a'.repeat(301)}`, headers: { authorization: `Bearer ${world.tokens.admin}` } },
      { method: 'POST', path: `/webhooks/connectwise/${world.own.connectWiseIntegrationId}/${secret}${'s'.repeat(300)}`, headers: { 'content-type': 'application/json' }, body: '{}' },
    ];
    for (const request of cases) {
      const response = await send(world.sb.service.url, request);
      tally.record('examples', response.status);
      const what = describeCase(request, 'example', 'example', response);
      expect([400, 414], what).toContain(response.status);
      expect(isClearError(response), `not a clear error for ${what}`).toBe(true);
      expect(response.text, what).not.toContain(secret);
      expect(response.text, what).not.toContain(world.managerLink.split('/').pop()!.slice(0, 40));
      expect(response.text, what).not.toContain('a'.repeat(301));
    }
    expect(digestChanges(baseline, await databaseDigest(world.sb.service.ctx.db))).toEqual([]);
  });

  it('answers hostile params, queries and bodies from every role with a clear 4xx (or a harmless read), never a 5xx, and changes nothing', async () => {
    const fuzzed = withParams();
    expect(fuzzed.length, 'routes found in the OpenAPI document').toBeGreaterThanOrEqual(9);
    for (const operation of fuzzed) {
      const property = `${operation.method} ${operation.path}`;
      await fc.assert(
        fc.asyncProperty(requestFor(operation, credential()), async ({ request, who, kind }) => {
          await check(property, operation, request, who, kind);
        }),
        { seed: budget.seed, numRuns: budget.runs(operation.body ? 60 : 40) },
      );
    }
  }, 600_000);

  it('refuses every state-changing route, with valid input aimed at real ids, when the credentials are broken (never 2xx, nothing changed)', async () => {
    const mutating = operations.filter((o) => MUTATING.has(o.method) && !ELSEWHERE.has(`${o.method} ${o.path}`) && o.path !== '/api/session');
    expect(mutating.length).toBeGreaterThanOrEqual(4);
    const validBody: Record<string, string> = {
      '/api/approvals/{id}/decision': JSON.stringify({ decision: 'approve' }),
      '/api/clients/{id}': JSON.stringify({ operatingMode: 'plan' }),
      '/api/msp': JSON.stringify({ defaultOperatingMode: 'plan' }),
      '/api/integrations/{id}/policies/{tool}': JSON.stringify({ policy: 'disabled' }),
    };
    const realSegment: Record<string, string> = {
      '/api/approvals/{id}/decision:id': world.technicianApprovalId,
      '/api/clients/{id}:id': world.own.clientIds[0]!,
      '/api/integrations/{id}/policies/{tool}:id': world.own.integrationIds[0]!,
      '/api/requests/{id}/steps/{index}/temporary-password:id': world.requestId,
    };
    for (const operation of mutating) {
      const property = `broken credentials: ${operation.method} ${operation.path}`;
      await fc.assert(
        fc.asyncProperty(brokenCredential(), fc.constantFrom(...world.own.tools), async (credentials, tool) => {
          let path = operation.path;
          for (const name of operation.pathParams) path = path.replace(`{${name}}`, name === 'tool' ? tool : name === 'index' ? '0' : (realSegment[`${operation.path}:${name}`] ?? world.requestId));
          const body = validBody[operation.path];
          const request: RawRequest = { method: operation.method, path, headers: { ...credentials.headers, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body } : {}) };
          await check(property, operation, request, credentials.label, 'valid');
          return true;
        }),
        { seed: budget.seed, numRuns: budget.runs(25) },
      );
    }
  }, 300_000);

  it('answers hostile input on the cookie path (signed in by the session cookie, with or without the CSRF header) the same way', async () => {
    const signIn = await send(world.sb.service.url, {
      method: 'POST',
      path: '/api/session',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: ADMIN, password: 'deskhand-demo' }),
    });
    expect(signIn.status).toBe(200);
    // Every cookie sign-in sets (the session's, and the CSRF secret's), as a browser would send them back.
    const setCookies = [signIn.headers['set-cookie'] ?? []].flat().map((c) => c.split(';')[0]!);
    expect(setCookies.some((c) => c.startsWith('deskhand_session='))).toBe(true);
    const cookie = setCookies.join('; ');
    const csrfToken = (JSON.parse(signIn.text) as { csrfToken?: string }).csrfToken ?? 'no-csrf-token-issued-yet';
    // Signing in wrote a session: that is the state the cookie cases start from.
    baseline = await quiescentDigest(world.sb.service.ctx.db);
    const csrf = fc.constantFrom<Record<string, string>>({ 'x-csrf-token': csrfToken }, { 'x-csrf-token': csrfToken }, {}, { 'x-csrf-token': `${csrfToken}x` }, { 'x-csrf-token': '' });
    const cookieCredential = csrf.map((header) => ({ label: `cookie${header['x-csrf-token'] === csrfToken ? ' + CSRF' : ''}`, headers: { cookie, ...header } }));
    const fuzzed = withParams().filter((o) => MUTATING.has(o.method));
    for (const operation of fuzzed) {
      const property = `cookie: ${operation.method} ${operation.path}`;
      await fc.assert(
        fc.asyncProperty(requestFor(operation, cookieCredential), async ({ request, who, kind }) => {
          await check(property, operation, request, who, kind);
        }),
        { seed: budget.seed, numRuns: budget.runs(20) },
      );
    }
  }, 300_000);
});
