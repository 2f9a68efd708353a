import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GraphEmulator } from '../emulator/index.ts';
import { startDemoGraphEmulator } from '../testing.ts';
import { exchangeDoctorChecks } from './doctor.ts';

/** The Exchange Online checks of the m365 doctor against the emulators: green by default, the missing piece named otherwise. */

let emulator: GraphEmulator;

beforeAll(async () => {
  emulator = await startDemoGraphEmulator();
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
});

function input(enabled = true) {
  const config = emulator.clientConfig('contoso');
  return {
    settings: { clientId: config.clientId, loginBaseUrl: config.loginBaseUrl, developmentLoopback: true, ...(enabled ? { exchangeOnline: { enabled: true, baseUrl: emulator.exchange.url } } : {}) },
    secrets: { clientSecret: config.clientSecret },
    tenantId: config.tenantId,
  };
}

describe('exchangeDoctorChecks', () => {
  it('is all green when the tenant gave the app Exchange.ManageAsApp and Exchange Administrator, and changes nothing', async () => {
    const checks = await exchangeDoctorChecks(input());
    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ['Sign-in for Exchange Online (https://outlook.office365.com/.default)', true],
      ['Exchange.ManageAsApp and an Exchange role (Get-OrganizationConfig)', true],
      ['Exchange role allows membership changes (Remove-DistributionGroupMember)', true],
    ]);
    expect(emulator.effects('contoso')).toEqual([]);
  });

  it('names the missing role, with the fix', async () => {
    emulator.exchange.setAccess('contoso', { role: null });
    const checks = await exchangeDoctorChecks(input());
    expect(checks.at(-1)).toMatchObject({ name: 'Exchange role of the app (Exchange Administrator)', ok: false, fix: expect.stringContaining('Exchange Administrator') });
  });

  it('names a role that reads but cannot change members', async () => {
    emulator.exchange.setAccess('contoso', { role: 'Global Reader' });
    const checks = await exchangeDoctorChecks(input());
    expect(checks.at(-1)).toMatchObject({ name: 'Exchange role allows membership changes (Remove-DistributionGroupMember)', ok: false });
  });

  it('names the missing Exchange.ManageAsApp permission', async () => {
    emulator.exchange.setAccess('contoso', { manageAsApp: false });
    const checks = await exchangeDoctorChecks(input());
    expect(checks.at(-1)).toMatchObject({ name: 'Application permission Exchange.ManageAsApp (Office 365 Exchange Online)', ok: false, fix: expect.stringContaining('adminconsent') });
  });

  it('says when Exchange Online is not switched on, and which tools that affects', async () => {
    const checks = await exchangeDoctorChecks(input(false));
    expect(checks).toEqual([expect.objectContaining({ ok: false, detail: expect.stringContaining('m365.add_user_to_group') })]);
  });

  it('reports a refused sign-in', async () => {
    const refused = input();
    refused.secrets.clientSecret = 'wrong';
    const checks = await exchangeDoctorChecks(refused);
    expect(checks).toEqual([expect.objectContaining({ ok: false, name: expect.stringContaining('Sign-in') })]);
    expect(JSON.stringify(checks)).not.toContain('wrong');
  });
});
