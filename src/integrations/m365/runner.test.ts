import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeskhandError } from '../../core/errors.ts';
import type { GraphEmulator } from './emulator/index.ts';
import { generateTemporaryPassword, TEMPORARY_PASSWORD_LENGTH, temporaryPasswordAlphabet } from './password.ts';
import { M365ToolRunner, type ToolResult } from './runner.ts';
import { m365ToolByName, m365Tools } from './tools.ts';
import { emulatedGraphClient, snapshotGroupId, snapshotSkuId, snapshotUser, startDemoGraphEmulator } from './testing.ts';

/** The runner against the emulator: every write changes the tenant, and says so when it did not need to. */

let emulator: GraphEmulator;
let runner: M365ToolRunner;

const ALEX = 'alex.wilber@contoso.example';

function user(upn: string) {
  return snapshotUser(emulator, 'contoso', upn);
}

function ids(args: { user?: string; group?: string; sku?: string }): Record<string, string> {
  const resolved: Record<string, string> = {};
  if (args.user) resolved['user'] = user(args.user).id;
  if (args.group) resolved['group'] = snapshotGroupId(emulator, 'contoso', args.group);
  if (args.sku) resolved['sku'] = snapshotSkuId(emulator, 'contoso', args.sku);
  return resolved;
}

/** Runs a tool with the ids its arguments resolve to, as the engine does for a frozen plan step. */
function run(tool: string, args: Record<string, string>): Promise<ToolResult> {
  return runner.run(tool, args, ids(args));
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

beforeAll(async () => {
  emulator = await startDemoGraphEmulator();
  runner = new M365ToolRunner(emulatedGraphClient(emulator, 'contoso'));
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
});

describe('the runner', () => {
  it('runs every tool of the m365 catalog and nothing else', () => {
    expect(runner.toolNames.sort()).toEqual(m365Tools.map((t) => t.name).sort());
  });

  it('refuses unknown tools, invalid arguments and write steps without resolved ids', async () => {
    expect((await rejection(runner.run('m365.format_disk', {}, {}))).code).toBe('bad_request');
    expect((await rejection(runner.run('m365.get_user', { user: 'Alex Wilber' }, {}))).code).toBe('invalid_plan');
    expect((await rejection(runner.run('m365.add_user_to_group', { user: ALEX, group: 'SG-App-Zendesk', extra: 'x' }, {}))).code).toBe('invalid_plan');
    const missing = await rejection(runner.run('m365.add_user_to_group', { user: ALEX, group: 'SG-App-Zendesk' }, { user: user(ALEX).id }));
    expect(missing.code).toBe('invalid_plan');
    expect(missing.message).toContain('group');
    expect(user(ALEX).groups).not.toContain('SG-App-Zendesk');
  });
});

describe('write tools change the tenant', () => {
  it('m365.add_user_to_group adds, then reports an existing membership', async () => {
    const first = await run('m365.add_user_to_group', { user: ALEX, group: 'SG-App-Zendesk' });
    expect(first.summary).toBe(`Added ${ALEX} to SG-App-Zendesk`);
    expect(first.data).toMatchObject({ alreadyMember: false });
    expect(user(ALEX).groups).toContain('SG-App-Zendesk');
    const again = await run('m365.add_user_to_group', { user: ALEX, group: 'SG-App-Zendesk' });
    expect(again.data).toMatchObject({ alreadyMember: true });
    expect(again.summary).toContain('already a member');
  });

  it('m365.remove_user_from_group removes, then reports a missing membership', async () => {
    const lidia = 'lidia.holloway@contoso.example';
    expect((await run('m365.remove_user_from_group', { user: lidia, group: 'SG-App-Zendesk' })).data).toMatchObject({ notMember: false });
    expect(user(lidia).groups).not.toContain('SG-App-Zendesk');
    expect((await run('m365.remove_user_from_group', { user: lidia, group: 'SG-App-Zendesk' })).data).toMatchObject({ notMember: true });
  });

  it('acts on the resolved ids, never on the names (an approved plan cannot be redirected)', async () => {
    const megan = 'megan.bowen@contoso.example';
    await runner.run('m365.disable_account', { user: ALEX }, { user: user(megan).id });
    expect(user(megan).accountEnabled).toBe(false);
    expect(user(ALEX).accountEnabled).toBe(true);
  });

  it('m365.reset_password sets a strong temporary password and returns it only in secret', async () => {
    const joni = 'joni.sherman@contoso.example';
    const result = await run('m365.reset_password', { user: joni });
    expect(user(joni)).toMatchObject({ passwordResets: 1, forceChangePasswordNextSignIn: true });
    const secret = result.secret!;
    expect(secret).toHaveLength(TEMPORARY_PASSWORD_LENGTH);
    expect(JSON.stringify({ summary: result.summary, data: result.data })).not.toContain(secret);
    // Nor does the emulator keep it anywhere it can be read back.
    expect(JSON.stringify([emulator.tenant('contoso'), emulator.requests(), emulator.mail()])).not.toContain(secret);
    const viaHttp = await (await fetch(`${emulator.loginUrl}/_emulator/tenants/contoso`)).text();
    expect(viaHttp).not.toContain(secret);

    const second = await run('m365.reset_password', { user: joni });
    expect(second.secret).not.toBe(secret);
    expect(user(joni).passwordResets).toBe(2);
  });

  it('only m365.reset_password returns a secret', async () => {
    const results = await Promise.all([
      run('m365.revoke_sessions', { user: ALEX }),
      run('m365.get_user', { user: ALEX }),
      run('m365.list_licenses', {}),
    ]);
    for (const result of results) expect(result.secret).toBeUndefined();
  });

  it('m365.revoke_sessions signs the user out', async () => {
    const result = await run('m365.revoke_sessions', { user: ALEX });
    expect(result.data).toMatchObject({ revoked: true });
    expect(user(ALEX).sessionRevocations).toBe(1);
  });

  it('m365.reset_mfa deletes every method but the password, then has nothing left to do', async () => {
    const diego = 'diego.siciliani@contoso.example';
    const result = await run('m365.reset_mfa', { user: diego });
    expect(user(diego).authMethods.map((m) => m.type)).toEqual(['passwordAuthenticationMethod']);
    expect(result.data).toMatchObject({ alreadyReset: false });
    const removed = (result.data as { removed: { type: string }[] }).removed.map((m) => m.type);
    // The phone goes last: Graph refuses to delete a default phone while other methods remain.
    expect(removed).toEqual(['microsoftAuthenticatorAuthenticationMethod', 'phoneAuthenticationMethod']);
    const again = await run('m365.reset_mfa', { user: diego });
    expect(again.data).toMatchObject({ alreadyReset: true, removed: [] });
  });

  it('m365.assign_license assigns when a seat is free, and reports a license already held', async () => {
    const result = await run('m365.assign_license', { user: ALEX, sku: 'POWER_BI_PRO' });
    expect(result.data).toMatchObject({ alreadyAssigned: false, seatsFree: 6 });
    expect(user(ALEX).licenses).toContain('POWER_BI_PRO');
    const again = await run('m365.assign_license', { user: ALEX, sku: 'POWER_BI_PRO' });
    expect(again.data).toMatchObject({ alreadyAssigned: true });
    expect(emulator.tenant('contoso').licenses.find((l) => l.skuPartNumber === 'POWER_BI_PRO')!.consumed).toBe(4);
  });

  it('m365.assign_license fails cleanly when no seat is free and changes nothing', async () => {
    const error = await rejection(run('m365.assign_license', { user: ALEX, sku: 'VISIOCLIENT' }));
    expect(error.code).toBe('upstream');
    expect(error.retryable).toBe(false);
    expect(error.message).toBe('no free seat of VISIOCLIENT: 3 of 3 in use');
    expect(user(ALEX).licenses).toEqual(['SPE_E3']);
    // The seat check comes first: no assignLicense call was made.
    expect(emulator.requests().some((r) => r.path.endsWith('/assignLicense'))).toBe(false);
  });

  it('m365.remove_license frees the seat, then reports a license not held', async () => {
    const miriam = 'miriam.graham@contoso.example';
    expect((await run('m365.remove_license', { user: miriam, sku: 'VISIOCLIENT' })).data).toMatchObject({ notAssigned: false });
    expect(user(miriam).licenses).not.toContain('VISIOCLIENT');
    expect(emulator.tenant('contoso').licenses.find((l) => l.skuPartNumber === 'VISIOCLIENT')!.consumed).toBe(2);
    expect((await run('m365.remove_license', { user: miriam, sku: 'VISIOCLIENT' })).data).toMatchObject({ notAssigned: true });
  });

  it('m365.disable_account and m365.enable_account change sign-in and say when nothing changed', async () => {
    expect((await run('m365.disable_account', { user: ALEX })).data).toMatchObject({ accountEnabled: false, alreadyDisabled: false });
    expect(user(ALEX).accountEnabled).toBe(false);
    expect((await run('m365.disable_account', { user: ALEX })).data).toMatchObject({ alreadyDisabled: true });

    const allan = 'allan.deyoung@contoso.example';
    expect((await run('m365.enable_account', { user: allan })).data).toMatchObject({ accountEnabled: true, alreadyEnabled: false });
    expect(user(allan).accountEnabled).toBe(true);
    const again = await run('m365.enable_account', { user: allan });
    expect(again.data).toMatchObject({ alreadyEnabled: true });
    expect(again.summary).toContain('already enabled');
  });
});

describe('read tools', () => {
  it('answer with a summary and typed data', async () => {
    const profile = await run('m365.get_user', { user: ALEX });
    expect(profile.summary).toContain('Alex Wilber <alex.wilber@contoso.example>: Marketing Assistant, Marketing; account enabled; last sign-in');
    expect(profile.data).toMatchObject({ userPrincipalName: ALEX });

    expect((await runner.run('m365.get_user', { user: 'ghost@contoso.example' }, {})).data).toBeNull();
    expect((await run('m365.find_user', { query: 'Alex' })).data).toMatchObject([{ userPrincipalName: ALEX }]);
    expect((await run('m365.get_manager', { user: ALEX })).summary).toContain('megan.bowen@contoso.example');
    expect((await runner.run('m365.get_manager', { user: 'diego.siciliani@contoso.example' }, {})).summary).toContain('no manager');
    expect((await run('m365.list_user_groups', { user: ALEX })).summary).toContain('DL-Marketing (distribution)');
    expect((await run('m365.list_user_licenses', { user: ALEX })).data).toEqual(['SPE_E3']);
    expect((await run('m365.list_licenses', {})).summary).toContain('VISIOCLIENT 3/3 in use (none free)');
    expect((await run('m365.list_auth_methods', { user: ALEX })).summary).toContain('password, microsoftAuthenticator');
    expect((await run('m365.find_group', { query: 'Zendesk' })).data).toMatchObject([{ displayName: 'SG-App-Zendesk' }]);
  });

  it('look a user up by UPN when the step carries no resolved id, and fail for unknown users', async () => {
    const error = await rejection(runner.run('m365.list_user_groups', { user: 'ghost@contoso.example' }, {}));
    expect(error.code).toBe('not_found');
  });
});

describe('resolve', () => {
  it('turns UPNs, group names and SKU part numbers into object ids', async () => {
    const tool = m365ToolByName('m365.assign_license')!;
    const { resolved, problems } = await runner.resolve(tool.argObjects, { user: ALEX, sku: 'spe_e3' });
    expect(problems).toEqual([]);
    expect(resolved).toEqual({ user: user(ALEX).id, sku: snapshotSkuId(emulator, 'contoso', 'SPE_E3') });

    const group = await runner.resolve(m365ToolByName('m365.add_user_to_group')!.argObjects, { user: ALEX, group: 'sg-app-zendesk' });
    expect(group).toEqual({ resolved: { user: user(ALEX).id, group: snapshotGroupId(emulator, 'contoso', 'SG-App-Zendesk') }, problems: [] });
  });

  it('names each argument that does not resolve', async () => {
    const { resolved, problems } = await runner.resolve(
      { user: 'user', group: 'group', sku: 'sku' },
      { user: 'ghost@contoso.example', group: 'SG-App-Zendesk-Old', sku: 'ENTERPRISEPACK' },
    );
    expect(resolved).toEqual({});
    expect(problems).toEqual([
      'no user ghost@contoso.example in this Microsoft 365 tenant',
      'no group named "SG-App-Zendesk-Old" in this Microsoft 365 tenant',
      'the tenant has no subscription to ENTERPRISEPACK (it has: SPE_E3, VISIOCLIENT, PROJECTPROFESSIONAL, POWER_BI_PRO)',
    ]);
  });

  it('needs an exact group name, not a prefix or a word of it', async () => {
    const { problems } = await runner.resolve({ group: 'group' }, { group: 'Zendesk' });
    expect(problems).toEqual(['no group named "Zendesk" in this Microsoft 365 tenant']);
  });

  it('reports a missing argument and leaves free text alone', async () => {
    expect(await runner.resolve({ user: 'user', query: 'text' }, { query: 'anything' })).toEqual({
      resolved: {},
      problems: ['the user argument is missing'],
    });
  });
});

describe('temporary passwords', () => {
  it('are 16 characters with every class and nothing ambiguous', () => {
    const { upper, lower, digits, symbols } = temporaryPasswordAlphabet;
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const password = generateTemporaryPassword();
      expect(password).toHaveLength(16);
      expect([...password].some((c) => upper.includes(c))).toBe(true);
      expect([...password].some((c) => lower.includes(c))).toBe(true);
      expect([...password].some((c) => digits.includes(c))).toBe(true);
      expect([...password].some((c) => symbols.includes(c))).toBe(true);
      expect(password).not.toMatch(/[0O1lI|`'"\\\s]/);
      seen.add(password);
    }
    expect(seen.size).toBe(200);
  });

  it('refuse a length below 16', () => {
    expect(() => generateTemporaryPassword(12)).toThrow(RangeError);
    expect(generateTemporaryPassword(24)).toHaveLength(24);
  });
});
