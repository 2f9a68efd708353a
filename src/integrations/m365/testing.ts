import { loadDemoWorld, type World } from '../../world/fixture.ts';
import { GraphClient, type GraphClientConfig } from './client.ts';
import { type GraphEmulator, type Latency, startGraphEmulator, type TenantSnapshot } from './emulator/index.ts';

/**
 * Helpers for tests that talk to the Graph emulator over real HTTP (this folder's and the engine's).
 */

export async function startDemoGraphEmulator(options: { world?: World; pageSize?: number; latencyMs?: Latency } = {}): Promise<GraphEmulator> {
  return startGraphEmulator({
    world: options.world ?? loadDemoWorld(),
    ...(options.pageSize ? { pageSize: options.pageSize } : {}),
    ...(options.latencyMs ? { latencyMs: options.latencyMs } : {}),
  });
}

/** A GraphClient signed in to the emulated tenant of a fixture client. */
export function emulatedGraphClient(
  emulator: GraphEmulator,
  clientId: string,
  overrides: Partial<GraphClientConfig> = {},
): GraphClient {
  return new GraphClient({ ...emulator.clientConfig(clientId), ...overrides });
}

/** A GraphClient signed in to a client's tenant through its MSP's multi-tenant app (client secret or certificate). */
export async function emulatedMspGraphClient(
  emulator: GraphEmulator,
  mspId: string,
  clientId: string,
  credential: 'secret' | 'certificate',
  overrides: Partial<GraphClientConfig> = {},
): Promise<GraphClient> {
  return new GraphClient({ ...(await emulator.mspClientConfig(mspId, clientId, credential)), ...overrides });
}

export type SnapshotUser = TenantSnapshot['users'][number];

/** One user of a tenant snapshot by UPN; throws when missing so tests fail with a clear reason. */
export function snapshotUser(emulator: GraphEmulator, clientId: string, upn: string): SnapshotUser {
  const user = emulator.tenant(clientId).users.find((u) => u.userPrincipalName.toLowerCase() === upn.toLowerCase());
  if (!user) throw new Error(`no user ${upn} in the emulated tenant of ${clientId}`);
  return user;
}

export function snapshotGroupId(emulator: GraphEmulator, clientId: string, displayName: string): string {
  const group = emulator.tenant(clientId).groups.find((g) => g.displayName === displayName);
  if (!group) throw new Error(`no group ${displayName} in the emulated tenant of ${clientId}`);
  return group.id;
}

export function snapshotSkuId(emulator: GraphEmulator, clientId: string, skuPartNumber: string): string {
  const sku = emulator.tenant(clientId).licenses.find((l) => l.skuPartNumber === skuPartNumber);
  if (!sku) throw new Error(`no subscription ${skuPartNumber} in the emulated tenant of ${clientId}`);
  return sku.skuId;
}
