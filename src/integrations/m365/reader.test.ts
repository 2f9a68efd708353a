import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Runbook } from '../../core/directory.ts';
import { DeskhandError } from '../../core/errors.ts';
import type { GraphEmulator } from './emulator/index.ts';
import { M365DiagnosisReader } from './reader.ts';
import { emulatedGraphClient, startDemoGraphEmulator } from './testing.ts';

/** The diagnosis reader: typed reads, each reported once to the engine's hook, cached per diagnosis. */

let emulator: GraphEmulator;
const runbooks: Runbook[] = [{ title: 'App access', body: 'Add the user to SG-App-<app>.', source: 'fixture' }];

interface Recorded {
  tool: string;
  args: Record<string, string>;
  result: unknown;
}

function newReader(): { reader: M365DiagnosisReader; calls: Recorded[] } {
  const calls: Recorded[] = [];
  const reader = new M365DiagnosisReader(
    emulatedGraphClient(emulator, 'contoso'),
    async () => runbooks,
    (tool, args, result) => calls.push({ tool, args, result }),
  );
  return { reader, calls };
}

function graphGets(): string[] {
  return emulator
    .requests()
    .filter((r) => r.path.startsWith('/v1.0/'))
    .map((r) => `${r.path}${r.query}`);
}

beforeAll(async () => {
  emulator = await startDemoGraphEmulator();
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
});

describe('M365DiagnosisReader', () => {
  it('reports each read with the tool name, its arguments and its result', async () => {
    const { reader, calls } = newReader();
    const groups = await reader.listUserGroups('alex.wilber@contoso.example');
    expect(groups.map((g) => g.displayName).sort()).toEqual(['DL-All-Staff', 'DL-Marketing']);
    expect(calls.map((c) => c.tool)).toEqual(['m365.get_user', 'm365.list_user_groups']);
    expect(calls[1]).toEqual({ tool: 'm365.list_user_groups', args: { user: 'alex.wilber@contoso.example' }, result: groups });

    await reader.listLicenses();
    await reader.findUsers('Megan');
    await reader.findGroups('Zendesk');
    await reader.getManager('alex.wilber@contoso.example');
    await reader.listUserLicenses('alex.wilber@contoso.example');
    await reader.listAuthMethods('alex.wilber@contoso.example');
    expect(calls.map((c) => c.tool)).toEqual([
      'm365.get_user',
      'm365.list_user_groups',
      'm365.list_licenses',
      'm365.find_user',
      'm365.find_group',
      'm365.get_manager',
      'm365.list_user_licenses',
      'm365.list_auth_methods',
    ]);
    expect(calls.find((c) => c.tool === 'm365.get_manager')?.result).toMatchObject({ userPrincipalName: 'megan.bowen@contoso.example' });
  });

  it("gives the tenant's SKUs with their service plans, as reported", async () => {
    const { reader, calls } = newReader();
    const skus = await reader.listLicenses();
    const e3 = skus.find((s) => s.skuPartNumber === 'SPE_E3');
    expect(e3?.servicePlans?.map((p) => p.servicePlanName)).toEqual(expect.arrayContaining(['TEAMS1', 'OFFICESUBSCRIPTION']));
    expect(e3?.servicePlans?.map((p) => p.servicePlanName)).not.toContain('BI_AZURE_P2');
    expect(calls).toEqual([{ tool: 'm365.list_licenses', args: {}, result: skus }]);
  });

  it('does not repeat a read within one diagnosis (UPN case aside), nor report it twice', async () => {
    const { reader, calls } = newReader();
    await Promise.all([reader.getUser('alex.wilber@contoso.example'), reader.getUser('Alex.Wilber@contoso.example')]);
    await reader.listUserGroups('alex.wilber@contoso.example');
    await reader.listUserGroups('alex.wilber@contoso.example');
    const before = graphGets().length;
    await reader.getUser('alex.wilber@contoso.example');
    await reader.listUserGroups('ALEX.WILBER@contoso.example');
    expect(graphGets().length).toBe(before);
    expect(calls.map((c) => c.tool)).toEqual(['m365.get_user', 'm365.list_user_groups']);
    expect(graphGets().filter((p) => p.includes('/memberOf'))).toHaveLength(1);

    // A new diagnosis (a new reader) reads afresh.
    const second = newReader();
    await second.reader.listUserGroups('alex.wilber@contoso.example');
    expect(graphGets().filter((p) => p.includes('/memberOf'))).toHaveLength(2);
  });

  it('answers null for an unknown user and refuses questions about them', async () => {
    const { reader } = newReader();
    expect(await reader.getUser('ghost@contoso.example')).toBeNull();
    await expect(reader.listUserGroups('ghost@contoso.example')).rejects.toMatchObject({ code: 'not_found' });
    await expect(reader.getManager('ghost@contoso.example')).rejects.toBeInstanceOf(DeskhandError);
  });

  it('finds groups by word, falls back to a substring match, and lists all for an empty query', async () => {
    const { reader, calls } = newReader();
    expect((await reader.findGroups('Zendesk')).map((g) => g.displayName)).toEqual(['SG-App-Zendesk']);
    expect((await reader.findGroups('desk')).map((g) => g.displayName)).toEqual(['SG-App-Zendesk']);
    expect(await reader.findGroups('no-such-thing')).toEqual([]);
    expect(await reader.findGroups('')).toHaveLength(17);
    expect(calls.map((c) => c.args)).toEqual([{ query: 'Zendesk' }, { query: 'desk' }, { query: 'no-such-thing' }, { query: '' }]);
  });

  it('reports a failed read with its error, does not cache it, and reads again next time', async () => {
    const { reader, calls } = newReader();
    emulator.injectFault({ status: 403, count: 1, pathContains: '/subscribedSkus' });
    await expect(reader.listLicenses()).rejects.toMatchObject({ code: 'upstream' });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.result).toMatchObject({ error: expect.stringContaining('Authorization_RequestDenied') });

    const skus = await reader.listLicenses();
    expect(skus).toHaveLength(4);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.result).toEqual(skus);
  });

  it('hands out the runbooks it was given', async () => {
    const { reader, calls } = newReader();
    expect(await reader.listRunbooks()).toEqual(runbooks);
    expect(calls).toEqual([]);
  });

  it('works without a hook', async () => {
    const reader = new M365DiagnosisReader(emulatedGraphClient(emulator, 'contoso'), async () => []);
    expect((await reader.getUser('alex.wilber@contoso.example'))?.displayName).toBe('Alex Wilber');
  });
});
