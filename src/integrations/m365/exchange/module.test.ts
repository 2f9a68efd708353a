import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphEmulator } from '../emulator/index.ts';
import { m365 } from '../index.ts';
import { snapshotGroupId, snapshotUser, startDemoGraphEmulator } from '../testing.ts';

/** The `exchangeOnline` module setting: what switches the Exchange path on, and the outbound rule its address follows. */

let emulator: GraphEmulator;

beforeAll(async () => {
  emulator = await startDemoGraphEmulator();
});

afterAll(async () => {
  await emulator.close();
});

function connect(settings: Record<string, unknown>) {
  const config = emulator.clientConfig('contoso');
  return m365.connect({
    integrationId: 'test',
    name: 'Contoso',
    kind: 'm365',
    settings: { tenantId: config.tenantId, clientId: config.clientId, graphBaseUrl: config.graphBaseUrl, loginBaseUrl: config.loginBaseUrl, ...settings },
    secrets: { clientSecret: config.clientSecret },
  });
}

describe('the exchangeOnline setting', () => {
  it('switches the Exchange path of the membership tools on', async () => {
    const args = { user: 'grady.archie@contoso.example', group: 'DL-Sales' };
    const resolved = { user: snapshotUser(emulator, 'contoso', args.user).id, group: snapshotGroupId(emulator, 'contoso', args.group) };
    const off = connect({ developmentLoopback: true });
    expect(await off.tools!.check!('m365.add_user_to_group', args, resolved)).toMatchObject({ ok: false });
    const on = connect({ developmentLoopback: true, exchangeOnline: { enabled: true, baseUrl: emulator.exchange.url } });
    expect(await on.tools!.check!('m365.add_user_to_group', args, resolved)).toMatchObject({ ok: true });
    const result = await on.tools!.run('m365.add_user_to_group', args, resolved);
    expect(result.summary).toContain('through Exchange Online');
    expect(emulator.exchange.calls('contoso').some((c) => c.cmdlet === 'Add-DistributionGroupMember' && c.parameters['Member'] === args.user)).toBe(true);
  });

  it('holds its address to the outbound rule: http only to loopback, and only for the emulators', () => {
    expect(() => connect({ developmentLoopback: true, exchangeOnline: { enabled: true, baseUrl: 'http://exchange.example' } })).toThrow(/exchangeOnline.baseUrl must be an https/);
    // Loopback without the development setting is refused for Exchange as for Graph (checked first here).
    expect(() => connect({ exchangeOnline: { enabled: true, baseUrl: emulator.exchange.url } })).toThrow(/https/);
    expect(() => connect({ developmentLoopback: true, exchangeOnline: { enabled: true, baseUrl: 'https://outlook.office365.us' } })).not.toThrow();
  });
});
