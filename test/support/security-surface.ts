import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { expect } from 'vitest';
import type { Sandbox } from '../../src/demo/sandbox.ts';
import { FINAL } from '../../src/demo/stories.ts';
import { mailMarker } from '../../src/integrations/m365/client.ts';
import type { Db } from '../../src/store/db.ts';
import { DEMO_PASSWORD } from '../../src/world/seed.ts';

/**
 * What the role and tenant tests share: the routes the running service registered, callers signed
 * in as the dashboard and scripts sign in, one HTTP call as such a caller, and a digest of the whole
 * database to prove that a refused call changed nothing.
 */

export interface RegisteredRoute {
  method: string;
  url: string;
}

/**
 * Every route the running app registered (Fastify's HEAD twins of GET routes included), read from
 * `printRoutes` and cross-checked: each must be known to `hasRoute`, and each path of the OpenAPI
 * document must be among them, so a misread tree fails loudly instead of hiding a route.
 */
export async function registeredRoutes(app: FastifyInstance): Promise<RegisteredRoute[]> {
  const tree = app.printRoutes({ commonPrefix: false });
  const routes: RegisteredRoute[] = [];
  const pathAt: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^(.*?)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) {
      if (line.trim()) throw new Error(`cannot read this line of printRoutes: ${JSON.stringify(line)}`);
      continue;
    }
    const depth = match[1]!.length / 4;
    if (!Number.isInteger(depth)) throw new Error(`cannot read the depth of this line of printRoutes: ${JSON.stringify(line)}`);
    const path = (depth === 0 ? '' : pathAt[depth - 1]!) + match[2]!;
    pathAt[depth] = path;
    pathAt.length = depth + 1;
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean)) routes.push({ method, url: path });
  }
  for (const route of routes) {
    expect(app.hasRoute({ method: route.method as 'GET', url: route.url }), `${route.method} ${route.url} read from printRoutes is not a route`).toBe(true);
  }
  const openapi = (await (await app.inject({ method: 'GET', url: '/api/openapi.json' })).json()) as OpenApi;
  for (const [path, operations] of Object.entries(openapi.paths)) {
    for (const method of Object.keys(operations)) {
      const url = path.replace(/\{(\w+)\}/g, ':$1');
      expect(routes.some((r) => r.method === method.toUpperCase() && r.url === url), `${method.toUpperCase()} ${url} of the OpenAPI document was not read from printRoutes`).toBe(true);
    }
  }
  return routes;
}

export interface OpenApi {
  paths: Record<string, Record<string, { parameters?: { in: string; name: string; schema?: Record<string, unknown> }[]; requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }>>;
}
type JsonSchema = { properties?: Record<string, JsonSchema>; format?: string; items?: JsonSchema };

export async function openApiDocument(baseUrl: string): Promise<OpenApi> {
  return (await (await fetch(`${baseUrl}/api/openapi.json`)).json()) as OpenApi;
}

/** The path parameters of a route pattern. */
export function pathParams(url: string): string[] {
  return [...url.matchAll(/:(\w+)/g)].map((m) => m[1]!);
}

/**
 * Fields that look like they name an object: `id`, `…Id`, `…_id`, `…Ids`, a UUID, or the name of
 * an MSP's object (`client`, `requests`…). Every such query or body field must be declared in the
 * access table, so an id added to a body later is sent another MSP's ids without anyone remembering.
 */
export function idLikeFields(openapi: OpenApi, method: string, url: string): { query: string[]; body: string[] } {
  const operation = openapi.paths[url.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()];
  const idLike = (name: string, schema: JsonSchema | Record<string, unknown> | undefined) =>
    /(^id$|Id$|_id$|Ids$|_ids$)/.test(name) || /^(client|request|approval|integration|user)s?$/i.test(name) || (schema as JsonSchema | undefined)?.format === 'uuid';
  const query = (operation?.parameters ?? []).filter((p) => p.in === 'query' && idLike(p.name, p.schema)).map((p) => p.name);
  const body: string[] = [];
  const walk = (schema: JsonSchema | undefined, prefix: string) => {
    for (const [name, property] of Object.entries(schema?.properties ?? {})) {
      if (idLike(name, property) || (property.items && idLike(name, property.items))) body.push(prefix + name);
      walk(property, `${prefix}${name}.`);
    }
  };
  for (const content of Object.values(operation?.requestBody?.content ?? {})) walk(content.schema, '');
  return { query, body: [...new Set(body)] };
}

/** How one caller authenticates: a session cookie (with its CSRF token, once the service issues one), a bearer token, or nothing. */
export type Credentials = { kind: 'cookie'; cookie: string; csrfToken: string | null; email: string } | { kind: 'token'; token: string; email: string } | { kind: 'none' };

/** Sign in as the dashboard does; keeps every cookie the answer sets and the CSRF token it returns. */
export async function signIn(baseUrl: string, email: string, password = DEMO_PASSWORD): Promise<Credentials & { kind: 'cookie' }> {
  const response = await fetch(`${baseUrl}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  const body = (await response.json()) as { csrfToken?: string };
  if (response.status !== 200) throw new Error(`signing in as ${email} answered ${response.status}: ${JSON.stringify(body)}`);
  const cookie = response.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .join('; ');
  return { kind: 'cookie', cookie, csrfToken: body.csrfToken ?? null, email };
}

export interface Call {
  method: string;
  path: string;
  json?: unknown;
  form?: Record<string, string>;
  /** A body sent as is (a signed webhook), with its headers. */
  raw?: { body: string; headers: Record<string, string> };
}

export interface Answer {
  status: number;
  text: string;
}

/** One HTTP call as the caller; cookie callers send the CSRF header on state changes under /api/ (the lead's contract). */
export async function send(baseUrl: string, credentials: Credentials, call: Call): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (credentials.kind === 'token') headers['authorization'] = `Bearer ${credentials.token}`;
  if (credentials.kind === 'cookie') {
    headers['cookie'] = credentials.cookie;
    if (credentials.csrfToken && !['GET', 'HEAD'].includes(call.method) && call.path.startsWith('/api/')) headers['x-csrf-token'] = credentials.csrfToken;
  }
  let body: string | undefined;
  if (call.raw) {
    Object.assign(headers, call.raw.headers);
    body = call.raw.body;
  } else if (call.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(call.form).toString();
  } else if (call.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(call.json);
  }
  const response = await fetch(`${baseUrl}${call.path}`, { method: call.method, headers, body, redirect: 'manual' });
  return { status: response.status, text: await response.text() };
}

/**
 * Columns that change on a call whatever its answer, as bookkeeping of authentication, not product
 * state: left out of the digest.
 */
const BOOKKEEPING_COLUMNS: Record<string, string[]> = {
  // Noted (at most once a minute) whenever a token is presented.
  api_tokens: ['last_used_at'],
};

/**
 * Tables that are observations of the outside systems, not product state: an integration's health
 * and its circuit breaker are written by whatever calls the system (the worker delivering an earlier
 * request's messages, a poll, a doctor), whenever that happens to finish. Left out of the digest.
 */
const OBSERVATION_TABLES = new Set(['integration_health']);

/** A digest of every row of every table of the database (except bookkeeping columns), per table. */
export async function databaseDigest(db: Db): Promise<Record<string, string>> {
  const columns = await sql<{ table_name: string; column_name: string }>`
    SELECT c.table_name, c.column_name FROM information_schema.columns c
    JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
    WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
    ORDER BY c.table_name, c.ordinal_position`.execute(db);
  const byTable = new Map<string, string[]>();
  for (const { table_name, column_name } of columns.rows) {
    if (OBSERVATION_TABLES.has(table_name)) continue;
    if (BOOKKEEPING_COLUMNS[table_name]?.includes(column_name)) continue;
    byTable.set(table_name, [...(byTable.get(table_name) ?? []), column_name]);
  }
  const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
  const parts = [...byTable].map(
    ([table, cols]) =>
      `SELECT ${sqlText(table)} AS t, count(*)::text || ':' || coalesce(md5(string_agg(r::text, E'\\n' ORDER BY r::text)), '') AS d FROM (SELECT ${cols.map(quote).join(', ')} FROM ${quote(table)}) r`,
  );
  const result = await sql.raw<{ t: string; d: string }>(parts.join(' UNION ALL ')).execute(db);
  return Object.fromEntries(result.rows.map((row) => [row.t, row.d]));
}

function sqlText(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** The tables whose digest differs. */
export function changedTables(before: Record<string, string>, after: Record<string, string>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((t) => before[t] !== after[t]).sort();
}

const RESTING = ['awaiting_approval', ...FINAL];

/** Wait until the worker has nothing left to do: every request resting, no message pending. */
export async function settle(sb: Sandbox, timeoutMs = 30_000): Promise<void> {
  const db = sb.service.ctx.db;
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const busy = await db.selectFrom('requests').select('id').where('state', 'not in', RESTING).executeTakeFirst();
    const pending = await db.selectFrom('outbox').select('id').where('status', '=', 'pending').executeTakeFirst();
    if (!busy && !pending) return;
    await sleep(50);
  }
  throw new Error(`the worker did not settle within ${timeoutMs} ms`);
}

/** A request of Contoso that waits for a technician's and the manager's approval (a forgotten password). */
export interface DualApprovalRequest {
  requestId: string;
  ticket: number;
  technicianApprovalId: string;
  managerLinkPath: string;
}

export async function openDualApprovalRequests(sb: Sandbox, employees: string[]): Promise<DualApprovalRequest[]> {
  return Promise.all(
    employees.map(async (upn) => {
      const ticket = await sb.openTicket('contoso', upn, "My password slipped my mind and I'm locked out today.");
      const request = await sb.requestForTicket(ticket, 30_000);
      const waiting = await sb.waitForRequest(request.id, RESTING, 60_000);
      if (waiting.state !== 'awaiting_approval') throw new Error(`${upn}: the request is ${waiting.state} (${waiting.last_error}), not awaiting approval`);
      await sb.waitForDelivered(request.id, 60_000);
      const approvals = await sb.service.ctx.db.selectFrom('approvals').select(['id', 'kind']).where('request_id', '=', request.id).execute();
      const technician = approvals.find((a) => a.kind === 'technician');
      if (!technician || !approvals.some((a) => a.kind === 'manager')) throw new Error(`${upn}: expected a technician and a manager approval`);
      return { requestId: request.id, ticket, technicianApprovalId: technician.id, managerLinkPath: managerLinkPath(sb, request.id) };
    }),
  );
}

/** The path of the link in the manager's mail for this request. */
export function managerLinkPath(sb: Sandbox, requestId: string): string {
  const marker = `[ref ${mailMarker(`${requestId}:manager-mail`)}]`;
  const mail = sb.emulators.graph.mail().find((m) => m.subject.includes(marker));
  const link = mail?.content.match(/https?:\/\/\S+\/approvals\/manager\/\S+/)?.[0];
  if (!link) throw new Error(`no manager mail with a link for request ${requestId}`);
  return new URL(link).pathname;
}

/**
 * A ConnectWise callback signed with the emulator's key, about a ticket update (which starts
 * nothing), fresh for each call: the emulator signs it and sends it to a listener of ours, and the
 * test sends it on to the service as the caller.
 */
export class SignedCallbacks {
  private server: Server | null = null;
  private last: { body: string; headers: Record<string, string> } | null = null;

  constructor(private readonly sb: Sandbox) {}

  async next(ticketId: number): Promise<{ body: string; headers: Record<string, string> }> {
    if (!this.server) {
      this.server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          const headers: Record<string, string> = { 'content-type': String(req.headers['content-type'] ?? 'application/json') };
          const signature = req.headers['x-content-signature'];
          if (typeof signature === 'string') headers['x-content-signature'] = signature;
          this.last = { body: Buffer.concat(chunks).toString('utf8'), headers };
          res.end('{}');
        });
      });
      await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    }
    this.last = null;
    const port = (this.server.address() as AddressInfo).port;
    const forged = await this.sb.emulators.connectwise.forgeCallback({
      url: `http://127.0.0.1:${port}/capture`,
      signature: 'valid',
      ticketId,
      action: 'updated',
      companyId: 'northwind',
      memberId: 'portal',
    });
    if (forged.status !== 200 || !this.last) throw new Error(`the emulator did not hand over a signed callback (${forged.status} ${forged.responseBody})`);
    return this.last;
  }

  close(): void {
    this.server?.close();
  }
}
