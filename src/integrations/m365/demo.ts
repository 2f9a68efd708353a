import { EMULATED_SETTINGS, type EmulatedSystem } from '../module.ts';
import { emulatorAppCredentials } from './emulator/credentials.ts';

/**
 * The demo world's Microsoft 365: one integration per client, for the client's tenant in the
 * emulator, with the world's tool policies. Only the emulator list imports this file; production
 * code never does.
 */
export const m365Emulated: EmulatedSystem = {
  kind: 'm365',
  label: 'Microsoft Graph emulator',
  url: (endpoints) => endpoints['graph']!,
  demoIntegrations(world, endpoints) {
    return world.clients.map((client) => {
      const app = emulatorAppCredentials(client.id);
      return {
        msp: client.msp,
        client: client.id,
        kind: 'm365',
        name: `Microsoft 365 (${client.name})`,
        settings: { tenantId: app.tenantId, clientId: app.clientId, graphBaseUrl: endpoints['graph'], loginBaseUrl: endpoints['login'], ...EMULATED_SETTINGS },
        secrets: { clientSecret: app.clientSecret },
        policies: Object.entries(client.toolPolicies ?? {}).map(([tool, policy]) => ({
          tool,
          policy: policy.policy,
          requireManagerApproval: policy.requireManagerApproval === true,
        })),
      };
    });
  },
  pointAt: (settings, endpoints) => ({ ...settings, graphBaseUrl: endpoints['graph'], loginBaseUrl: endpoints['login'], ...EMULATED_SETTINGS }),
};
