import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadDemoWorld } from '../../../world/fixture.ts';
import { tenantIdOf } from '../../../world/ids.ts';
import { GRAPH_SCOPE } from '../client.ts';
import { ENTRA_ROLE_IDS, GRAPH_APP_ROLE_IDS, requiredGrants } from '../requirements.ts';
import { snapshotGroupId, snapshotUser } from '../testing.ts';
import { emulatorAppCredentials, type GraphEmulator, startGraphEmulator } from './index.ts';

/**
 * The emulator refuses what Graph refuses for an app's service principal (a missing application
 * permission or Entra role, a role-assignable group) and for a hybrid tenant (objects synced from an
 * on-premises directory, a default MFA method), and serves the reads `deskhand doctor` needs.
 */

let emulator: GraphEmulator;
let token: string;
const APP = emulatorAppCredentials('contoso');
const STRONG_PASSWORD = 'Temp-Pass-2024!x';

async function graph(path: string, init: { method?: string; json?: unknown } = {}): Promise<Response> {
  return fetch(`${emulator.url}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
  });
}

async function itemsOf<T>(response: Response): Promise<T[]> {
  return ((await response.json()) as { value: T[] }).value;
}

async function errorOf(response: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  return { status: response.status, code: body.error.code, message: body.error.message };
}

const userId = (upn: string) => snapshotUser(emulator, 'contoso', upn).id;
const resetPassword = (upn: string) => graph(`/users/${userId(upn)}`, { method: 'PATCH', json: { passwordProfile: { password: STRONG_PASSWORD, forceChangePasswordNextSignIn: true } } });
const addMember = (group: string, upn: string) =>
  graph(`/groups/${snapshotGroupId(emulator, 'contoso', group)}/members/$ref`, { method: 'POST', json: { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${userId(upn)}` } });
const DENIED = { status: 403, code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' };

beforeAll(async () => {
  emulator = await startGraphEmulator({ world: loadDemoWorld() });
  const response = await fetch(`${emulator.loginUrl}/${tenantIdOf('contoso')}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: APP.clientId, client_secret: APP.clientSecret, scope: GRAPH_SCOPE }).toString(),
  });
  token = ((await response.json()) as { access_token: string }).access_token;
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
});

describe("the app's service principal", () => {
  it('starts with exactly what the tools need, and reads it back as Graph does: app role ids and role template ids', async () => {
    const [principal] = await itemsOf<{ id: string; appId: string }>(await graph(`/servicePrincipals?$filter=appId eq '${APP.clientId}'`));
    expect(principal?.appId).toBe(APP.clientId);
    const assignments = await itemsOf<{ appRoleId: string; principalId: string; resourceId: string }>(await graph(`/servicePrincipals/${principal!.id}/appRoleAssignments`));
    const [graphPrincipal] = await itemsOf<{ id: string }>(await graph(`/servicePrincipals?$filter=appId eq '00000003-0000-0000-c000-000000000000'`));
    expect(new Set(assignments.map((a) => a.appRoleId))).toEqual(new Set(requiredGrants().permissions.map((p) => GRAPH_APP_ROLE_IDS[p])));
    expect(assignments.every((a) => a.principalId === principal!.id && a.resourceId === graphPrincipal!.id)).toBe(true);
    const roles = await itemsOf<{ roleDefinitionId: string; directoryScopeId: string }>(await graph(`/roleManagement/directory/roleAssignments?$filter=principalId eq '${principal!.id}'`));
    expect(roles).toEqual([expect.objectContaining({ roleDefinitionId: ENTRA_ROLE_IDS['User Administrator'], directoryScopeId: '/' })]);
    expect(requiredGrants().roles).toEqual(['User Administrator']);
  });

  it('refuses those reads without Application.Read.All and RoleManagement.Read.Directory', async () => {
    emulator.setGrants('contoso', { permissions: ['User.Read.All'] });
    expect(await errorOf(await graph(`/servicePrincipals?$filter=appId eq '${APP.clientId}'`))).toEqual(DENIED);
    expect(await errorOf(await graph('/roleManagement/directory/roleAssignments'))).toEqual(DENIED);
  });

  it('refuses every call whose application permission is missing (403), and serves it again once granted', async () => {
    emulator.setGrants('contoso', { permissions: requiredGrants().permissions.filter((p) => p !== 'User.Read.All') });
    expect(await errorOf(await graph('/users'))).toEqual(DENIED);
    expect((await graph('/groups')).status).toBe(200);
    emulator.setGrants('contoso', { permissions: requiredGrants().permissions.filter((p) => p !== 'User-PasswordProfile.ReadWrite.All') });
    expect(await errorOf(await resetPassword('alex.wilber@contoso.example'))).toEqual(DENIED);
    expect(snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example').passwordResets).toBe(0);
    emulator.setGrants('contoso', { permissions: [...requiredGrants().permissions.filter((p) => p !== 'User-PasswordProfile.ReadWrite.All'), 'User.ReadWrite.All'] });
    expect((await resetPassword('alex.wilber@contoso.example')).status).toBe(204);
  });

  it('refuses a password reset without User Administrator, and an administrator’s without Privileged Authentication Administrator', async () => {
    emulator.setGrants('contoso', { roles: [] });
    expect(await errorOf(await resetPassword('alex.wilber@contoso.example'))).toEqual(DENIED);
    emulator.setGrants('contoso', { roles: ['User Administrator'] });
    expect((await resetPassword('alex.wilber@contoso.example')).status).toBe(204);
    // Diego is a member of SG-Admins-Privileged, a role-assignable group: an administrator.
    expect(await errorOf(await resetPassword('diego.siciliani@contoso.example'))).toEqual(DENIED);
    emulator.setGrants('contoso', { roles: ['User Administrator', 'Privileged Authentication Administrator'] });
    expect((await resetPassword('diego.siciliani@contoso.example')).status).toBe(204);
    expect(emulator.grants('contoso')[0]?.roles).toEqual(['Privileged Authentication Administrator', 'User Administrator']);
  });

  it('changes the members of a role-assignable group only with RoleManagement.ReadWrite.Directory', async () => {
    expect(await errorOf(await addMember('SG-Admins-Privileged', 'alex.wilber@contoso.example'))).toEqual(DENIED);
    expect(snapshotUser(emulator, 'contoso', 'alex.wilber@contoso.example').groups).not.toContain('SG-Admins-Privileged');
    emulator.setGrants('contoso', { permissions: [...requiredGrants().permissions, 'RoleManagement.ReadWrite.Directory'] });
    expect((await addMember('SG-Admins-Privileged', 'alex.wilber@contoso.example')).status).toBe(204);
  });

  it('is configured through the control routes too, and reset gives back the defaults', async () => {
    const put = await fetch(`${emulator.loginUrl}/_emulator/tenants/contoso/grants`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ roles: [] }) });
    expect(put.status).toBe(200);
    expect(((await put.json()) as { roles: string[] }[])[0]?.roles).toEqual([]);
    const bad = await fetch(`${emulator.loginUrl}/_emulator/tenants/contoso/grants`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ roles: ['Janitor'] }) });
    expect(bad.status).toBe(400);
    emulator.reset();
    expect(emulator.grants('contoso')[0]?.roles).toEqual(['User Administrator']);
  });
});

describe('a hybrid tenant', () => {
  it("refuses writes to a synced user's properties with Graph's on-premises message, and still revokes its sessions", async () => {
    const adele = userId('adele.vance@contoso.example');
    expect((await (await graph(`/users/${adele}?$select=id,onPremisesSyncEnabled`)).json()) as object).toMatchObject({ onPremisesSyncEnabled: true });
    const message = 'Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.';
    expect(await errorOf(await resetPassword('adele.vance@contoso.example'))).toEqual({ status: 400, code: 'Request_BadRequest', message });
    expect(await errorOf(await graph(`/users/${adele}`, { method: 'PATCH', json: { accountEnabled: false } }))).toEqual({ status: 400, code: 'Request_BadRequest', message });
    expect(snapshotUser(emulator, 'contoso', 'adele.vance@contoso.example')).toMatchObject({ accountEnabled: true, passwordResets: 0 });
    expect((await graph(`/users/${adele}/revokeSignInSessions`, { method: 'POST' })).status).toBe(200);
    expect((await (await graph(`/users/${userId('alex.wilber@contoso.example')}?$select=onPremisesSyncEnabled`)).json()) as object).toMatchObject({ onPremisesSyncEnabled: null });
  });

  it("refuses a change of a synced group's members", async () => {
    const response = await addMember('SG-Finance-Share', 'isaiah.langer@contoso.example');
    expect((await errorOf(response)).message).toContain('on-premises mastered Directory Sync objects');
    expect(snapshotUser(emulator, 'contoso', 'isaiah.langer@contoso.example').groups).not.toContain('SG-Finance-Share');
  });

  it('refuses to delete the default MFA method (the phone) and deletes the others', async () => {
    const lynne = snapshotUser(emulator, 'contoso', 'lynne.robbins@contoso.example');
    const phone = lynne.authMethods.find((m) => m.type === 'phoneAuthenticationMethod')!;
    const authenticator = lynne.authMethods.find((m) => m.type === 'microsoftAuthenticatorAuthenticationMethod')!;
    expect(lynne.defaultMethodId).toBe(phone.id);
    const refused = await errorOf(await graph(`/users/${lynne.id}/authentication/phoneMethods/${phone.id}`, { method: 'DELETE' }));
    expect(refused).toMatchObject({ status: 400, message: expect.stringContaining('Cannot delete default method') });
    expect((await graph(`/users/${lynne.id}/authentication/microsoftAuthenticatorMethods/${authenticator.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(snapshotUser(emulator, 'contoso', lynne.userPrincipalName).authMethods.map((m) => m.type)).toEqual(['passwordAuthenticationMethod', 'phoneAuthenticationMethod']);
  });
});

describe('grants given at start', () => {
  it('start a tenant without a role, and reset keeps it that way', async () => {
    const other = await startGraphEmulator({ world: loadDemoWorld(), grants: { contoso: { roles: [] } } });
    try {
      expect(other.grants('contoso')[0]?.roles).toEqual([]);
      expect(other.grants('fabrikam')[0]?.roles).toEqual(['User Administrator']);
      other.reset();
      expect(other.grants('contoso')[0]?.roles).toEqual([]);
    } finally {
      await other.close();
    }
  });
});

describe('without the hybrid marks (the evaluation: the world as the fixture describes it)', () => {
  it('leaves SG-Finance-Share, Adele and Lynne as the fixture has them, also after reset', async () => {
    const plain = await startGraphEmulator({ world: loadDemoWorld(), hybridMarks: false });
    try {
      const tokenResponse = await fetch(`${plain.loginUrl}/${tenantIdOf('contoso')}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: APP.clientId, client_secret: APP.clientSecret, scope: GRAPH_SCOPE }).toString(),
      });
      const plainToken = ((await tokenResponse.json()) as { access_token: string }).access_token;
      const isaiah = snapshotUser(plain, 'contoso', 'isaiah.langer@contoso.example').id;
      const addIsaiah = () =>
        fetch(`${plain.url}/groups/${snapshotGroupId(plain, 'contoso', 'SG-Finance-Share')}/members/$ref`, {
          method: 'POST',
          headers: { authorization: `Bearer ${plainToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${isaiah}` }),
        });
      expect((await addIsaiah()).status).toBe(204);
      expect(snapshotUser(plain, 'contoso', 'isaiah.langer@contoso.example').groups).toContain('SG-Finance-Share');
      expect(plain.tenant('contoso').groups.find((g) => g.displayName === 'SG-Finance-Share')?.onPremisesSyncEnabled).toBe(false);
      expect(snapshotUser(plain, 'contoso', 'adele.vance@contoso.example').onPremisesSyncEnabled).toBe(false);
      expect(snapshotUser(plain, 'contoso', 'lynne.robbins@contoso.example').defaultMethodId).toBeNull();
      plain.reset();
      expect((await addIsaiah()).status).toBe(204);
    } finally {
      await plain.close();
    }
  });
});
