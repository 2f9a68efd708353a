import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { silentLogger } from '../src/logger.ts';
import { createTestDatabase } from './support/db.ts';
import { registeredRoutes } from './support/security-surface.ts';

/**
 * The API is a typed contract (issue 11, item 6): the OpenAPI document the running service serves
 * is valid OpenAPI 3.0, every operation has a unique operation id and the schema of its success
 * answer, and every key of every body and answer is camelCase — in the document and in real answers.
 */
let sb: Sandbox;
let doc: OpenApiDocument;

type Schema = { [key: string]: unknown; properties?: Record<string, Schema>; items?: Schema; additionalProperties?: Schema | boolean };
interface Operation {
  operationId?: string;
  parameters?: { name: string; in: string }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}
interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
}

const METHODS = ['get', 'put', 'post', 'patch', 'delete'];
/** camelCase: a lower-case start, letters and digits, no separator. */
const CAMEL = /^[a-z][a-zA-Z0-9]*$/;

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
  const response = await fetch(`${sb.service.url}/api/openapi.json`);
  expect(response.status).toBe(200);
  doc = (await response.json()) as OpenApiDocument;
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

function operations(): { method: string; path: string; operation: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((method) => ({ method, path, operation: item[method]! })));
}

/** Every property name a JSON schema declares, with where it is (nested objects, arrays, unions). */
function schemaKeys(schema: unknown, at: string, out: string[] = []): string[] {
  if (!schema || typeof schema !== 'object') return out;
  const s = schema as Schema;
  for (const [key, child] of Object.entries(s.properties ?? {})) {
    out.push(`${at}.${key}`);
    schemaKeys(child, `${at}.${key}`, out);
  }
  if (Array.isArray(s['required'])) for (const key of s['required'] as string[]) out.push(`${at}.${key}`);
  schemaKeys(s.items, `${at}[]`, out);
  if (typeof s.additionalProperties === 'object') schemaKeys(s.additionalProperties, `${at}.*`, out);
  for (const union of ['anyOf', 'oneOf', 'allOf']) for (const [i, part] of ((s[union] as unknown[]) ?? []).entries()) schemaKeys(part, `${at}<${union}${i}>`, out);
  return out;
}

const notCamel = (paths: string[]) => paths.filter((path) => !CAMEL.test(path.split('.').pop()!));

/**
 * JSON the API passes on as stored, not a shape of its own: what a system answered (a diagnosis'
 * reads, a step's result), an audit row's data, a mail's envelope, a tool's arguments, an
 * integration's settings and JSON Schemas. Their keys are the systems' and are not walked.
 */
const STORED = new Set(['requester', 'manager', 'reads', 'result', 'data', 'payload', 'reasons', 'stepPolicies', 'rejectedProblems', 'args', 'resolved', 'settings', 'settingsSchema', 'secretsSchema']);

/** Every key of a real answer outside stored JSON, with its path. */
function answerKeys(value: unknown, at: string, out: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const item of value) answerKeys(item, `${at}[]`, out);
  } else if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      out.push(`${at}.${key}`);
      if (!STORED.has(key)) answerKeys(child, `${at}.${key}`, out);
    }
  }
  return out;
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.0.3', async () => {
    expect(doc.openapi).toBe('3.0.3');
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 1)?.slice(0, 3000)).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('describes every route the service registers', async () => {
    const routes = (await registeredRoutes(sb.service.app!)).filter((r) => r.method !== 'HEAD');
    const described = new Set(operations().map((o) => `${o.method.toUpperCase()} ${o.path.replace(/\{(\w+)\}/g, ':$1')}`));
    expect(routes.map((r) => `${r.method} ${r.url}`).filter((route) => !described.has(route))).toEqual([]);
  });

  it('gives every operation a unique operationId and the schema of its success answer', () => {
    const all = operations();
    expect(all.length).toBeGreaterThan(20);
    expect(all.filter((o) => !o.operation.operationId).map((o) => `${o.method} ${o.path}`)).toEqual([]);
    const ids = all.map((o) => o.operation.operationId);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    const withoutAnswer = all.filter(({ operation }) => {
      const success = Object.entries(operation.responses ?? {}).filter(([status]) => /^2\d\d$/.test(status));
      return !success.some(([, response]) => Object.values(response.content ?? {}).some((media) => media.schema && Object.keys(media.schema).length > 0));
    });
    expect(withoutAnswer.map((o) => `${o.method} ${o.path}`)).toEqual([]);
  });

  it('names every parameter and every key of every body and answer in camelCase', () => {
    const keys = operations().flatMap(({ method, path, operation }) => [
      ...(operation.parameters ?? []).map((parameter) => `${method} ${path} ${parameter.in}.${parameter.name}`),
      ...Object.values(operation.requestBody?.content ?? {}).flatMap((media) => schemaKeys(media.schema, `${method} ${path} body`)),
      ...Object.entries(operation.responses ?? {}).flatMap(([status, response]) =>
        Object.values(response.content ?? {}).flatMap((media) => schemaKeys(media.schema, `${method} ${path} ${status}`)),
      ),
    ]);
    expect(keys.length).toBeGreaterThan(200);
    expect(notCamel(keys)).toEqual([]);
  });
});

describe('real answers', () => {
  it('use camelCase keys only, for every role', async () => {
    const admin = await sb.tokenFor('ava.chen@northwind-it.example');
    const billing = await sb.tokenFor('ben.okafor@northwind-it.example');
    // A request with a diagnosis, a plan and approvals: its story has every part.
    const ticket = await sb.openTicket('contoso', 'debra.berger@contoso.example', 'I forgot my password and cannot sign in.');
    const request = await sb.requestForTicket(ticket);
    await sb.waitForRequest(request.id, (r) => r.state === 'awaiting_approval');
    const get = async <T>(path: string, token: string) => {
      const answer = await sb.api<T>('GET', path, { token });
      expect(answer.status, `${path}: ${JSON.stringify(answer.body).slice(0, 300)}`).toBe(200);
      return answer.body;
    };
    const clients = await get<{ clients: { id: string }[] }>('/api/clients', admin);
    const integrations = await get<{ integrations: { id: string; kind: string }[] }>('/api/integrations', admin);
    const psa = integrations.integrations.find((i) => i.kind === 'connectwise')!;
    const approvals = await get<{ approvals: { id: string }[] }>('/api/approvals?status=all', admin);
    const answers: [string, unknown][] = [
      ['me', await get('/api/me', admin)],
      ['clients', clients],
      ['integrations', integrations],
      ['integrations of a client', await get(`/api/integrations?client=${clients.clients[0]!.id}`, admin)],
      ['integration', await get(`/api/integrations/${psa.id}`, admin)],
      ['integration policies', await get(`/api/integrations/${psa.id}/policies`, admin)],
      ['client policies', await get(`/api/clients/${clients.clients[0]!.id}/policies`, admin)],
      ['ticket statuses', await get(`/api/integrations/${psa.id}/ticket-statuses`, admin)],
      ['requests', await get('/api/requests', admin)],
      ['story', await get(`/api/requests/${request.id}`, admin)],
      ['story for billing', await get(`/api/requests/${request.id}`, billing)],
      ['approvals', approvals],
      ['approvals for billing', await get('/api/approvals?status=all', billing)],
      ['approval', await get(`/api/approvals/${approvals.approvals[0]!.id}`, admin)],
      ['approval for billing', await get(`/api/approvals/${approvals.approvals[0]!.id}`, billing)],
      ['audit verification', await get('/api/audit/verify', admin)],
      ['health', await (await fetch(`${sb.service.url}/healthz`)).json()],
    ];
    const keys = answers.flatMap(([name, body]) => answerKeys(body, name));
    expect(keys.length).toBeGreaterThan(300);
    expect(notCamel(keys)).toEqual([]);
    // The story carries its parts, in their new names.
    const story = answers.find(([name]) => name === 'story')![1] as Record<string, Record<string, unknown> | null>;
    expect(story['request']).toMatchObject({ id: request.id, client: { slug: 'contoso' }, requesterEmail: 'debra.berger@contoso.example' });
    expect(story['plan']).toMatchObject({ needsTechnician: true, needsManager: true });
  });
});
