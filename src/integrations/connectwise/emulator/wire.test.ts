import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadDemoWorld } from '../../../world/fixture.ts';
import { basicAuthorization } from '../client.ts';
import { type ConnectWiseEmulator, emulatorApiCredentials, emulatorPortalCredentials, startConnectWiseEmulator } from './index.ts';

/**
 * The emulator's HTTP surface as a client meets it, call by call: which answer wins when several
 * apply (a fault, the keys, the body, the route, the method, the member's role), how paths are
 * matched, what a body may be, and what the request log records. The emulator refuses what
 * ConnectWise refuses, with ConnectWise's bodies.
 */

let emulator: ConnectWiseEmulator;
const apiKeys = emulatorApiCredentials('northwind');
const portalKeys = emulatorPortalCredentials('northwind');
const ENDPOINT_MISSING = { code: 'ConnectWiseApi', message: 'The endpoint does not exist.' };

function auth(keys = apiKeys): Record<string, string> {
  return { authorization: basicAuthorization(keys.companyId, keys.publicKey, keys.privateKey), clientId: keys.clientId };
}

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

async function call(method: string, url: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const response = await fetch(url, { method, headers: init.headers ?? {}, ...(init.body === undefined ? {} : { body: init.body }) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
}

const api = (path: string) => `${emulator.apiBaseUrl}${path}`;

async function newTicket(): Promise<number> {
  const created = await call('POST', api('service/tickets'), {
    headers: { ...auth(portalKeys), 'content-type': 'application/json' },
    body: JSON.stringify({ summary: 'Printer offline', company: { identifier: 'contoso' } }),
  });
  expect(created.status).toBe(201);
  return (created.body as { id: number }).id;
}

beforeAll(async () => {
  emulator = await startConnectWiseEmulator({ world: loadDemoWorld() });
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
});

describe('routing', () => {
  it('answers a method an endpoint does not serve with 405, a HEAD included, and an id that is not a number as no endpoint', async () => {
    expect(await call('PUT', api('service/tickets'), { headers: auth() })).toMatchObject({
      status: 405,
      body: { code: 'ConnectWiseApi', message: 'The PUT method is not allowed on this endpoint.' },
    });
    expect((await call('HEAD', api('service/tickets'), { headers: auth() })).status).toBe(405);
    expect(await call('DELETE', api('service/tickets/1'), { headers: auth() })).toMatchObject({ status: 405 });
    expect(await call('GET', api('service/tickets/abc'), { headers: auth() })).toMatchObject({ status: 404, body: ENDPOINT_MISSING });
    expect(await call('GET', api('service/tickets/999'), { headers: auth() })).toMatchObject({
      status: 404,
      body: { code: 'NotFound', message: 'Ticket 999 not found' },
    });
  });

  it('matches paths whatever their case, with a trailing slash, and with repeated slashes', async () => {
    const id = await newTicket();
    for (const path of [
      `/v4_6_release/apis/3.0/service/tickets/${id}/`,
      `/V4_6_Release/APIS/3.0/Service/Tickets/${id}`,
      `/v4_6_release//apis/3.0//service//tickets/${id}`,
    ]) {
      const answer = await call('GET', `${emulator.url}${path}`, { headers: auth() });
      expect([path, answer.status, (answer.body as { id?: number }).id]).toEqual([path, 200, id]);
    }
    // A member identifier keeps its case and its escapes.
    expect(await call('GET', api('system/members/DESKHAND'), { headers: auth() })).toMatchObject({ status: 200, body: { identifier: 'deskhand' } });
    expect(await call('GET', api('system/members/no%2Fone'), { headers: auth() })).toMatchObject({
      status: 404,
      body: { code: 'NotFound', message: 'Member no/one not found' },
    });
  });

  it('refuses a URL whose percent-encoding is broken with 400, not an emulator failure', async () => {
    expect(await call('GET', api('system/members/%E0%A4%A'), { headers: auth() })).toMatchObject({
      status: 400,
      body: { code: 'ConnectWiseApi', message: 'The request URL is not valid.' },
    });
    expect(emulator.requests().map((r) => [r.path, r.status])).toEqual([['/v4_6_release/apis/3.0/system/members/%E0%A4%A', 400]]);
  });

  it('serves the signing-key URL with ConnectWise’s double slash, and nothing outside the codebase', async () => {
    expect(await call('GET', `${emulator.url}/v4_6_release//system/callbackkey/index.rails?companyName=northwind&id=nope`)).toMatchObject({
      status: 404,
      body: { code: 'NotFound', message: 'Callback key not found' },
    });
    expect(await call('GET', `${emulator.url}/v4_6_release/system/other`)).toMatchObject({ status: 404, body: ENDPOINT_MISSING });
    expect(await call('GET', `${emulator.url}/elsewhere/apis/3.0/service/tickets`, { headers: auth() })).toMatchObject({
      status: 404,
      body: ENDPOINT_MISSING,
    });
    expect(await call('GET', `${emulator.url}/login/companyinfo/NorthWind`)).toMatchObject({
      status: 200,
      body: { CompanyID: 'northwind', Codebase: 'v4_6_release/' },
    });
    expect(await call('POST', `${emulator.url}/login/companyinfo/northwind`)).toMatchObject({ status: 404, body: ENDPOINT_MISSING });
    expect(await call('GET', `${emulator.url}/login/companyinfo/nowhere`)).toMatchObject({
      status: 404,
      body: { code: 'NotFound', message: 'Company nowhere not found' },
    });
  });
});

describe('which refusal wins', () => {
  it('asks for the clientId and the keys before it looks at the route or the body', async () => {
    const clientIdMissing = { status: 400, body: { code: 'ConnectWiseApi', message: expect.stringContaining('A clientId header is required') } };
    expect(await call('GET', api('service/nothing'))).toMatchObject(clientIdMissing);
    expect(await call('POST', api('service/tickets'), { body: '{not json' })).toMatchObject(clientIdMissing);
    expect(await call('GET', api('service/tickets'), { headers: { clientId: 'not-registered' } })).toMatchObject({
      status: 400,
      body: { message: expect.stringContaining('not a registered integration') },
    });
    expect(await call('GET', api('service/tickets'), { headers: { ...auth(), authorization: 'Basic bm9ydGh3aW5kK3g6eQ==' } })).toMatchObject({
      status: 401,
      body: { code: 'Unauthorized', message: 'The API keys supplied are not valid for this company.' },
    });
  });

  it('reads the body before the route, and refuses the portal member System after the route', async () => {
    expect(await call('POST', api('service/nothing'), { headers: auth(), body: '{not json' })).toMatchObject({
      status: 400,
      body: { code: 'InvalidObject', message: 'The request body is not valid JSON.' },
    });
    expect(await call('GET', api('system/nothing'), { headers: auth(portalKeys) })).toMatchObject({ status: 404, body: ENDPOINT_MISSING });
    expect(await call('PUT', api('system/members'), { headers: auth(portalKeys) })).toMatchObject({ status: 405 });
    expect(await call('GET', api('system/members'), { headers: auth(portalKeys) })).toMatchObject({
      status: 403,
      body: { code: 'Forbidden', message: 'The security role of member portal does not allow access to system.' },
    });
  });

  it('answers a fault before anything else, on any path under the codebase, and never outside it', async () => {
    emulator.addFault({ status: 429, retryAfterSeconds: 7, count: 3 });
    const limited = await call('GET', api('service/nothing'));
    expect(limited).toMatchObject({ status: 429, body: { code: 'ConnectWiseApi', message: expect.stringContaining('Retry-After') } });
    expect(limited.headers.get('retry-after')).toBe('7');
    expect((await call('GET', `${emulator.url}/v4_6_release/system/callbackkey/index.rails?id=x`)).status).toBe(429);
    expect((await call('GET', `${emulator.url}/login/companyinfo/northwind`)).status).toBe(200);
    expect((await call('GET', `${emulator.url}/elsewhere`)).status).toBe(404);
    expect((await call('GET', api('service/tickets'), { headers: auth() })).status).toBe(429);
    expect((await call('GET', api('service/tickets'), { headers: auth() })).status).toBe(200);
  });

  it('a fault after the effect replaces a refusal too: the caller never sees the real answer', async () => {
    emulator.addFault({ status: 502, afterEffect: true, method: 'POST' });
    const answer = await call('POST', api('service/tickets'), { headers: auth(), body: JSON.stringify({ summary: '' }) });
    expect(answer).toMatchObject({ status: 502, body: { code: 'ConnectWiseApi', message: 'An error occurred while processing the request.' } });
    expect(answer.headers.get('retry-after')).toBeNull();
    expect(emulator.tickets()).toEqual([]);
  });
});

describe('bodies', () => {
  const ticket = JSON.stringify({ summary: 'Mailbox full', company: { identifier: 'fabrikam' } });

  it('reads JSON whatever the content type says, or with none', async () => {
    expect((await call('POST', api('service/tickets'), { headers: { ...auth(portalKeys), 'content-type': 'text/plain' }, body: ticket })).status).toBe(201);
    expect((await call('POST', api('service/tickets'), { headers: auth(portalKeys), body: ticket })).status).toBe(201);
    expect(
      (await call('POST', api('service/tickets'), { headers: { ...auth(portalKeys), 'content-type': 'application/json; charset=utf-8' }, body: ticket })).status,
    ).toBe(201);
  });

  it('refuses an empty body as an invalid object, bad JSON as ConnectWise does, and a body over 1 MB with 413', async () => {
    expect(await call('POST', api('service/tickets'), { headers: { ...auth(portalKeys), 'content-type': 'application/json' }, body: '' })).toMatchObject({
      status: 400,
      body: { code: 'InvalidObject', message: 'serviceTicket object is invalid' },
    });
    expect(await call('POST', api('service/tickets'), { headers: { ...auth(portalKeys), 'content-type': 'application/json' }, body: '{"summary":' })).toMatchObject({
      status: 400,
      body: { code: 'InvalidObject', message: 'The request body is not valid JSON.' },
    });
    const huge = JSON.stringify({ summary: 'x', initialDescription: 'y'.repeat(1_000_001) });
    expect(await call('POST', api('service/tickets'), { headers: { ...auth(portalKeys), 'content-type': 'application/json' }, body: huge })).toMatchObject({
      status: 413,
      body: { code: 'ConnectWiseApi', message: 'The request body is too large.' },
    });
    expect(emulator.tickets()).toEqual([]);
  });
});

describe('lists', () => {
  it('refuses a page or page size that is not a positive integer, and conditions that do not parse', async () => {
    expect(await call('GET', api('service/tickets?pageSize=0'), { headers: auth() })).toMatchObject({
      status: 400,
      body: { code: 'InvalidObject', message: 'pageSize must be a positive integer.' },
    });
    expect(await call('GET', api('company/companies?page=x'), { headers: auth() })).toMatchObject({
      status: 400,
      body: { message: 'page must be a positive integer.' },
    });
    expect(await call('GET', api(`company/companies?conditions=${encodeURIComponent('identifier = ')}`), { headers: auth() })).toMatchObject({
      status: 400,
      body: { code: 'InvalidObject', message: expect.stringMatching(/^conditions: /) },
    });
  });

  it('orders, picks fields and pages', async () => {
    const answer = await call('GET', api('company/companies?orderBy=identifier%20desc&fields=id,identifier&pageSize=1&page=2'), { headers: auth() });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual([{ id: expect.any(Number), identifier: 'contoso' }]);
    const link = answer.headers.get('link') ?? '';
    expect(link).toContain('rel="first"');
    expect(link).toContain('rel="prev"');
    expect(link).not.toContain('rel="next"');
    // Served on the emulator's second host name, as a cloud site's may be on its region's other host.
    expect(link).toContain(`<${emulator.aliasUrl}/v4_6_release/apis/3.0/company/companies?orderBy=identifier+desc&fields=id%2Cidentifier&pageSize=1&page=2>; rel="last"`);
  });
});

describe('the request log and the control endpoints', () => {
  it('records every ConnectWise call with its answer, member and company, and none of the control calls', async () => {
    emulator.addFault({ dropConnection: true, pathContains: '/system/members' });
    await call('GET', api('service/tickets?pageSize=5'), { headers: auth() });
    await call('GET', `${emulator.url}/elsewhere`);
    await expect(fetch(api('system/members'), { headers: auth() })).rejects.toThrow();
    await call('POST', api('service/tickets'), { headers: auth(), body: 'x'.repeat(1_000_001) });
    await call('GET', `${emulator.url}/_emulator/info`);
    expect(emulator.requests().map(({ at, ...rest }) => rest)).toEqual([
      { method: 'GET', path: '/v4_6_release/apis/3.0/service/tickets', query: '?pageSize=5', status: 200, apiVersion: null, companyId: 'northwind', member: 'deskhand' },
      { method: 'GET', path: '/elsewhere', query: '', status: 404, apiVersion: null },
      { method: 'GET', path: '/v4_6_release/apis/3.0/system/members', query: '', status: 0, apiVersion: null },
      { method: 'POST', path: '/v4_6_release/apis/3.0/service/tickets', query: '', status: 413, apiVersion: null },
    ]);
    expect((await call('GET', `${emulator.url}/_emulator/requests`)).body).toMatchObject({ requests: { length: 4 } });
  });

  it('names an unknown control route, refuses control bodies that are not JSON, and takes a trailing slash', async () => {
    expect(await call('GET', `${emulator.url}/_emulator/nothing`)).toMatchObject({
      status: 404,
      body: { error: 'no emulator control route GET /_emulator/nothing' },
    });
    expect(await call('PUT', `${emulator.url}/_emulator/faults`)).toMatchObject({
      status: 404,
      body: { error: 'no emulator control route PUT /_emulator/faults' },
    });
    expect(await call('POST', `${emulator.url}/_emulator/faults`, { body: '{' })).toMatchObject({
      status: 400,
      body: { code: 'InvalidObject', message: 'The request body is not valid JSON.' },
    });
    expect(await call('GET', `${emulator.url}/_emulator/faults/`)).toMatchObject({ status: 200, body: { faults: [] } });
    expect(await call('GET', `${emulator.url}/_emulator/effects?companyId=woodgrove`)).toMatchObject({ status: 200, body: { effects: [] } });
  });

  it('closes at once, ending a call that a delay fault is holding', async () => {
    const other = await startConnectWiseEmulator({ world: loadDemoWorld() });
    other.addFault({ delayMs: 10_000, status: 500 });
    const held = fetch(`${other.apiBaseUrl}service/tickets`, { headers: auth() }).then(
      (response) => response.status,
      () => 'dropped',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await held).toBe('dropped');
  });

  it('delays ConnectWise calls, the unknown ones too, but never a control call', async () => {
    emulator.setLatency({ min: 700, max: 700 });
    try {
      let started = Date.now();
      expect((await call('GET', `${emulator.url}/_emulator/info`)).status).toBe(200);
      expect(Date.now() - started).toBeLessThan(650);
      started = Date.now();
      expect((await call('GET', `${emulator.url}/elsewhere`)).status).toBe(404);
      expect(Date.now() - started).toBeGreaterThanOrEqual(690);
    } finally {
      emulator.setLatency(null);
    }
  });
});
