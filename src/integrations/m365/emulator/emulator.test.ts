import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadDemoWorld } from '../../../world/fixture.ts';
import { deterministicUuid, tenantIdOf } from '../../../world/ids.ts';
import { GRAPH_SCOPE } from '../client.ts';
import { emulatorAppCredentials, type GraphEmulator, startGraphEmulator } from './index.ts';
import { snapshotGroupId, snapshotSkuId, snapshotUser } from '../testing.ts';

/** The emulator's HTTP behaviour, spoken to with plain fetch: what a Graph client would see. */

let emulator: GraphEmulator;
let token: string;

async function requestToken(form: Record<string, string>, tenant = tenantIdOf('contoso')): Promise<Response> {
  return fetch(`${emulator.loginUrl}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
}

function credentialsForm(clientId = 'contoso'): Record<string, string> {
  const app = emulatorAppCredentials(clientId);
  return { grant_type: 'client_credentials', client_id: app.clientId, client_secret: app.clientSecret, scope: GRAPH_SCOPE };
}

async function graph(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) };
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${emulator.url}${path}`, {
    ...init,
    headers,
    ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
  });
}

async function control(path: string, method = 'GET', body?: unknown): Promise<Response> {
  return fetch(`${emulator.loginUrl}/_emulator${path}`, {
    method,
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
}

beforeAll(async () => {
  emulator = await startGraphEmulator({ world: loadDemoWorld(), pageSize: 5 });
  const response = await requestToken(credentialsForm());
  token = ((await response.json()) as { access_token: string }).access_token;
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
});

describe('token endpoint', () => {
  it('issues a bearer token for the right app credentials', async () => {
    const response = await requestToken(credentialsForm());
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body['token_type']).toBe('Bearer');
    expect(body['expires_in']).toBeGreaterThan(60);
    expect(typeof body['access_token']).toBe('string');
  });

  it('refuses a wrong secret with invalid_client (401) and never echoes it', async () => {
    const response = await requestToken({ ...credentialsForm(), client_secret: 'not-the-secret' });
    expect(response.status).toBe(401);
    const text = await response.text();
    expect(JSON.parse(text).error).toBe('invalid_client');
    expect(text).toContain('AADSTS7000215');
    expect(text).not.toContain('not-the-secret');
  });

  it("refuses another tenant's app, an unknown tenant, a wrong grant and a wrong scope", async () => {
    const fabrikamApp = await requestToken(credentialsForm('fabrikam'));
    expect(fabrikamApp.status).toBe(400);
    expect(((await fabrikamApp.json()) as { error: string }).error).toBe('unauthorized_client');

    const unknownTenant = await requestToken(credentialsForm(), deterministicUuid('nope'));
    expect(unknownTenant.status).toBe(400);
    expect(await unknownTenant.text()).toContain('AADSTS90002');

    const wrongGrant = await requestToken({ ...credentialsForm(), grant_type: 'password' });
    expect(((await wrongGrant.json()) as { error: string }).error).toBe('unsupported_grant_type');

    const wrongScope = await requestToken({ ...credentialsForm(), scope: 'User.Read' });
    expect(((await wrongScope.json()) as { error: string }).error).toBe('invalid_scope');
  });

  it('binds a token to its tenant: a fabrikam token sees fabrikam users only', async () => {
    const fabrikam = (await (await requestToken(credentialsForm('fabrikam'), tenantIdOf('fabrikam'))).json()) as { access_token: string };
    const response = await fetch(`${emulator.url}/users/alex.wilber%40contoso.example`, {
      headers: { authorization: `Bearer ${fabrikam.access_token}` },
    });
    expect(response.status).toBe(404);
  });

  it('answers 401 InvalidAuthenticationToken without a valid token, and after revocation', async () => {
    const none = await fetch(`${emulator.url}/users`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('InvalidAuthenticationToken');

    const forged = await fetch(`${emulator.url}/users`, { headers: { authorization: 'Bearer forged' } });
    expect(forged.status).toBe(401);

    const fresh = ((await (await requestToken(credentialsForm())).json()) as { access_token: string }).access_token;
    emulator.revokeTokens();
    const revoked = await fetch(`${emulator.url}/users`, { headers: { authorization: `Bearer ${fresh}` } });
    expect(revoked.status).toBe(401);
    token = ((await (await requestToken(credentialsForm())).json()) as { access_token: string }).access_token;
  });
});

describe('deterministic identity', () => {
  it('derives tenant, app and object ids from the fixture, the same in every instance', async () => {
    const other = await startGraphEmulator({ world: loadDemoWorld() });
    try {
      const a = emulator.tenant('contoso');
      const b = other.tenant('contoso');
      expect(a.tenantId).toBe(tenantIdOf('contoso'));
      expect(b.users.map((u) => u.id)).toEqual(a.users.map((u) => u.id));
      expect(b.groups.map((g) => g.id)).toEqual(a.groups.map((g) => g.id));
      expect(b.licenses.map((l) => l.skuId)).toEqual(a.licenses.map((l) => l.skuId));
      expect(b.users.flatMap((u) => u.authMethods.map((m) => m.id))).toEqual(a.users.flatMap((u) => u.authMethods.map((m) => m.id)));
      expect(emulatorAppCredentials('contoso')).toEqual(other.credentials('contoso'));
      expect(emulatorAppCredentials('contoso').clientSecret).not.toBe(emulatorAppCredentials('fabrikam').clientSecret);
    } finally {
      await other.close();
    }
  });

  it('lists one tenant per fixture client', () => {
    expect(emulator.tenants().map((t) => t.clientId).sort()).toEqual(loadDemoWorld().clients.map((c) => c.id).sort());
  });
});

describe('users', () => {
  it('returns only the default properties without $select, as Graph does', async () => {
    const response = await graph('/users/alex.wilber%40contoso.example');
    const body = (await response.json()) as Record<string, unknown>;
    expect(body['displayName']).toBe('Alex Wilber');
    expect(body).not.toHaveProperty('accountEnabled');
    expect(body).not.toHaveProperty('department');
  });

  it('honours $select and refuses unknown properties', async () => {
    const selected = (await (await graph('/users/alex.wilber%40contoso.example?$select=id,accountEnabled,department')).json()) as Record<string, unknown>;
    expect(Object.keys(selected).filter((k) => !k.startsWith('@')).sort()).toEqual(['accountEnabled', 'department', 'id']);
    const unknown = await graph('/users/alex.wilber%40contoso.example?$select=id,favouriteColour');
    expect(unknown.status).toBe(400);
  });

  it("serves signInActivity by object id only (by UPN it answers 400, like Graph)", async () => {
    const alex = snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example');
    expect((await graph('/users/alex.wilber%40contoso.example?$select=signInActivity')).status).toBe(400);
    const byId = (await (await graph(`/users/${alex.id}?$select=id,signInActivity`)).json()) as { signInActivity: { lastSignInDateTime: string } };
    expect(Date.parse(byId.signInActivity.lastSignInDateTime)).not.toBeNaN();
  });

  it('accepts the key syntax users(\'upn\') and answers 404 for unknown users', async () => {
    expect((await graph("/users('alex.wilber@contoso.example')?$select=id")).status).toBe(200);
    const missing = await graph('/users/nobody%40contoso.example');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('Request_ResourceNotFound');
  });

  it('pages with $top and @odata.nextLink until the collection ends', async () => {
    const seen: string[] = [];
    let next: string | undefined = `${emulator.url}/users?$select=id,userPrincipalName&$top=4`;
    let pages = 0;
    while (next) {
      const response = await fetch(next, { headers: { authorization: `Bearer ${token}` } });
      const body = (await response.json()) as { value: { userPrincipalName: string }[]; '@odata.nextLink'?: string };
      expect(body.value.length).toBeLessThanOrEqual(4);
      seen.push(...body.value.map((u) => u.userPrincipalName));
      next = body['@odata.nextLink'];
      pages++;
    }
    expect(seen).toHaveLength(18);
    expect(new Set(seen).size).toBe(18);
    expect(pages).toBe(5);
  });

  it('uses its default page size without $top and refuses a $top above 999', async () => {
    const body = (await (await graph('/users?$select=id')).json()) as { value: unknown[]; '@odata.nextLink'?: string };
    expect(body.value).toHaveLength(5);
    expect(body['@odata.nextLink']).toContain('$skiptoken=');
    expect((await graph('/users?$top=1000')).status).toBe(400);
  });

  it('filters with startsWith and eq, case-insensitively, and refuses what it does not support', async () => {
    const filter = encodeURIComponent("startsWith(displayName,'al') or startsWith(surname,'al')");
    const body = (await (await graph(`/users?$filter=${filter}&$select=userPrincipalName`)).json()) as { value: { userPrincipalName: string }[] };
    expect(body.value.map((u) => u.userPrincipalName).sort()).toEqual(['alex.wilber@contoso.example', 'allan.deyoung@contoso.example']);

    const eq = encodeURIComponent("mail eq 'ALEX.WILBER@contoso.example'");
    expect(((await (await graph(`/users?$filter=${eq}`)).json()) as { value: unknown[] }).value).toHaveLength(1);

    const unsupported = await graph(`/users?$filter=${encodeURIComponent("endsWith(mail,'example')")}`);
    expect(unsupported.status).toBe(400);
    expect(((await unsupported.json()) as { error: { code: string } }).error.code).toBe('Request_UnsupportedQuery');
  });
});

describe('groups and $search', () => {
  it('requires ConsistencyLevel: eventual for $search', async () => {
    const search = encodeURIComponent('"displayName:Zendesk"');
    const refused = await graph(`/groups?$search=${search}`);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('ConsistencyLevel');

    const found = await graph(`/groups?$search=${search}&$select=displayName`, { headers: { ConsistencyLevel: 'eventual' } });
    const body = (await found.json()) as { value: { displayName: string }[] };
    expect(body.value.map((g) => g.displayName)).toEqual(['SG-App-Zendesk']);
  });

  it("matches tokens by prefix, as Graph does: 'desk' does not find Zendesk, 'Adobe' finds AdobeCC", async () => {
    const names = async (query: string): Promise<string[]> => {
      const search = encodeURIComponent(`"displayName:${query}" OR "description:${query}"`);
      const body = (await (await graph(`/groups?$search=${search}`, { headers: { ConsistencyLevel: 'eventual' } })).json()) as {
        value: { displayName: string }[];
      };
      return body.value.map((g) => g.displayName);
    };
    expect(await names('desk')).toEqual([]);
    expect(await names('Adobe')).toEqual(['SG-App-AdobeCC']);
    expect(await names('creative cloud')).toEqual(['SG-App-AdobeCC']);
  });

  it('describes groups the way the fixture means them', async () => {
    const body = (await (await graph('/groups?$top=100')).json()) as { value: Record<string, unknown>[] };
    const byName = new Map(body.value.map((g) => [g['displayName'], g]));
    expect(byName.get('SG-App-Zendesk')).toMatchObject({ description: 'Access to Zendesk', securityEnabled: true, mailEnabled: false, mail: null });
    expect(byName.get('SM-Accounts-Payable')).toMatchObject({ mail: 'ap@contoso.example', securityEnabled: true, mailEnabled: true });
    expect(byName.get('DL-Sales')).toMatchObject({ securityEnabled: false, mailEnabled: true, groupTypes: [] });
    expect(byName.get('SG-Admins-Privileged')).toMatchObject({ isAssignableToRole: true });
    expect(byName.get('SG-App-Zendesk')).toMatchObject({ isAssignableToRole: false });
  });
});

describe('membership writes', () => {
  const reference = (id: string): { '@odata.id': string } => ({ '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${id}` });

  it('answers 204 with no body, then 400 "already exist" for a duplicate add', async () => {
    const alex = snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example');
    const zendesk = snapshotGroupId(emulator, 'contoso', 'SG-App-Zendesk');
    const added = await graph(`/groups/${zendesk}/members/$ref`, { method: 'POST', json: reference(alex.id) });
    expect(added.status).toBe(204);
    expect(await added.text()).toBe('');
    expect(added.headers.get('content-type')).toBeNull();
    expect(snapshotUser(emulator, 'contoso', alex.userPrincipalName).groups).toContain('SG-App-Zendesk');

    const again = await graph(`/groups/${zendesk}/members/$ref`, { method: 'POST', json: reference(alex.id) });
    expect(again.status).toBe(400);
    expect(((await again.json()) as { error: { message: string } }).error.message).toBe(
      "One or more added object references already exist for the following modified properties: 'members'.",
    );
  });

  it('removes with 204 and answers 404 for a non-member', async () => {
    const lidia = snapshotUser(emulator, 'contoso', 'lidia.holloway@contoso.example');
    const zendesk = snapshotGroupId(emulator, 'contoso', 'SG-App-Zendesk');
    const removed = await graph(`/groups/${zendesk}/members/${lidia.id}/$ref`, { method: 'DELETE' });
    expect(removed.status).toBe(204);
    expect(await removed.text()).toBe('');
    expect((await graph(`/groups/${zendesk}/members/${lidia.id}/$ref`, { method: 'DELETE' })).status).toBe(404);
  });
});

describe('licenses', () => {
  it('counts seats in use as the employees holding the SKU', async () => {
    const body = (await (await graph('/subscribedSkus')).json()) as { value: { skuPartNumber: string; consumedUnits: number; prepaidUnits: { enabled: number } }[] };
    const visio = body.value.find((s) => s.skuPartNumber === 'VISIOCLIENT')!;
    expect(visio).toMatchObject({ consumedUnits: 3, prepaidUnits: { enabled: 3 } });
  });

  it("serves each SKU's service plans as Microsoft publishes them, in Graph's servicePlanInfo shape", async () => {
    type Sku = { skuPartNumber: string; servicePlans: { servicePlanId: string; servicePlanName: string; provisioningStatus: string; appliesTo: string }[] };
    const body = (await (await graph('/subscribedSkus')).json()) as { value: Sku[] };
    const e3 = body.value.find((s) => s.skuPartNumber === 'SPE_E3')!;
    expect(e3.servicePlans).toContainEqual({ servicePlanId: '57ff2da0-773e-42df-b2af-ffb7a2317929', servicePlanName: 'TEAMS1', provisioningStatus: 'Success', appliesTo: 'User' });
    expect(e3.servicePlans.map((p) => p.servicePlanName)).toEqual(expect.arrayContaining(['OFFICESUBSCRIPTION', 'EXCHANGE_S_ENTERPRISE', 'SHAREPOINTENTERPRISE']));
    expect(e3.servicePlans.map((p) => p.servicePlanName)).not.toContain('BI_AZURE_P2');
    const visio = body.value.find((s) => s.skuPartNumber === 'VISIOCLIENT')!;
    expect(visio.servicePlans.map((p) => p.servicePlanName)).toEqual(['EXCHANGE_S_FOUNDATION', 'ONEDRIVE_BASIC', 'VISIO_CLIENT_SUBSCRIPTION', 'VISIOONLINE']);
    expect(body.value.every((s) => s.servicePlans.length > 0)).toBe(true);

    const selected = (await (await graph('/subscribedSkus?$select=skuPartNumber,servicePlans')).json()) as { value: Record<string, unknown>[] };
    expect(Object.keys(selected.value[0]!).sort()).toEqual(['servicePlans', 'skuPartNumber']);
    const without = (await (await graph('/subscribedSkus?$select=skuId')).json()) as { value: Record<string, unknown>[] };
    expect(without.value[0]).not.toHaveProperty('servicePlans');
  });

  it("gives a user's licenseDetails the plans of each SKU they hold", async () => {
    const alex = snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example');
    const details = (await (await graph(`/users/${alex.id}/licenseDetails`)).json()) as { value: { skuPartNumber: string; servicePlans: { servicePlanName: string; provisioningStatus: string }[] }[] };
    const e3 = details.value.find((d) => d.skuPartNumber === 'SPE_E3')!;
    expect(e3.servicePlans).toContainEqual(expect.objectContaining({ servicePlanName: 'OFFICESUBSCRIPTION', provisioningStatus: 'Success' }));
  });

  it('requires both arrays, refuses a full SKU with Graph\'s error, and moves consumedUnits', async () => {
    const alex = snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example');
    const visio = snapshotSkuId(emulator, 'contoso', 'VISIOCLIENT');
    const powerBi = snapshotSkuId(emulator, 'contoso', 'POWER_BI_PRO');

    const missingArray = await graph(`/users/${alex.id}/assignLicense`, { method: 'POST', json: { addLicenses: [{ skuId: powerBi }] } });
    expect(missingArray.status).toBe(400);

    const full = await graph(`/users/${alex.id}/assignLicense`, { method: 'POST', json: { addLicenses: [{ skuId: visio, disabledPlans: [] }], removeLicenses: [] } });
    expect(full.status).toBe(400);
    expect(((await full.json()) as { error: { message: string } }).error.message).toContain('does not have any available licenses');

    const ok = await graph(`/users/${alex.id}/assignLicense`, { method: 'POST', json: { addLicenses: [{ skuId: powerBi, disabledPlans: [] }], removeLicenses: [] } });
    expect(ok.status).toBe(200);
    expect(emulator.tenant('contoso').licenses.find((l) => l.skuPartNumber === 'POWER_BI_PRO')!.consumed).toBe(4);

    const notHeld = await graph(`/users/${alex.id}/assignLicense`, { method: 'POST', json: { addLicenses: [], removeLicenses: [visio] } });
    expect(((await notHeld.json()) as { error: { message: string } }).error.message).toBe('User does not have a corresponding license.');
  });
});

describe('account, password and methods', () => {
  it('counts password resets without ever keeping the password', async () => {
    const alex = snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example');
    const password = 'Tr0ub4dor&3-Horse';
    const response = await graph(`/users/${alex.id}`, {
      method: 'PATCH',
      json: { passwordProfile: { password, forceChangePasswordNextSignIn: true } },
    });
    expect(response.status).toBe(204);
    const after = snapshotUser(emulator, 'contoso', alex.userPrincipalName);
    expect(after).toMatchObject({ passwordResets: 1, forceChangePasswordNextSignIn: true });
    const everything = JSON.stringify([emulator.tenant('contoso'), emulator.requests(), emulator.mail()]);
    expect(everything).not.toContain(password);
    const viaHttp = await (await control('/tenants/contoso')).text();
    expect(viaHttp).not.toContain(password);
  });

  it('refuses a password that fails the complexity rule', async () => {
    const alex = snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example');
    const response = await graph(`/users/${alex.id}`, { method: 'PATCH', json: { passwordProfile: { password: 'short' } } });
    expect(response.status).toBe(400);
    expect(snapshotUser(emulator, 'contoso', alex.userPrincipalName).passwordResets).toBe(0);
  });

  it('lists methods with Graph types and deletes through the per-type path only', async () => {
    const diego = snapshotUser(emulator, 'contoso', 'diego.siciliani@contoso.example');
    const body = (await (await graph(`/users/${diego.id}/authentication/methods`)).json()) as { value: { '@odata.type': string; id: string }[] };
    expect(body.value.map((m) => m['@odata.type'])).toEqual([
      '#microsoft.graph.passwordAuthenticationMethod',
      '#microsoft.graph.microsoftAuthenticatorAuthenticationMethod',
      '#microsoft.graph.phoneAuthenticationMethod',
    ]);
    const phone = body.value[2]!;
    expect((await graph(`/users/${diego.id}/authentication/fido2Methods/${phone.id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await graph(`/users/${diego.id}/authentication/phoneMethods/${phone.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(snapshotUser(emulator, 'contoso', diego.userPrincipalName).authMethods.map((m) => m.type)).not.toContain('phoneAuthenticationMethod');
  });

  it('disables an account and records revocations', async () => {
    const alex = snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example');
    expect((await graph(`/users/${alex.id}`, { method: 'PATCH', json: { accountEnabled: false } })).status).toBe(204);
    const revoked = await graph(`/users/${alex.id}/revokeSignInSessions`, { method: 'POST' });
    expect(((await revoked.json()) as { value: boolean }).value).toBe(true);
    expect(snapshotUser(emulator, 'contoso', alex.userPrincipalName)).toMatchObject({ accountEnabled: false, sessionRevocations: 1 });
  });

  it('starts accounts enabled unless the fixture says otherwise, and answers 404 for no manager', async () => {
    expect(snapshotUser(emulator, 'contoso', 'allan.deyoung@contoso.example').accountEnabled).toBe(false);
    expect(snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example').accountEnabled).toBe(true);
    const diego = snapshotUser(emulator, 'contoso', 'diego.siciliani@contoso.example');
    expect((await graph(`/users/${diego.id}/manager`)).status).toBe(404);
  });
});

describe('mail', () => {
  it('records mail sent from the helpdesk mailbox and answers 202 with no body', async () => {
    const response = await graph('/users/it-helpdesk%40contoso.example/sendMail', {
      method: 'POST',
      json: {
        message: { subject: 'Approval needed', body: { contentType: 'Text', content: 'Please approve.' }, toRecipients: [{ emailAddress: { address: 'megan.bowen@contoso.example' } }] },
        saveToSentItems: true,
      },
    });
    expect(response.status).toBe(202);
    expect(await response.text()).toBe('');
    const mail = (await (await control('/mail')).json()) as { from: string; to: string[]; subject: string }[];
    expect(mail).toMatchObject([{ from: 'it-helpdesk@contoso.example', to: ['megan.bowen@contoso.example'], subject: 'Approval needed' }]);
  });

  it('refuses a sender that is no mailbox of the tenant', async () => {
    const response = await graph('/users/someone%40elsewhere.example/sendMail', {
      method: 'POST',
      json: { message: { subject: 's', body: { contentType: 'Text', content: 'c' }, toRecipients: [{ emailAddress: { address: 'a@b.example' } }] } },
    });
    expect(response.status).toBe(404);
    expect(emulator.mail()).toEqual([]);
  });
});

describe('control endpoints', () => {
  it('injects faults for the next matching calls, with Retry-After', async () => {
    const created = await control('/faults', 'POST', { status: 429, count: 2, pathContains: '/subscribedSkus', retryAfterSeconds: 7 });
    expect(created.status).toBe(201);
    const first = await graph('/subscribedSkus');
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('7');
    expect(((await first.json()) as { error: { code: string } }).error.code).toBe('TooManyRequests');
    expect((await graph('/users?$top=1')).status).toBe(200);
    expect((await graph('/subscribedSkus')).status).toBe(429);
    expect((await graph('/subscribedSkus')).status).toBe(200);
  });

  it('delays calls when asked', async () => {
    await control('/faults', 'POST', { delayMs: 250, count: 1 });
    const started = Date.now();
    expect((await graph('/subscribedSkus')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
  });

  it('refuses a fault with neither status nor delay, and clears faults', async () => {
    expect((await control('/faults', 'POST', { count: 1 })).status).toBe(400);
    await control('/faults', 'POST', { status: 503, count: 5 });
    expect((await control('/faults', 'DELETE')).status).toBe(200);
    expect((await graph('/subscribedSkus')).status).toBe(200);
  });

  it('resets to the fixture over HTTP', async () => {
    const alex = snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example');
    await graph(`/users/${alex.id}`, { method: 'PATCH', json: { accountEnabled: false } });
    expect((await control('/reset', 'POST')).status).toBe(200);
    expect(snapshotUser(emulator, 'contoso', alex.userPrincipalName).accountEnabled).toBe(true);
  });

  it('shows a tenant by tenant id or client id, and logs requests without bodies', async () => {
    const byTenant = (await (await control(`/tenants/${tenantIdOf('contoso')}`)).json()) as { clientId: string; users: unknown[] };
    expect(byTenant.clientId).toBe('contoso');
    expect(byTenant.users).toHaveLength(18);
    expect((await control('/tenants/nope')).status).toBe(404);

    await graph('/subscribedSkus?$select=skuId');
    const log = (await (await control('/requests')).json()) as { method: string; path: string; query: string; status: number }[];
    expect(log).toContainEqual(expect.objectContaining({ method: 'GET', path: '/v1.0/subscribedSkus', query: '?$select=skuId', status: 200 }));
  });
});
