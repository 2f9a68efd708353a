import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeskhandError } from '../../core/errors.ts';
import type { GraphEmulator } from './emulator/index.ts';
import { requiredGrants } from './requirements.ts';
import { M365ToolRunner } from './runner.ts';
import { emulatedGraphClient, snapshotGroupId, snapshotUser, startDemoGraphEmulator } from './testing.ts';

/**
 * The runner against the emulator's service principals and hybrid objects: Graph's permanent
 * refusals come back as non-retryable errors that say what is missing and the fix; the default MFA
 * method is kept and the reset succeeds in part.
 */

let emulator: GraphEmulator;
let runner: M365ToolRunner;

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

const user = (upn: string) => snapshotUser(emulator, 'contoso', upn);

async function refusal(tool: string, args: Record<string, string>, resolved: Record<string, string>): Promise<DeskhandError> {
  const error = await runner.run(tool, args, resolved).then(
    () => new Error('expected a refusal'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeskhandError);
  expect((error as DeskhandError).retryable).toBe(false);
  return error as DeskhandError;
}

describe('refusals explained', () => {
  it('a sign-in method deletion without UserAuthenticationMethod.ReadWrite.All names the permission and admin consent', async () => {
    emulator.setGrants('contoso', { permissions: requiredGrants().permissions.filter((p) => p !== 'UserAuthenticationMethod.ReadWrite.All') });
    const diego = 'diego.siciliani@contoso.example';
    const error = await refusal('m365.reset_mfa', { user: diego }, { user: user(diego).id });
    expect(error.message).toContain('Microsoft 365 refused m365.reset_mfa for diego.siciliani@contoso.example');
    expect(error.message).toContain('add the Microsoft Graph application permission UserAuthenticationMethod.ReadWrite.All');
    expect(error.details).toMatchObject({ status: 403, reason: 'missing_permission' });
  });

  it('disabling a synced account says to do it in the on-premises Active Directory', async () => {
    const adele = 'adele.vance@contoso.example';
    const error = await refusal('m365.disable_account', { user: adele }, { user: user(adele).id });
    expect(error.message).toContain("the account adele.vance@contoso.example is synced from the client's on-premises Active Directory");
    expect(error.message).toContain('disable the account there');
    expect(error.details).toMatchObject({ status: 400, reason: 'synced_from_on_premises' });
    expect(user(adele).accountEnabled).toBe(true);
  });

  it('removing a member of a role-assignable group without RoleManagement.ReadWrite.Directory names it and its risk', async () => {
    const diego = 'diego.siciliani@contoso.example';
    const error = await refusal('m365.remove_user_from_group', { user: diego, group: 'SG-Admins-Privileged' }, { user: user(diego).id, group: snapshotGroupId(emulator, 'contoso', 'SG-Admins-Privileged') });
    expect(error.message).toContain('SG-Admins-Privileged is a role-assignable group');
    expect(error.message).toContain('lets the app assign any Entra role');
    expect(user(diego).groups).toContain('SG-Admins-Privileged');
  });
});

describe('the default MFA method', () => {
  it('stays; the others go; the result says so in `partial`, and a second run changes nothing more', async () => {
    const lynne = 'lynne.robbins@contoso.example';
    const result = await runner.run('m365.reset_mfa', { user: lynne }, { user: user(lynne).id });
    expect(user(lynne).authMethods.map((m) => m.type)).toEqual(['passwordAuthenticationMethod', 'phoneAuthenticationMethod']);
    expect(result.partial).toContain('the phone method stays registered');
    expect(result.summary).toContain('Removed 1 authentication method');
    const again = await runner.run('m365.reset_mfa', { user: lynne }, { user: user(lynne).id });
    expect(again.summary).toContain('Removed 0 authentication methods');
    expect(again.partial).toContain('phone');
    expect(emulator.effects('contoso').filter((e) => e.op === 'auth_method_deleted')).toHaveLength(1);
  });
});
