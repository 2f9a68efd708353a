import type { AddressInfo } from 'node:net';
import type { GraphEmulatorState } from '../../emulator/state.ts';
import type { ExchangeAccess, ExchangeCall, ExchangeRedirect } from './directory.ts';
import { buildExchangeServer } from './server.ts';

export type { ExchangeAccess, ExchangeCall, ExchangeRedirect, ExchangeRole } from './directory.ts';

/**
 * The Exchange Online emulator: started with the Graph emulator (src/integrations/m365/emulator), on
 * a port of its own, over the same tenants. Test, demo and benchmark code only.
 */
export interface ExchangeEmulatorControl {
  /** The Exchange Online base URL (pass as `exchangeOnline.baseUrl`). */
  readonly url: string;
  /** The cmdlets run, in order (all tenants, or one by fixture client id or tenant id). */
  calls(clientIdOrTenantId?: string): ExchangeCall[];
  /** What a tenant gave the app: `Exchange.ManageAsApp` and an Exchange role. `reset()` restores both. */
  setAccess(clientIdOrTenantId: string, access: Partial<ExchangeAccess>): void;
  /** Answer the next calls with a regional 302 to `origin`. */
  redirectNext(redirect: ExchangeRedirect): void;
  /** Mark a group as mastered on-premises (synced); `reset()` undoes it. */
  markGroupSynced(clientIdOrTenantId: string, groupName: string): void;
}

export async function startExchangeListener(
  state: GraphEmulatorState,
  options: { host: string; port: number },
): Promise<{ control: ExchangeEmulatorControl; close(): Promise<void> }> {
  const app = buildExchangeServer(state);
  await app.listen({ port: options.port, host: options.host });
  const { port } = app.server.address() as AddressInfo;
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  const tenantId = (key: string): string => {
    const tenant = state.tenantByKey(key);
    if (!tenant) throw new Error(`the emulators have no tenant ${key}`);
    return tenant.tenantId;
  };
  return {
    control: {
      url,
      calls: (key) => state.exchange.calls(key === undefined ? undefined : tenantId(key)),
      setAccess: (key, access) => state.exchange.setAccess(tenantId(key), access),
      redirectNext: (redirect) => state.exchange.redirectNext(redirect),
      markGroupSynced: (key, groupName) => {
        const group = [...state.tenantById(tenantId(key))!.groups.values()].find((g) => g.displayName === groupName);
        if (!group) throw new Error(`no group ${groupName} in ${key}`);
        group.onPremisesSyncEnabled = true;
      },
    },
    close: () => app.close(),
  };
}
