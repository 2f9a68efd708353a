import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findTool } from '../src/integrations/catalog.ts';
import { silentLogger } from '../src/logger.ts';
import { SecretBox } from '../src/secrets.ts';
import { type DbHandle, openDb } from '../src/store/db.ts';
import { loadDemoWorld, type World } from '../src/world/fixture.ts';
import { generateWorld } from '../src/world/generate.ts';
import { demoSetup, EMULATOR_ENDPOINT_KEYS, type EmulatorEndpoints } from '../src/integrations/emulators.ts';
import { seedDemoWorld } from '../src/world/seed.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * The worlds deskhand ships (the demo world, generated worlds) never set a tool whose result is a
 * secret for the approving technician (m365.reset_password) to `auto`, and seeding refuses a world
 * that does: such a step would have no technician to hand the temporary password to.
 */
/** Endpoints nothing listens on: seeding only records them. */
const endpoints = Object.fromEntries(EMULATOR_ENDPOINT_KEYS.map((key, i) => [key, `http://127.0.0.1:${i + 1}${key === 'graph' ? '/v1.0' : ''}`])) as unknown as EmulatorEndpoints;
let handle: DbHandle;

beforeAll(async () => {
  handle = openDb({ url: await createTestDatabase(), maxConnections: 2 });
});

afterAll(async () => {
  await handle?.close();
});

function secretToolsSetToAuto(world: World): string[] {
  return world.clients.flatMap((client) =>
    Object.entries(client.toolPolicies ?? {})
      .filter(([tool, policy]) => findTool(tool)?.secretResult && policy.policy === 'auto')
      .map(([tool]) => `${client.id}: ${tool}`),
  );
}

describe('seeding a world', () => {
  it('the demo world and generated worlds never set a secret-result tool to auto', () => {
    expect(findTool('m365.reset_password')?.secretResult).toBe(true);
    expect(secretToolsSetToAuto(loadDemoWorld())).toEqual([]);
    expect(secretToolsSetToAuto(generateWorld({ msps: 2, clientsPerMsp: 2, employeesPerClient: 6 }))).toEqual([]);
  });

  it('refuses a world that sets m365.reset_password to auto, and loads nothing', async () => {
    const world = structuredClone(loadDemoWorld());
    const contoso = world.clients.find((c) => c.id === 'contoso')!;
    contoso.toolPolicies = { ...contoso.toolPolicies, 'm365.reset_password': { policy: 'auto' } };
    const seeding = seedDemoWorld(handle.db, { world, secrets: new SecretBox(randomBytes(32)), integrations: demoSetup(world, endpoints).integrations, at: new Date(), logger: silentLogger });
    await expect(seeding).rejects.toThrow(/contoso.*m365\.reset_password cannot be auto/s);
    const msps = await handle.db.selectFrom('msps').select('id').execute();
    expect(msps).toEqual([]);
    const policies = await handle.db.selectFrom('tool_policies').select('tool').execute();
    expect(policies).toEqual([]);
  });

  it('refuses a world that names a tool no integration offers', async () => {
    const world = structuredClone(loadDemoWorld());
    world.clients[0]!.toolPolicies = { 'm365.delete_tenant': { policy: 'approval_needed' } };
    const seeding = seedDemoWorld(handle.db, { world, secrets: new SecretBox(randomBytes(32)), integrations: demoSetup(world, endpoints).integrations, at: new Date(), logger: silentLogger });
    await expect(seeding).rejects.toThrow(/m365\.delete_tenant/);
    expect(await handle.db.selectFrom('msps').select('id').execute()).toEqual([]);
  });

  it('loads the demo world as it is', async () => {
    const result = await seedDemoWorld(handle.db, { world: loadDemoWorld(), secrets: new SecretBox(randomBytes(32)), integrations: demoSetup(loadDemoWorld(), endpoints).integrations, at: new Date(), logger: silentLogger });
    expect(result.seeded).toBe(true);
    const policy = await handle.db.selectFrom('tool_policies').select(['policy', 'require_manager_approval']).where('tool', '=', 'm365.reset_password').execute();
    expect(policy.length).toBeGreaterThan(0);
    expect(policy.every((p) => p.policy === 'approval_needed')).toBe(true);
  });
});
