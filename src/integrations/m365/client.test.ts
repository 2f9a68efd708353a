import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeskhandError } from '../../core/errors.ts';
import { GraphClient, groupKindOf, PASSWORD_METHOD_ID } from './client.ts';
import { loadDemoWorld } from '../../world/fixture.ts';
import { type GraphEmulator, startGraphEmulator } from './emulator/index.ts';
import { emulatedGraphClient, snapshotGroupId, snapshotSkuId, snapshotUser, startDemoGraphEmulator } from './testing.ts';

/** GraphClient against the emulator over real HTTP: the same code that talks to graph.microsoft.com. */

let emulator: GraphEmulator;
let client: GraphClient;

function userId(upn: string): string {
  return snapshotUser(emulator, 'contoso', upn).id;
}

function tokenRequests(): number {
  return emulator.requests().filter((r) => r.path.endsWith('/oauth2/v2.0/token')).length;
}

function graphRequests(pathEnd: string): { query: string; status: number }[] {
  return emulator.requests().filter((r) => r.path.startsWith('/v1.0/') && r.path.endsWith(pathEnd));
}

async function rejection(promise: Promise<unknown>): Promise<DeskhandError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeskhandError);
  return error as DeskhandError;
}

/** The DeskhandError `make` throws; fails the test when it throws nothing. */
function thrownBy(make: () => unknown): DeskhandError {
  let thrown: unknown;
  try {
    make();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected an error to be thrown').toBeInstanceOf(DeskhandError);
  return thrown as DeskhandError;
}

beforeAll(async () => {
  emulator = await startDemoGraphEmulator();
  client = emulatedGraphClient(emulator, 'contoso');
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
});

describe('configuration and tokens', () => {
  it('refuses a configuration without credentials, without echoing values', () => {
    for (const config of [
      { tenantId: 't', clientId: '', clientSecret: 's3cr3t-value' },
      { tenantId: 't', clientId: 'c', clientSecret: 's3cr3t-value', graphBaseUrl: 'not a url' },
      { tenantId: 't', clientId: 'c', clientSecret: 's3cr3t-value', loginBaseUrl: 's3cr3t-value' },
    ]) {
      const error = thrownBy(() => new GraphClient(config));
      expect(error.code, JSON.stringify(config)).toBe('config');
      expect(error.message).toContain('misconfigured');
      expect(error.message).not.toContain('s3cr3t-value');
    }
  });

  it('fetches one token and reuses it across calls and clients of the same app', async () => {
    // A fresh emulator so that no earlier test's cached token is involved.
    const own = await startDemoGraphEmulator();
    try {
      const a = emulatedGraphClient(own, 'contoso');
      const b = emulatedGraphClient(own, 'contoso');
      await Promise.all([a.listSubscribedSkus(), a.listGroups(), b.getUser('alex.wilber@contoso.example')]);
      await a.listSubscribedSkus();
      expect(own.requests().filter((r) => r.path.endsWith('/oauth2/v2.0/token'))).toHaveLength(1);
      const fabrikam = emulatedGraphClient(own, 'fabrikam');
      expect((await fabrikam.listSubscribedSkus()).map((s) => s.skuPartNumber)).toEqual(['O365_BUSINESS_PREMIUM']);
      expect(own.requests().filter((r) => r.path.endsWith('/oauth2/v2.0/token'))).toHaveLength(2);
    } finally {
      await own.close();
    }
  });

  it('drops the token on 401 and signs in again once', async () => {
    await client.listSubscribedSkus();
    const before = tokenRequests();
    emulator.revokeTokens();
    const skus = await client.listSubscribedSkus();
    expect(skus.length).toBeGreaterThan(0);
    expect(tokenRequests()).toBe(before + 1);
    expect(graphRequests('/subscribedSkus').map((r) => r.status)).toEqual([200, 401, 200]);
  });

  it('refreshes a token shortly before it expires', async () => {
    const shortLived = await startGraphEmulator({ world: loadDemoWorld(), tokenLifetimeSeconds: 1 });
    try {
      const c = emulatedGraphClient(shortLived, 'contoso');
      await c.listSubscribedSkus();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await c.listSubscribedSkus();
      const statuses = shortLived.requests().map((r) => `${r.path.endsWith('/token') ? 'token' : 'graph'} ${r.status}`);
      expect(statuses).toEqual(['token 200', 'graph 200', 'token 200', 'graph 200']);
    } finally {
      await shortLived.close();
    }
  });

  it('reports refused credentials as a config error that names the cause but not the secret', async () => {
    const config = emulator.clientConfig('contoso');
    const wrong = new GraphClient({ ...config, clientSecret: 'wrong-secret-value' });
    const error = await rejection(wrong.listSubscribedSkus());
    expect(error.code).toBe('config');
    expect(error.message).toContain('AADSTS7000215');
    expect(error.message).not.toContain('wrong-secret-value');
    expect(error.message).not.toContain(config.clientSecret);
    expect(JSON.stringify(error.details)).not.toContain('wrong-secret-value');

    const unknownTenant = new GraphClient({ ...config, tenantId: '00000000-0000-0000-0000-000000000000' });
    expect((await rejection(unknownTenant.listSubscribedSkus())).code).toBe('config');
  });
});

describe('users', () => {
  it('reads a user by UPN with the fields the product needs and the last sign-in', async () => {
    const alex = await client.getUser('alex.wilber@contoso.example');
    expect(alex).toMatchObject({
      id: userId('alex.wilber@contoso.example'),
      userPrincipalName: 'alex.wilber@contoso.example',
      displayName: 'Alex Wilber',
      givenName: 'Alex',
      surname: 'Wilber',
      jobTitle: 'Marketing Assistant',
      department: 'Marketing',
      accountEnabled: true,
      usageLocation: 'US',
    });
    expect(Date.parse(alex!.lastSignInDateTime!)).not.toBeNaN();
    // signInActivity is asked for by object id (Graph refuses it by UPN).
    expect(graphRequests(`/users/${alex!.id}`).some((r) => r.query.includes('signInActivity'))).toBe(true);
  });

  it('reads the disabled flag and answers null for unknown users, URL-encoding the UPN', async () => {
    expect((await client.getUser('allan.deyoung@contoso.example'))?.accountEnabled).toBe(false);
    expect(await client.getUser('nobody#EXT#@contoso.example')).toBeNull();
    expect(emulator.requests().some((r) => r.path === '/v1.0/users/nobody%23EXT%23%40contoso.example')).toBe(true);
    expect(await client.getUser('$weird@contoso.example')).toBeNull();
  });

  it('finds users whose name or UPN starts with the query', async () => {
    const byFirst = await client.findUsers('al');
    expect(byFirst.map((u) => u.userPrincipalName).sort()).toEqual(['alex.wilber@contoso.example', 'allan.deyoung@contoso.example']);
    expect((await client.findUsers('Wilber')).map((u) => u.displayName)).toEqual(['Alex Wilber']);
    expect((await client.findUsers("o'neil")).length).toBe(0);
  });

  it('resolves a requester by mail when it is not a UPN', async () => {
    expect((await client.getUserByUpnOrMail('MEGAN.BOWEN@contoso.example'))?.displayName).toBe('Megan Bowen');
    expect(await client.getUserByUpnOrMail('megan@elsewhere.example')).toBeNull();
  });

  it('reads the manager, null when none is set', async () => {
    expect((await client.getManager(userId('alex.wilber@contoso.example')))?.userPrincipalName).toBe('megan.bowen@contoso.example');
    expect(await client.getManager(userId('diego.siciliani@contoso.example'))).toBeNull();
  });
});

describe('groups', () => {
  it('maps memberships to the product group kinds', async () => {
    const lynne = await client.listUserGroups(userId('lynne.robbins@contoso.example'));
    const byName = new Map(lynne.map((g) => [g.displayName, g]));
    expect([...byName.keys()].sort()).toEqual(['DL-All-Staff', 'SG-App-Zendesk', 'SG-VPN-Users', 'SM-Support-Inbox']);
    expect(byName.get('SG-App-Zendesk')).toMatchObject({ kind: 'security', description: 'Access to Zendesk', privileged: false });
    expect(byName.get('DL-All-Staff')).toMatchObject({ kind: 'distribution' });
    expect(byName.get('SM-Support-Inbox')).toMatchObject({ kind: 'shared_mailbox', mail: 'support@contoso.example' });

    const diego = await client.listUserGroups(userId('diego.siciliani@contoso.example'));
    expect(diego.find((g) => g.displayName === 'SG-Admins-Privileged')?.privileged).toBe(true);
  });

  it('reads Graph group flags as kinds', () => {
    expect(groupKindOf({ groupTypes: ['Unified'], mailEnabled: true, securityEnabled: true })).toBe('microsoft365');
    expect(groupKindOf({ groupTypes: [], mailEnabled: true, securityEnabled: false })).toBe('distribution');
    expect(groupKindOf({ groupTypes: [], mailEnabled: true, securityEnabled: true })).toBe('shared_mailbox');
    expect(groupKindOf({ groupTypes: [], mailEnabled: false, securityEnabled: true })).toBe('security');
  });

  it('searches groups with ConsistencyLevel: eventual and finds them by exact name', async () => {
    expect((await client.findGroups('Zendesk')).map((g) => g.displayName)).toEqual(['SG-App-Zendesk']);
    expect((await client.findGroups('support@')).map((g) => g.displayName)).toEqual(['SM-Support-Inbox']);
    expect((await client.findGroupsByName('sg-app-zendesk')).map((g) => g.displayName)).toEqual(['SG-App-Zendesk']);
    expect(await client.findGroupsByName("O'Brien's group")).toEqual([]);
  });

  it('follows @odata.nextLink across several pages', async () => {
    const paging = emulatedGraphClient(emulator, 'contoso', { pageSize: 2 });
    const groups = await paging.listGroups();
    expect(groups).toHaveLength(17);
    expect(new Set(groups.map((g) => g.id)).size).toBe(17);
    const calls = graphRequests('/groups');
    expect(calls).toHaveLength(9);
    expect(calls[0]!.query).toContain('%24top=2');
    expect(calls.slice(1).every((r) => r.query.includes('$skiptoken='))).toBe(true);

    const memberships = await paging.listUserGroups(userId('miriam.graham@contoso.example'));
    expect(memberships).toHaveLength(5);
    expect(graphRequests('/memberOf')).toHaveLength(3);
  });

  it('refuses a next page link to another host (the token must never leave Graph)', async () => {
    const config = emulator.clientConfig('contoso');
    const hostile = new GraphClient({
      ...config,
      http: {
        fetchImpl: async (input, init) => {
          const response = await fetch(input, init);
          if (!String(input).includes('/groups')) return response;
          const body = (await response.json()) as Record<string, unknown>;
          body['@odata.nextLink'] = 'https://attacker.example/v1.0/groups?$skiptoken=x';
          return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
        },
      },
    });
    const error = await rejection(hostile.listGroups());
    expect(error.message).toContain('another host');
  });

  it('adds a member once and reports a repeat as already a member', async () => {
    const zendesk = snapshotGroupId(emulator, 'contoso', 'SG-App-Zendesk');
    const alex = userId('alex.wilber@contoso.example');
    expect(await client.addMember(zendesk, alex)).toEqual({ alreadyMember: false });
    expect(await client.addMember(zendesk, alex)).toEqual({ alreadyMember: true });
    const members = emulator.tenant('contoso').groups.find((g) => g.id === zendesk)!.members;
    expect(members.filter((m) => m === 'alex.wilber@contoso.example')).toHaveLength(1);
  });

  it('removes a member and reports a repeat as not a member, but not a missing group', async () => {
    const zendesk = snapshotGroupId(emulator, 'contoso', 'SG-App-Zendesk');
    const lidia = userId('lidia.holloway@contoso.example');
    expect(await client.removeMember(zendesk, lidia)).toEqual({ notMember: false });
    expect(await client.removeMember(zendesk, lidia)).toEqual({ notMember: true });
    const error = await rejection(client.removeMember('00000000-0000-4000-8000-000000000000', lidia));
    expect(error.message).toContain('Request_ResourceNotFound');
  });
});

describe('licenses', () => {
  it('lists subscribed SKUs with seats bought and in use, and a user\'s SKUs', async () => {
    const skus = await client.listSubscribedSkus();
    expect(skus.find((s) => s.skuPartNumber === 'SPE_E3')).toMatchObject({ total: 25, consumed: 18 });
    expect(skus.find((s) => s.skuPartNumber === 'VISIOCLIENT')).toMatchObject({ total: 3, consumed: 3 });
    expect((await client.listUserLicenses(userId('miriam.graham@contoso.example'))).sort()).toEqual(['POWER_BI_PRO', 'SPE_E3', 'VISIOCLIENT']);
  });

  it("carries each SKU's service plans, asked for in $select", async () => {
    const skus = await client.listSubscribedSkus();
    const e3 = skus.find((s) => s.skuPartNumber === 'SPE_E3')!;
    expect(e3.servicePlans).toContainEqual({ servicePlanId: '43de0ff5-c92c-492b-9116-175376d08c38', servicePlanName: 'OFFICESUBSCRIPTION', provisioningStatus: 'Success', appliesTo: 'User' });
    expect(e3.servicePlans?.map((p) => p.servicePlanName)).toContain('TEAMS1');
    expect(skus.find((s) => s.skuPartNumber === 'POWER_BI_PRO')?.servicePlans?.map((p) => p.servicePlanName)).toEqual(['EXCHANGE_S_FOUNDATION', 'BI_AZURE_P2']);
    expect(new URLSearchParams(graphRequests('/subscribedSkus')[0]!.query).get('$select')?.split(',')).toContain('servicePlans');
  });

  it('reads SKUs without servicePlans as carrying none', async () => {
    const stripped = new GraphClient({
      ...emulator.clientConfig('contoso'),
      http: {
        fetchImpl: async (input, init) => {
          const response = await fetch(input, init);
          if (!String(input).includes('/subscribedSkus')) return response;
          const body = (await response.json()) as { value: Record<string, unknown>[] };
          for (const sku of body.value) delete sku['servicePlans'];
          return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
        },
      },
    });
    const skus = await stripped.listSubscribedSkus();
    expect(skus.find((s) => s.skuPartNumber === 'SPE_E3')).toEqual(expect.objectContaining({ total: 25, consumed: 18 }));
    expect(skus.every((s) => s.servicePlans === undefined)).toBe(true);
  });

  it('assigns and removes a license, both idempotent', async () => {
    const alex = userId('alex.wilber@contoso.example');
    const powerBi = snapshotSkuId(emulator, 'contoso', 'POWER_BI_PRO');
    await client.assignLicense(alex, powerBi);
    await client.assignLicense(alex, powerBi);
    expect(snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example').licenses).toEqual(['SPE_E3', 'POWER_BI_PRO']);
    expect(emulator.tenant('contoso').licenses.find((l) => l.skuPartNumber === 'POWER_BI_PRO')!.consumed).toBe(4);
    expect(await client.removeLicense(alex, powerBi)).toEqual({ notAssigned: false });
    expect(await client.removeLicense(alex, powerBi)).toEqual({ notAssigned: true });
    expect(emulator.tenant('contoso').licenses.find((l) => l.skuPartNumber === 'POWER_BI_PRO')!.consumed).toBe(3);
  });

  it('fails cleanly when no seat is free: non-retryable, naming the SKU', async () => {
    const error = await rejection(client.assignLicense(userId('alex.wilber@contoso.example'), snapshotSkuId(emulator, 'contoso', 'VISIOCLIENT')));
    expect(error.code).toBe('upstream');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('no free seat of VISIOCLIENT');
    expect(snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example').licenses).toEqual(['SPE_E3']);
  });
});

describe('account and credentials', () => {
  it('sets a temporary password that must be changed at next sign-in', async () => {
    await client.setTemporaryPassword(userId('joni.sherman@contoso.example'), 'Xy7#kLm2Pq9$Rt4!');
    expect(snapshotUser(emulator, 'contoso', 'joni.sherman@contoso.example')).toMatchObject({ passwordResets: 1, forceChangePasswordNextSignIn: true });
  });

  it('revokes sessions and enables and disables accounts', async () => {
    const alex = userId('alex.wilber@contoso.example');
    await client.revokeSessions(alex);
    await client.setAccountEnabled(alex, false);
    expect(snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example')).toMatchObject({ sessionRevocations: 1, accountEnabled: false });
    await client.setAccountEnabled(alex, true);
    await client.setAccountEnabled(alex, true);
    expect(snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example').accountEnabled).toBe(true);
  });

  it('lists methods and deletes them through their per-type path, a repeat being harmless', async () => {
    const diego = userId('diego.siciliani@contoso.example');
    const methods = await client.listAuthMethods(diego);
    expect(methods.map((m) => m.type)).toEqual(['passwordAuthenticationMethod', 'microsoftAuthenticatorAuthenticationMethod', 'phoneAuthenticationMethod']);
    expect(methods[0]!.id).toBe(PASSWORD_METHOD_ID);
    const phone = methods[2]!;
    expect(await client.deleteAuthMethod(diego, phone)).toEqual({ alreadyRemoved: false });
    expect(await client.deleteAuthMethod(diego, phone)).toEqual({ alreadyRemoved: true });
    expect(graphRequests(`/authentication/phoneMethods/${phone.id}`).map((r) => r.status)).toEqual([204, 404]);
    expect((await rejection(client.deleteAuthMethod(diego, methods[0]!))).code).toBe('bad_request');
  });
});

describe('mail', () => {
  it('sends plain-text mail from the helpdesk mailbox', async () => {
    await client.sendMail('it-helpdesk@contoso.example', { to: 'megan.bowen@contoso.example', subject: 'Approve?', text: 'Alex asks for Zendesk.' });
    expect(emulator.mail()).toMatchObject([
      { from: 'it-helpdesk@contoso.example', to: ['megan.bowen@contoso.example'], subject: 'Approve?', contentType: 'Text', content: 'Alex asks for Zendesk.' },
    ]);
  });
});

describe('throttling and errors', () => {
  it('waits for Retry-After on 429 and retries', async () => {
    emulator.injectFault({ status: 429, count: 1, pathContains: '/subscribedSkus', retryAfterSeconds: 1 });
    const started = Date.now();
    const skus = await client.listSubscribedSkus();
    expect(skus.length).toBe(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(graphRequests('/subscribedSkus').map((r) => r.status)).toEqual([429, 200]);
  });

  it('retries a transient 503 and hands a long Retry-After back to the caller as retryable', async () => {
    emulator.injectFault({ status: 503, count: 1, pathContains: '/subscribedSkus', retryAfterSeconds: 0 });
    expect((await client.listSubscribedSkus()).length).toBe(4);

    emulator.injectFault({ status: 429, count: 1, pathContains: '/subscribedSkus', retryAfterSeconds: 30 });
    const error = await rejection(client.listSubscribedSkus());
    expect(error.code).toBe('upstream_retryable');
    expect(error.retryAfterMs).toBe(30_000);
  });

  it("maps Graph's error body to a clear message without the secret or the token", async () => {
    const config = emulator.clientConfig('contoso');
    let bearer = '';
    const watched = new GraphClient({
      ...config,
      http: {
        fetchImpl: (input, init) => {
          const auth = new Headers(init?.headers).get('authorization');
          if (auth) bearer = auth.replace(/^Bearer /, '');
          return fetch(input, init);
        },
      },
    });
    emulator.injectFault({ status: 403, count: 1, pathContains: '/revokeSignInSessions' });
    const error = await rejection(watched.revokeSessions(userId('alex.wilber@contoso.example')));
    expect(error.code).toBe('upstream');
    expect(error.message).toContain('Microsoft Graph: HTTP 403 Authorization_RequestDenied: Insufficient privileges');
    expect(error.message).toContain('directory role');
    expect(bearer.length).toBeGreaterThan(10);
    const everything = `${error.message} ${JSON.stringify(error.details)}`;
    expect(everything).not.toContain(bearer);
    expect(everything).not.toContain(config.clientSecret);
  });
});
