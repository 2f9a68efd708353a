import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadDemoWorld } from '../../../world/fixture.ts';
import { tenantIdOf } from '../../../world/ids.ts';
import { GRAPH_SCOPE } from '../client.ts';
import { snapshotGroupId, snapshotUser } from '../testing.ts';
import { emulatorAppCredentials, type GraphEmulator, startGraphEmulator } from './index.ts';

/**
 * The emulator's HTTP surface call by call, beyond what emulator.test.ts covers: which refusal comes
 * first, how unknown paths and methods are answered, bodies without a content type, the request log
 * (what it keeps, what it spares), faults after the effect and dropped connections. Written against
 * the hand-made server before it moved onto Fastify, and kept so that the two answer alike.
 */

let emulator: GraphEmulator;
let token: string;

async function raw(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${emulator.loginUrl}${path}`, init);
}

async function graph(path: string, init: RequestInit = {}): Promise<Response> {
  return raw(`/v1.0${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });
}

function tokenForm(): string {
  const app = emulatorAppCredentials('contoso');
  return new URLSearchParams({ grant_type: 'client_credentials', client_id: app.clientId, client_secret: app.clientSecret, scope: GRAPH_SCOPE }).toString();
}

beforeAll(async () => {
  emulator = await startGraphEmulator({ world: loadDemoWorld() });
  const answer = await raw(`/${tenantIdOf('contoso')}/oauth2/v2.0/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: tokenForm() });
  token = ((await answer.json()) as { access_token: string }).access_token;
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
});

describe('paths and methods', () => {
  it('checks the token before anything else: an unknown segment or a wrong method without a token is 401', async () => {
    expect((await raw('/v1.0/nothingHere')).status).toBe(401);
    expect((await raw('/v1.0/subscribedSkus', { method: 'DELETE' })).status).toBe(401);
  });

  it('answers an unknown segment with 400 and a known resource with a method it lacks with 405', async () => {
    const unknown = await graph('/users/alex.wilber%40contoso.example/favouritePlaces');
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toBe("Resource not found for the segment 'favouritePlaces'.");
    const wrongMethod = await graph('/subscribedSkus', { method: 'POST', body: '{}' });
    expect(wrongMethod.status).toBe(405);
    expect(((await wrongMethod.json()) as { error: { code: string } }).error.code).toBe('Request_BadRequest');
    expect((await graph('/groups', { method: 'HEAD' })).status).toBe(405);
  });

  it('answers a path outside Graph and the login host with 404 NotFound, without asking for a token', async () => {
    const answer = await raw('/v2.0/users');
    expect(answer.status).toBe(404);
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('NotFound');
  });

  it('answers the token endpoint with 405 AADSTS900561 for anything but POST', async () => {
    const answer = await raw(`/${tenantIdOf('contoso')}/oauth2/v2.0/token`);
    expect(answer.status).toBe(405);
    expect(((await answer.json()) as { error_description: string }).error_description).toMatch(/^AADSTS900561: /);
  });

  it('serves memberOf with and without the group cast, and the key syntax with a quoted UPN', async () => {
    const alex = snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example');
    const plain = (await (await graph(`/users/${alex.id}/memberOf?$select=displayName`)).json()) as { value: unknown[] };
    const cast = (await (await graph(`/users/${alex.id}/memberOf/microsoft.graph.group?$select=displayName`)).json()) as { value: unknown[] };
    expect(cast.value).toEqual(plain.value);
    expect((await graph("/users('alex.wilber%40contoso.example')/manager?$select=id")).status).toBe(200);
  });
});

describe('bodies', () => {
  it('reads a JSON body sent without a content type, and refuses one that is not JSON with Graph\'s 400', async () => {
    const alex = snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example');
    const patched = await graph(`/users/${alex.id}`, { method: 'PATCH', body: JSON.stringify({ accountEnabled: false }), headers: { 'content-type': 'text/plain' } });
    expect(patched.status).toBe(204);
    expect(snapshotUser(emulator, 'contoso', alex.userPrincipalName).accountEnabled).toBe(false);
    const broken = await graph(`/users/${alex.id}`, { method: 'PATCH', body: '{"accountEnabled":', headers: { 'content-type': 'application/json' } });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'BadRequest', message: expect.stringContaining('Unable to read JSON request payload') });
  });

  it('answers 204 and 202 with no body and no content type', async () => {
    const alex = snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example');
    const answer = await graph(`/users/${alex.id}`, { method: 'PATCH', body: JSON.stringify({ accountEnabled: true }), headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(204);
    expect(answer.headers.get('content-type')).toBeNull();
    expect(await answer.text()).toBe('');
  });
});

describe('the request log and faults', () => {
  it('logs Graph and token calls as sent (key syntax kept, query string, status, tenant), never control calls', async () => {
    emulator.clearRequests();
    await graph("/users('alex.wilber%40contoso.example')?$select=id");
    await raw('/_emulator/tenants');
    await raw(`/${tenantIdOf('contoso')}/oauth2/v2.0/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: tokenForm() });
    const log = emulator.requests();
    expect(log.map((r) => ({ method: r.method, path: r.path, query: r.query, status: r.status, tenantId: r.tenantId }))).toEqual([
      { method: 'GET', path: "/v1.0/users('alex.wilber%40contoso.example')", query: '?$select=id', status: 200, tenantId: tenantIdOf('contoso') },
      { method: 'POST', path: `/${tenantIdOf('contoso')}/oauth2/v2.0/token`, query: '', status: 200, tenantId: null },
    ]);
  });

  it('makes the change and then answers the fault, with afterEffect', async () => {
    const alex = snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example');
    const zendesk = snapshotGroupId(emulator, 'contoso', 'SG-App-Zendesk');
    emulator.injectFault({ status: 503, afterEffect: true, pathContains: '/members/$ref', method: 'POST' });
    const answer = await graph(`/groups/${zendesk}/members/$ref`, {
      method: 'POST',
      body: JSON.stringify({ '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${alex.id}` }),
      headers: { 'content-type': 'application/json' },
    });
    expect(answer.status).toBe(503);
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('ServiceUnavailable');
    expect(emulator.effects('contoso').map((e) => e.op)).toEqual(['member_added']);
  });

  it('drops the connection without an answer and logs the call with status 0', async () => {
    emulator.clearRequests();
    emulator.injectFault({ dropConnection: true, pathContains: '/subscribedSkus' });
    await expect(graph('/subscribedSkus')).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(emulator.requests().map((r) => [r.path, r.status])).toEqual([['/v1.0/subscribedSkus', 0]]);
    expect((await graph('/subscribedSkus')).status).toBe(200);
  });

  it('keeps answering after a caller hangs up in the middle of a slow call', async () => {
    emulator.injectFault({ delayMs: 200, pathContains: '/hang-up' });
    const url = new URL(emulator.loginUrl);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(`POST /v1.0/hang-up HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"half":`);
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 50);
      });
      socket.on('error', reject);
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await raw('/_emulator/health')).status).toBe(200);
    expect((await graph('/subscribedSkus')).status).toBe(200);
  });
});

describe('control endpoints', () => {
  it('answers an unknown control endpoint with 404 naming it, ignores a trailing slash, and refuses other methods on latency', async () => {
    const unknown = await raw('/_emulator/nothing');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'no control endpoint GET /_emulator/nothing' });
    expect((await raw('/_emulator/health/')).status).toBe(200);
    expect((await raw('/_emulator/latency', { method: 'PUT' })).status).toBe(405);
  });

  it('refuses a fault or a latency that is not JSON with 400', async () => {
    expect((await raw('/_emulator/faults', { method: 'POST', body: 'status=500' })).status).toBe(400);
    expect((await raw('/_emulator/latency', { method: 'POST', body: '{"min":' })).status).toBe(400);
  });
});
