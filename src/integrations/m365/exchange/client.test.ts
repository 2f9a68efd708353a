import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeskhandError } from '../../../core/errors.ts';
import type { GraphEmulator } from '../emulator/index.ts';
import { emulatedGraphClient, snapshotGroupId, snapshotUser, startDemoGraphEmulator } from '../testing.ts';
import { ExchangeOnlineClient } from './client.ts';
import { emulatedExchangeClient } from './testing.ts';

/**
 * The Exchange Online client against the Exchange emulator over HTTP: membership writes through
 * InvokeCommand that Graph then sees, idempotent repeats, the refusals an admin must act on, transient
 * answers, the regional redirect.
 */

let emulator: GraphEmulator;
let exchange: ExchangeOnlineClient;

const ALEX = 'alex.wilber@contoso.example';
const AP = 'ap@contoso.example'; // SM-Accounts-Payable's address

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

function members(group: string): string[] {
  return emulator.tenant('contoso').groups.find((g) => g.displayName === group)!.members;
}

beforeAll(async () => {
  emulator = await startDemoGraphEmulator();
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
  exchange = emulatedExchangeClient(emulator, 'contoso', { http: { maxInlineWaitMs: 1_000 } });
});

describe('membership through InvokeCommand', () => {
  it('adds and removes a member of a mail-enabled security group, and Graph sees it', async () => {
    expect(await exchange.writes.add(AP, ALEX)).toEqual({ alreadyMember: false });
    const graph = emulatedGraphClient(emulator, 'contoso');
    const groupId = snapshotGroupId(emulator, 'contoso', 'SM-Accounts-Payable');
    const alexId = snapshotUser(emulator, 'contoso', ALEX).id;
    expect((await graph.listUserGroups(alexId)).map((g) => g.id)).toContain(groupId);
    expect((await exchange.groupMembers(AP)).map((m) => m.objectId)).toContain(alexId);
    expect(await exchange.writes.add(AP, ALEX)).toEqual({ alreadyMember: true });
    expect(await exchange.writes.remove(AP, ALEX)).toEqual({ notMember: false });
    expect(await exchange.writes.remove(AP, ALEX)).toEqual({ notMember: true });
    expect(members('SM-Accounts-Payable')).not.toContain(ALEX);
    const ops = emulator.effects('contoso').map((e) => `${e.op} ${e.targetName} ${e.objectName}`);
    expect(ops).toEqual([`member_added ${ALEX} SM-Accounts-Payable`, `member_removed ${ALEX} SM-Accounts-Payable`]);
    const call = emulator.exchange.calls('contoso').find((c) => c.cmdlet === 'Add-DistributionGroupMember')!;
    expect(call.parameters).toEqual({ Identity: AP, Member: ALEX, BypassSecurityGroupManagerCheck: true });
  });

  it('reads members Graph holds (the fixture) through the documented v2.0 endpoint', async () => {
    const fixtureMembers = members('DL-Sales');
    expect(fixtureMembers.length).toBeGreaterThan(0);
    const read = await exchange.groupMembers('DL-Sales');
    expect(read.map((m) => m.address).sort()).toEqual([...fixtureMembers].sort());
    expect(emulator.exchange.calls('contoso').at(-1)).toMatchObject({ surface: 'DistributionGroupMember', cmdlet: 'Get-DistributionGroupMember' });
  });

  it('follows @odata.nextLink, POSTing the same body, to read every member', async () => {
    const paged = await startDemoGraphEmulator({ pageSize: 5 });
    try {
      const client = emulatedExchangeClient(paged, 'contoso');
      const all = paged.tenant('contoso').groups.find((g) => g.displayName === 'DL-All-Staff')!.members;
      expect(all.length).toBeGreaterThan(10);
      const read = await client.groupMembers('DL-All-Staff');
      expect(read.map((m) => m.address).sort()).toEqual([...all].sort());
      expect(paged.exchange.calls('contoso').filter((c) => c.cmdlet === 'Get-DistributionGroupMember')).toHaveLength(Math.ceil(all.length / 5));
    } finally {
      await paged.close();
    }
  });

  it('reports a group synced from on-premises as a permanent refusal', async () => {
    emulator.exchange.markGroupSynced('contoso', 'DL-Sales');
    const error = await rejection(exchange.writes.add('DL-Sales', ALEX));
    expect(error.code).toBe('upstream');
    expect(error.message).toContain('synchronized from the on-premises directory');
    expect(members('DL-Sales')).not.toContain(ALEX);
  });

  it('refuses a group Exchange does not manage, and a member that is not mail-enabled', async () => {
    // SG-App-Zendesk is a security group without mail: not an Exchange recipient, neither group nor member.
    const notFound = await rejection(exchange.writes.add('SG-App-Zendesk', ALEX));
    expect(notFound.message).toContain("couldn't be found");
    const notMail = await rejection(exchange.writes.add('DL-Sales', 'SG-App-Zendesk'));
    expect(notMail.message).toContain('only mail-enabled recipients');
  });
});

describe('refusals an admin must act on', () => {
  it('an app without an Exchange role: RBAC 401, named as such', async () => {
    emulator.exchange.setAccess('contoso', { role: null });
    const error = await rejection(exchange.writes.add(AP, ALEX));
    expect(error.code).toBe('config');
    expect(error.message).toContain('User is not allowed to call Add-DistributionGroupMember');
    expect(error.message).toContain('Exchange Administrator');
    expect(members('SM-Accounts-Payable')).not.toContain(ALEX);
  });

  it('an app without Exchange.ManageAsApp: 401 naming the permission', async () => {
    emulator.exchange.setAccess('contoso', { manageAsApp: false });
    const error = await rejection(exchange.organizationConfig());
    expect(error.code).toBe('config');
    expect(error.message).toContain('Exchange.ManageAsApp');
  });

  it('an unknown cmdlet: 403 with an empty body', async () => {
    const error = await rejection(exchange.invokeCommand('Add-MailboxPermissionX', { Identity: AP }));
    expect(error.message).toContain('HTTP 403 and no body');
  });
});

describe('transient answers and redirects', () => {
  it('retries a 429 with a short Retry-After, and hands a long one to the engine', async () => {
    emulator.injectFault({ status: 429, count: 1, pathContains: '/InvokeCommand', retryAfterSeconds: 0 });
    expect(await exchange.writes.add(AP, ALEX)).toEqual({ alreadyMember: false });
    emulator.injectFault({ status: 503, count: 5, pathContains: '/InvokeCommand', retryAfterSeconds: 60 });
    const error = await rejection(exchange.writes.remove(AP, ALEX));
    expect(error.code).toBe('upstream_retryable');
    expect(error.retryAfterMs).toBe(60_000);
  });

  it('resends a regional 302 with the token to the Exchange host it names', async () => {
    emulator.exchange.redirectNext({ count: 1, origin: emulator.exchange.url });
    expect(await exchange.writes.add(AP, ALEX)).toEqual({ alreadyMember: false });
    const posts = emulator.requests().filter((r) => r.path.endsWith('/InvokeCommand'));
    expect(posts.map((r) => r.status)).toEqual([302, 200]);
  });

  it('never sends the token to a host that is not Exchange Online', async () => {
    const seen: string[] = [];
    const other: Server = createServer((request, response) => {
      seen.push(String(request.headers.authorization));
      response.end('{}');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.2', resolve));
    try {
      const origin = `http://127.0.0.2:${(other.address() as AddressInfo).port}`;
      emulator.exchange.redirectNext({ count: 1, origin });
      const error = await rejection(exchange.writes.add(AP, ALEX));
      expect(error.message).toContain('not an Exchange Online host');
      expect(seen).toEqual([]);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });
});

describe('the token', () => {
  it("signs in with the MSP's multi-tenant app and its certificate, as Graph does", async () => {
    const config = await emulator.mspClientConfig('tailspin', 'adatum', 'certificate');
    if (!('certificate' in config)) throw new Error('expected a certificate configuration');
    const client = new ExchangeOnlineClient({
      tenantId: config.tenantId,
      clientId: config.clientId,
      certificate: config.certificate,
      loginBaseUrl: config.loginBaseUrl,
      baseUrl: emulator.exchange.url,
    });
    expect((await client.organizationConfig())['Guid']).toBe(config.tenantId);
  });

  it('Exchange refuses a Graph token, and Graph an Exchange token', async () => {
    const config = emulator.clientConfig('contoso');
    const token = async (scope: string) => {
      const response = await fetch(`${config.loginBaseUrl}/${config.tenantId}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: config.clientId, client_secret: config.clientSecret, grant_type: 'client_credentials', scope }).toString(),
      });
      return ((await response.json()) as { access_token: string }).access_token;
    };
    const graphToken = await token('https://graph.microsoft.com/.default');
    const exchangeToken = await token('https://outlook.office365.com/.default');
    const invoke = await fetch(`${emulator.exchange.url}/adminapi/beta/${config.tenantId}/InvokeCommand`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${graphToken}`,
        'content-type': 'application/json',
        'x-anchormailbox': `APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@${config.tenantId}`,
      },
      body: JSON.stringify({ CmdletInput: { CmdletName: 'Get-OrganizationConfig', Parameters: {} } }),
    });
    expect(invoke.status).toBe(401);
    const graph = await fetch(`${emulator.url}/users`, { headers: { authorization: `Bearer ${exchangeToken}` } });
    expect(graph.status).toBe(401);
  });
});
