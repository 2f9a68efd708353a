import { describe, expect, it } from 'vitest';
import { EmulatedTenant } from '../../integrations/m365/emulator/tenant.ts';
import { findClient, loadDemoWorld } from '../../world/fixture.ts';
import { createFixtureReader } from './fixture-reader.ts';

/** The test double must answer as the emulated tenant does, or planner tests prove nothing. */
describe('createFixtureReader agrees with the emulated tenant', () => {
  const world = loadDemoWorld();

  it.each(['contoso', 'fabrikam', 'adatum', 'litware'])('%s', async (clientId) => {
    const tenant = EmulatedTenant.fromFixture(findClient(world, clientId), new Date('2025-01-01T00:00:00Z'));
    const reader = createFixtureReader(world, clientId);
    const groups = await reader.findGroups('');
    expect(groups.map((g) => [g.id, g.displayName, g.description, g.mail, g.privileged]).sort()).toEqual(
      [...tenant.groups.values()].map((g) => [g.id, g.displayName, g.description, g.mail, g.isAssignableToRole]).sort(),
    );
    const snapshot = tenant.snapshot();
    expect((await reader.listLicenses()).map((s) => [s.skuId, s.skuPartNumber, s.total, s.consumed]).sort()).toEqual(
      snapshot.licenses.map((s) => [s.skuId, s.skuPartNumber, s.total, s.consumed]).sort(),
    );
    for (const user of snapshot.users) {
      const found = await reader.getUser(user.userPrincipalName);
      expect(found?.id).toBe(user.id);
      expect(found?.accountEnabled).toBe(user.accountEnabled);
      expect((await reader.getManager(user.userPrincipalName))?.userPrincipalName ?? null).toBe(user.manager);
      expect((await reader.listAuthMethods(user.userPrincipalName)).map((m) => m.type)).toEqual(user.authMethods.map((m) => m.type));
    }
  });

  it("gives each SKU the service plans the emulator serves (Microsoft's published ones)", async () => {
    const skus = await createFixtureReader(world, 'contoso').listLicenses();
    const plansOf = (part: string) => skus.find((s) => s.skuPartNumber === part)?.servicePlans?.map((p) => p.servicePlanName) ?? [];
    expect(plansOf('SPE_E3')).toEqual(expect.arrayContaining(['TEAMS1', 'OFFICESUBSCRIPTION', 'EXCHANGE_S_ENTERPRISE']));
    expect(plansOf('POWER_BI_PRO')).toEqual(['EXCHANGE_S_FOUNDATION', 'BI_AZURE_P2']);
  });

  it('finds users by the start of a name, like m365.find_user', async () => {
    const reader = createFixtureReader(world, 'contoso');
    expect((await reader.findUsers('Gu')).map((u) => u.displayName).sort()).toEqual(['Lee Gu', 'Pradeep Gupta']);
    expect((await reader.findUsers('nestor.w')).map((u) => u.displayName)).toEqual(['Nestor Wilke']);
  });
});
