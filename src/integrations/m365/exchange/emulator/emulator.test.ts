import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DeskhandError } from '../../../../core/errors.ts';
import type { GraphEmulator } from '../../emulator/index.ts';
import { emulatedGraphClient, snapshotGroupId, snapshotUser, startDemoGraphEmulator } from '../../testing.ts';

/**
 * The emulators refuse what Microsoft refuses: Graph will not change the members of distribution
 * lists and mail-enabled security groups; Exchange wants its own token, the app's permission and
 * role, the manager-check bypass, and runs no cmdlet it does not know.
 */

let emulator: GraphEmulator;
const ALEX = 'alex.wilber@contoso.example';

beforeAll(async () => {
  emulator = await startDemoGraphEmulator();
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
});

async function exchangeToken(): Promise<{ token: string; tenantId: string }> {
  const config = emulator.clientConfig('contoso');
  const response = await fetch(`${config.loginBaseUrl}/${config.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: config.clientId, client_secret: config.clientSecret, grant_type: 'client_credentials', scope: 'https://outlook.office365.com/.default' }).toString(),
  });
  return { token: ((await response.json()) as { access_token: string }).access_token, tenantId: config.tenantId };
}

async function invoke(cmdlet: string, parameters: Record<string, unknown>): Promise<{ status: number; text: string }> {
  const { token, tenantId } = await exchangeToken();
  const response = await fetch(`${emulator.exchange.url}/adminapi/beta/${tenantId}/InvokeCommand`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'x-anchormailbox': `APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@${tenantId}`,
    },
    body: JSON.stringify({ CmdletInput: { CmdletName: cmdlet, Parameters: parameters } }),
  });
  return { status: response.status, text: await response.text() };
}

describe('Graph', () => {
  it.each(['DL-Sales', 'SM-Accounts-Payable'])('refuses to add a member to %s, and to remove one, as Graph does', async (name) => {
    const graph = emulatedGraphClient(emulator, 'contoso');
    const groupId = snapshotGroupId(emulator, 'contoso', name);
    const alex = snapshotUser(emulator, 'contoso', ALEX).id;
    const add = await graph.addMember(groupId, alex).then(
      () => null,
      (e: unknown) => e as DeskhandError,
    );
    expect(add?.message).toContain('Request_BadRequest: Cannot Update a mail-enabled security groups and or distribution list.');
    const member = emulator.tenant('contoso').users.find((u) => u.groups.includes(name))!;
    const remove = await graph.removeMember(groupId, member.id).then(
      () => null,
      (e: unknown) => e as DeskhandError,
    );
    expect(remove?.details?.['status']).toBe(400);
    expect(emulator.effects('contoso')).toEqual([]);
  });

  it('still changes the members of a security group', async () => {
    const graph = emulatedGraphClient(emulator, 'contoso');
    expect(await graph.addMember(snapshotGroupId(emulator, 'contoso', 'SG-App-Zendesk'), snapshotUser(emulator, 'contoso', ALEX).id)).toEqual({ alreadyMember: false });
  });
});

describe('Exchange Online', () => {
  it('refuses a change without BypassSecurityGroupManagerCheck (the app manages no group)', async () => {
    const refused = await invoke('Add-DistributionGroupMember', { Identity: 'DL-Sales', Member: ALEX });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('can only be performed by a manager of the group');
    const done = await invoke('Add-DistributionGroupMember', { Identity: 'DL-Sales', Member: ALEX, BypassSecurityGroupManagerCheck: true });
    expect(done.status).toBe(200);
  });

  it('answers an unknown cmdlet 403 with an empty body, and refuses UnifiedGroupLinks app-only', async () => {
    expect(await invoke('Set-Anything', {})).toEqual({ status: 403, text: '' });
    const links = await invoke('Add-UnifiedGroupLinks', { Identity: 'x', LinkType: 'Members', Links: ALEX });
    expect(links.status).toBe(400);
    expect(links.text).toContain('app-only');
  });

  it('lets a reader read and refuses its writes with the RBAC 401', async () => {
    emulator.exchange.setAccess('contoso', { role: 'Global Reader' });
    expect((await invoke('Get-DistributionGroupMember', { Identity: 'DL-Sales' })).status).toBe(200);
    const write = await invoke('Add-DistributionGroupMember', { Identity: 'DL-Sales', Member: ALEX, BypassSecurityGroupManagerCheck: true });
    expect(write.status).toBe(401);
    expect(JSON.parse(write.text).error.message).toBe('User is not allowed to call Add-DistributionGroupMember');
  });

  it('does not serve a cmdlet on a v2.0 endpoint that does not list it', async () => {
    const { token, tenantId } = await exchangeToken();
    const response = await fetch(`${emulator.exchange.url}/adminapi/v2.0/${tenantId}/DistributionGroupMember`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-anchormailbox': `APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@${tenantId}` },
      body: JSON.stringify({ CmdletInput: { CmdletName: 'Add-DistributionGroupMember', Parameters: { Identity: 'DL-Sales', Member: ALEX } } }),
    });
    expect(response.status).toBe(400);
  });
});
